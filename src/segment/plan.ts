/**
 * How one segmentation is cut into batches and put back: batch k's normalized input (gather)
 * and the argmax of its scores into the labels (scatter), for 2D slices and 3D patches. The
 * serial loop (infer.ts) and the pipelined one (pipeline.ts, prep-worker.ts) both call these,
 * so that both give the same labels bit for bit.
 *
 * Volumes are read in place from their original bytes in any dtype and memory order (C or F);
 * labels are uint8 of the same shape and order.
 */
import { RemoteVisError } from "../errors.ts";
import type { ModelSpec, Norm, Region, Vec3, VolumeRef } from "./infer.ts";
import type { OrtSession } from "./ort.ts";

export const roundUp = (x: number, m: number) => Math.ceil(x / m) * m;

/** Element strides [s0, s1, s2] of a logical [z, y, x] array in memory order C or F. */
export function strides(shape: Vec3, order: "C" | "F"): Vec3 {
  return order === "C" ? [shape[1] * shape[2], shape[2], 1] : [1, shape[0], shape[0] * shape[1]];
}

/** The typed values of a volume's bytes. */
export function values(v: VolumeRef): ArrayLike<number> {
  const b = v.data;
  const n = v.shape[0] * v.shape[1] * v.shape[2];
  const B = b.buffer;
  const o = b.byteOffset;
  switch (v.dtype) {
    case "uint8":
      return new Uint8Array(B, o, n);
    case "uint16":
      return new Uint16Array(B, o, n);
    case "int16":
      return new Int16Array(B, o, n);
    case "uint32":
      return new Uint32Array(B, o, n);
    case "float32":
      return new Float32Array(B, o, n);
    case "float64":
      return new Float64Array(B, o, n);
  }
}

export interface Plan {
  /** Slices (2D) or patches (3D) in all. */
  readonly units: number;
  readonly batches: number;
  /** Floats of a buffer that holds any batch's input, and any batch's scores. */
  readonly inputLength: number;
  readonly scoreLength: number;
  /** Units in batch k. */
  count(k: number): number;
  /** The model's input and output dims for batch k (a fixed batch size is filled up with zeros). */
  dims(k: number): { input: number[]; output: number[] };
  /**
   * Writes batch k's normalized input. The buffer must have been zero when this plan first
   * used it: only the values that differ between batches are written (padding stays zero).
   */
  gather(k: number, input: Float32Array): void;
  /** Writes the argmax of batch k's scores into the labels; adds each class's voxels to counts. */
  scatter(k: number, scores: Float32Array, counts: Float64Array): void;
}

export function planSegmentation(spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, batch: number, norm: Norm): Plan {
  return spec.layout === "NCHW" ? plan2d(spec, vol, labels, region, batch, norm) : plan3d(spec, vol, labels, region, batch, norm);
}

const size = (d: number[]) => d.reduce((a, b) => a * b, 1);

/** Runs batch k of a plan: input -> scores, in place (no allocation per batch). */
export function runBatch(s: OrtSession, plan: Plan, k: number, input: Float32Array, scores: Float32Array): void {
  const d = plan.dims(k);
  s.run(input.subarray(0, size(d.input)), d.input, { data: scores.subarray(0, size(d.output)), dims: d.output });
}

/** Units in batches: the model's fixed batch size, else the asked one; a model with a fixed
 *  size is always fed a full batch (the units after the last are zeros). */
function batching(spec: ModelSpec, batchOpt: number, total: number) {
  const batch = spec.fixedBatch || Math.max(1, batchOpt);
  const count = (k: number) => Math.min(batch, total - k * batch);
  const fed = (k: number) => spec.fixedBatch || count(k);
  return { batch, count, fed, units: total, batches: Math.ceil(total / batch) };
}

