/**
 * The load suite's CI run (issue 13): `remotevis bench load` made short, 50 clients for 10 s
 * and 5 viewers against a real middleware, instances and viewer sockets. No timing assertions
 * (the figures are in docs/RELIABILITY.md): every request and every viewer must get its answers
 * without one error, and neither the middleware nor the instance may grow by more than a
 * generous bound. As root it needs munged for its token (scripts/munge-up.sh, run here).
 */
import { beforeAll, describe, expect, test } from "bun:test";
import { loadRun } from "../../bench/load.ts";
import { sh } from "../../src/testing/users.ts";

const MiB = 2 ** 20;
/** Generous: a leak per request (about 5000 here) or per frame would pass it quickly. */
const GROWTH_BOUND = 128 * MiB;

describe("load: 50 clients for 10 s, 5 viewers on one instance", () => {
  beforeAll(() => {
    if (process.getuid?.() !== 0) return;
    const up = sh([new URL("../../scripts/munge-up.sh", import.meta.url).pathname]);
    if (up.code !== 0) throw new Error(`scripts/munge-up.sh failed: ${up.out}`);
  });

  test("0 errors, frames for every viewer, memory within bounds", async () => {
    const f = await loadRun({ clients: 50, seconds: 10, viewers: 5, starters: 2, thinkMs: 250, viewerFps: 2, quiet: true });
    const grow = (x: { start: number; end: number }) => Math.round(((x.end - x.start) / MiB) * 10) / 10;
    console.log(
      `load: ${f.requests} requests from ${f.clients} clients in ${f.seconds.toFixed(1)} s, ${f.errors} errors; ${f.frames} frames to ${f.viewers} viewers; ` +
        `status p50/p99 ${f.ops.status.p50.toFixed(1)}/${f.ops.status.p99.toFixed(1)} ms; ${f.instancesStarted} instances started and stopped; ` +
        `RSS growth middleware ${grow(f.rss.middleware)} MiB, instance ${grow(f.rss.instance)} MiB`,
    );
    expect(f.errorSamples).toEqual([]);
    expect(f.errors).toBe(0);
    expect(f.ops.status.count).toBeGreaterThan(0);
    expect(f.ops.list.count).toBeGreaterThan(0);
    expect(f.instancesStarted).toBeGreaterThan(0);
    expect(f.framesMin).toBeGreaterThan(0); // every viewer got frames
    expect(f.rss.middleware.start).toBeGreaterThan(0);
    expect(f.rss.instance.end).toBeGreaterThan(0);
    expect(f.rss.middleware.end - f.rss.middleware.start).toBeLessThan(GROWTH_BOUND);
    expect(f.rss.instance.end - f.rss.instance.start).toBeLessThan(GROWTH_BOUND);
  }, 120_000);
});
