/**
 * One visualization instance as a process: binds a random HTTP port (Bun.serve port 0) and
 * the SSC-RDMA data port (Listener port 0) on the configured host, reports both to the
 * middleware with its secret, heartbeats, and stops cleanly on SIGTERM or when the middleware
 * no longer wants it. Rendering and the data protocol plug into app.ts.
 */
import { websocket } from "hono/bun";
import { RemoteVisError } from "../errors.ts";
import { DistributedRenderer } from "../render/distributed.ts";
import type { RenderEngine } from "../render/engine.ts";
import { Renderer, type Backend } from "../render/renderer.ts";
import { keepSpareTransferThread, Listener } from "../transfer/transfer.ts";
import { createInstanceApp } from "./app.ts";
import { Control } from "./control.ts";
import { DataPort } from "./data-port.ts";
import { NativeBuffer } from "../transfer/native-buffer.ts";
import { Scene } from "./scene.ts";
import { setTransferLimit } from "./limits.ts";
import { setStorageRoots } from "./load-file.ts";
import { MiddlewareLink } from "./link.ts";
import { InstanceState } from "./state.ts";

export interface InstanceOptions {
  middleware?: string;
  id: string;
  secret: string;
  maxBytes: number;
  gpus: number;
  host: string;
  heartbeatMs: number;
  storageRoots: string[];
  /** Renderer backend: auto (CUDA when a GPU is usable), cpu or cuda. */
  renderer?: Backend;
  /** MPI ranks of the distributed renderer (rvr_ranks); 1 = one renderer in this process. */
  ranks?: number;
  log?: (line: string) => void;
}


/** Runs until stopped; resolves with the exit code. */
export async function runInstance(o: InstanceOptions): Promise<number> {
  const log = o.log ?? ((l: string) => console.log(`[${new Date().toISOString()}] ${l}`));
  setTransferLimit(o.maxBytes);
  setStorageRoots(o.storageRoots, log);
  const link = o.middleware ? new MiddlewareLink(o.middleware, o.id, o.secret) : undefined;
  let stopWhy: string | undefined;
  let wake = () => {};
  const stopped = new Promise<void>((resolve) => (wake = resolve));
  const requestStop = (why: string) => {
    stopWhy ??= why;
    wake();
  };
  const state = new InstanceState(o.id, o.secret, link, requestStop);
  const ranks = o.ranks ?? 1;
  const renderer: RenderEngine =
    ranks > 1
      ? await DistributedRenderer.create({ ranks, backend: o.renderer ?? "auto", gpus: o.gpus, launcher: process.env.SLURM_JOB_ID ? "srun" : "mpirun", log })
      : await Renderer.create({ backend: o.renderer ?? "auto" });
  const scene = new Scene(renderer);
  const listener = await Listener.open({ bind: o.host, port: 0 }).catch((err) => {
    throw new RemoteVisError("data_port", `cannot open the SSC-RDMA data port on ${o.host}: ${err instanceof Error ? err.message : err}`, 500);
  });
  const data = new DataPort(listener, o.host, o.secret, log);
  // ready before the first volume's receive buffer and connection are asked for
  NativeBuffer.allocator();
  keepSpareTransferThread();
  const app = createInstanceApp(state, scene, new Control(scene, data));
  const http = Bun.serve({ hostname: o.host, port: 0, fetch: app.fetch, websocket, maxRequestBodySize: 1 << 20 });
  log(`instance ${o.id} pid ${process.pid} uid ${process.getuid?.()}: http ${o.host}:${http.port}, data ${o.host}:${data.port}, limit ${o.maxBytes} bytes, ${o.gpus} GPU(s), ${renderer.backend} renderer${ranks > 1 ? ` on ${ranks} MPI ranks` : ""}`);
  if (!link) log(`url: http://${o.host}:${http.port}/?token=${o.secret}`);

  process.on("SIGTERM", () => requestStop("SIGTERM"));
  process.on("SIGINT", () => requestStop("SIGINT"));
  let beat: ReturnType<typeof setInterval> | undefined;
  // A stop while the ready report is still being retried (the middleware's start timeout sends
  // SIGTERM) ends the retries: the process exits at once instead of waiting for SIGKILL.
  const starting = new AbortController();
  void stopped.then(() => starting.abort());
  try {
    const reported = await link?.ready({ host: o.host, port: http.port!, dataPort: data.port, pid: process.pid }, undefined, starting.signal).then(
      () => true,
      (err: unknown) => {
        if (starting.signal.aborted) return false;
        throw err;
      },
    );
    if (link && reported) {
      log("reported ready to the middleware");
      state.beat = async () => {
        const answer = await link.heartbeat(state.connections);
        if (answer.action === "stop") requestStop("the middleware no longer wants this instance");
        if (answer.deadline !== undefined) state.setDeadline(answer.deadline);
      };
      void state.beat();
      beat = setInterval(() => void state.beat(), o.heartbeatMs);
    }
    await stopped;
  } catch (err) {
    stopWhy = `error: ${err instanceof Error ? err.message : err}`;
  } finally {
    if (beat) clearInterval(beat);
    await http.stop(true);
    await data.close().catch(() => {});
    await renderer.close().catch(() => {});
  }
  log(`instance ${o.id} stopping: ${stopWhy}`);
  return stopWhy?.startsWith("error") ? 1 : 0;
}
