/**
 * The render thread: owns one librvr renderer and runs its blocking calls (volume upload,
 * frames, slices, retrieve) so that the instance's event loop keeps serving meanwhile. One
 * renderer is used by this one thread only, which is what rvr.h asks for.
 */
import { ptr } from "bun:ffi";
import { OpFailed, serveOps } from "../process/worker-rpc.ts";
import { RVR, rvr, rvrLabels } from "./ffi.ts";
import { encodeJpeg } from "./jpeg.ts";
import { readStats, readVolumeInfo, RENDER_STATS_BYTES } from "./structs.ts";

const lib = rvr();
let renderer = 0;

function check(rc: number): void {
  if (rc < 0) throw new OpFailed(rc);
}

function info() {
  const out = new Uint8Array(80);
  check(lib.rvr_renderer_volume_info(renderer as never, ptr(out)));
  return readVolumeInfo(out);
}

const u64x3 = (a: number[]) => new BigUint64Array(a.map(BigInt));

serveOps({
  create(backend: number, threads: number) {
    const out = new BigUint64Array(1);
    check(lib.rvr_renderer_create(backend, ptr(out)));
    renderer = Number(out[0]);
    if (threads > 0) check(lib.rvr_renderer_set_threads(renderer as never, threads));
    return lib.rvr_renderer_backend(renderer as never);
  },
  setVolume(desc: Uint8Array, data: number, bytes: number) {
    check(lib.rvr_renderer_set_volume(renderer as never, ptr(desc), data as never, bytes));
    return info();
  },
  /** A volume arriving into `data` (rvr_renderer_volume_begin): landed bytes are taken at once. */
  volumeBegin(desc: Uint8Array, data: number, bytes: number) {
    check(lib.rvr_renderer_volume_begin(renderer as never, ptr(desc), data as never, bytes));
  },
  volumeLanded(n: number) {
    check(lib.rvr_renderer_volume_landed(renderer as never, n));
  },
  volumeDrop() {
    lib.rvr_renderer_volume_drop(renderer as never);
  },
  setWindow(lo: number, hi: number) {
    check(lib.rvr_renderer_set_window(renderer as never, lo, hi));
    return info();
  },
  info,
  setTf(rgba: Float32Array) {
    check(lib.rvr_renderer_set_tf(renderer as never, ptr(rgba), rgba.length / 4));
  },
  setPoints(xyz: number, values: number, n: number) {
    check(lib.rvr_renderer_set_points(renderer as never, xyz as never, values as never, n));
  },
  clearPoints() {
    check(lib.rvr_renderer_clear_points(renderer as never));
  },
  setPointColormap(rgba: Float32Array) {
    check(lib.rvr_renderer_set_point_colormap(renderer as never, ptr(rgba), rgba.length / 4));
  },
  render(camera: Uint8Array, settings: Uint8Array, width: number, height: number) {
    const rgba = new Uint8Array(width * height * 4);
    const stats = new Uint8Array(RENDER_STATS_BYTES);
    check(lib.rvr_render(renderer as never, ptr(camera), ptr(settings), width, height, ptr(rgba), rgba.byteLength, ptr(stats)));
    return { rgba: rgba.buffer, stats: readStats(stats), transfer: [rgba.buffer] };
  },
  /** A frame encoded as JPEG right here, so the RGBA never crosses threads (viewer frames). */
  renderJpeg(camera: Uint8Array, settings: Uint8Array, width: number, height: number, quality: number) {
    const rgba = new Uint8Array(width * height * 4);
    const stats = new Uint8Array(RENDER_STATS_BYTES);
    check(lib.rvr_render(renderer as never, ptr(camera), ptr(settings), width, height, ptr(rgba), rgba.byteLength, ptr(stats)));
    const t0 = performance.now();
    const jpeg = encodeJpeg(rgba, width, height, quality);
    return { jpeg: jpeg.buffer, stats: readStats(stats), encodeMs: performance.now() - t0, transfer: [jpeg.buffer] };
  },
  sliceAxis(axis: number, index: number, settings: Uint8Array) {
    const slice = new Uint8Array(36);
    const wh = new Uint32Array(2);
    check(lib.rvr_renderer_slice_axis(renderer as never, axis, index, ptr(slice), ptr(wh), ptr(wh, 4)));
    const [width, height] = [wh[0]!, wh[1]!];
    const rgba = new Uint8Array(width * height * 4);
    check(lib.rvr_render_slice(renderer as never, ptr(slice), ptr(settings), width, height, ptr(rgba), rgba.byteLength, null));
    return { rgba: rgba.buffer, width, height, transfer: [rgba.buffer] };
  },
  slice(slice: Uint8Array, settings: Uint8Array, width: number, height: number) {
    const rgba = new Uint8Array(width * height * 4);
    check(lib.rvr_render_slice(renderer as never, ptr(slice), ptr(settings), width, height, ptr(rgba), rgba.byteLength, null));
    return { rgba: rgba.buffer, width, height, transfer: [rgba.buffer] };
  },
  retrieveSize(lo: number[], hi: number[], step: number[]) {
    const out = new BigUint64Array(1);
    check(lib.rvr_renderer_retrieve_size(renderer as never, ptr(u64x3(lo)), ptr(u64x3(hi)), ptr(new Uint32Array(step)), ptr(out)));
    return Number(out[0]);
  },
  retrieve(lo: number[], hi: number[], step: number[], out: number, outBytes: number) {
    check(lib.rvr_renderer_retrieve(renderer as never, ptr(u64x3(lo)), ptr(u64x3(hi)), ptr(new Uint32Array(step)), out as never, outBytes));
  },
  /** Labels drawn with the volume (segmentation): bytes copied by the renderer; null removes them. */
  setLabels(labels: number, bytes: number, rgba: Float32Array) {
    const L = rvrLabels();
    if (!L) throw new OpFailed(RVR.ERR_UNSUPPORTED);
    check(L.rvr_renderer_set_labels(renderer as never, (labels || null) as never, bytes, ptr(rgba), rgba.length / 4));
  },
  setLabelColors(rgba: Float32Array) {
    const L = rvrLabels();
    if (!L) throw new OpFailed(RVR.ERR_UNSUPPORTED);
    check(L.rvr_renderer_set_label_colors(renderer as never, ptr(rgba), rgba.length / 4));
  },
  destroy() {
    lib.rvr_renderer_destroy(renderer as never);
    renderer = 0;
  },
});
