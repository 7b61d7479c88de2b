/**
 * `remotevis bench render`: CPU frames of librvr through the instance's own path (Renderer on
 * its Worker), against
 *   - the naive reference ray caster (bench/render-ref, no skipping, same sampling), run in
 *     this process on the same volume and camera: per-sample rate with skipping off
 *     (the kernel's speed) and frame time with skipping on (what users get);
 *   - the targets of the issue for the real CT at 1280x720 with S1: preview <= 100 ms,
 *     full frame <= 400 ms.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import refPath from "../ffi/librvr/build/librvr_ref.so" with { type: "file" };
import { porousCylinder } from "../src/client/demo-volume.ts";
import { readVolume } from "../src/formats/index.ts";
import { presetTf } from "../src/render/presets.ts";
import { Renderer } from "../src/render/renderer.ts";
import { defaultSettings, FLAGS, type Camera, type Settings, type Vec3 } from "../src/render/structs.ts";
import { orbitCamera, worldExtent } from "../src/render/view.ts";
import { print, result } from "./report.ts";

const { ptr: P, i32, f32, u64 } = FFIType;
const ref = dlopen(refPath, {
  ref_render: { args: [P, i32, i32, i32, P, P, P, P, f32, i32, i32, f32, f32, i32, P, P, P, P], returns: i32 },
}).symbols;
void u64;

const W = 1280;
const H = 720;
const SHADING = { S0: 0, S1: 1, S2: 3, S3: 7 } as const;

/** The reference's LUT: 4096 premultiplied entries, opacity corrected for the step (as librvr). */
function refLut(tf: Float32Array, step: number): Float32Array {
  const n = tf.length / 4;
  const out = new Float32Array(4096 * 4);
  for (let i = 0; i < 4096; i++) {
    const x = (i / 4095) * (n - 1);
    const k = Math.min(n - 2, Math.floor(x));
    const t = x - k;
    const c = [0, 1, 2, 3].map((j) => tf[k * 4 + j]! * (1 - t) + tf[(k + 1) * 4 + j]! * t);
    const a = 1 - Math.pow(1 - Math.min(1, Math.max(0, c[3]!)), step);
    out.set([c[0]! * a, c[1]! * a, c[2]! * a, a], i * 4);
  }
  return out;
}

/** The normalized uint16 volume the reference reads (librvr keeps the same internally). */
function normalized(data: ArrayLike<number>, lo: number, hi: number): Uint16Array {
  const out = new Uint16Array(data.length);
  const s = 65535 / (hi - lo || 1);
  for (let i = 0; i < data.length; i++) out[i] = Math.max(0, Math.min(65535, Math.round((data[i]! - lo) * s)));
  return out;
}

async function time<T>(fn: () => Promise<T>, reps: number): Promise<{ ms: number; last: T }> {
  let best = Infinity;
  let last!: T;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    last = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  return { ms: best, last };
}

interface Scene {
  name: string;
  shape: Vec3;
  spacing: Vec3;
  data: ArrayLike<number> & ArrayBufferView;
  dtype: "uint8" | "int16";
  preset: string;
}

async function loadScenes(which: string[]): Promise<Scene[]> {
  const out: Scene[] = [];
  if (which.includes("ct")) {
    try {
      // From the working folder (the executable may run anywhere); scripts/testdata.sh makes it.
      const v = await readVolume(`${process.env.REMOTEVIS_DATA ?? "data"}/ct/cranium.raw`);
      out.push({ name: "ct-108x256x256-i16", shape: v.shape, spacing: v.spacing, data: v.data as Int16Array, dtype: "int16", preset: "ct-bone" });
    } catch {
      process.stderr.write("bench render: no CT (run scripts/testdata.sh): skipping the CT case\n");
    }
  }
  if (which.includes("synthetic")) {
    const n = 512;
    out.push({ name: "synthetic-512^3-u8", shape: [n, n, n], spacing: [1, 1, 1], data: porousCylinder(n), dtype: "uint8", preset: "grayscale" });
  }
  return out;
}