function plan2d(spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, batchOpt: number, norm: Norm): Plan {
  const a = spec.axis;
  const [rb, cb] = ([0, 1, 2] as const).filter((k) => k !== a) as [number, number];
  const st = strides(vol.shape, vol.order);
  const src = values(vol);
  const H = region.hi[rb]! - region.lo[rb]!;
  const W = region.hi[cb]! - region.lo[cb]!;
  const [fh, fw] = spec.fixed as [number, number];
  if ((fh && H > fh) || (fw && W > fw))
    throw new RemoteVisError("wrong_input_shape", `the model takes slices of at most ${fh || "any"} x ${fw || "any"}; the region's slices are ${H} x ${W}`, 400);
  const PH = fh || roundUp(H, spec.multiple);
  const PW = fw || roundUp(W, spec.multiple);
  const first = region.lo[a]!;
  const total = region.hi[a]! - first;
  const { batch, count, fed, units, batches } = batching(spec, batchOpt, total);
  const { offset, scale, clamp } = norm;
  const C = spec.classes;
  const plane = PH * PW;
  const srow = st[rb]!;
  const scol = st[cb]!;
  const corner = region.lo[rb]! * srow + region.lo[cb]! * scol;
  return {
    units,
    batches,
    inputLength: batch * plane,
    scoreLength: batch * C * plane,
    count,
    dims: (k) => ({ input: [fed(k), 1, PH, PW], output: [fed(k), C, PH, PW] }),
    gather(k, input) {
      const n = count(k);
      for (let b = 0; b < n; b++) {
        const base = (first + k * batch + b) * st[a]! + corner;
        for (let r = 0; r < H; r++) gather(src, base + r * srow, scol, W, input, b * plane + r * PW, offset, scale, clamp);
      }
      // A fixed batch size: the units after the last are zeros (the buffer held an earlier batch).
      if (fed(k) > n) input.fill(0, n * plane, fed(k) * plane);
    },
    scatter(k, scores, counts) {
      const n = count(k);
      for (let b = 0; b < n; b++) {
        const base = (first + k * batch + b) * st[a]! + corner;
        const ob = b * C * plane;
        for (let r = 0; r < H; r++) argmax(scores, ob + r * PW, plane, C, W, labels, base + r * srow, scol, counts);
      }
    },
  };
}

/** Patch starts along one axis covering [lo, hi) with patches of p sharing >= ov voxels. */
function starts(lo: number, hi: number, p: number, ov: number): number[] {
  if (hi - lo <= p) return [lo];
  const out: number[] = [];
  for (let s = lo; ; s += p - ov) {
    if (s + p >= hi) {
      out.push(hi - p);
      break;
    }
    out.push(s);
  }
  return out;
}

/** The part of each patch that it writes: voxels nearer its centre than any other patch's. */
function cores(st: number[], lo: number, hi: number, p: number): [number, number][] {
  return st.map((s, j) => [j === 0 ? lo : Math.floor((st[j - 1]! + s + p) / 2), j === st.length - 1 ? hi : Math.floor((s + st[j + 1]! + p) / 2)]);
}

function plan3d(spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, batchOpt: number, norm: Norm): Plan {
  const P = spec.patch!;
  const ov = spec.overlap!;
  const ext = [0, 1, 2].map((k) => region.hi[k]! - region.lo[k]!);
  // A region smaller than the patch on an axis: a smaller patch (when the model allows it).
  const p = [0, 1, 2].map((k) => (spec.fixed[k] ? P[k]! : Math.min(P[k]!, roundUp(ext[k]!, spec.multiple)))) as Vec3;
  const perAxis = [0, 1, 2].map((k) => starts(region.lo[k]!, region.hi[k]!, p[k]!, Math.min(ov, p[k]! - 1)));
  const coreAxis = [0, 1, 2].map((k) => cores(perAxis[k]!, region.lo[k]!, region.hi[k]!, p[k]!));
  const patches: [number, number, number][] = [];
  for (let i = 0; i < perAxis[0]!.length; i++) for (let j = 0; j < perAxis[1]!.length; j++) for (let k = 0; k < perAxis[2]!.length; k++) patches.push([i, j, k]);
  const st = strides(vol.shape, vol.order);
  const src = values(vol);
  const vox = p[0] * p[1] * p[2];
  const { batch, count, fed, units, batches } = batching(spec, batchOpt, patches.length);
  const { offset, scale, clamp } = norm;
  const C = spec.classes;
  return {
    units,
    batches,
    inputLength: batch * vox,
    scoreLength: batch * C * vox,
    count,
    dims: (k) => ({ input: [fed(k), 1, ...p], output: [fed(k), C, ...p] }),
    gather(k, input) {
      const n = count(k);
      for (let b = 0; b < n; b++) {
        const [i, j, l] = patches[k * batch + b]!;
        const s0 = perAxis[0]![i]!;
        const s1 = perAxis[1]![j]!;
        const s2 = perAxis[2]![l]!;
        const e0 = Math.min(p[0], vol.shape[0] - s0);
        const e1 = Math.min(p[1], vol.shape[1] - s1);
        const e2 = Math.min(p[2], vol.shape[2] - s2);
        // A patch that sticks out of the volume: zeros there (the buffer held an earlier patch).
        if (e0 < p[0] || e1 < p[1] || e2 < p[2]) input.fill(0, b * vox, (b + 1) * vox);
        for (let z = 0; z < e0; z++)
          for (let y = 0; y < e1; y++) gather(src, (s0 + z) * st[0] + (s1 + y) * st[1] + s2 * st[2], st[2], e2, input, b * vox + (z * p[1] + y) * p[2], offset, scale, clamp);
      }
      if (fed(k) > n) input.fill(0, n * vox, fed(k) * vox);
    },
    scatter(k, scores, counts) {
      const n = count(k);
      for (let b = 0; b < n; b++) {
        const [i, j, l] = patches[k * batch + b]!;
        const org = [perAxis[0]![i]!, perAxis[1]![j]!, perAxis[2]![l]!];
        const [c0, c1, c2] = [coreAxis[0]![i]!, coreAxis[1]![j]!, coreAxis[2]![l]!];
        const ob = b * C * vox;
        for (let z = c0[0]; z < c0[1]; z++)
          for (let y = c1[0]; y < c1[1]; y++)
            argmax(scores, ob + ((z - org[0]!) * p[1] + (y - org[1]!)) * p[2] + (c2[0] - org[2]!), vox, C, c2[1] - c2[0], labels, z * st[0] + y * st[1] + c2[0] * st[2], st[2], counts);
      }
    },
  };
}

