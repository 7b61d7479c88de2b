/**
 * Pipelined segmentation: ONNX Runtime's run blocks its thread, and the JavaScript around it
 * (normalizing a batch's input, the argmax of its scores into labels, the class counts) would
 * otherwise run between the runs, with the network's thread pool idle. Here a second thread,
 * the prep thread (prep-worker.ts), gathers batch k+1.. and scatters batch k-1 while this
 * thread runs batch k. Both follow the same Plan (plan.ts), so the labels are the same bit for
 * bit as the serial loop's (infer.ts).
 *
 * Hand-over: SLOTS pairs of (input, scores) buffers in SharedArrayBuffers; batch k uses pair
 * k % SLOTS. Counters in `ctl`: batches gathered (prep), scored (here), labelled (prep); the prep
 * thread gathers batch g only when batch g - SLOTS is labelled, this thread runs batch k only
 * when it is gathered. Every change bumps one sequence cell that both threads wait on, so no
 * wake-up is lost. Cancel (cells[2]) is seen here before each run; this thread then sets
 * `stop` and waits for the prep thread to leave the job before it returns (the labels' memory
 * is only kept alive until then).
 */
import { RemoteVisError } from "../errors.ts";
import { workerUrl } from "../process/worker-url.ts";
import type { ModelSpec, Norm, Progress, Region, VolumeRef } from "./infer.ts";
import type { OrtSession } from "./ort.ts";
import { planSegmentation, runBatch } from "./plan.ts";

export const SLOTS = 3;

/** Cells of `ctl`. */
export const CTL = { seq: 0, state: 1, gathered: 2, scored: 3, labelled: 4, stop: 5, errorBytes: 6, length: 8 } as const;
/** Values of ctl[CTL.state]. */
export const STATE = { posted: 0, running: 1, abandoned: 2, done: 3, failed: 4 } as const;

/** What the prep thread gets: memory by address (the volume lives outside the JS heap). */
export interface PrepJob {
  ctl: Int32Array;
  error: Uint8Array;
  cells: Int32Array;
  counts: Float64Array;
  inputs: Float32Array[];
  scores: Float32Array[];
  volume: { addr: number; bytes: number; shape: VolumeRef["shape"]; dtype: VolumeRef["dtype"]; order: VolumeRef["order"] };
  labels: { addr: number; bytes: number };
  spec: ModelSpec;
  region: Region;
  batch: number;
  norm: Norm;
}

/** Tells the other thread that a cell changed. */
export function bump(ctl: Int32Array): void {
  Atomics.add(ctl, CTL.seq, 1);
  Atomics.notify(ctl, CTL.seq);
}

/** Blocks until ok() holds (true) or ms pass (false). */
export function waitUntil(ctl: Int32Array, ok: () => boolean, ms = Infinity): boolean {
  const end = performance.now() + ms;
  for (;;) {
    const seq = Atomics.load(ctl, CTL.seq);
    if (ok()) return true;
    const left = end - performance.now();
    if (left <= 0) return false;
    // The time limit is a safety net only: every change bumps seq.
    Atomics.wait(ctl, CTL.seq, seq, Math.min(left, 1000));
  }
}

/** How long a job waits for the prep thread to take it (its first start loads a module). */
const START_MS = 10_000;

/** The prep thread, started once and kept (it waits idle between jobs). */
export class PrepThread {
  private worker: Worker | undefined;
  private broken = false;

  /** Starts the thread ahead of the first job (a model arrived). */
  start(): void {
    if (this.worker || this.broken) return;
    this.worker = new Worker(workerUrl("segment/prep-worker.ts", new URL("./prep-worker.ts", import.meta.url)));
    this.worker.onerror = () => {
      this.broken = true;
    };
    this.worker.unref();
  }

  /** Posts a job; false when there is no prep thread to run it. */
  post(job: PrepJob): boolean {
    this.start();
    if (this.broken || !this.worker) return false;
    this.worker.postMessage(job);
    return true;
  }

