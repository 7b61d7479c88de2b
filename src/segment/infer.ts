/**
 * Segmentation independent of threads: checking a loaded model against its description, and
 * the serial loop (gather a batch, run the network, argmax into labels; plan.ts cuts the volume
 * into slices or patches). worker.ts runs the same batches pipelined (pipeline.ts) and falls
 * back to this loop; bench/segment.ts and the tests call it too.
 */
import { RemoteVisError } from "../errors.ts";
import type { VolumeDtype } from "../protocol/control.ts";
import type { InputLayout } from "../protocol/segment.ts";
import type { OrtSession } from "./ort.ts";
import { planSegmentation, roundUp, runBatch } from "./plan.ts";

export { roundUp };

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
  /** Voxels per class of the region, added to (one entry per class). */
  counts?: Float64Array;
}

/**
 * Segments `region` of `vol` into `labels` (uint8, the volume's shape and order), one batch
 * after the other. Returns the number of units (slices or patches) done; stops early (returns
 * -1) when cancelled.
 */
export function segmentVolume(s: OrtSession, spec: ModelSpec, vol: VolumeRef, labels: Uint8Array, region: Region, o: RunOptions): number {
  const plan = planSegmentation(spec, vol, labels, region, o.batch, o.norm);
  const input = new Float32Array(plan.inputLength);
  const scores = new Float32Array(plan.scoreLength);
  const counts = o.counts ?? new Float64Array(spec.classes);
  if (o.progress) o.progress.cells[1] = plan.units;
  let done = 0;
  for (let k = 0; k < plan.batches; k++) {
    if (o.progress && Atomics.load(o.progress.cells, 2)) return -1;
    plan.gather(k, input);
    const t0 = performance.now();
    runBatch(s, plan, k, input, scores);
    o.onBatch?.(plan.count(k), performance.now() - t0);
    plan.scatter(k, scores, counts);
    done += plan.count(k);
    if (o.progress) Atomics.store(o.progress.cells, 0, done);
  }
  return plan.units;
}
