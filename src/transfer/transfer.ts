/**
 * Sender and receiver sides of SSC-RDMA for TypeScript: `Listener` (accepts connections) and
 * `Connection` (send / receive one header + payload at a time). Every blocking call runs in a
 * Worker of its own; progress is read from a counter that the C progress loop updates in
 * shared memory, so a progress bar costs the transfer nothing.
 *
 *   await using l = await Listener.open({ port: 0 });
 *   const c = await l.accept();          // other side: await Connection.connect(host, l.port)
 *   const { header, size } = await c.receiveHeader();
 *   const data = await c.receivePayload(size, { onProgress });
 */
import { ptr } from "bun:ffi";
import { RemoteVisError } from "../errors.ts";
import type { WorkerRpc } from "../process/worker-rpc.ts";
import { SSC, SSC_F_CHECKSUM, SSC_HEADER_SIZE, ssc, TransferError, type Addr } from "./ffi.ts";
import { addressOf, NativeBuffer } from "./native-buffer.ts";
import { newTransferThread } from "./thread.ts";
import type { CallOpts } from "./worker.ts";

export interface ProgressOpts {
  /** Called about every 100 ms (or `progressMs`) with payload bytes done; on the receiving side
   *  the bytes [0, bytesDone) have landed and may be read. */
  onProgress?: (bytesDone: number) => void;
  progressMs?: number;
  /** Stall timeout: no progress for this long is an error (default 10 s in the library). */
  timeoutMs?: number;
  /** Sender: compute a CRC32C of the payload, receiver verifies it. */
  checksum?: boolean;
  /** Receiver: bytes [0, writable[0]) of the buffer may be written (a buffer still being faulted
   *  in, NativeBuffer.allocLater); the receive writes only behind it. */
  writable?: BigUint64Array;
}

let context: Addr | undefined;
const ACCEPT_SLICE_MS = 250;

/** The process-wide UCX context (thread-safe in the library), made on first use. */
function sharedContext(): Addr {
  if (context === undefined) {
    const out = new BigUint64Array(1);
    const rc = ssc().ssc_context_create(ptr(out));
    if (rc < 0) throw new TransferError(rc, "cannot start UCX");
    context = Number(out[0]);
  }
  return context;
}

/** A thread started ahead for the next connection, in processes that asked for one. */
let spare: WorkerRpc | undefined;
let keepSpare = false;

/** The thread of a new connection (each connection has its own, stopped at close). */
function transferThread(): WorkerRpc {
  const t = spare ?? newTransferThread();
  spare = keepSpare ? newTransferThread() : undefined;
  return t;
}

/**
 * Processes that connect or accept more than once, or wait for a peer (an instance, a client of
 * one, a receiver) get their next connection ready ahead: a transfer thread started (a Worker
 * costs 10-20 ms to start) and UCX workers made (ssc_context_keep_workers: ~8 ms each with
 * shared memory, one per connection and per extra lane). Idle, neither keeps the process alive.
 * Makes the UCX context: the UCX_* environment must be final.
 */
export function keepSpareTransferThread(): void {
  keepSpare = true;
  spare ??= newTransferThread();
  const rc = ssc().ssc_context_keep_workers(sharedContext() as never, 2);
  if (rc < 0) throw new TransferError(rc, "keep UCX workers ahead");
}

/** Shared memory that the C loop writes (progress) and the main thread writes (cancel). */
class CallState {
  readonly progress = new BigUint64Array(new SharedArrayBuffer(8));
  constructor(readonly cancel: Int32Array) {}

  opts(o: ProgressOpts): CallOpts {
    return {
      flags: o.checksum ? SSC_F_CHECKSUM : 0,
      timeoutMs: o.timeoutMs ?? 0,
      progress: ptr(this.progress),
      cancel: ptr(this.cancel),
      writable: o.writable ? ptr(o.writable) : 0,
    };
  }

  /** Polls the progress counter while `p` runs. */
  async watch<T>(p: Promise<T>, onProgress?: (n: number) => void, everyMs = 100): Promise<T> {
    if (!onProgress) return p;
    const timer = setInterval(() => onProgress(Number(Atomics.load(this.progress, 0))), everyMs);
    try {
      const v = await p;
      onProgress(Number(Atomics.load(this.progress, 0)));
      return v;
    } finally {
      clearInterval(timer);
    }
  }
}

function checkHeader(header: Uint8Array): void {
  if (header.byteLength !== SSC_HEADER_SIZE)
    throw new RemoteVisError("invalid_header", `the header must be exactly ${SSC_HEADER_SIZE} bytes, not ${header.byteLength}`);
}

/**
 * Allocates a receive buffer through libsscrdma (page-aligned, huge pages, pre-faulted), owned
 * by the returned Uint8Array: the garbage collector frees it with ssc_free. At most 4 GiB; use
 * NativeBuffer.alloc for more.
 */
export async function allocReceiveBuffer(size: number): Promise<Uint8Array> {
  return (await NativeBuffer.alloc(size)).array();
}

/**
 * A libsscrdma handle driven by one transfer thread: closed once (the close runs on that
 * thread, after whatever it is doing), then the thread ends.
 */
abstract class ThreadOwned {
  protected closed = false;

  protected constructor(
    protected readonly thread: WorkerRpc,
    protected readonly handle: Addr,
    private readonly closeOp: "closeConn" | "closeListener",
  ) {}

