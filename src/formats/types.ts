/**
 * What every reader of src/formats returns, and the checks they share.
 *
 * Axis order: a volume's `shape` is always `[z, y, x]` (slowest to fastest in C order): z is the
 * slice (TIFF page, NIfTI k, first numpy/HDF5 axis), y the row, x the column. `order` says how
 * the voxels lie in `data`: "C" = x varies fastest, index `(z*ny + y)*nx + x` (TIFF, NIfTI, HDF5,
 * C-order npy, raw); "F" = z varies fastest, index `(x*ny + y)*nz + z` (Fortran-order npy or a
 * raw sidecar that says so). `toC()` reorders an F volume. Voxels are always in the machine's
 * (little-endian) byte order: readers swap big-endian files. `spacing` is `[z, y, x]` in `unit`
 * (mm unless the file says otherwise), 1 where the file has none.
 */
import { totalmem } from "node:os";
import { RemoteVisError } from "../errors.ts";

export type Dtype = "u8" | "i8" | "u16" | "i16" | "u32" | "i32" | "f32" | "f64";
export const DTYPES: readonly Dtype[] = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64"];
export const DTYPE_SIZE: Record<Dtype, number> = { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 };
/** The names the wire protocol (src/protocol/instances.ts) uses for the same types. */
export const PROTOCOL_DTYPE = {
  u8: "uint8",
  i8: "int8",
  u16: "uint16",
  i16: "int16",
  u32: "uint32",
  i32: "int32",
  f32: "float32",
  f64: "float64",
} as const satisfies Record<Dtype, string>;

export type VoxelArray = Uint8Array | Int8Array | Uint16Array | Int16Array | Uint32Array | Int32Array | Float32Array | Float64Array;
export type Order = "C" | "F";
export type Vec3 = [number, number, number];

export interface Volume {
  kind: "volume";
  /** The voxels, an array of the element type `dtype`, length z*y*x, laid out per `order`. */
  data: VoxelArray;
  shape: Vec3;
  dtype: Dtype;
  order: Order;
  spacing: Vec3;
  /** Unit of `spacing` ("mm" unless the file says otherwise, e.g. "um"). */
  unit: string;
  /** Short name for display (file name, plus dataset path for HDF5). */
  name: string;
  /** Which reader made it: raw, npy, nifti, tiff, hdf5, mrc. */
  format: string;
  /** NIfTI scl_slope/scl_inter (real = slope * stored + inter) when not the identity; not applied. */
  scale?: { slope: number; inter: number };
  /** Anything else worth showing (window, NIfTI description, HDF5 attributes, ...). */
  meta?: Record<string, unknown>;
}

export interface PointCloud {
  kind: "points";
  /** x, y, z of each point, interleaved (N*3). */
  xyz: Float32Array;
  /** One scalar per point (N): intensity, luminance of rgb, the first extra field, or 1. */
  values: Float32Array;
  /** Point colours (N*3, 0..255) when the file has rgb/rgba. */
  rgb?: Uint8Array;
  count: number;
  /** Name of the field `values` came from ("intensity", "rgb", ...), or "" for the constant 1. */
  valueField: string;
  name: string;
  format: string;
  meta?: Record<string, unknown>;
}

/** Options every reader accepts. */
export interface ReadLimits {
  /** Refuse (before allocating) anything that would need more bytes than this. Default: physical memory. */
  maxBytes?: number;
}

export function defaultMaxBytes(): number {
  return totalmem();
}

export function fail(code: string, message: string, details?: Record<string, unknown>): never {
  throw new RemoteVisError(code, message, 400, details);
}

/** "corrupt" errors name the file (its base name only) so the message is useful but short. */
export function corrupt(name: string, what: string): never {
  fail("corrupt_file", `${name}: ${what}`);
}

export function isDtype(s: unknown): s is Dtype {
  return typeof s === "string" && (DTYPES as readonly string[]).includes(s);
}

/** Accepts "i16", "int16", "<i2" style names; returns undefined for anything else. */
export function parseDtype(s: unknown): Dtype | undefined {
  if (typeof s !== "string") return undefined;
  const t = s.trim().toLowerCase();
  if (isDtype(t)) return t;
  for (const [k, v] of Object.entries(PROTOCOL_DTYPE)) if (v === t) return k as Dtype;
  const alias: Record<string, Dtype> = { uint8: "u8", float: "f32", double: "f64", single: "f32", ubyte: "u8", byte: "i8" };
  return alias[t];
}

export function formatShape(shape: readonly number[]): string {
  return shape.join("x");
}

/**
 * Checks a shape from a file header and returns the byte count: every extent a positive whole
 * number below 2^31, and the product (times the element size) a safe integer within `maxBytes`.
 * Never allocates; call it before allocating.
 */
