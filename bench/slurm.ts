/**
 * `remotevis bench slurm`: the two latency goals of slurm mode, on a running slurm (one node on
 * loopback: scripts/slurm-up.sh), with bare slurm measured in the same run:
 *   create-answer  POST /instances in slurm mode until the answer (job id, pending, expected
 *                  start), p50; target <= 200 ms; baseline: bare `sbatch --parsable` + one
 *                  `squeue --jobs=ID` (what the middleware must do at least)
 *   start-to-url   from the moment the job's batch script starts on the node (the instance's
 *                  process start, /proc, 10 ms) until a client polling GET /instances/:id every
 *                  50 ms sees the URL, p50; target <= 2 s (bare slurm's submit-to-script time
 *                  is reported beside it)
 * The middleware is a child process (slurm mode, throw-away database, API token made with
 * munge); every instance is stopped right after it was measured.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteVis } from "../src/client/remotevis.ts";
import { selfArgv } from "../src/cli/self.ts";
import { RemoteVisError } from "../src/errors.ts";
import { start } from "../src/process/child.ts";
import { print, result } from "./report.ts";

export interface SlurmBenchOpts {
  runs: number;
  partition?: string;
}

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const r3 = (x: number) => Math.round(x * 1000) / 1000;

function timed(argv: string[]): { ms: number; out: string; code: number; err: string } {
  const t0 = performance.now();
  const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
  return { ms: performance.now() - t0, out: r.stdout.toString(), code: r.exitCode, err: r.stderr.toString() };
}

/** When process `pid` started, in ms since the epoch (from /proc, 10 ms resolution). */
function processStart(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ticks = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    return Date.now() - (uptime - ticks / 100) * 1000;
  } catch {
    return null;
  }
}

export async function slurmBench(o: SlurmBenchOpts): Promise<void> {
  const info = timed(["sinfo", "--noheader", "--format=%T"]);
  if (info.code !== 0 || !/idle|mixed/.test(info.out))
    throw new RemoteVisError("bench_setup", `slurm does not answer or has no free node (${(info.err || info.out).trim().slice(0, 200)}): start it with scripts/slurm-up.sh (root) first`);
  if (Bun.spawnSync(["munge", "--no-input"], { stdout: "pipe", stderr: "pipe" }).exitCode !== 0)
    throw new RemoteVisError("bench_setup", "munged is not running: start it with scripts/munge-up.sh (root) first");
  const dir = mkdtempSync("/tmp/rv-bench-slurm-");
  chmodSync(dir, 0o755);
  const part = o.partition ? [`--partition=${o.partition}`] : [];

  // 1. Bare slurm: sbatch, squeue, and submit-to-script of a job that writes its start time.
  const script = join(dir, "bare.sh");
  writeFileSync(script, "#!/bin/sh\ndate +%s%N > \"$1\"\n", { mode: 0o755 });
  const sbatchMs: number[] = [];
  const squeueMs: number[] = [];
  const bareStart: number[] = [];
  for (let i = 0; i < o.runs; i++) {
    const mark = join(dir, `bare-${i}`);
    const t0 = Date.now();
    const sb = timed(["sbatch", "--parsable", "--time=10", "--output=/dev/null", ...part, script, mark]);
    if (sb.code !== 0) throw new RemoteVisError("bench_setup", `sbatch failed: ${sb.err.trim()}`);
    sbatchMs.push(sb.ms);
    squeueMs.push(timed(["squeue", "--noheader", "--states=all", `--jobs=${sb.out.trim().split(";")[0]}`, "--format=%i|%T|%r|%S"]).ms);
    const deadline = Date.now() + 30_000;
    while (!existsSync(mark) || readFileSync(mark, "utf8").trim() === "") {
      if (Date.now() > deadline) throw new RemoteVisError("bench", "a bare slurm job did not run within 30 s");
      await Bun.sleep(10);
    }
    bareStart.push(Number(readFileSync(mark, "utf8").trim()) / 1e6 - t0);
  }

  // 2. The middleware in slurm mode.
  const mw = start([
    ...selfArgv(), "serve", "--mode", "slurm", "--port", "0", "--db", join(dir, "rv.db"), "--json",
    "--grace", "10m", "--gpu-limit", "1000", "--slurm-time", "10m", ...(o.partition ? ["--slurm-partition", o.partition] : []),
  ]);
  try {
    const url = JSON.parse((await mw.waitFor(/^\{.*"listening".*\}$/m))[0]).url as string;
    const token = (await new RemoteVis({ middleware: url }).createToken({ name: "bench" })).token;
    const rv = new RemoteVis({ middleware: url, token });
    const answer: number[] = [];
    const toUrl: number[] = [];
    const submitToStart: number[] = [];
    for (let i = 0; i < o.runs; i++) {
      const t0 = Date.now();
      const p0 = performance.now();
      const inst = await rv.start({ shape: [256, 256, 256], dtype: "uint16" });
      answer.push(performance.now() - p0);
      if (!inst.job) throw new RemoteVisError("bench", "the middleware did not answer with a slurm job");
      let running = inst;
      const deadline = Date.now() + 60_000;
      while (!running.url) {
        if (Date.now() > deadline || running.state === "failed" || running.state === "stopped")
          throw new RemoteVisError("bench", `instance ${inst.id} did not run: ${running.state} ${running.reason ?? ""}`);
        await Bun.sleep(50);
        running = await rv.status(inst.id);
      }
      const known = Date.now();
      const t = new URL(running.url!);
      const health = (await (await fetch(`${t.origin}/health${t.search}`)).json()) as { pid: number };
      const began = processStart(health.pid) ?? Date.parse(running.job!.startedAt!);
      toUrl.push(known - began);
      submitToStart.push(began - t0);
      await rv.stop(inst.id);
    }
    print(
      result(
        {
          bench: "slurm",
          case: "create-answer-p50",
          value: p50(answer),
          unit: "ms",
          baseline: "bare sbatch + squeue p50",
          baseline_value: p50(sbatchMs) + p50(squeueMs),
          higher_is_better: false,
        },
        { target_ms: 200, runs: o.runs, max_ms: r3(Math.max(...answer)), sbatch_p50_ms: r3(p50(sbatchMs)), squeue_p50_ms: r3(p50(squeueMs)) },
      ),
    );
    print(
      result(
        {
          bench: "slurm",
          case: "job-start-to-url-p50",
          value: p50(toUrl) / 1000,
          unit: "s",
          baseline: "target",
          baseline_value: 2,
          higher_is_better: false,
        },
        {
          runs: o.runs,
          max_s: r3(Math.max(...toUrl) / 1000),
          submit_to_job_start_p50_s: r3(p50(submitToStart) / 1000),
          bare_submit_to_script_p50_s: r3(p50(bareStart) / 1000),
          poll_interval_ms: 50,
        },
      ),
    );
  } finally {
    mw.proc.kill("SIGTERM");
    await mw.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