  /** Called once before the close is queued (a connection cancels its transfer). */
  protected beforeClose(): void {}

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.beforeClose();
    try {
      await this.thread.call<void>("close", this.closeOp, [this.handle]);
    } finally {
      this.thread.stop();
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
  [Symbol.dispose](): void {
    void this.close().catch(() => {});
  }
}

export class Connection extends ThreadOwned {
  private readonly cancel = new Int32Array(new SharedArrayBuffer(4));

  private constructor(conn: Addr, thread?: WorkerRpc) {
    super(thread ?? transferThread(), conn, "closeConn");
  }

  /** Connects (with handshake) to a listening peer. */
  static async connect(host: string, port: number, o: { timeoutMs?: number } = {}): Promise<Connection> {
    const t = transferThread();
    try {
      const conn = await t.call<Addr>(`connect to ${host}:${port}`, "connect", [sharedContext(), host, port, o.timeoutMs ?? 10_000]);
      return new Connection(conn, t);
    } catch (err) {
      t.stop();
      throw err;
    }
  }

  /** @internal used by Listener.accept */
  static adopt(conn: Addr): Connection {
    return new Connection(conn);
  }

  /** ssc_send: the 128 KiB header, then the payload; resolves when the receiver confirmed it. */
  async send(header: Uint8Array, data: Uint8Array | NativeBuffer, o: ProgressOpts = {}): Promise<void> {
    checkHeader(header);
    const st = new CallState(this.cancel);
    await st.watch(
      this.thread.call<void>("send", "send", [this.handle, addressOf(header), addressOf(data), data.byteLength, st.opts(o)], [header, data, st]),
      o.onProgress,
      o.progressMs,
    );
  }

  /** First half of ssc_receive: the header and the size the sender announced. */
  async receiveHeader(o: ProgressOpts = {}): Promise<{ header: Uint8Array; size: number }> {
    const header = new Uint8Array(SSC_HEADER_SIZE);
    const st = new CallState(this.cancel);
    const size = await this.thread.call<number>("receive header", "receiveHeader", [this.handle, ptr(header), st.opts(o)], [header, st]);
    return { header, size };
  }

  /** Second half: the payload, into `into` (must be exactly `size` bytes) or a fresh pre-faulted buffer. */
  async receivePayload(size: number, o?: ProgressOpts): Promise<Uint8Array>;
  async receivePayload<T extends Uint8Array | NativeBuffer>(size: number, o: ProgressOpts & { into: T }): Promise<T>;
  async receivePayload(size: number, o: ProgressOpts & { into?: Uint8Array | NativeBuffer } = {}): Promise<Uint8Array | NativeBuffer> {
    const data = o.into ?? (await allocReceiveBuffer(size));
    if (data.byteLength !== size) {
      await this.reject(SSC.ERR_SIZE);
      throw new TransferError(SSC.ERR_SIZE, `receive of ${size} bytes into a buffer of ${data.byteLength}`);
    }
    const st = new CallState(this.cancel);
    await st.watch(this.thread.call<void>("receive", "receivePayload", [this.handle, addressOf(data), size, st.opts(o)], [data, st]), o.onProgress, o.progressMs);
    return data;
  }

  /** Refuses the announced transfer; the sender's send() fails with the reason. */
  async reject(reason: number = SSC.ERR_REJECTED): Promise<void> {
    await this.thread.call<void>("reject", "reject", [this.handle, reason]);
  }

  /** Aborts a transfer in progress from this thread (the connection is unusable afterwards). */
  abort(): void {
    Atomics.store(this.cancel, 0, 1);
  }

  /** A transfer in flight is cancelled before the connection closes. */
  protected override beforeClose(): void {
    this.abort();
  }
}

export class Listener extends ThreadOwned {
  private constructor(
    thread: WorkerRpc,
    listener: Addr,
    /** The bound port (the chosen one when asked for port 0). */
    readonly port: number,
  ) {
    super(thread, listener, "closeListener");
  }

  static async open(o: { bind?: string; port?: number } = {}): Promise<Listener> {
    const t = transferThread();
    try {
      const r = await t.call<{ listener: Addr; port: number }>(
        `listen on ${o.bind ?? "0.0.0.0"}:${o.port ?? 0}`,
        "listen",
        [sharedContext(), o.bind ?? "0.0.0.0", o.port ?? 0],
      );
      return new Listener(t, r.listener, r.port);
    } catch (err) {
      t.stop();
      throw err;
    }
  }

  /**
   * Waits for one connection (and its handshake); forever when no timeout is given. The wait
   * is cut into short library calls so that close() from this thread is never stuck behind it.
   */
  async accept(o: { timeoutMs?: number } = {}): Promise<Connection> {
    const deadline = o.timeoutMs === undefined || o.timeoutMs < 0 ? Infinity : Date.now() + o.timeoutMs;
    for (;;) {
      if (this.closed) throw new RemoteVisError("transfer_closed", "accept: listener is closed", 400);
      const slice = Math.max(0, Math.min(ACCEPT_SLICE_MS, deadline - Date.now()));
      try {
        const conn = await this.thread.call<Addr>("accept", "accept", [this.handle, slice]);
        return Connection.adopt(conn);
      } catch (err) {
        if (!(err instanceof TransferError && err.ssc === SSC.ERR_TIMEOUT) || Date.now() >= deadline) throw err;
      }
    }
  }
}