export function checkedBytes(name: string, shape: readonly number[], elemSize: number, limits: ReadLimits = {}): number {
  for (const d of shape) {
    if (!Number.isFinite(d) || !Number.isInteger(d)) corrupt(name, `extent ${d} in the shape is not a whole number`);
    if (d < 1) corrupt(name, `extent ${d} in the shape ${formatShape(shape)} is not positive`);
    if (d > 2 ** 31 - 1) corrupt(name, `extent ${d} is larger than 2^31-1`);
  }
  let n = elemSize;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) corrupt(name, `shape ${formatShape(shape)} is absurdly large (its size overflows)`);
  }
  const max = limits.maxBytes ?? defaultMaxBytes();
  if (n > max) {
    fail("too_large", `${name}: shape ${formatShape(shape)} needs ${n} bytes, more than the limit of ${max} bytes`, { bytes: n, maxBytes: max });
  }
  return n;
}

/** Allocates, turning an engine allocation failure into a clear error. */
export function allocate(name: string, bytes: number): Uint8Array {
  try {
    return new Uint8Array(bytes);
  } catch {
    fail("out_of_memory", `${name}: cannot allocate ${bytes} bytes`);
  }
}

/** The typed view of `bytes` (whose byteOffset must be aligned to the element size) for `dtype`. */
export function typedView(dtype: Dtype, bytes: Uint8Array): VoxelArray {
  const { buffer, byteOffset: o } = bytes;
  const n = bytes.byteLength / DTYPE_SIZE[dtype];
  if (o % DTYPE_SIZE[dtype] !== 0) return typedView(dtype, bytes.slice());
  switch (dtype) {
    case "u8":
      return new Uint8Array(buffer, o, n);
    case "i8":
      return new Int8Array(buffer, o, n);
    case "u16":
      return new Uint16Array(buffer, o, n);
    case "i16":
      return new Int16Array(buffer, o, n);
    case "u32":
      return new Uint32Array(buffer, o, n);
    case "i32":
      return new Int32Array(buffer, o, n);
    case "f32":
      return new Float32Array(buffer, o, n);
    case "f64":
      return new Float64Array(buffer, o, n);
  }
}

/** The bytes behind a volume's data (no copy). */
export function bytesOf(data: VoxelArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Reverses the byte order of every element of `size` bytes, in place. */
export function byteSwap(bytes: Uint8Array, size: number): void {
  if (size === 1) return;
  const n = bytes.length - (bytes.length % size);
  if (size === 2) {
    for (let i = 0; i < n; i += 2) {
      const a = bytes[i]!;
      bytes[i] = bytes[i + 1]!;
      bytes[i + 1] = a;
    }
    return;
  }
  for (let i = 0; i < n; i += size) {
    for (let a = i, b = i + size - 1; a < b; a++, b--) {
      const t = bytes[a]!;
      bytes[a] = bytes[b]!;
      bytes[b] = t;
    }
  }
}

/**
 * Makes a [z, y, x] shape from a file's extents: up to three extents are padded with leading 1s;
 * more than three lose their extents of 1 first (then padded). `axes` maps each of the three
 * result axes to the file's axis (-1 for padding). More than three extents above 1 is refused.
 */
export function toShape3(name: string, dims: readonly number[]): { shape: Vec3; axes: [number, number, number] } {
  let axes = dims.map((_, i) => i);
  if (dims.length > 3) axes = axes.filter((i) => dims[i] !== 1);
  if (axes.length > 3) corrupt(name, `has ${axes.length} dimensions larger than 1 (${formatShape(dims)}); volumes have at most 3`);
  while (axes.length < 3) axes.unshift(-1);
  const shape = axes.map((a) => (a < 0 ? 1 : dims[a]!)) as Vec3;
  return { shape, axes: axes as [number, number, number] };
}

/** A C-order copy of an F-order volume (the same volume when already C). */
export function toC(v: Volume): Volume {
  if (v.order === "C") return v;
  const [nz, ny, nx] = v.shape;
  const src = v.data;
  const Ctor = src.constructor as new (n: number) => VoxelArray;
  const dst = new Ctor(src.length);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      const row = (z * ny + y) * nx;
      for (let x = 0; x < nx; x++) dst[row + x] = src[(x * ny + y) * nz + z]!;
    }
  return { ...v, data: dst, order: "C" };
}

/** Smallest and largest value (NaN ignored). */
export function valueRange(data: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

export function baseName(path: string): string {
  const s = path.replace(/\/+$/, "");
  return s.slice(s.lastIndexOf("/") + 1) || path;
}
