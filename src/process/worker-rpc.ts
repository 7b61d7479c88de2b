/**
 * Request/reply over a Worker, for native calls that block (transfers, rendering): the main
 * thread calls `rpc.call(op, args, keep)`, the worker runs `ops[op](...args)` and replies.
 * A worker op fails by throwing `new OpFailed(code)` with the library's negative error code;
 * the caller turns the code into its own error type through `toError`.
 *
 * `keep` holds the buffers whose addresses are in `args` until the reply: the native code
 * reads and writes them meanwhile, and JSC may otherwise collect a typed array that the
 * awaiting function no longer mentions (async frames keep only values still used later).
 */
import { RemoteVisError } from "../errors.ts";

export class OpFailed {
  constructor(
    readonly code: number,
    readonly message = "",
  ) {}
}

type Reply = { id: number; value?: unknown; code?: number; message?: string };

export class WorkerRpc {
  private readonly worker: Worker;
  private next = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: unknown) => void; what: string; keep: unknown[] }>();
  private dead = false;

  constructor(
    url: string,
    private readonly toError: (code: number, what: string, message: string) => Error,
  ) {
    this.worker = new Worker(url);
    this.worker.onmessage = (e: MessageEvent<Reply>) => {
      const p = this.pending.get(e.data.id);
      if (!p) return;
      this.pending.delete(e.data.id);
      if (this.pending.size === 0) this.worker.unref();
      if (e.data.code !== undefined) p.reject(this.toError(e.data.code, p.what, e.data.message ?? ""));
      else p.resolve(e.data.value);
    };
    this.worker.onerror = (e) => this.fail(new RemoteVisError("worker_failed", `worker thread failed: ${e.message}`, 500));
    // An idle worker must not keep a finished process alive.
    this.worker.unref();
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  call<T>(what: string, op: string, args: unknown[], keep: unknown[] = [], transfer: Bun.Transferable[] = []): Promise<T> {
    if (this.dead) return Promise.reject(new RemoteVisError("closed", `${what}: already closed`, 400));
    const id = this.next++;
    this.worker.ref();
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, what, keep });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  private fail(err: unknown): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.stop();
  }

  stop(): void {
    if (this.dead) return;
    this.dead = true;
    this.worker.terminate();
  }
}

/** Worker side: answers requests with `ops`. Values with ArrayBuffers are transferred, not copied. */
export function serveOps(ops: Record<string, (...a: never[]) => unknown>): void {
  const port = globalThis as unknown as Worker;
  port.onmessage = (e: MessageEvent<{ id: number; op: string; args: never[] }>) => {
    const { id, op, args } = e.data;
    try {
      const fn = ops[op];
      if (!fn) throw new OpFailed(-1, `unknown op ${op}`);
      const value = fn(...args);
      const transfer = value instanceof ArrayBuffer ? [value] : value && typeof value === "object" && "transfer" in value ? ((value as { transfer: Bun.Transferable[] }).transfer ?? []) : [];
      port.postMessage({ id, value }, transfer);
    } catch (err) {
      port.postMessage(err instanceof OpFailed ? { id, code: err.code, message: err.message } : { id, code: -1000, message: String(err) });
    }
  };
}
