/**
 * The renderer of an instance, as async calls on a render thread (worker.ts). Holds the
 * volume's bytes alive while the renderer borrows them (no second copy of a many-GiB volume)
 * and replaces a volume only once the new one is converted: a failed upload leaves the old
 * picture. Volumes are set progressive (rvr.h): a large one is drawn by previews as a coarse
 * copy at once while the renderer converts its full form; full-quality frames wait for that.
 */
import { ptr } from "bun:ffi";
import { WorkerRpc } from "../process/worker-rpc.ts";
import { workerUrl } from "../process/worker-url.ts";
import { asNative, type NativeBuffer, type VolumeBytes } from "../transfer/native-buffer.ts";
import type { Frame, RenderEngine, VolumeStream } from "./engine.ts";
import { renderError } from "./ffi.ts";
import {
  cameraBytes,
  settingsBytes,
  sliceBytes,
  volumeDescBytes,
  type Camera,
  type RenderStats,
  type Settings,
  type Slice,
  type VolumeDesc,
  type VolumeInfo,
} from "./structs.ts";

export type Backend = "auto" | "cpu" | "cuda";
const BACKENDS: Record<Backend, number> = { auto: 0, cpu: 1, cuda: 2 };

export type { Frame } from "./engine.ts";

export class Renderer implements RenderEngine {
  private readonly rpc = new WorkerRpc(workerUrl("render/worker.ts", new URL("./worker.ts", import.meta.url)), (code, what) => renderError(code, what));
  /** The bytes the renderer borrows; must stay alive until the next volume replaced them. */
  private borrowed: NativeBuffer | undefined;
  private chosen: "cpu" | "cuda" = "cpu";
  private constructor() {}

  /** The backend actually in use (auto picks CUDA when a GPU is usable). */
  get backend(): "cpu" | "cuda" {
    return this.chosen;
  }

  static async create(o: { backend?: Backend; threads?: number } = {}): Promise<Renderer> {
    const r = new Renderer();
    try {
      const code = await r.rpc.call<number>("create renderer", "create", [BACKENDS[o.backend ?? "auto"], o.threads ?? 0]);
      r.chosen = code === 2 ? "cuda" : "cpu";
      return r;
    } catch (err) {
      r.rpc.stop();
      throw err;
    }
  }

  /** Uploads a volume; `data` is borrowed (kept alive here) until the next one replaces it. */
  async setVolume(desc: Omit<VolumeDesc, "borrow">, bytes: VolumeBytes): Promise<VolumeInfo> {
    const data = asNative(bytes);
    const info = await this.rpc.call<VolumeInfo>("set volume", "setVolume", [volumeDescBytes({ ...desc, borrow: true, progressive: true }), data.ptr, data.byteLength], [data]);
    this.borrowed = data;
    return info;
  }

  /**
   * The CPU renderer takes min/max and block averages of landed rows (cheap, any amount), so it
   * takes them every 5 ms: set_volume after the last byte then has ~5 ms of rows left instead of
   * ~20 (1 GiB on the H200 host: 7.5-9.3 ms after the last byte instead of 8.5-18.6). The CUDA
   * renderer uploads each call's bytes, and many small uploads were slower: every 20 ms.
   */
  get landedEveryMs(): number {
    return this.backend === "cpu" ? 5 : 20;
  }

  /** The calls queue on the render thread in order (begin, landed..., then setVolume). */
  streamVolume(desc: Omit<VolumeDesc, "borrow">, data: NativeBuffer): VolumeStream {
    let taken = 0;
    let failed = false;
    const quiet = (p: Promise<unknown>) => void p.catch(() => (failed = true));
    quiet(this.rpc.call("stream volume", "volumeBegin", [volumeDescBytes({ ...desc, borrow: true, progressive: true }), data.ptr, data.byteLength], [data]));
    return {
      landed: (n) => {
        if (n <= taken || failed) return;
        taken = n;
        quiet(this.rpc.call("volume landed", "volumeLanded", [n]));
      },
      drop: () => quiet(this.rpc.call("drop volume", "volumeDrop", [])),
      get taken() {
        return failed ? 0 : taken;
      },
    };
  }

  setWindow(lo: number, hi: number): Promise<VolumeInfo> {
    return this.rpc.call("set window", "setWindow", [lo, hi]);
  }

