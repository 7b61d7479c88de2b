/**
 * The parent side of SSC-IO: N worker processes (`remotevis io-worker`, argv arrays from
 * selfArgv(), so the compiled executable starts itself) that share one memory segment, and a
 * queue that hands each idle worker the next job (dynamic scheduling: a worker that meets
 * cheap chunks takes more of them). The first failure stops the run and is rethrown with the
 * worker's error code; workers are killed on any way out.
 */
import { selfArgv } from "../cli/self.ts";
import { RemoteVisError } from "../errors.ts";
import type { SharedSegment } from "./shm.ts";

export type Reply = { id: number; ok?: true; via?: string; error?: { code: string; message: string; status: number } };

interface Worker {
  proc: Bun.Subprocess<"pipe", "pipe", "pipe">;
  next(): Promise<Reply>;
}

/** Tells a worker how many descriptors (from fd 3) make up the segment. */
export const PARTS_ENV = "REMOTEVIS_IO_PARTS";

function spawnWorker(fds: number[], argv: string[]): Worker {
  const proc = Bun.spawn([...argv, "io-worker"], { stdio: ["pipe", "pipe", "pipe", ...fds], env: { ...process.env, [PARTS_ENV]: String(fds.length) } }) as unknown as Bun.Subprocess<"pipe", "pipe", "pipe">;
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(proc.stderr).text();
  let buffered = "";
  return {
    proc,
    async next() {
      for (;;) {
        const nl = buffered.indexOf("\n");
        if (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.startsWith("{")) return JSON.parse(line) as Reply;
          continue;
        }
        const { value, done } = await reader.read();
        if (done) {
          const code = await proc.exited;
          throw new RemoteVisError("io_worker_failed", `an SSC-IO worker process ended (exit ${code}): ${(await stderr).trim().slice(-500) || "no message"}`, 500);
        }
        buffered += value;
      }
    },
  };
}

export interface PoolOptions {
  /** argv of this program (default selfArgv()); tests may pass another. */
  argv?: string[];
}

/** Runs `jobs` (objects with an `op`, see worker.ts) on `procs` workers over `seg`; `onDone(i, answer)` per finished job. */
export async function runJobs(seg: SharedSegment, procs: number, jobs: Record<string, unknown>[], onDone: (index: number, reply: Reply) => void = () => {}, o: PoolOptions = {}): Promise<void> {
  const n = Math.max(1, Math.min(procs, jobs.length));
  if (jobs.length === 0) return;
  const argv = o.argv ?? selfArgv();
  const workers: Worker[] = [];
  try {
    const fds = seg.parts.map((p) => p.fd);
    for (let i = 0; i < n; i++) workers.push(spawnWorker(fds, argv));
    let next = 0;
    let failed: RemoteVisError | undefined;
    await Promise.all(
      workers.map(async (w) => {
        while (!failed && next < jobs.length) {
          const i = next++;
          w.proc.stdin.write(JSON.stringify({ ...jobs[i], id: i }) + "\n");
          w.proc.stdin.flush();
          let r: Reply;
          try {
            r = await w.next();
          } catch (e) {
            failed ??= e as RemoteVisError;
            return;
          }
          if (r.error) {
            failed ??= new RemoteVisError(r.error.code, r.error.message, r.error.status >= 400 && r.error.status < 600 ? r.error.status : 500);
            return;
          }
          onDone(i, r);
        }
      }),
    );
    if (failed) throw failed;
    for (const w of workers) w.proc.stdin.end();
    await Promise.all(workers.map((w) => w.proc.exited));
  } finally {
    for (const w of workers) if (w.proc.exitCode === null) w.proc.kill("SIGKILL");
  }
}
