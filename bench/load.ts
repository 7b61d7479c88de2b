/**
 * `remotevis bench load` (issue 13): many concurrent clients against one real middleware (its
 * own process, local mode, throw-away database) for a while, plus viewers on one instance:
 *   - `clients` API clients in this process, each a loop with a random think time: most ask
 *     for the status of the viewers' instance or list their instances; `starters` of them
 *     start a local instance (waiting for its URL), ask its status and stop it, again and again;
 *   - `viewers` WebSocket viewers on one instance (bench/load-viewer.ts: the viewer protocol,
 *     not chromium), each moving the camera `viewerFps` times a second and acknowledging frames.
 * Reports every error (must be 0), p50/p99 latency per operation, and the resident memory of
 * the middleware and of the viewers' instance before and after the load (flat = no leak).
 * The clients share this one process, so their latencies include its own event loop's delays.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { InstanceClient } from "../src/client/instance.ts";
import { RemoteVis } from "../src/client/remotevis.ts";
import { selfArgv } from "../src/cli/self.ts";
import { RemoteVisError } from "../src/errors.ts";
import { start } from "../src/process/child.ts";
import { LoadViewer } from "./load-viewer.ts";
import { print, result } from "./report.ts";

export interface LoadOptions {
  clients: number;
  seconds: number;
  viewers: number;
  /** Clients that cycle start -> status -> stop of their own instance. */
  starters: number;
  /** Mean pause between one client's requests (uniform 0..2x), ms. */
  thinkMs: number;
  viewerFps: number;
  /** Print the JSON lines (the bench) or only return the figures (the test). */
  quiet?: boolean;
}

export type Op = "status" | "list" | "start" | "stop";

export interface LoadFigures {
  seconds: number;
  clients: number;
  viewers: number;
  requests: number;
  errors: number;
  errorSamples: string[];
  ops: Record<Op, { count: number; p50: number; p99: number; max: number }>;
  frames: number;
  /** Frames of the viewer that got the fewest (0 = a viewer was starved). */
  framesMin: number;
  frameP50: number;
  frameP99: number;
  instancesStarted: number;
  rss: { middleware: { start: number; end: number }; instance: { start: number; end: number } };
  /** RSS of [middleware, instance] every seconds/6 during the load (a leak climbs, warm-up levels off). */
  rssSeries: [number, number][];
}

const MiB = 2 ** 20;

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Resident memory of a process in bytes (VmRSS), 0 when it is gone. */
export function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** A volume with something to see: a soft ball in a 128^3 cube. */
function ball(n = 128): Uint8Array {
  const v = new Uint8Array(n * n * n);
  const c = (n - 1) / 2;
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const r = Math.hypot(x - c, y - c, z - c) / c;
        v[(z * n + y) * n + x] = r < 1 ? Math.round(255 * (1 - r)) : 0;
      }
  return v;
}

/**
 * A token for the clients: the one a middleware run as a user prints before it listens, or
 * (as root) one made with MUNGE.
 */
async function clientToken(url: string, mw: ReturnType<typeof start>): Promise<string> {
  // Printed before the "listening" line, so the first of the two found tells.
  const own = (await mw.waitFor(/token for your own clients \(no munge needed\): (\S+)|"listening"/))[1];
  if (own) return own;
  const check = Bun.spawnSync(["munge", "--no-input"], { stdout: "pipe", stderr: "pipe" });
  if (check.exitCode !== 0) throw new RemoteVisError("bench_setup", "munged is not running: start it with scripts/munge-up.sh (root) first");
  return (await new RemoteVis({ middleware: url }).createToken({ name: "bench-load" })).token;
}

