/**
 * The operations of an instance (prepare_volume, prepare_points, retrieve_volume, screenshot,
 * set_view, set_render, clear_points, get_state, wait_transfer; for the viewer: histogram,
 * probe, pick, slice), shared by the control and viewer WebSockets and the REST routes. Each checks its input with the schemas of protocol/control.ts and the byte
 * limit the middleware fixed at start; replies are plain JSON (screenshot adds RGBA bytes).
 */
import { RemoteVisError } from "../errors.ts";
import { parseOrThrow } from "../protocol/common.ts";
import { CONTROL_OPS, VOLUME_DTYPE_BYTES, type ControlOp, type PreparePoints, type PrepareVolume, type RetrieveVolume, type Screenshot } from "../protocol/control.ts";
import type { Histogram, Pick, Probe, SliceRequest, View, VolumeDtype } from "../protocol/control.ts";
import { presetPoints, type TfPoint } from "../render/presets.ts";
import type { VolumeStream } from "../render/engine.ts";
import { FLAGS, type Settings, type Vec3 } from "../render/structs.ts";
import { cameraBasis, intersectBox, rayThrough, worldExtent, type OrbitView } from "../render/view.ts";
import { DataPort } from "./data-port.ts";
import { checkTransferAllowed } from "./limits.ts";
import { listFiles, loadFile } from "./load-file.ts";
import type { ListFiles, LoadFile } from "../protocol/control.ts";
import type { Scene } from "./scene.ts";
import type { PrepareModel, SaveLabels, Segment, SetLabels } from "../protocol/segment.ts";
import { Segmentation } from "../segment/segmentation.ts";

export interface Reply {
  json: Record<string, unknown>;
  /** Binary payload that follows the JSON (screenshot RGBA). */
  bytes?: Uint8Array<ArrayBuffer>;
}

export class Control {
  /** prepare_model, segment, cancel_segment, set_labels, save_labels (src/segment/). */
  readonly segmentation: Segmentation;

  constructor(
    private readonly scene: Scene,
    private readonly data: DataPort,
  ) {
    this.segmentation = new Segmentation(scene, data);
  }

  async run(op: ControlOp, body: unknown): Promise<Reply> {
    const req = parseOrThrow(CONTROL_OPS[op], body ?? {}, op);
    switch (op) {
      case "prepare_volume":
        return { json: await this.prepareVolume(req as PrepareVolume) };
      case "prepare_points":
        return { json: await this.preparePoints(req as PreparePoints) };
      case "retrieve_volume":
        return { json: await this.retrieveVolume(req as RetrieveVolume) };
      case "screenshot":
        return this.screenshot(req as Screenshot);
      case "set_view":
        return { json: { view: this.scene.applyView(req as Parameters<Scene["applyView"]>[0]) } };
      case "set_render":
        return { json: { render: await this.scene.applyRender(req as Parameters<Scene["applyRender"]>[0]) } };
      case "clear_points":
        await this.scene.clearPoints();
        return { json: {} };
      case "get_state":
        // data: where SSC-RDMA transfers go (clients connect there ahead of their first volume)
        return { json: { ...(this.scene.state() as unknown as Record<string, unknown>), segmentation: this.segmentation.state(), data: this.data.endpoint() } };
      case "wait_transfer":
        return { json: await this.waitTransfer(req as { transfer: string; timeoutMs?: number }) };
      case "histogram":
        return { json: await this.histogram(req as Histogram) };
      case "probe":
        return { json: await this.probe(req as Probe) };
      case "pick":
        return { json: await this.pick(req as Pick) };
      case "slice":
        return this.slice(req as SliceRequest);
      case "load_file":
        return { json: await loadFile(this.scene, req as LoadFile) };
      case "list_files":
        return { json: listFiles(req as ListFiles) };
      case "prepare_model":
        return { json: await this.segmentation.prepareModel(req as PrepareModel) };
      case "segment":
        return { json: await this.segmentation.segment(req as Segment) };
      case "cancel_segment":
        return { json: await this.segmentation.cancel() };
      case "set_labels":
        return { json: await this.segmentation.setLabels(req as SetLabels) };
      case "save_labels":
        return { json: await this.segmentation.saveLabels(req as SaveLabels) };
      default:
        throw new RemoteVisError("no_route", `no operation ${String(op)}`, 404);
    }
  }