  info(): Promise<VolumeInfo> {
    return this.rpc.call("volume info", "info", []);
  }

  setTransferFunction(rgba: Float32Array): Promise<void> {
    return this.rpc.call("set transfer function", "setTf", [rgba]);
  }

  /** Points are copied by the renderer, so the arrays may go once this resolves. */
  setPoints(xyz: Float32Array, values: Float32Array): Promise<void> {
    return this.rpc.call("set points", "setPoints", [ptr(xyz), ptr(values), values.length], [xyz, values]);
  }

  clearPoints(): Promise<void> {
    return this.rpc.call("clear points", "clearPoints", []);
  }

  setPointColormap(rgba: Float32Array): Promise<void> {
    return this.rpc.call("set point colormap", "setPointColormap", [rgba]);
  }

  async render(camera: Camera, settings: Settings, width: number, height: number): Promise<Frame> {
    const r = await this.rpc.call<{ rgba: ArrayBuffer; stats: RenderStats }>("render", "render", [cameraBytes(camera), settingsBytes(settings), width, height]);
    return { rgba: new Uint8Array(r.rgba), width, height, stats: r.stats };
  }

  /** A frame as JPEG of `quality` (1..100), encoded on the render thread. */
  async renderJpeg(camera: Camera, settings: Settings, width: number, height: number, quality: number): Promise<{ jpeg: Uint8Array<ArrayBuffer>; stats: RenderStats; encodeMs: number }> {
    const r = await this.rpc.call<{ jpeg: ArrayBuffer; stats: RenderStats; encodeMs: number }>("render", "renderJpeg", [cameraBytes(camera), settingsBytes(settings), width, height, quality]);
    return { jpeg: new Uint8Array(r.jpeg), stats: r.stats, encodeMs: r.encodeMs };
  }

  /** Voxel layer `index` of logical axis `axis` (0 = z, 1 = y, 2 = x), one pixel per voxel. */
  async sliceAxis(axis: number, index: number, settings: Settings): Promise<Frame> {
    const r = await this.rpc.call<{ rgba: ArrayBuffer; width: number; height: number }>("slice", "sliceAxis", [axis, index, settingsBytes(settings)]);
    return { rgba: new Uint8Array(r.rgba), width: r.width, height: r.height };
  }

  async slice(slice: Slice, settings: Settings, width: number, height: number): Promise<Frame> {
    const r = await this.rpc.call<{ rgba: ArrayBuffer }>("slice", "slice", [sliceBytes(slice), settingsBytes(settings), width, height]);
    return { rgba: new Uint8Array(r.rgba), width, height };
  }

  retrieveSize(lo: number[], hi: number[], step: number[]): Promise<number> {
    return this.rpc.call("retrieve", "retrieveSize", [lo, hi, step]);
  }

  /** The original bytes of a strided box, into `out` (exactly retrieveSize bytes). */
  async retrieve(lo: number[], hi: number[], step: number[], out: Uint8Array): Promise<void> {
    await this.rpc.call("retrieve", "retrieve", [lo, hi, step, out.byteLength ? ptr(out) : 0, out.byteLength], [out]);
  }

  /**
   * Labels drawn with the volume (uint8, the volume's shape and memory order; copied by the
   * renderer) with straight RGBA per class (alpha: tint weight, 0 = hidden); null removes them.
   * `unsupported` where the library cannot draw labels (a librvr older than CUDA labels).
   */
  async setLabels(labels: Uint8Array | null, classRgba: Float32Array): Promise<void> {
    await this.rpc.call("set labels", "setLabels", [labels ? ptr(labels) : 0, labels?.byteLength ?? 0, classRgba], labels ? [labels] : []);
  }

  /** New class colours for the labels set last. */
  setLabelColors(classRgba: Float32Array): Promise<void> {
    return this.rpc.call("set label colors", "setLabelColors", [classRgba]);
  }

  get hasVolume(): boolean {
    return this.borrowed !== undefined;
  }

  async close(): Promise<void> {
    try {
      await this.rpc.call("destroy renderer", "destroy", []);
    } finally {
      this.rpc.stop();
      this.borrowed = undefined;
    }
  }
}