export async function loadRun(o: LoadOptions): Promise<LoadFigures> {
  const dir = mkdtempSync("/tmp/rv-bench-load-");
  const mw = start([
    ...selfArgv(), "serve", "--port", "0", "--db", join(dir, "rv.db"), "--json",
    "--grace", "10m", "--gpu-limit", "100000", "--start-timeout", "120s", "--stop-timeout", "5s",
  ]);
  const viewers: LoadViewer[] = [];
  let rv: RemoteVis | undefined;
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const line = (await mw.waitFor(/^\{.*"listening".*\}$/m))[0];
    const url = JSON.parse(line).url as string;
    const token = await clientToken(url, mw);
    rv = new RemoteVis({ middleware: url, token, timeoutMs: 180_000 });

    // The viewers' instance, with a volume to show.
    const shown = await rv.start({ shape: [128, 128, 128], dtype: "uint8", name: "load-viewers" });
    const ic = await InstanceClient.connect(shown.url!);
    await ic.renderVolume(ball(), { shape: [128, 128, 128], name: "ball" });
    ic.close();
    const t = new URL(shown.url!);
    const instancePid = ((await (await fetch(`${t.origin}/health${t.search}`)).json()) as { pid: number }).pid;
    for (let i = 0; i < o.viewers; i++) viewers.push(new LoadViewer(shown.url!, { width: 320, height: 240, fps: o.viewerFps, index: i }));
    await Promise.all(viewers.map((v) => v.open()));
    await Bun.sleep(2000); // settled: the first frames are out
    const rssStart = { middleware: rssOf(mw.proc.pid), instance: rssOf(instancePid) };

    const lat: Record<Op, number[]> = { status: [], list: [], start: [], stop: [] };
    const errorSamples: string[] = [];
    let errors = 0;
    let started = 0;
    const deadline = performance.now() + o.seconds * 1000;
    const timed = async <T>(op: Op, f: () => Promise<T>): Promise<T | undefined> => {
      const t0 = performance.now();
      try {
        const r = await f();
        lat[op].push(performance.now() - t0);
        return r;
      } catch (err) {
        errors++;
        if (errorSamples.length < 10) errorSamples.push(`${op}: ${err instanceof Error ? err.message : err}`);
        return undefined;
      }
    };
    const think = () => Bun.sleep(Math.random() * 2 * o.thinkMs);
    const client = async (i: number) => {
      const api = rv!;
      await Bun.sleep(Math.random() * o.thinkMs); // not all at once
      while (performance.now() < deadline) {
        if (i < o.starters) {
          const inst = await timed("start", () => api.start({ shape: [64, 64, 64], dtype: "uint8", name: `load-${i}` }));
          if (inst) {
            started++;
            await timed("status", () => api.status(inst.id));
            await timed("stop", () => api.stop(inst.id));
          }
        } else if (Math.random() < 0.7) await timed("status", () => api.status(shown.id));
        else await timed("list", () => api.list());
        await think();
      }
    };
    const rssSeries: [number, number][] = [[rssStart.middleware, rssStart.instance]];
    sampler = setInterval(() => rssSeries.push([rssOf(mw.proc.pid), rssOf(instancePid)]), (o.seconds * 1000) / 6);
    const t0 = performance.now();
    await Promise.all([...Array.from({ length: o.clients }, (_, i) => client(i)), Bun.sleep(o.seconds * 1000)]);
    const elapsed = (performance.now() - t0) / 1000;
    clearInterval(sampler);
    const rssEnd = { middleware: rssOf(mw.proc.pid), instance: rssOf(instancePid) };
    rssSeries.push([rssEnd.middleware, rssEnd.instance]);
    for (const v of viewers) v.close();
    await rv.stop(shown.id).catch(() => {});

    const ops = Object.fromEntries(
      (Object.keys(lat) as Op[]).map((op) => [op, { count: lat[op].length, p50: percentile(lat[op], 50), p99: percentile(lat[op], 99), max: Math.max(0, ...lat[op]) }]),
    ) as LoadFigures["ops"];
    const frameLat = viewers.flatMap((v) => v.stats.latencies);
    const viewerErrors = viewers.flatMap((v) => v.stats.errors);
    errorSamples.push(...viewerErrors.slice(0, 10));
    const f: LoadFigures = {
      seconds: elapsed,
      clients: o.clients,
      viewers: o.viewers,
      requests: Object.values(ops).reduce((n, x) => n + x.count, 0) + errors,
      errors: errors + viewerErrors.length,
      errorSamples,
      ops,
      frames: viewers.reduce((n, v) => n + v.stats.frames, 0),
      framesMin: Math.min(...viewers.map((v) => v.stats.frames)),
      frameP50: percentile(frameLat, 50),
      frameP99: percentile(frameLat, 99),
      instancesStarted: started,
      rss: { middleware: { start: rssStart.middleware, end: rssEnd.middleware }, instance: { start: rssStart.instance, end: rssEnd.instance } },
      rssSeries,
    };
    if (!o.quiet) report(f);
    return f;
  } finally {
    clearInterval(sampler);
    for (const v of viewers) v.close();
    rv?.close();
    mw.proc.kill("SIGTERM");
    await mw.proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

const r2 = (x: number) => Math.round(x * 100) / 100;

/** One JSON line per operation, the viewers and memory, then the headline (status p99). */
function report(f: LoadFigures): void {
  const common = { clients: f.clients, viewers: f.viewers, seconds: r2(f.seconds), errors: f.errors };
  for (const op of ["list", "start", "stop"] as Op[]) {
    const x = f.ops[op];
    if (x.count === 0) continue;
    const target = op === "start" ? 1000 : 50;
    print(result({ bench: "load", case: `${op}-p99`, value: x.p99, unit: "ms", baseline: "target", baseline_value: target, higher_is_better: false }, { ...common, count: x.count, p50: r2(x.p50), max: r2(x.max) }));
  }
  if (f.viewers > 0)
    print(
      result(
        { bench: "load", case: "viewer-frame-p99", value: f.frameP99, unit: "ms", baseline: "target", baseline_value: 150, higher_is_better: false },
        { ...common, frames: f.frames, frames_min: f.framesMin, p50: r2(f.frameP50), fps_per_viewer: r2(f.frames / f.viewers / f.seconds) },
      ),
    );
  const grow = (x: { start: number; end: number }) => r2((x.end - x.start) / MiB);
  print(
    result(
      { bench: "load", case: "middleware-rss-growth", value: grow(f.rss.middleware), unit: "MiB", baseline: "target", baseline_value: 64, higher_is_better: false },
      {
        ...common,
        middleware_rss_mib: [r2(f.rss.middleware.start / MiB), r2(f.rss.middleware.end / MiB)],
        instance_rss_mib: [r2(f.rss.instance.start / MiB), r2(f.rss.instance.end / MiB)],
        instance_rss_growth_mib: grow(f.rss.instance),
        rss_series_mib: f.rssSeries.map(([m, i]) => [r2(m / MiB), r2(i / MiB)]),
      },
    ),
  );
  if (f.errorSamples.length) process.stderr.write(`errors (first ones):\n  ${f.errorSamples.join("\n  ")}\n`);
  const s = f.ops.status;
  print(
    result(
      { bench: "load", case: `status-p99-${f.clients}clients-${Math.round(f.seconds)}s`, value: s.p99, unit: "ms", baseline: "target", baseline_value: 50, higher_is_better: false },
      { ...common, requests: f.requests, rps: r2(f.requests / f.seconds), count: s.count, p50: r2(s.p50), max: r2(s.max), instances_started: f.instancesStarted },
    ),
  );
  if (f.errors > 0) process.exitCode = 1;
}
