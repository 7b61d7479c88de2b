/**
 * What an instance shows: the renderer with its volume and points, the view and the render
 * settings. Operations change it; viewers subscribe to changes. A volume replaces the old one
 * only when it is fully received and uploaded, so a failed transfer leaves the old picture.
 */
import { RemoteVisError } from "../errors.ts";
import type { RenderSettings, View, VolumeDtype } from "../protocol/control.ts";
import { colormap, presetTf, sampleTf, type TfPoint } from "../render/presets.ts";
import type { Frame, RenderEngine } from "../render/engine.ts";
import { asNative, type NativeBuffer, type VolumeBytes } from "../transfer/native-buffer.ts";
import { defaultSettings, type Settings, type Vec3, type VolumeInfo } from "../render/structs.ts";
import { DEFAULT_VIEW, orbitCamera, worldExtent, type OrbitView } from "../render/view.ts";

export interface VolumeMeta {
  name: string;
  shape: Vec3;
  dtype: VolumeDtype;
  order: "C" | "F";
  spacing: Vec3;
  bytes: number;
}

export interface PointsMeta {
  name: string;
  count: number;
  min: number;
  max: number;
  /** World bounding box of the points: [min xyz, max xyz]. */
  bounds: [Vec3, Vec3];
}

export type SceneEvent =
  | { type: "volume"; volume: VolumeMeta; info: VolumeInfo }
  | { type: "points"; points: PointsMeta | null }
  | { type: "render"; settings: RenderSettings }
  | { type: "view"; view: OrbitView }
  | { type: "transfer"; transfer: string; kind: string; state: "started" | "progress" | "done" | "failed"; bytes: number; done: number; message?: string }
  /** Segmentation (src/segment/segmentation.ts): a model accepted, progress of a run, label display. */
  | { type: "model" | "segment" | "labels"; [key: string]: unknown };

const SHADING = { S0: 0, S1: 1, S2: 3, S3: 7 } as const;

export class Scene {
  volume: VolumeMeta | undefined;
  info: VolumeInfo | undefined;
  /** The volume's original bytes (as the renderer borrows them; segmentation reads them). */
  data: NativeBuffer | undefined;
  points: PointsMeta | undefined;
  view: OrbitView = { ...DEFAULT_VIEW };
  readonly settings: Settings = defaultSettings();
  /** The last set_render request merged, as the user sees it (preset names, not tables). */
  render: RenderSettings = { mode: "composite", shading: "S1", tf: { preset: "grayscale" }, window: null };
  version = 0;
  private readonly listeners = new Set<(e: SceneEvent) => void>();

  constructor(readonly renderer: RenderEngine) {}