  stop(): void {
    this.worker?.terminate();
    this.worker = undefined;
  }
}

/** A buffer pair per slot, kept between jobs (its pages stay mapped: no faults per run). */
let kept: { inputs: Float32Array[]; scores: Float32Array[] } | undefined;

function slots(inputLength: number, scoreLength: number): { inputs: Float32Array[]; scores: Float32Array[] } {
  if (!kept || kept.inputs[0]!.length < inputLength || kept.scores[0]!.length < scoreLength) {
    const make = (n: number) => Array.from({ length: SLOTS }, () => new Float32Array(new SharedArrayBuffer(n * 4)));
    kept = { inputs: make(inputLength), scores: make(scoreLength) };
  }
  return kept;
}

export interface PipelinedRun {
  vol: VolumeRef & { addr: number };
  labels: Uint8Array;
  labelsAddr: number;
  region: Region;
  batch: number;
  norm: Norm;
  progress: Progress;
  /** Voxels per class of the region, added to. */
  counts: Float64Array;
  onBatch?: (units: number, ms: number) => void;
}

/**
 * Segments like segmentVolume (same return: units, or -1 when cancelled), with the prep
 * thread; undefined when that thread could not take the job (the caller runs the serial loop).
 */
export function segmentPipelined(prep: PrepThread, s: OrtSession, spec: ModelSpec, r: PipelinedRun): number | undefined {
  const plan = planSegmentation(spec, r.vol, r.labels, r.region, r.batch, r.norm);
  const { inputs, scores } = slots(plan.inputLength, plan.scoreLength);
  const ctl = new Int32Array(new SharedArrayBuffer(CTL.length * 4));
  const error = new Uint8Array(new SharedArrayBuffer(1024));
  const counts = new Float64Array(new SharedArrayBuffer(spec.classes * 8));
  const cells = r.progress.cells;
  cells[1] = plan.units;
  const { data, ...vol } = r.vol;
  const job: PrepJob = {
    ctl,
    error,
    cells,
    counts,
    inputs,
    scores,
    volume: { ...vol, bytes: data.byteLength },
    labels: { addr: r.labelsAddr, bytes: r.labels.byteLength },
    spec,
    region: r.region,
    batch: r.batch,
    norm: r.norm,
  };
  if (!prep.post(job)) return undefined;
  const state = () => Atomics.load(ctl, CTL.state);
  // Taken, or given up on: whichever of the two threads changes the state first wins.
  if (!waitUntil(ctl, () => state() !== STATE.posted, START_MS) && Atomics.compareExchange(ctl, CTL.state, STATE.posted, STATE.abandoned) === STATE.posted) return undefined;
  const ended = () => state() === STATE.done || state() === STATE.failed;
  let cancelled = false;
  let failure: unknown;
  try {
    for (let k = 0; k < plan.batches; k++) {
      if (Atomics.load(cells, 2)) {
        cancelled = true;
        break;
      }
      waitUntil(ctl, () => Atomics.load(ctl, CTL.gathered) > k || ended());
      if (ended()) break;
      const slot = k % SLOTS;
      const t0 = performance.now();
      runBatch(s, plan, k, inputs[slot]!, scores[slot]!);
      r.onBatch?.(plan.count(k), performance.now() - t0);
      Atomics.store(ctl, CTL.scored, k + 1);
      bump(ctl);
    }
  } catch (err) {
    failure = err;
  }
  if (cancelled || failure !== undefined) {
    Atomics.store(ctl, CTL.stop, 1);
    bump(ctl);
  }
  waitUntil(ctl, ended);
  if (failure !== undefined) throw failure;
  if (state() === STATE.failed) {
    const message = new TextDecoder().decode(error.slice(0, Atomics.load(ctl, CTL.errorBytes)));
    throw new RemoteVisError("segment_failed", `the segmentation's prep thread failed: ${message}`, 500);
  }
  if (cancelled) return -1;
  for (let k = 0; k < spec.classes; k++) r.counts[k]! += counts[k]!;
  return plan.units;
}
