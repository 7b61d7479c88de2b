/**
 * Segmentation of an instance (main thread side): models arrive over SSC-RDMA like volumes
 * (prepare_model), are checked on the segmentation thread (worker.ts) before they are accepted,
 * and `segment` runs one over the volume there while the event loop keeps serving. The result,
 * a uint8 label volume of the volume's shape and order, is drawn by the renderer with the data
 * (per-class colour/opacity/visibility, outlines in slices), handed back by retrieve_volume
 * {labels: true} and written to HDF5 by save_labels. A new volume cancels a running
 * segmentation and drops the labels.
 *
 * Ops (see protocol/segment.ts and docs/instance.md): prepare_model, segment, cancel_segment,
 * set_labels, save_labels; labels in retrieve_volume.
 */
import { ptr } from "bun:ffi";
import { existsSync, lstatSync } from "node:fs";
import { basename, dirname, sep } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { WorkerRpc } from "../process/worker-rpc.ts";
import { workerUrl } from "../process/worker-url.ts";
import { DEFAULT_LABEL_COLORS, type ModelDescription, type PrepareModel, type SaveLabels, type Segment, type SetLabels } from "../protocol/segment.ts";
import type { DataPort } from "../instance/data-port.ts";
import { checkTransferAllowed } from "../instance/limits.ts";
import { resolveUnderRoots } from "../instance/load-file.ts";
import type { Scene, VolumeMeta } from "../instance/scene.ts";
import type { ModelSpec, Norm, Region, Vec3 } from "./infer.ts";
import type { ValueInfo } from "./ort.ts";
import { FLAGS } from "../render/structs.ts";

/** Models kept at once (the oldest is dropped). */
const MAX_MODELS = 4;
/** RVR_F_LABEL_FILL of rvr.h: slices fill labels instead of outlining them. */
const LABEL_FILL = FLAGS.labelFill;

interface ModelEntry {
  id: string;
  desc: ModelDescription;
  bytes: number;
  spec: ModelSpec;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  providers: string[];
}

export interface Labels {
  data: Uint8Array;
  volume: VolumeMeta;
  model: string;
  names: string[];
  colors: [number, number, number, number][];
  opacity: number[];
  visible: boolean[];
  show: boolean;
  outline: boolean;
  counts: number[];
}

interface Job {
  model: string;
  cells: Int32Array;
  done: Promise<Record<string, unknown>>;
}

function errorFrom(_code: number, what: string, message: string): Error {
  try {
    const e = JSON.parse(message) as { code: string; message: string; details?: Record<string, unknown> };
    const status = e.code === "not_found" ? 404 : e.code === "internal" || e.code === "segment_failed" ? 500 : e.code === "onnxruntime_unavailable" ? 501 : 400;
    return new RemoteVisError(e.code, e.message, status, e.details);
  } catch {
    return new RemoteVisError("segment_failed", `${what}: ${message}`, 500);
  }
}

export class Segmentation {
  private rpc: WorkerRpc | undefined;
  private readonly models = new Map<string, ModelEntry>();
  private last: string | undefined;
  private job: Job | undefined;
  labels: Labels | undefined;
  /** The label bytes the renderer holds now (colour changes then need no new copy). */
  private uploaded: Uint8Array | undefined;

  constructor(
    private readonly scene: Scene,
    private readonly data: DataPort,
  ) {
    scene.on((e) => {
      if (e.type !== "volume") return;
      if (this.job) Atomics.store(this.job.cells, 2, 1);
      if (this.labels && this.labels.volume !== e.volume) {
        this.labels = undefined;
        if (this.uploaded) void this.upload().catch(() => {});
      }
    });
  }

  private thread(): WorkerRpc {
    this.rpc ??= new WorkerRpc(workerUrl("segment/worker.ts", new URL("./worker.ts", import.meta.url)), errorFrom);
    return this.rpc;
  }