  on(fn: (e: SceneEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  emit(e: SceneEvent): void {
    this.version++;
    for (const fn of this.listeners) fn(e);
  }

  /** Uploads a received volume; the old one stays if this fails. */
  async setVolume(meta: VolumeMeta, bytes: VolumeBytes): Promise<VolumeInfo> {
    const data = asNative(bytes);
    const info = await this.renderer.setVolume(this.volumeDesc(meta), data);
    this.volume = meta;
    this.info = info;
    this.data = data;
    await this.applyTf();
    this.emit({ type: "volume", volume: meta, info });
    return info;
  }

  /** What the renderer is told of a volume (the window is the user's, else automatic). */
  volumeDesc(meta: VolumeMeta) {
    return { shape: meta.shape, spacing: meta.spacing, dtype: meta.dtype, order: meta.order, window: this.render.window ?? undefined };
  }

  async setPoints(name: string, xyz: Float32Array, values: Float32Array): Promise<PointsMeta> {
    await this.renderer.setPoints(xyz, values);
    let min = Infinity;
    let max = -Infinity;
    for (const v of values) if (Number.isFinite(v)) (min = Math.min(min, v)), (max = Math.max(max, v));
    const lo: Vec3 = [Infinity, Infinity, Infinity];
    const hi: Vec3 = [-Infinity, -Infinity, -Infinity];
    for (let i = 0; i < xyz.length; i += 3)
      for (let k = 0; k < 3; k++) {
        const c = xyz[i + k]!;
        if (Number.isFinite(c)) (lo[k] = Math.min(lo[k]!, c)), (hi[k] = Math.max(hi[k]!, c));
      }
    this.points = { name, count: values.length, min, max, bounds: [lo, hi] };
    if (!this.render.pointScale) {
      // Spheres of about 1/200 of the cloud's size for the largest value, until the user says otherwise.
      const size = Math.hypot(hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]) || 1;
      this.settings.pointScale = size / 200 / (Math.max(Math.abs(max), Math.abs(min)) || 1);
    }
    this.emit({ type: "points", points: this.points });
    return this.points;
  }

  async clearPoints(): Promise<void> {
    await this.renderer.clearPoints();
    this.points = undefined;
    this.emit({ type: "points", points: null });
  }

  /** The world box that the camera frames: the volume, else the points. */
  private extentAndOrigin(): { extent: Vec3; origin: Vec3 } {
    if (this.volume) return { extent: worldExtent(this.volume.shape, this.volume.spacing), origin: [0, 0, 0] };
    if (this.points) {
      const [lo, hi] = this.points.bounds;
      return { extent: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]], origin: lo };
    }
    return { extent: [1, 1, 1], origin: [0, 0, 0] };
  }

  camera(view: OrbitView = this.view) {
    const { extent, origin } = this.extentAndOrigin();
    const target = view.target ?? ([origin[0] + extent[0] / 2, origin[1] + extent[1] / 2, origin[2] + extent[2] / 2] as Vec3);
    return orbitCamera({ ...view, target }, extent);
  }

  applyView(v: View): OrbitView {
    this.view = { ...this.view, ...Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined)) };
    this.emit({ type: "view", view: this.view });
    return this.view;
  }

  private async applyTf(): Promise<void> {
    const tf = this.render.tf ?? { preset: "grayscale" };
    const window = this.info?.window ?? [0, 1];
    const table = "preset" in tf ? presetTf(tf.preset, window) : sampleTf(tf.points as TfPoint[]);
    await this.renderer.setTransferFunction(table);
  }

  async applyRender(r: RenderSettings): Promise<RenderSettings> {
    const s = this.settings;
    if (r.window !== undefined) {
      if (!this.info && r.window !== null) throw new RemoteVisError("no_volume", "set a window after a volume has arrived", 409);
      if (this.info) this.info = await this.renderer.setWindow(r.window?.[0] ?? 0, r.window?.[1] ?? 0);
    }
    if (r.mode) s.mode = r.mode;
    if (r.shading) s.shading = SHADING[r.shading];
    if (r.iso !== undefined) s.iso = r.iso;
    if (r.step !== undefined) s.step = r.step;
    if (r.background) s.background = [...r.background, 1];
    if (r.clip !== undefined) {
      s.flags = r.clip ? s.flags | 8 : s.flags & ~8;
      if (r.clip) (s.clipMin = r.clip.min), (s.clipMax = r.clip.max);
    }
    if (r.pointScale !== undefined) s.pointScale = r.pointScale;
    if (r.pointFilter !== undefined) {
      s.flags = r.pointFilter ? s.flags | 16 : s.flags & ~16;
      if (r.pointFilter) s.pointFilter = r.pointFilter;
    }
    if (r.pointColormap) await this.renderer.setPointColormap(colormap(r.pointColormap));
    this.render = { ...this.render, ...Object.fromEntries(Object.entries(r).filter(([, x]) => x !== undefined)) };
    if (r.tf || r.window !== undefined) await this.applyTf();
    this.emit({ type: "render", settings: this.render });
    return this.render;
  }

  /** One frame of the current scene; `lod` > 1 renders a preview (one ray per lod x lod block). */
  async frame(width: number, height: number, o: { view?: OrbitView; lod?: number } = {}): Promise<Frame> {
    if (!this.volume && !this.points) throw new RemoteVisError("no_data", "nothing to show yet: send a volume or points first", 409);
    const settings: Settings = { ...this.settings, lod: o.lod ?? 1, flags: this.volume ? this.settings.flags : this.settings.flags | 128 };
    return this.renderer.render(this.camera(o.view), settings, width, height);
  }

  /** The same frame as JPEG of `quality`, encoded on the render thread (viewer frames). */
  async frameJpeg(width: number, height: number, o: { view?: OrbitView; lod?: number; quality?: number } = {}) {
    if (!this.volume && !this.points) throw new RemoteVisError("no_data", "nothing to show yet: send a volume or points first", 409);
    const settings: Settings = { ...this.settings, lod: o.lod ?? 1, flags: this.volume ? this.settings.flags : this.settings.flags | 128 };
    return this.renderer.renderJpeg(this.camera(o.view), settings, width, height, o.quality ?? 85);
  }

  state() {
    return { volume: this.volume ?? null, info: this.info ?? null, points: this.points ?? null, view: this.view, render: this.render, backend: this.renderer.backend, version: this.version };
  }
}
