/**
 * The distributed renderer (rvr_ranks under mpirun / srun, CPU backend) against one Renderer:
 * same images within the tolerance of ffi/rvrmpi/tests/ranks_test.c, same slices and retrieved
 * boxes; a killed rank fails the call within 10 s; in slurm mode (loopback slurm from
 * scripts/slurm-up.sh) a job of 2 tasks runs 2 ranks. Skipped where mpirun is not installed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { DistributedRenderer, launchArgv, sliceAxisGeometry } from "./distributed.ts";
import { Renderer } from "./renderer.ts";
import { defaultSettings, type Camera, type Vec3 } from "./structs.ts";
import { rankCount } from "../cli/instance.ts";

const hasMpi = spawnSync("sh", ["-c", "command -v mpirun"]).status === 0 && Bun.file("ffi/rvrmpi/build/rvr_ranks").size > 1000;
// Slurm mode needs root (scripts/slurm-up.sh starts slurmctld + slurmd) and slurm installed;
// RVR_TEST_SRUN=0 leaves it out.
const canSlurm =
  hasMpi && process.getuid?.() === 0 && process.env.RVR_TEST_SRUN !== "0" && spawnSync("sh", ["-c", "command -v srun && command -v slurmctld && command -v slurmd"]).status === 0;
const env = { OMP_NUM_THREADS: "1" };

function volume(n: number): Uint8Array {
  const v = new Uint8Array(n * n * n);
  for (let z = 0; z < n; z++)
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const d = Math.hypot(x - n / 2, y - n / 2, z - n / 2);
        v[(z * n + y) * n + x] = d < n * 0.4 ? 120 + Math.round(60 * Math.sin(x / 5) * Math.cos(z / 7)) : 0;
      }
  return v;
}

function tf(): Float32Array {
  const t = new Float32Array(256 * 4);
  for (let i = 0; i < 256; i++) t.set([i / 255, 0.5, 1 - i / 255, i < 60 ? 0 : 0.06], i * 4);
  return t;
}

function diff(a: Uint8Array, b: Uint8Array) {
  let sum = 0;
  let over = 0;
  for (let i = 0; i < a.length; i += 4) {
    let m = 0;
    for (let c = 0; c < 4; c++) m = Math.max(m, Math.abs(a[i + c]! - b[i + c]!));
    for (let c = 0; c < 4; c++) sum += Math.abs(a[i + c]! - b[i + c]!);
    if (m > 8) over++;
  }
  return { mean: sum / a.length, overFrac: over / (a.length / 4) };
}

const N = 48;
const camera: Camera = { eye: [N * 2.1, N * 1.4, N * 1.6], target: [N / 2, N / 2, N / 2], up: [0, 0, 1], fovY: 40, orthoHeight: 1, projection: "perspective" };
const desc = { shape: [N, N, N] as Vec3, spacing: [1, 1, 1] as Vec3, dtype: "uint8" as const, order: "C" as const };

describe.skipIf(!hasMpi)("distributed renderer (mpirun, CPU)", () => {
  let one: Renderer;
  let many: DistributedRenderer;
  const data = volume(N);
  beforeAll(async () => {
    one = await Renderer.create({ backend: "cpu", threads: 1 });
    await one.setVolume(desc, data);
    await one.setTransferFunction(tf());
    many = await DistributedRenderer.create({ ranks: 3, backend: "cpu", env });
    const buf = await many.allocVolume(data.byteLength);
    buf.set(data);
    const info = await many.setVolume(desc, buf);
    expect(info.shape).toEqual([N, N, N]);
    expect(info.window).toEqual((await one.info()).window);
    await many.setTransferFunction(tf());
  }, 60_000);
  afterAll(async () => {
    await many?.close();
    await one?.close();
  });

  test("3 ranks: the image equals the single renderer's within the tolerance", async () => {
    expect(many.ranks).toBe(3);
    const s = { ...defaultSettings(), shading: 1 };
    const a = await one.render(camera, s, 96, 80);
    const b = await many.render(camera, s, 96, 80);
    const d = diff(a.rgba, b.rgba);
    expect(d.mean).toBeLessThan(1);
    expect(d.overFrac).toBeLessThan(0.01);
    expect(many.lastStats!.compositeBytes).toBeGreaterThan(0);
  });

  test("axis slices equal exactly; slice geometry is rvr_renderer_slice_axis'", async () => {
    const s = { ...defaultSettings(), flags: 1 | 2 };
    for (const axis of [0, 1, 2]) {
      const a = await one.sliceAxis(axis, 20, s);
      const b = await many.sliceAxis(axis, 20, s);
      expect([b.width, b.height]).toEqual([a.width, a.height]);
      expect(Buffer.compare(Buffer.from(a.rgba), Buffer.from(b.rgba))).toBe(0);
    }
    expect(sliceAxisGeometry([4, 5, 6], [1, 1, 1], 0, 1).width).toBe(6);
  });

  test("retrieve gathers a strided box byte-exact", async () => {
    const lo = [3, 2, 1];
    const hi = [45, 40, 47];
    const step = [2, 3, 1];
    const size = await one.retrieveSize(lo, hi, step);
    expect(await many.retrieveSize(lo, hi, step)).toBe(size);
    const a = new Uint8Array(size);
    const b = new Uint8Array(size);
    await one.retrieve(lo, hi, step, a);
    await many.retrieve(lo, hi, step, b);
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
  });

  test("average projection is refused with a clear error", async () => {
    await expect(many.render(camera, { ...defaultSettings(), mode: "average" }, 32, 32)).rejects.toThrow(/average/);
  });
});

describe.skipIf(!hasMpi)("distributed renderer failures", () => {
  test("a rank killed mid-frame fails the render within 10 s, and later calls too", async () => {
    const r = await DistributedRenderer.create({ ranks: 2, backend: "cpu", env: { ...env, RVR_RANKS_TEST_DELAY_MS: "5000" } });
    try {
      const buf = await r.allocVolume(N * N * N);
      buf.set(volume(N));
      await r.setVolume(desc, buf);
      setTimeout(() => process.kill(r.pids[1]!, "SIGKILL"), 400);
      const t0 = performance.now();
      const err = await r.render(camera, defaultSettings(), 64, 64).then(() => undefined, (e: Error) => e);
      expect(err?.message).toMatch(/distributed renderer failed/);
      expect(performance.now() - t0).toBeLessThan(10_000);
      await expect(r.render(camera, defaultSettings(), 8, 8)).rejects.toThrow(/distributed renderer failed/);
    } finally {
      await r.close();
    }
  }, 30_000);

  test("--ranks auto follows the GPU count", () => {
    expect(rankCount("auto", 4, "auto")).toBe(4);
    expect(rankCount("auto", 1, "auto")).toBe(1);
    expect(rankCount("auto", 2, "cpu")).toBe(1);
    expect(rankCount("3", 1, "cpu")).toBe(3);
    expect(() => rankCount("0", 1, "cpu")).toThrow();
    expect(launchArgv({ ranks: 2, launcher: "srun" }, "/x/rvr_ranks", "/s").slice(0, 4)).toEqual(["srun", "--ntasks", "2", "--kill-on-bad-exit=1"]);
  });
});

// srun --mpi=pmix starts the ranks (Debian's openmpi has no PMI-2 client: with --mpi=pmi2 or
// --mpi=none every rank aborts in MPI_Init).
describe.skipIf(!canSlurm)("distributed renderer under slurm (loopback)", () => {
  beforeAll(() => {
    // the configuration of src/middleware/slurm.test.ts: an already running slurm is kept
    const up = spawnSync("scripts/slurm-up.sh", [], { env: { ...process.env, NODE_GPUS: "2", NODE_CPUS: "8" }, encoding: "utf8" });
    if (up.status !== 0) throw new Error(`scripts/slurm-up.sh failed: ${up.stdout}${up.stderr}`);
  });

  test("a job with 2 tasks (srun --ntasks 2) runs 2 ranks, and they render what one renderer does", async () => {
    const r = await DistributedRenderer.create({ ranks: 2, backend: "cpu", launcher: "srun", env, startTimeoutS: 60 });
    const one = await Renderer.create({ backend: "cpu", threads: 1 });
    try {
      expect(r.ranks).toBe(2);
      // the ranks are the two tasks of one slurm job step, not processes of an mpirun
      const slurmEnv = r.pids.map((pid) => Object.fromEntries(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)])));
      expect(slurmEnv.map((e) => e.SLURM_PROCID).sort()).toEqual(["0", "1"]);
      expect(slurmEnv[0]!.SLURM_JOB_ID).toBeTruthy();
      expect(slurmEnv[1]!.SLURM_JOB_ID).toBe(slurmEnv[0]!.SLURM_JOB_ID);
      const data = volume(N);
      const buf = await r.allocVolume(N * N * N);
      buf.set(data);
      await r.setVolume(desc, buf);
      await r.setTransferFunction(tf());
      await one.setVolume(desc, data);
      await one.setTransferFunction(tf());
      const s = { ...defaultSettings(), shading: 1 };
      const a = await one.render(camera, s, 64, 48);
      const b = await r.render(camera, s, 64, 48);
      const d = diff(a.rgba, b.rgba);
      expect(d.mean).toBeLessThan(1);
      expect(d.overFrac).toBeLessThan(0.01);
    } finally {
      await r.close();
      await one.close();
    }
  }, 90_000);
});