  /** prepare_model: a ticket for the model's bytes (part "model"); checked when they arrived. */
  async prepareModel(r: PrepareModel): Promise<Record<string, unknown>> {
    checkTransferAllowed(r.bytes);
    if (this.data.busyWith("model")) throw new RemoteVisError("busy", "another model is being sent to this instance; wait for it to finish", 409);
    const { bytes, ...desc } = r;
    const buf = new Uint8Array(bytes);
    const t0 = performance.now();
    const { transfer } = this.data.prepare({
      kind: "model",
      parts: [{ part: "model", buf }],
      progress: (state, done, message) => this.scene.emit({ type: "transfer", transfer, kind: "model", state, bytes, done, message }),
      finish: async () => {
        const tRecv = performance.now();
        const threads = Number(process.env.REMOTEVIS_SEGMENT_THREADS) || 0;
        const m = await this.thread().call<{ spec: ModelSpec; inputs: ValueInfo[]; outputs: ValueInfo[]; providers: string[] }>("check model", "load", [transfer, buf, desc, threads]);
        this.models.set(transfer, { id: transfer, desc, bytes, ...m });
        this.last = transfer;
        for (const id of this.models.keys()) {
          if (this.models.size <= MAX_MODELS) break;
          this.models.delete(id);
          void this.thread().call("drop model", "drop", [id]).catch(() => {});
        }
        this.scene.emit({ type: "model", model: transfer, name: desc.name, classes: desc.classes, inputLayout: desc.inputLayout });
        return {
          model: transfer,
          name: desc.name,
          classes: desc.classes,
          inputLayout: desc.inputLayout,
          input: m.inputs[0],
          output: m.outputs[0],
          providers: m.providers,
          receiveMs: tRecv - t0,
          checkMs: performance.now() - tRecv,
        };
      },
    });
    return { transfer, model: transfer, host: this.data.host, dataPort: this.data.port, bytes };
  }

  private region(r: Segment["region"], shape: Vec3, spacing: Vec3): Region {
    if (r !== "clip") return { lo: [0, 0, 0], hi: [...shape] };
    const s = this.scene.settings;
    if (!(s.flags & 8)) throw new RemoteVisError("no_clip", 'region "clip" needs a clip box (set_render {clip: {min, max}})', 409);
    // World [x, y, z] -> index [z, y, x]; voxel i covers [i, i + 1) * spacing.
    const lo = [0, 1, 2].map((k) => Math.max(0, Math.floor(s.clipMin[2 - k]! / spacing[k]!))) as Vec3;
    const hi = [0, 1, 2].map((k) => Math.min(shape[k]!, Math.ceil(s.clipMax[2 - k]! / spacing[k]!))) as Vec3;
    if (lo.some((l, k) => !(l < hi[k]!))) throw new RemoteVisError("empty_region", "the clip box does not cut the volume", 400);
    return { lo, hi };
  }

  private norm(d: ModelDescription): Norm {
    const n = d.normalize;
    if (n === "none") return { offset: 0, scale: 1, clamp: false };
    if (n === "window") {
      const [lo, hi] = this.scene.info!.window;
      return { offset: lo, scale: 1 / (hi - lo || 1), clamp: true };
    }
    if ("window" in n) return { offset: n.window[0], scale: 1 / (n.window[1] - n.window[0]), clamp: true };
    return { offset: n.mean, scale: 1 / n.std, clamp: false };
  }

  /** segment: runs a model over the volume (or the clip box); resolves when the labels show. */
  async segment(r: Segment): Promise<Record<string, unknown>> {
    const vol = this.scene.volume;
    const bytes = this.scene.data;
    if (!vol || !bytes || !this.scene.info) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    const id = r.model ?? this.last;
    const m = id ? this.models.get(id) : undefined;
    if (!m) throw new RemoteVisError("no_model", id ? `no model ${id} on this instance (models kept: ${this.models.size})` : "no model on this instance: send one first (prepare_model)", 409);
    if (this.job) throw new RemoteVisError("busy", "a segmentation is running; wait for it or cancel_segment", 409);
    const region = this.region(r.region, vol.shape, vol.spacing);
    const n = vol.shape[0] * vol.shape[1] * vol.shape[2];
    const labels = new Uint8Array(n);
    if (this.labels?.volume === vol && r.region === "clip") labels.set(this.labels.data);
    const cells = new Int32Array(new SharedArrayBuffer(12));
    const batch = r.batch ?? (m.spec.layout === "NCHW" ? 8 : 2);
    const t0 = performance.now();
    const emit = (state: string, extra: Record<string, unknown> = {}) =>
      this.scene.emit({ type: "segment", model: m.id, state, done: Atomics.load(cells, 0), total: Atomics.load(cells, 1), ...extra });
    emit("started", { region });
    let lastDone = -1;
    const timer = setInterval(() => {
      const d = Atomics.load(cells, 0);
      if (d !== lastDone) (lastDone = d), emit("progress");
    }, 200);
    const job: Job = {
      model: m.id,
      cells,
      done: (async () => {
        try {
          const res = await this.thread().call<{ units: number; cancelled: boolean; ms: number; inferMs: number; counts: number[]; pipelined: boolean }>(
            "segment",
            "segment",
            [{ model: m.id, volume: { addr: bytes.ptr, bytes: bytes.byteLength, shape: vol.shape, dtype: vol.dtype, order: vol.order }, labels: ptr(labels), region, batch, norm: this.norm(m.desc), cells }],
            [bytes, labels],
          );
          if (res.cancelled || this.scene.volume !== vol) {
            emit("cancelled");
            throw new RemoteVisError("cancelled", this.scene.volume !== vol ? "the segmentation was cancelled: a new volume arrived" : "the segmentation was cancelled", 409);
          }
          // Counted by the segmentation thread (with the argmax), not here on the event loop.
          const counts = res.counts;
          const prev = this.labels?.model === m.id ? this.labels : undefined;
          this.labels = {
            data: labels,
            volume: vol,
            model: m.id,
            names: m.desc.names ?? Array.from({ length: m.desc.classes }, (_, k) => `class ${k}`),
            colors: prev?.colors ?? Array.from({ length: m.desc.classes }, (_, k) => rgba(m.desc.colors?.[k] ?? DEFAULT_LABEL_COLORS[k % DEFAULT_LABEL_COLORS.length]!)),
            opacity: prev?.opacity ?? new Array<number>(m.desc.classes).fill(1),
            visible: prev?.visible ?? new Array<boolean>(m.desc.classes).fill(true),
            show: true,
            outline: prev?.outline ?? true,
            counts,
          };
          const uploaded = await this.upload();
          const ms = performance.now() - t0;
          const result = { model: m.id, units: res.units, unit: m.spec.layout === "NCHW" ? "slices" : "patches", region, ms, inferMs: res.inferMs, perSecond: res.units / (res.ms / 1000), pipelined: res.pipelined, counts, names: this.labels.names, rendered: uploaded };
          emit("done", { ms, counts });
          return result;
        } catch (err) {
          if (!(err instanceof RemoteVisError && err.code === "cancelled")) emit("failed", { message: err instanceof Error ? err.message : String(err) });
          throw err;
        } finally {
          clearInterval(timer);
          this.job = undefined;
        }
      })(),
    };
    job.done.catch(() => {});
    this.job = job;
    if (r.wait === false) return { model: m.id, started: true, region };
    return job.done;
  }

