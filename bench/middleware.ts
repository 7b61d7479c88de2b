/**
 * `remotevis bench middleware`: the two latency goals of the middleware, against the targets
 * themselves (ARCHITECTURE.md "Benchmarks"):
 *   start-to-url  POST /instances until the URL is known, local mode, p50 (target <= 1 s)
 *   status-p99    GET /instances/:id at 500 requests/s for 20 s from a second process
 *                 (target p99 <= 50 ms, and no errors)
 * A middleware is started as a child process on a free port with a throw-away database; the
 * caller authenticates with MUNGE once to make an API token, then uses the token.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RemoteVis } from "../src/client/remotevis.ts";
import { selfArgv } from "../src/cli/self.ts";
import { RemoteVisError } from "../src/errors.ts";
import { start } from "../src/process/child.ts";
import { print, result } from "./report.ts";

export interface MiddlewareBenchOpts {
  starts: number;
  rate: number;
  seconds: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export async function middlewareBench(o: MiddlewareBenchOpts): Promise<void> {
  const check = Bun.spawnSync(["munge", "--no-input"], { stdout: "pipe", stderr: "pipe" });
  if (check.exitCode !== 0) throw new RemoteVisError("bench_setup", "munged is not running: start it with scripts/munge-up.sh (root) first");
  const dir = mkdtempSync("/tmp/rv-bench-mw-");
  const mw = start([...selfArgv(), "serve", "--port", "0", "--db", join(dir, "rv.db"), "--json", "--grace", "10m", "--gpu-limit", "1000"]);
  try {
    const url = JSON.parse((await mw.waitFor(/^\{.*"listening".*\}$/m))[0]).url as string;
    const token = (await new RemoteVis({ middleware: url }).createToken({ name: "bench" })).token;
    const rv = new RemoteVis({ middleware: url, token });

    // 1. Start to URL, one after the other, each stopped right after.
    const times: number[] = [];
    for (let i = 0; i < o.starts; i++) {
      const t0 = performance.now();
      const inst = await rv.start({ shape: [256, 256, 256], dtype: "uint16" });
      times.push((performance.now() - t0) / 1000);
      if (!inst.url) throw new RemoteVisError("bench", "started instance has no URL");
      await rv.stop(inst.id);
    }
    times.sort((a, b) => a - b);
    print(
      result({
        bench: "middleware",
        case: "start-to-url-p50",
        value: percentile(times, 50),
        unit: "s",
        baseline: "target",
        baseline_value: 1,
        higher_is_better: false,
      }, { runs: times.length, max: Math.round(times.at(-1)! * 1000) / 1000 }),
    );

    // 2. Status requests from a second process against one running instance.
    const inst = await rv.start({ shape: [64, 64, 64], dtype: "uint8" });
    const load = start([...selfArgv(), "bench", "middleware", "--load", `${url}/api/v1/instances/${inst.id}`, "--rate", String(o.rate), "--seconds", String(o.seconds)], {
      REMOTEVIS_TOKEN: token,
    });
    // waitFor, not done(): done()'s time limit leaves a timer that keeps this process alive.
    const line = (await load.waitFor(/^\{"count".*\}$/m, (o.seconds + 30) * 1000))[0];
    await load.proc.exited;
    const stats = JSON.parse(line) as { count: number; errors: number; p50: number; p99: number; max: number; achievedRate: number };
    await rv.stop(inst.id);
    print(
      result({
        bench: "middleware",
        case: `status-p99-${o.rate}rps-${o.seconds}s`,
        value: stats.p99,
        unit: "ms",
        baseline: "target",
        baseline_value: 50,
        higher_is_better: false,
      }, { errors: stats.errors, requests: stats.count, p50: stats.p50, max: stats.max, achieved_rps: stats.achievedRate }),
    );
    if (stats.errors > 0) process.exitCode = 1;
  } finally {
    mw.proc.kill("SIGTERM");
    await mw.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The second process: open-loop GETs of `url` at `rate`/s for `seconds` (requests are sent on
 * schedule whether or not earlier ones have answered), then one JSON line of latencies in ms.
 */
export async function statusLoad(url: string, rate: number, seconds: number): Promise<void> {
  const token = process.env.REMOTEVIS_TOKEN;
  if (!token) throw new RemoteVisError("usage", "--load needs REMOTEVIS_TOKEN");
  const headers = { authorization: `Bearer ${token}` };
  const total = Math.round(rate * seconds);
  const lat: number[] = [];
  let errors = 0;
  let sent = 0;
  const inflight: Promise<void>[] = [];
  const one = async () => {
    const t0 = performance.now();
    try {
      const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
      await res.arrayBuffer();
      if (res.status !== 200) errors++;
    } catch {
      errors++;
    }
    lat.push(performance.now() - t0);
  };
  const t0 = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate) + 1);
    while (sent < due) {
      inflight.push(one());
      sent++;
    }
    await Bun.sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  process.stdout.write(
    JSON.stringify({ count: lat.length, errors, p50: r(percentile(lat, 50)), p99: r(percentile(lat, 99)), max: r(lat.at(-1) ?? NaN), achievedRate: r(total / elapsed) }) + "\n",
  );
}