/**
 * One row of input: n values from src[p], src[p + step], ... normalized into input[q..q+n).
 * Small functions with monomorphic loops: JSC compiles them well (the loops inlined into the
 * large functions ran 3-5x slower). NaN becomes 0.
 */
function gather(src: ArrayLike<number>, p: number, step: number, n: number, input: Float32Array, q: number, offset: number, scale: number, clamp: boolean): void {
  if (clamp) {
    if (step === 1)
      for (let i = 0; i < n; i++) {
        const x = (src[p + i]! - offset) * scale;
        input[q + i] = x > 0 ? (x < 1 ? x : 1) : 0;
      }
    else
      for (let i = 0; i < n; i++, p += step) {
        const x = (src[p]! - offset) * scale;
        input[q + i] = x > 0 ? (x < 1 ? x : 1) : 0;
      }
  } else
    for (let i = 0; i < n; i++, p += step) {
      const x = (src[p]! - offset) * scale;
      input[q + i] = x === x ? x : 0;
    }
}

/**
 * One row of labels: the argmax over C class planes (`plane` apart) of n scores from out[q];
 * counts[k] += the voxels labelled k (the class counts come free with the pass).
 */
function argmax(out: Float32Array, q: number, plane: number, C: number, n: number, labels: Uint8Array, p: number, step: number, counts: Float64Array): void {
  if (C === 3) {
    const q1 = q + plane;
    const q2 = q + 2 * plane;
    let c1 = 0;
    let c2 = 0;
    for (let i = 0; i < n; i++, p += step) {
      const x0 = out[q + i]!;
      const x1 = out[q1 + i]!;
      const x2 = out[q2 + i]!;
      const k = x2 > x1 ? (x2 > x0 ? 2 : 0) : x1 > x0 ? 1 : 0;
      labels[p] = k;
      c1 += k & 1;
      c2 += k >> 1;
    }
    counts[0]! += n - c1 - c2;
    counts[1]! += c1;
    counts[2]! += c2;
    return;
  }
  for (let i = 0; i < n; i++, p += step) {
    let best = 0;
    let bv = out[q + i]!;
    for (let k = 1; k < C; k++) {
      const x = out[q + i + k * plane]!;
      if (x > bv) (bv = x), (best = k);
    }
    labels[p] = best;
    counts[best]!++;
  }
}

/** Voxels per class of a whole label volume (labels of an earlier model may go past `classes`). */
export function countLabels(labels: Uint8Array, classes: number): number[] {
  const c = new Float64Array(256);
  for (let i = 0; i < labels.length; i++) c[labels[i]!]!++;
  let n = classes;
  for (let k = classes; k < 256; k++) if (c[k]) n = k + 1;
  return Array.from(c.subarray(0, n));
}