  /** cancel_segment: stops a running segmentation after its current batch. */
  async cancel(): Promise<Record<string, unknown>> {
    const job = this.job;
    if (!job) return { cancelled: false };
    Atomics.store(job.cells, 2, 1);
    await job.done.catch(() => {});
    return { cancelled: true };
  }

  /** The class table the renderer draws with: colour x opacity, alpha 0 where hidden. */
  classTable(): Float32Array {
    const L = this.labels!;
    const t = new Float32Array(L.colors.length * 4);
    L.colors.forEach((c, k) => {
      t.set([c[0], c[1], c[2], L.visible[k] ? c[3] * (L.opacity[k] ?? 1) : 0], k * 4);
    });
    return t;
  }

  /** Hands the labels (or their absence) to the renderer; false when it cannot draw labels. */
  private async upload(): Promise<boolean> {
    const L = this.labels?.show ? this.labels : undefined;
    const r = this.scene.renderer;
    if (!r.setLabels || !r.setLabelColors) return false;
    try {
      if (!L) {
        if (this.uploaded) await r.setLabels(null, new Float32Array(8));
        this.uploaded = undefined;
      } else if (this.uploaded === L.data) await r.setLabelColors(this.classTable());
      else {
        await r.setLabels(L.data, this.classTable());
        this.uploaded = L.data;
      }
    } catch (err) {
      if (err instanceof RemoteVisError && err.code === "unsupported") return false;
      throw err;
    }
    const s = this.scene.settings;
    s.flags = (s.flags & ~LABEL_FILL) | (this.labels && !this.labels.outline ? LABEL_FILL : 0);
    // Viewers redraw on a render event.
    this.scene.emit({ type: "render", settings: this.scene.render });
    return true;
  }

  /** set_labels: colours, opacity, visibility per class; outlines; show/hide. */
  async setLabels(r: SetLabels): Promise<Record<string, unknown>> {
    const L = this.labels;
    if (!L) throw new RemoteVisError("no_labels", "there are no labels yet: segment first", 409);
    const n = L.colors.length;
    const perClass = <T>(what: string, a: T[] | undefined) => {
      if (a && a.length !== n) throw new RemoteVisError("invalid_labels", `${what} needs one entry per class (${n})`, 400);
      return a;
    };
    if (r.colors) L.colors = perClass("colors", r.colors)!.map((c, k) => rgba(c, L.colors[k]![3]));
    if (r.opacity !== undefined) L.opacity = typeof r.opacity === "number" ? new Array<number>(n).fill(r.opacity) : perClass("opacity", r.opacity)!;
    if (r.visible) L.visible = perClass("visible", r.visible)!;
    if (r.show !== undefined) L.show = r.show;
    if (r.outline !== undefined) L.outline = r.outline;
    const rendered = await this.upload();
    const { labels } = this.state();
    this.scene.emit({ type: "labels", labels });
    return { labels, rendered };
  }

