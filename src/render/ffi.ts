/**
 * The native symbols of librvr, the built-in renderer (ffi/librvr/include/rvr.h is the
 * manual). Embedded in the executable; opened lazily, once per thread that renders.
 */
import { dlopen, FFIType } from "bun:ffi";
import libPath from "../../ffi/librvr/build/librvr.so" with { type: "file" };
import { RemoteVisError } from "../errors.ts";

const { ptr: P, i32, u32, u64, cstring, void: v } = FFIType;

const symbols = {
  rvr_strerror: { args: [i32], returns: cstring },
  rvr_version: { args: [], returns: cstring },
  rvr_renderer_create: { args: [i32, P], returns: i32 },
  rvr_renderer_destroy: { args: [P], returns: v },
  rvr_renderer_backend: { args: [P], returns: i32 },
  rvr_renderer_set_threads: { args: [P, i32], returns: i32 },
  rvr_renderer_set_volume: { args: [P, P, P, u64], returns: i32 },
  rvr_renderer_set_window: { args: [P, FFIType.f64, FFIType.f64], returns: i32 },
  rvr_renderer_volume_begin: { args: [P, P, P, u64], returns: i32 },
  rvr_renderer_volume_landed: { args: [P, u64], returns: i32 },
  rvr_renderer_volume_drop: { args: [P], returns: FFIType.void },
  rvr_renderer_volume_info: { args: [P, P], returns: i32 },
  rvr_renderer_retrieve_size: { args: [P, P, P, P, P], returns: i32 },
  rvr_renderer_retrieve: { args: [P, P, P, P, P, u64], returns: i32 },
  rvr_renderer_set_tf: { args: [P, P, u32], returns: i32 },
  rvr_renderer_set_points: { args: [P, P, P, u64], returns: i32 },
  rvr_renderer_clear_points: { args: [P], returns: i32 },
  rvr_renderer_set_point_colormap: { args: [P, P, u32], returns: i32 },
  rvr_render: { args: [P, P, P, u32, u32, P, u64, P], returns: i32 },
  rvr_renderer_slice_axis: { args: [P, i32, u64, P, P, P], returns: i32 },
  rvr_render_slice: { args: [P, P, P, u32, u32, P, u64, P], returns: i32 },
} as const;

export type RvrLib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

/** The label calls (segmentation), opened separately so that an older librvr without them
 *  still loads: then labels are not drawn (`undefined`). */
const labelSymbols = {
  rvr_renderer_set_labels: { args: [P, P, u64, P, u32], returns: i32 },
  rvr_renderer_set_label_colors: { args: [P, P, u32], returns: i32 },
} as const;
let labelLib: ReturnType<typeof dlopen<typeof labelSymbols>>["symbols"] | null | undefined;

export function rvrLabels() {
  if (labelLib === undefined) {
    try {
      labelLib = dlopen(libPath, labelSymbols).symbols;
    } catch {
      labelLib = null;
    }
  }
  return labelLib ?? undefined;
}
let lib: RvrLib | undefined;

export function rvr(): RvrLib {
  if (!lib) {
    try {
      lib = dlopen(libPath, symbols).symbols;
    } catch (err) {
      throw new RemoteVisError("renderer_unavailable", `cannot load librvr (libgomp1 installed?): ${err instanceof Error ? err.message : err}`, 500);
    }
  }
  return lib;
}

export const RVR = {
  ERR_INVALID: -1,
  ERR_NOMEM: -2,
  ERR_UNSUPPORTED: -3,
  ERR_DTYPE: -4,
  ERR_SIZE: -5,
  ERR_RANGE: -6,
  ERR_NO_VOLUME: -7,
  ERR_EMPTY: -8,
  ERR_DEVICE: -9,
} as const;

const CODES: Record<number, [string, number]> = {
  [-1]: ["render_invalid", 400],
  [-2]: ["out_of_memory", 507],
  [-3]: ["unsupported", 501],
  [-4]: ["invalid_dtype", 400],
  [-5]: ["invalid_size", 400],
  [-6]: ["out_of_range", 400],
  [-7]: ["no_volume", 409],
  [-8]: ["no_points", 400],
  [-9]: ["gpu_error", 500],
};

/** A failed librvr call as the project's one error type. */
export function renderError(code: number, what: string): RemoteVisError {
  const [name, status] = CODES[code] ?? ["render_failed", 500];
  let text = `error ${code}`;
  try {
    text = String(rvr().rvr_strerror(code));
  } catch {
    // keep the number
  }
  return new RemoteVisError(name, `${what}: ${text}`, status, { rvr: code });
}
