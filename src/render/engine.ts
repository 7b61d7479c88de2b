/**
 * What a Scene needs from a renderer. Two implement it: Renderer (one librvr on a render
 * thread of this process) and DistributedRenderer (librvr on several MPI ranks, rvr_ranks).
 */
import type { NativeBuffer, VolumeBytes } from "../transfer/native-buffer.ts";
import type { Camera, RenderStats, Settings, Slice, VolumeDesc, VolumeInfo } from "./structs.ts";

export interface Frame {
  rgba: Uint8Array<ArrayBuffer>;
  width: number;
  height: number;
  stats?: RenderStats;
}

export interface VolumeStream {
  /** Bytes [0, n) of the volume have landed. */
  landed(n: number): void;
  /** The transfer failed: drop what was taken (the old volume stays). */
  drop(): void;
  /** Bytes handed to the renderer so far, 0 once any step failed (then setVolume does it all). */
  readonly taken: number;
}

export interface RenderEngine {
  readonly backend: "cpu" | "cuda";
  readonly hasVolume: boolean;
  /** A buffer to receive a volume into that this engine can use without another copy (shared
   *  memory for the ranks); engines without one use the transfer layer's buffer. */
  allocVolume?(bytes: number): Promise<NativeBuffer>;
  /** Borrows `data` until another volume replaces it (no second copy of a many-GiB volume). */
  setVolume(desc: Omit<VolumeDesc, "borrow">, data: VolumeBytes): Promise<VolumeInfo>;
  /** Takes a volume while it arrives into `data` (the CUDA renderer uploads landed bytes at
   *  once); setVolume of the same bytes then completes it. Fire and forget: if any of it fails,
   *  setVolume simply does all the work. */
  streamVolume?(desc: Omit<VolumeDesc, "borrow">, data: NativeBuffer): VolumeStream;
  /** How often the stream wants the landed bytes (ms). */
  readonly landedEveryMs?: number;
  setWindow(lo: number, hi: number): Promise<VolumeInfo>;
  info(): Promise<VolumeInfo>;
  setTransferFunction(rgba: Float32Array): Promise<void>;
  setPoints(xyz: Float32Array, values: Float32Array): Promise<void>;
  clearPoints(): Promise<void>;
  setPointColormap(rgba: Float32Array): Promise<void>;
  render(camera: Camera, settings: Settings, width: number, height: number): Promise<Frame>;
  renderJpeg(camera: Camera, settings: Settings, width: number, height: number, quality: number): Promise<{ jpeg: Uint8Array<ArrayBuffer>; stats: RenderStats; encodeMs: number }>;
  sliceAxis(axis: number, index: number, settings: Settings): Promise<Frame>;
  slice(slice: Slice, settings: Settings, width: number, height: number): Promise<Frame>;
  retrieveSize(lo: number[], hi: number[], step: number[]): Promise<number>;
  retrieve(lo: number[], hi: number[], step: number[], out: Uint8Array): Promise<void>;
  /** Segmentation labels drawn with the volume (uint8, the volume's shape and order; null
   *  removes them) and their per-class RGBA; engines without them do not draw labels. */
  setLabels?(labels: Uint8Array | null, classRgba: Float32Array): Promise<void>;
  setLabelColors?(classRgba: Float32Array): Promise<void>;
  close(): Promise<void>;
}