  // ---- the viewer's operations: histogram, probe, pick, slice ----

  private requireVolume() {
    const vol = this.scene.volume;
    const info = this.scene.info;
    if (!vol || !info) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    return { vol, info };
  }

  private viewOf(v: View | undefined): OrbitView {
    return v ? { ...this.scene.view, ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) } : this.scene.view;
  }

  /** The transfer function in use as control points over the normalized window (for an editor). */
  tfPoints(): TfPoint[] {
    const tf = this.scene.render.tf ?? { preset: "grayscale" };
    return "preset" in tf ? presetPoints(tf.preset, this.scene.info?.window ?? [0, 1]) : (tf.points as TfPoint[]);
  }

  private histCache: { volume: unknown; bins: number; counts: number[]; sampled: number; step: number } | undefined;

  /**
   * Counts of the volume's values in `bins` equal bins over [data min, data max], from a strided
   * retrieve of about 2 M voxels (exact for volumes up to that size). Cached per volume.
   */
  private async histogram(r: Histogram) {
    const { vol, info } = this.requireVolume();
    const range: [number, number] = [info.dataMin, info.dataMax];
    if (this.histCache?.volume !== vol || this.histCache.bins !== r.bins) {
      const n = vol.shape[0] * vol.shape[1] * vol.shape[2];
      const step = Math.max(1, Math.ceil(Math.cbrt(n / 2_000_000)));
      const steps = [step, step, step];
      const buf = new Uint8Array(await this.scene.renderer.retrieveSize([0, 0, 0], vol.shape, steps));
      await this.scene.renderer.retrieve([0, 0, 0], vol.shape, steps, buf);
      const values = typedView(buf, vol.dtype);
      const counts = new Array<number>(r.bins).fill(0);
      const scale = r.bins / (range[1] - range[0] || 1);
      for (let i = 0; i < values.length; i++) {
        const x = values[i]!;
        if (x === x) counts[Math.min(r.bins - 1, Math.max(0, Math.floor((x - range[0]) * scale)))]!++;
      }
      this.histCache = { volume: vol, bins: r.bins, counts, sampled: values.length, step };
    }
    const h = this.histCache!;
    const tf = this.scene.render.tf ?? { preset: "grayscale" };
    return { counts: h.counts, range, sampled: h.sampled, step: h.step, window: info.window, tf: this.tfPoints(), tfPreset: "preset" in tf ? tf.preset : null };
  }

  /** One voxel: its index [z, y, x], the world position of its centre [x, y, z] and its value. */
  private async probe(r: Probe) {
    const { vol, info } = this.requireVolume();
    const sp = vol.spacing;
    const voxel = r.voxel ?? ([Math.floor(r.world![2] / sp[0]), Math.floor(r.world![1] / sp[1]), Math.floor(r.world![0] / sp[2])] as Vec3);
    for (let k = 0; k < 3; k++)
      if (!(voxel[k]! >= 0 && voxel[k]! < vol.shape[k]!)) throw new RemoteVisError("out_of_range", `the position is outside the volume (shape [${vol.shape.join(", ")}])`, 400, { axis: k });
    const buf = new Uint8Array(VOLUME_DTYPE_BYTES[vol.dtype]);
    await this.scene.renderer.retrieve(voxel, voxel.map((i) => i + 1), [1, 1, 1], buf);
    const value = typedView(buf, vol.dtype)[0]!;
    const world: Vec3 = [(voxel[2]! + 0.5) * sp[2], (voxel[1]! + 0.5) * sp[1], (voxel[0]! + 0.5) * sp[0]];
    const [lo, hi] = info.window;
    return { voxel, world, value, dtype: vol.dtype, normalized: Math.min(1, Math.max(0, (value - lo) / (hi - lo || 1))) };
  }

  /**
   * The voxel seen at an image position: samples the ray inside the volume (as an oblique slice
   * one pixel high) and takes the first sample where the accumulated opacity reaches 1/2
   * (composite), the extreme value (MIP, MinIP, average) or the first value above iso (iso).
   */
  private async pick(r: Pick) {
    const { vol } = this.requireVolume();
    const cam = this.scene.camera(this.viewOf(r.view));
    const ray = rayThrough(cam, r.x, r.y, r.width / r.height);
    const hit = intersectBox(ray, [0, 0, 0], worldExtent(vol.shape, vol.spacing));
    if (!hit) return { hit: false };
    const at = (t: number) => ray.origin.map((o, k) => o + ray.dir[k]! * t) as Vec3;
    const p0 = at(hit[0]);
    const p1 = at(hit[1]);
    const minSpacing = Math.min(...vol.spacing);
    const width = Math.max(2, Math.min(4096, Math.ceil(((hit[1] - hit[0]) / minSpacing) * 2)));
    const { right } = cameraBasis(cam);
    const slice = { origin: p0.map((a, k) => (a + p1[k]!) / 2) as Vec3, u: p1.map((b, k) => b - p0[k]!) as Vec3, v: right.map((x) => x * 1e-4 * minSpacing) as Vec3 };
    const s = this.scene.settings;
    const mode = s.mode;
    const gray = mode !== "composite";
    // Over a transparent background the slice's alpha is the TF's opacity of each sample.
    const f = await this.scene.renderer.slice(slice, { ...s, flags: (s.flags & FLAGS.clipBox) | (gray ? FLAGS.gray : 0), background: [0, 0, 0, 0] }, width, 1);
    const px = f.rgba;
    let best = -1;
    if (mode === "composite") {
      const dsVoxels = (hit[1] - hit[0]) / width / minSpacing;
      let acc = 0;
      let most = 0;
      for (let i = 0; i < width; i++) {
        const a = 1 - Math.pow(1 - px[i * 4 + 3]! / 255, dsVoxels);
        acc += (1 - acc) * a;
        if (acc >= 0.5) {
          best = i;
          break;
        }
        if (a > most) (most = a), (best = i);
      }
      if (acc < 0.02) best = -1;
    } else if (mode === "iso") {
      const iso = Math.round(s.iso * 255);
      for (let i = 0; i < width && best < 0; i++) if (px[i * 4]! >= iso) best = i;
    } else {
      let extreme = mode === "minip" ? 256 : -1;
      for (let i = 0; i < width; i++) {
        const g = px[i * 4]!;
        if (mode === "minip" ? g < extreme : g > extreme) (extreme = g), (best = i);
      }
    }
    if (best < 0) return { hit: false };
    // Half a voxel further in: the sample where the opacity built up sits on the boundary,
    // and the voxel it lies in may still be the (transparent) outside.
    const world = at(Math.min(hit[1] - 1e-6, hit[0] + ((best + 0.5) / width) * (hit[1] - hit[0]) + 0.5 * minSpacing));
    return { hit: true, ...(await this.probe({ world })) };
  }

  /** A slice image (RGBA); JSON: its size and geometry so a click maps back to the world. */
  private async slice(r: SliceRequest): Promise<Reply> {
    const { vol } = this.requireVolume();
    const s = this.scene.settings;
    // Slices show all the data (the clip box is for the 3D view), nearest voxel, grey through the window.
    const settings: Settings = { ...s, flags: FLAGS.nearest | (r.tf ? 0 : FLAGS.gray) | (s.flags & FLAGS.labelFill), background: [0, 0, 0, 1] };
    if (r.axis !== undefined) {
      if (!(r.index! < vol.shape[r.axis])) throw new RemoteVisError("out_of_range", `index must be below ${vol.shape[r.axis]} on axis ${r.axis}`, 400);
      const f = await this.scene.renderer.sliceAxis(r.axis, r.index!, settings);
      return { json: { width: f.width, height: f.height, axis: r.axis, index: r.index, bytes: f.rgba.byteLength, format: "rgba8" }, bytes: f.rgba };
    }
    const cam = this.scene.camera(this.viewOf(r.oblique!.view));
    const { right, up } = cameraBasis(cam);
    const diag = Math.hypot(...worldExtent(vol.shape, vol.spacing));
    const origin = r.oblique!.center ?? cam.target;
    const u = right.map((x) => x * diag) as Vec3;
    const v = up.map((x) => -x * diag * (r.height / r.width)) as Vec3;
    const f = await this.scene.renderer.slice({ origin, u, v }, settings, r.width, r.height);
    return { json: { width: f.width, height: f.height, origin, u, v, bytes: f.rgba.byteLength, format: "rgba8" }, bytes: f.rgba };
  }

  private ticket(transfer: string, bytes: number) {
    return { transfer, host: this.data.host, dataPort: this.data.port, bytes };
  }

  private progress(transfer: string, kind: string, bytes: number) {
    return (state: "started" | "progress" | "done" | "failed", done: number, message?: string) =>
      this.scene.emit({ type: "transfer", transfer, kind, state, bytes, done, message });
  }

  private async prepareVolume(r: PrepareVolume) {
    const expected = r.shape.reduce((n, x) => n * x, VOLUME_DTYPE_BYTES[r.dtype]);
    if (!Number.isSafeInteger(expected)) throw new RemoteVisError("too_large", "shape x dtype size is beyond 2^53 bytes", 400);
    if (r.bytes !== expected)
      throw new RemoteVisError("size_mismatch", `bytes (${r.bytes}) must equal shape ${r.shape.join("x")} x ${VOLUME_DTYPE_BYTES[r.dtype]} bytes of ${r.dtype} = ${expected}`, 400);
    checkTransferAllowed(r.bytes);
    if (this.data.busyWith("volume")) throw new RemoteVisError("busy", "another volume is being sent to this instance; wait for it to finish", 409);
    const tAlloc = performance.now();
    // The distributed renderer receives into shared memory of its own that its ranks map slab by
    // slab; otherwise the buffer's pages are faulted in (0.02-0.03 s per GiB), in address order,
    // while the sender connects and sends: the receive writes behind them.
    const own = this.scene.renderer.allocVolume ? { buf: await this.scene.renderer.allocVolume(r.bytes), ready: undefined, writable: undefined } : undefined;
    const { buf, ready, writable } = own ?? DataPort.allocLater(r.bytes);
    const meta = { name: r.name, shape: r.shape as Vec3, dtype: r.dtype, order: r.order, spacing: r.spacing as Vec3, bytes: r.bytes };
    const t0 = performance.now();
    let tStart = t0;
    // The renderer takes the bytes while they land (the CUDA one uploads them at once), so that
    // little is left to do when the last one arrives; the old volume is shown until then.
    let stream: VolumeStream | undefined;
    const { transfer } = this.data.prepare({
      kind: "volume",
      parts: [{ part: "volume", buf, writable, landed: (n) => stream?.landed(n), landedEveryMs: this.scene.renderer.landedEveryMs }],
      ready,
      onStart: () => {
        tStart = performance.now();
        stream = this.scene.renderer.streamVolume?.(this.scene.volumeDesc(meta), buf);
      },
      onAbort: () => stream?.drop(),
      progress: (state, done, message) => this.progress(transfer, "volume", r.bytes)(state, done, message),
      finish: async () => {
        const tRecv = performance.now();
        const info = await this.scene.setVolume(meta, buf);
        return { name: r.name, shape: r.shape, dtype: r.dtype, bytes: r.bytes, window: info.window, range: [info.dataMin, info.dataMax], receiveMs: tRecv - t0, uploadMs: performance.now() - tRecv, streamedBytes: stream?.taken ?? 0, allocMs: t0 - tAlloc, connectMs: tStart - t0 };
      },
    });
    return this.ticket(transfer, r.bytes);
  }

  private async preparePoints(r: PreparePoints) {
    const bytes = r.count * 16;
    checkTransferAllowed(bytes);
    if (this.data.busyWith("points")) throw new RemoteVisError("busy", "other points are being sent to this instance; wait for them to finish", 409);
    const xyz = new Float32Array(r.count * 3);
    const values = new Float32Array(r.count);
    const { transfer } = this.data.prepare({
      kind: "points",
      parts: [
        { part: "xyz", buf: new Uint8Array(xyz.buffer) },
        { part: "values", buf: new Uint8Array(values.buffer) },
      ],
      progress: (state, done, message) => this.progress(transfer, "points", bytes)(state, done, message),
      finish: async () => ({ ...(await this.scene.setPoints(r.name, xyz, values)) }),
    });
    return { ...this.ticket(transfer, bytes), parts: { xyz: r.count * 12, values: r.count * 4 } };
  }

  private async retrieveVolume(r: RetrieveVolume) {
    const vol = this.scene.volume;
    if (!vol) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    const lo = r.box?.lo ?? [0, 0, 0];
    const hi = r.box?.hi ?? vol.shape;
    const step = typeof r.step === "number" ? [r.step, r.step, r.step] : r.step;
    for (let k = 0; k < 3; k++) {
      if (!(lo[k]! < hi[k]! && hi[k]! <= vol.shape[k]!))
        throw new RemoteVisError("out_of_range", `box must satisfy 0 <= lo < hi <= shape on every axis; shape is [${vol.shape.join(", ")}]`, 400, { axis: k });
      if (!(step[k]! >= 1)) throw new RemoteVisError("invalid_step", "step must be >= 1 on every axis", 400);
    }
    if (r.labels) {
      // The label volume (uint8, the volume's order) of the last segmentation.
      const buf = this.segmentation.labelBox(lo, hi, step);
      checkTransferAllowed(buf.byteLength);
      const shape = [0, 1, 2].map((k) => Math.ceil((hi[k]! - lo[k]!) / step[k]!));
      const meta = { shape, dtype: "uint8", order: vol.order, spacing: vol.spacing.map((s, k) => s * step[k]!), labels: true };
      const { transfer } = this.data.prepare({ kind: "pull", parts: [{ part: "pull", buf, meta }], finish: async () => ({ bytes: buf.byteLength }) });
      return { ...this.ticket(transfer, buf.byteLength), ...meta, box: { lo, hi }, step };
    }
    const bytes = await this.scene.renderer.retrieveSize(lo, hi, step);
    checkTransferAllowed(bytes);
    const buf = new Uint8Array(bytes);
    await this.scene.renderer.retrieve(lo, hi, step, buf);
    const shape = [0, 1, 2].map((k) => Math.ceil((hi[k]! - lo[k]!) / step[k]!));
    const meta = { shape, dtype: vol.dtype, order: vol.order, spacing: vol.spacing.map((s, k) => s * step[k]!) };
    const { transfer } = this.data.prepare({ kind: "pull", parts: [{ part: "pull", buf, meta }], finish: async () => ({ bytes }) });
    return { ...this.ticket(transfer, bytes), ...meta, box: { lo, hi }, step };
  }

  private async screenshot(r: Screenshot): Promise<Reply> {
    const view = r.view ? { ...this.scene.view, ...Object.fromEntries(Object.entries(r.view).filter(([, x]) => x !== undefined)) } : undefined;
    const f = await this.scene.frame(r.width, r.height, { view, lod: r.lod });
    return { json: { width: f.width, height: f.height, bytes: f.rgba.byteLength, format: "rgba8", renderMs: f.stats?.totalMs, level: f.stats?.volumeLevel ?? 1 }, bytes: f.rgba };
  }

  private async waitTransfer(r: { transfer: string; timeoutMs?: number }) {
    const p = this.data.wait(r.transfer);
    if (!p) throw new RemoteVisError("not_found", "no such transfer on this instance", 404);
    const timeout = r.timeoutMs ?? 600_000;
    let timer: Timer | undefined;
    try {
      return await Promise.race([
        p,
        new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new RemoteVisError("timeout", `transfer not finished after ${timeout / 1000} s`, 504)), timeout))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The values of retrieved bytes (a fresh, aligned buffer) as numbers of the volume's dtype. */
function typedView(b: Uint8Array, dtype: VolumeDtype): ArrayLike<number> {
  const B = b.buffer;
  switch (dtype) {
    case "uint8":
      return b;
    case "uint16":
      return new Uint16Array(B, b.byteOffset, b.byteLength / 2);
    case "int16":
      return new Int16Array(B, b.byteOffset, b.byteLength / 2);
    case "uint32":
      return new Uint32Array(B, b.byteOffset, b.byteLength / 4);
    case "float32":
      return new Float32Array(B, b.byteOffset, b.byteLength / 4);
    case "float64":
      return new Float64Array(B, b.byteOffset, b.byteLength / 8);
  }
}
