/**
 * The arithmetic of segmentation, independent of threads: checking a loaded model against its
 * description, cutting a volume into slices (2D) or overlapping patches (3D), normalizing,
 * and writing the argmax of the network's output back as labels. worker.ts runs it off the
 * event loop; bench/segment.ts and the tests call it too.
 *
 * Volumes are read in place from their original bytes in any dtype and memory order (C or F);
 * labels are uint8 of the same shape and order.
 */
import { RemoteVisError } from "../errors.ts";
import type { VolumeDtype } from "../protocol/control.ts";
import type { InputLayout } from "../protocol/segment.ts";
import type { OrtSession } from "./ort.ts";

export type Vec3 = [number, number, number];

/** What the instance derives from the description and the model (resolved before a run). */
export interface ModelSpec {
  layout: InputLayout;
  classes: number;
  axis: 0 | 1 | 2;
  multiple: number;
  /** Fixed spatial extents of the input ([h, w] or [d, h, w]), 0 where free. */
  fixed: number[];
  /** Fixed batch size, or 0 when free. */
  fixedBatch: number;
  patch?: Vec3;
  overlap?: number;
}

/** Normalization as arithmetic: v = clamp?((x - offset) * scale). */
export interface Norm {
  offset: number;
  scale: number;
  clamp: boolean;
}

export interface VolumeRef {
  data: ArrayBufferView;
  shape: Vec3;
  dtype: VolumeDtype;
  order: "C" | "F";
}

const dim = (d: number | string | undefined) => (typeof d === "number" ? d : 0);

/**
 * Checks the model's input and output against the description and runs it once on a small
 * input; throws `wrong_input_shape`, `wrong_output_shape` or `invalid_model` with what differs.
 */