export async function renderBench(o: { scenes: string[]; reps: number }): Promise<void> {
  const r = await Renderer.create({ backend: "cpu" });
  try {
    for (const sc of await loadScenes(o.scenes)) {
      const bytes = new Uint8Array(sc.data.buffer, sc.data.byteOffset, sc.data.byteLength);
      const info = await r.setVolume({ shape: sc.shape, spacing: sc.spacing, dtype: sc.dtype, order: "C" }, bytes);
      const tf = presetTf(sc.preset, info.window);
      await r.setTransferFunction(tf);
      const cam: Camera = orbitCamera({ azimuth: 30, elevation: 20, distance: 2, roll: 0, fov: 30, projection: "perspective" }, worldExtent(sc.shape, sc.spacing));
      const base: Settings = { ...defaultSettings(), shading: 1 };

      // Against the reference, same samples: librvr with skipping off vs ref_render.
      const vol16 = normalized(sc.data, info.window[0], info.window[1]);
      const lut = refLut(tf, 1);
      // The reference takes spacing 1: compare on a unit-spacing camera for both.
      const camU = orbitCamera({ azimuth: 30, elevation: 20, distance: 2, roll: 0, fov: 30, projection: "perspective" }, worldExtent(sc.shape, [1, 1, 1]));
      if (sc.spacing.some((s) => s !== 1)) await r.setVolume({ shape: sc.shape, spacing: [1, 1, 1], dtype: sc.dtype, order: "C" }, bytes);
      const rgba = new Uint8Array(W * H * 4);
      const samples = new BigUint64Array(1);
      const f32 = (v: number[]) => new Float32Array(v);
      const refFrame = () => {
        const t0 = performance.now();
        ref.ref_render(ptr(vol16), sc.shape[2], sc.shape[1], sc.shape[0], ptr(lut), ptr(f32(camU.eye)), ptr(f32(camU.target)), ptr(f32(camU.up)), camU.fovY, W, H, 1, 0.99, 1, ptr(f32([0.3, 0.7, 0.2, 32])), ptr(f32([0.08, 0.08, 0.1])), ptr(rgba), ptr(samples));
        return { ms: performance.now() - t0, samples: Number(samples[0]) };
      };
      let refBest = { ms: Infinity, samples: 0 };
      for (let i = 0; i < o.reps; i++) {
        const f = refFrame();
        if (f.ms < refBest.ms) refBest = f;
      }
      const noSkip = await time(() => r.render(camU, { ...base, flags: FLAGS.noSkip }, W, H), o.reps);
      const skip = await time(() => r.render(camU, base, W, H), o.reps);
      const refRate = refBest.samples / refBest.ms / 1e3;
      const ourRate = noSkip.last.stats!.samples / noSkip.last.stats!.totalMs / 1e3;
      print(result({ bench: "render", case: `${sc.name}-S1-sample-rate`, value: ourRate, unit: "Msamples/s", baseline: "reference ray caster (same samples)", baseline_value: refRate, higher_is_better: true }));
      print(result({ bench: "render", case: `${sc.name}-S1-frame-vs-reference`, value: skip.ms, unit: "ms", baseline: "reference ray caster frame", baseline_value: refBest.ms, higher_is_better: false }, { samples_ours: skip.last.stats!.samples, samples_reference: refBest.samples }));
      // Frame times per shading: the CT against the targets, other scenes against the
      // reference's S1 frame on the same volume.
      const isCt = sc.name.startsWith("ct");
      if (sc.spacing.some((x) => x !== 1)) await r.setVolume({ shape: sc.shape, spacing: sc.spacing, dtype: sc.dtype, order: "C" }, bytes);
      for (const [label, shading] of Object.entries(SHADING)) {
        const st = { ...base, shading };
        await r.render(cam, st, W, H); // builds S2/S3 caches once, as a viewer would
        const { ms } = await time(() => r.render(cam, st, W, H), o.reps);
        print(
          isCt
            ? result({ bench: "render", case: `${sc.name}-${label}-full-${W}x${H}`, value: ms, unit: "ms", baseline: "target", baseline_value: 400, higher_is_better: false })
            : result({ bench: "render", case: `${sc.name}-${label}-full-${W}x${H}`, value: ms, unit: "ms", baseline: "reference ray caster S1 frame", baseline_value: refBest.ms, higher_is_better: false }),
        );
      }
      const preview = await time(() => r.render(cam, { ...base, lod: 4, step: 2 }, W, H), o.reps);
      print(
        result({ bench: "render", case: `${sc.name}-S1-preview-${W}x${H}`, value: preview.ms, unit: "ms", baseline: isCt ? "target" : "reference ray caster S1 frame", baseline_value: isCt ? 100 : refBest.ms, higher_is_better: false }),
      );
    }
  } finally {
    await r.close();
  }
}