  /** What get_state and the viewer show about models and labels. */
  state() {
    const L = this.labels;
    return {
      models: [...this.models.values()].map((m) => ({ model: m.id, name: m.desc.name, classes: m.desc.classes, inputLayout: m.desc.inputLayout, bytes: m.bytes, providers: m.providers })),
      running: this.job ? { model: this.job.model, done: Atomics.load(this.job.cells, 0), total: Atomics.load(this.job.cells, 1) } : null,
      labels: L ? { model: L.model, names: L.names, colors: L.colors, opacity: L.opacity, visible: L.visible, show: L.show, outline: L.outline, counts: L.counts } : null,
    };
  }

  /** The labels of a strided box, in the volume's order (retrieve_volume {labels: true}). */
  labelBox(lo: number[], hi: number[], step: number[]): Uint8Array {
    const L = this.labels;
    if (!L || L.volume !== this.scene.volume) throw new RemoteVisError("no_labels", "there are no labels for this volume: segment first", 409);
    const sh = L.volume.shape;
    const out = [0, 1, 2].map((k) => Math.ceil((hi[k]! - lo[k]!) / step[k]!));
    const buf = new Uint8Array(out[0]! * out[1]! * out[2]!);
    const C = L.volume.order === "C";
    const st = C ? [sh[1] * sh[2], sh[2], 1] : [1, sh[0], sh[0] * sh[1]];
    const ost = C ? [out[1]! * out[2]!, out[2]!, 1] : [1, out[0]!, out[0]! * out[1]!];
    for (let i = 0; i < out[0]!; i++)
      for (let j = 0; j < out[1]!; j++) {
        const s0 = (lo[0]! + i * step[0]!) * st[0]! + (lo[1]! + j * step[1]!) * st[1]! + lo[2]! * st[2]!;
        const o0 = i * ost[0]! + j * ost[1]!;
        for (let k = 0; k < out[2]!; k++) buf[o0 + k * ost[2]!] = L.data[s0 + k * step[2]! * st[2]!]!;
      }
    return buf;
  }

  /** save_labels: the labels as an HDF5 dataset (uint8 [z, y, x], gzip) under a storage root. */
  async saveLabels(r: SaveLabels): Promise<Record<string, unknown>> {
    const L = this.labels;
    if (!L || L.volume !== this.scene.volume) throw new RemoteVisError("no_labels", "there are no labels for this volume: segment first", 409);
    const path = confine(r.path);
    if (existsSync(path) && !r.overwrite) throw new RemoteVisError("exists", "the file exists; pass overwrite: true to replace it", 409);
    const { Hdf5Writer } = await import("../io/hdf5-write.ts");
    const { writeReplacing } = await import("../io/write.ts");
    const sh = L.volume.shape;
    const data = L.volume.order === "C" ? L.data : toC(L.data, sh);
    const t0 = performance.now();
    // Under a staging name, renamed when complete: a failed write (disk full) leaves an earlier
    // file of that name as it was. gzip makes the size unknown: only 1 MiB is asked for up front.
    await writeReplacing(path, 1 << 20, (staging) => {
      const w = Hdf5Writer.create({ path: staging, dataset: r.dataset, shape: sh, dtype: "u8", chunks: [Math.min(32, sh[0]), Math.min(128, sh[1]), Math.min(128, sh[2])], gzip: 4, spacing: L.volume.spacing });
      try {
        w.write(data);
      } finally {
        w.close();
      }
    });
    return { path, dataset: r.dataset, shape: sh, dtype: "uint8", classes: L.names, ms: performance.now() - t0 };
  }

  async close(): Promise<void> {
    if (this.job) Atomics.store(this.job.cells, 2, 1);
    await this.job?.done.catch(() => {});
    this.rpc?.stop();
  }
}

function rgba(c: number[], a = 1): [number, number, number, number] {
  return [c[0]!, c[1]!, c[2]!, c[3] ?? a];
}

/** F-order labels as C order (HDF5 datasets are C order). */
function toC(f: Uint8Array, sh: Vec3): Uint8Array {
  const out = new Uint8Array(f.length);
  for (let z = 0; z < sh[0]; z++) for (let y = 0; y < sh[1]; y++) for (let x = 0; x < sh[2]; x++) out[(z * sh[1] + y) * sh[2] + x] = f[z + sh[0] * (y + sh[1] * x)]!;
  return out;
}

/** A file to write whose folder (resolved, links followed) lies under a storage root (load-file.ts). */
function confine(p: string): string {
  const name = basename(p);
  if (!name || name === "." || name === "..") throw new RemoteVisError("invalid_path", "path must name a file", 400);
  const { real } = resolveUnderRoots(dirname(p) || ".");
  const file = `${real}${sep}${name}`;
  if (existsSync(file) && lstatSync(file).isSymbolicLink()) throw new RemoteVisError("forbidden_path", "path is a symbolic link", 403);
  return file;
}