export function checkModel(s: OrtSession, d: { inputLayout: InputLayout; classes: number; axis?: number; multiple?: number; patch?: number[]; overlap?: number }): ModelSpec {
  const rank = d.inputLayout === "NCHW" ? 4 : 5;
  const want = d.inputLayout === "NCHW" ? "[N, 1, H, W]" : "[N, 1, D, H, W]";
  const inp = s.inputs[0];
  const out = s.outputs[0];
  if (!inp || !out) throw new RemoteVisError("invalid_model", "the model has no input or no output", 400);
  const show = (x: (number | string)[]) => `[${x.join(", ")}]`;
  if (s.inputs.length !== 1) throw new RemoteVisError("wrong_input_shape", `the model has ${s.inputs.length} inputs; segmentation feeds one ${want} float32 input`, 400);
  if (inp.type !== "float32") throw new RemoteVisError("wrong_input_shape", `the model's input '${inp.name}' is ${inp.type}; segmentation feeds float32`, 400);
  if (inp.shape.length !== rank || (dim(inp.shape[1]) !== 0 && inp.shape[1] !== 1))
    throw new RemoteVisError("wrong_input_shape", `the model's input '${inp.name}' has shape ${show(inp.shape)}; inputLayout ${d.inputLayout} needs ${want} (one channel)`, 400, {
      input: inp.shape,
    });
  if (out.shape.length !== rank || (dim(out.shape[1]) !== 0 && out.shape[1] !== d.classes))
    throw new RemoteVisError("wrong_output_shape", `the model's output '${out.name}' has shape ${show(out.shape)}; ${d.classes} classes need [N, ${d.classes}, ${d.inputLayout === "NCHW" ? "H, W" : "D, H, W"}]`, 400, {
      output: out.shape,
    });
  const multiple = d.multiple ?? 8;
  const fixed = inp.shape.slice(2).map(dim);
  const spec: ModelSpec = { layout: d.inputLayout, classes: d.classes, axis: (d.axis ?? 0) as 0 | 1 | 2, multiple, fixed, fixedBatch: dim(inp.shape[0]) };
  if (d.inputLayout === "NCDHW") {
    const p = (d.patch ?? [64, 64, 64]).map((x, k) => fixed[k] || roundUp(x, multiple)) as Vec3;
    spec.patch = p;
    spec.overlap = d.overlap ?? Math.floor(Math.min(...p) / 4);
    if (p.some((x) => spec.overlap! >= x)) throw new RemoteVisError("invalid_model", `overlap ${spec.overlap} must be smaller than the patch [${p.join(", ")}]`, 400);
  }
  // One run on a small input: catches what the metadata cannot say (output size, broken graphs).
  const probe = fixed.map((f) => f || roundUp(16, multiple));
  const n = spec.fixedBatch || 1;
  const dims = [n, 1, ...probe];
  let r: { data: Float32Array; dims: number[] };
  try {
    r = s.run(new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
  } catch (err) {
    throw new RemoteVisError("invalid_model", `the model failed on a test input of shape [${dims.join(", ")}]: ${(err instanceof Error ? err.message : String(err)).slice(0, 400)}`, 400);
  }
  const wantOut = [n, d.classes, ...probe];
  if (r.dims.join() !== wantOut.join())
    throw new RemoteVisError("wrong_output_shape", `for an input of shape [${dims.join(", ")}] the model answered [${r.dims.join(", ")}]; segmentation needs [${wantOut.join(", ")}] (one score per class and voxel)`, 400);
  return spec;
}

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

export interface Region {
  lo: Vec3;
  hi: Vec3;
}

export interface Progress {
  /** [0] done units, [1] total units, [2] cancel request (set by the caller). */
  cells: Int32Array;
}

export interface RunOptions {
  batch: number;
  norm: Norm;
  progress?: Progress;
  /** Called after each inference call with its wall time (bench). */
  onBatch?: (units: number, ms: number) => void;
}

/**
 * Segments `region` of `vol` into `labels` (uint8, the volume's shape and order). Returns the
 * number of units (slices or patches) done; stops early (returns -1) when cancelled.
 */
export function segmentVolume(s: OrtSession, spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, o: RunOptions): number {
  return spec.layout === "NCHW" ? segment2d(s, spec, vol, labels, region, o) : segment3d(s, spec, vol, labels, region, o);
}

function segment2d(s: OrtSession, spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, o: RunOptions): number {
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
  const batch = spec.fixedBatch || Math.max(1, o.batch);
  const input = new Float32Array(batch * PH * PW);
  const { offset, scale, clamp } = o.norm;
  const C = spec.classes;
  const plane = PH * PW;
  const scores = new Float32Array(batch * C * plane);
  if (o.progress) o.progress.cells[1] = total;
  let done = 0;
  while (done < total) {
    if (o.progress && Atomics.load(o.progress.cells, 2)) return -1;
    const n = Math.min(batch, total - done);
    input.fill(0);
    for (let b = 0; b < n; b++) {
      const base = (first + done + b) * st[a]! + region.lo[rb]! * st[rb]! + region.lo[cb]! * st[cb]!;
      for (let r = 0; r < H; r++) gather(src, base + r * st[rb]!, st[cb]!, W, input, b * plane + r * PW, offset, scale, clamp);
    }
    const t0 = performance.now();
    const nb = spec.fixedBatch || n;
    const outDims = [nb, C, PH, PW];
    const out = s.run(nb === batch ? input : input.subarray(0, nb * plane), [nb, 1, PH, PW], { data: scores.subarray(0, nb * C * plane), dims: outDims }).data;
    o.onBatch?.(n, performance.now() - t0);
    for (let b = 0; b < n; b++) {
      const base = (first + done + b) * st[a]! + region.lo[rb]! * st[rb]! + region.lo[cb]! * st[cb]!;
      const ob = b * C * plane;
      for (let r = 0; r < H; r++) argmax(out, ob + r * PW, plane, C, W, labels, base + r * st[rb]!, st[cb]!);
    }
    done += n;
    if (o.progress) Atomics.store(o.progress.cells, 0, done);
  }
  return total;
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

/** One row of labels: the argmax over C class planes (`plane` apart) of n scores from out[q]. */
function argmax(out: Float32Array, q: number, plane: number, C: number, n: number, labels: Uint8Array, p: number, step: number): void {
  if (C === 3) {
    const q1 = q + plane;
    const q2 = q + 2 * plane;
    for (let i = 0; i < n; i++, p += step) {
      const x0 = out[q + i]!;
      const x1 = out[q1 + i]!;
      const x2 = out[q2 + i]!;
      labels[p] = x2 > x1 ? (x2 > x0 ? 2 : 0) : x1 > x0 ? 1 : 0;
    }
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
  }
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

function segment3d(s: OrtSession, spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, o: RunOptions): number {
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
  const batch = spec.fixedBatch || Math.max(1, o.batch);
  const input = new Float32Array(batch * vox);
  const { offset, scale, clamp } = o.norm;
  const C = spec.classes;
  const total = patches.length;
  if (o.progress) o.progress.cells[1] = total;
  let done = 0;
  while (done < total) {
    if (o.progress && Atomics.load(o.progress.cells, 2)) return -1;
    const n = Math.min(batch, total - done);
    input.fill(0);
    for (let b = 0; b < n; b++) {
      const [i, j, k] = patches[done + b]!;
      const s0 = perAxis[0]![i]!;
      const s1 = perAxis[1]![j]!;
      const s2 = perAxis[2]![k]!;
      const e0 = Math.min(p[0], vol.shape[0] - s0);
      const e1 = Math.min(p[1], vol.shape[1] - s1);
      const e2 = Math.min(p[2], vol.shape[2] - s2);
      for (let z = 0; z < e0; z++)
        for (let y = 0; y < e1; y++) gather(src, (s0 + z) * st[0] + (s1 + y) * st[1] + s2 * st[2], st[2], e2, input, b * vox + (z * p[1] + y) * p[2], offset, scale, clamp);
    }
    const t0 = performance.now();
    const nb = spec.fixedBatch || n;
    const out = s.run(nb === batch ? input : input.subarray(0, nb * vox), [nb, 1, ...p]).data;
    o.onBatch?.(n, performance.now() - t0);
    for (let b = 0; b < n; b++) {
      const [i, j, k] = patches[done + b]!;
      const org = [perAxis[0]![i]!, perAxis[1]![j]!, perAxis[2]![k]!];
      const [c0, c1, c2] = [coreAxis[0]![i]!, coreAxis[1]![j]!, coreAxis[2]![k]!];
      const ob = b * C * vox;
      for (let z = c0[0]; z < c0[1]; z++)
        for (let y = c1[0]; y < c1[1]; y++)
          argmax(out, ob + ((z - org[0]!) * p[1] + (y - org[1]!)) * p[2] + (c2[0] - org[2]!), vox, C, c2[1] - c2[0], labels, z * st[0] + y * st[1] + c2[0] * st[2], st[2]);
    }
    done += n;
    if (o.progress) Atomics.store(o.progress.cells, 0, done);
  }
  return total;
}
