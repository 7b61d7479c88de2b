/**
 * NumPy .npy, format versions 1.0, 2.0 and 3.0: magic, a Python-literal header
 * {'descr': '<i2', 'fortran_order': False, 'shape': (z, y, x)}, then the array. C and Fortran
 * order are both returned as they lie (order "C" / "F"); big-endian arrays are swapped to
 * native. Numeric types of the Dtype list (and bool as u8) only; object, structured, complex,
 * 64-bit integer and half-float arrays are refused with a clear message.
 */
import { FileReader } from "./io.ts";
import {
  type Dtype,
  DTYPE_SIZE,
  type ReadLimits,
  type Volume,
  allocate,
  byteSwap,
  checkedBytes,
  corrupt,
  fail,
  formatShape,
  toShape3,
  typedView,
} from "./types.ts";

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export function isNpy(head: Uint8Array): boolean {
  return MAGIC.every((b, i) => head[i] === b);
}

export interface NpyHeader {
  dtype: Dtype;
  bigEndian: boolean;
  fortran: boolean;
  dims: number[];
  dataOffset: number;
  version: string;
}

const KINDS: Record<string, Dtype> = { u1: "u8", b1: "u8", i1: "i8", u2: "u16", i2: "i16", u4: "u32", i4: "i32", f4: "f32", f8: "f64" };

export function parseNpyHeader(name: string, f: FileReader): NpyHeader {
  const pre = f.read(0, 12);
  if (pre.length < 10 || !isNpy(pre)) corrupt(name, "not a .npy file (wrong magic)");
  const major = pre[6]!;
  const minor = pre[7]!;
  if (major < 1 || major > 3) corrupt(name, `unsupported .npy format version ${major}.${minor} (1.0 to 3.0 are known)`);
  if (major > 1 && pre.length < 12) corrupt(name, "file is truncated inside the .npy preamble");
  const dv = new DataView(pre.buffer, pre.byteOffset, pre.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  if (hlen > 1 << 20) corrupt(name, `.npy header length ${hlen} is absurd`);
  if (hstart + hlen > f.size) corrupt(name, `file is truncated: the .npy header needs ${hstart + hlen} bytes, the file has ${f.size}`);
  const text = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(f.read(hstart, hlen));
  const descr = /['"]descr['"]\s*:\s*['"]([^'"]*)['"]/.exec(text)?.[1];
  const fortran = /['"]fortran_order['"]\s*:\s*(True|False)/.exec(text)?.[1];
  const shapeText = /['"]shape['"]\s*:\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined) {
    if (/['"]descr['"]\s*:\s*\[/.test(text)) fail("unsupported_dtype", `${name}: structured arrays (record dtypes) are not supported`);
    corrupt(name, "the .npy header has no 'descr'");
  }
  if (fortran === undefined) corrupt(name, "the .npy header has no 'fortran_order'");
  if (shapeText === undefined) corrupt(name, "the .npy header has no 'shape'");
  const parts = shapeText.split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (parts.length === 0) fail("unsupported_shape", `${name}: a 0-dimensional array (a scalar) is not a volume`);
  const dims = parts.map((p) => (/^\d+L?$/.test(p) ? Number(p.replace("L", "")) : NaN));
  if (dims.some((d) => !Number.isSafeInteger(d))) corrupt(name, `shape (${shapeText.slice(0, 60)}) is not a list of whole numbers`);
  const m = /^([<>|=])?([a-zA-Z])(\d+)$/.exec(descr);
  const dtype = m ? KINDS[`${m[2]}${m[3]}`] : undefined;
  if (!m || !dtype) fail("unsupported_dtype", `${name}: numpy dtype '${descr.slice(0, 20)}' is not supported (supported: u1 i1 u2 i2 u4 i4 f4 f8, bool)`);
  const bigEndian = m[1] === ">" && DTYPE_SIZE[dtype] > 1;
  return { dtype, bigEndian, fortran: fortran === "True", dims, dataOffset: hstart + hlen, version: `${major}.${minor}` };
}

export function readNpy(path: string, opts: ReadLimits = {}): Volume {
  using f = FileReader.open(path);
  const name = f.name;
  const h = parseNpyHeader(name, f);
  const { shape } = toShape3(name, h.dims);
  const size = DTYPE_SIZE[h.dtype];
  const bytes = h.dims.some((d) => d === 0) ? 0 : checkedBytes(name, shape, size, opts);
  if (bytes === 0) fail("empty", `${name}: the array is empty (shape ${formatShape(h.dims)})`);
  if (f.size !== h.dataOffset + bytes) {
    corrupt(name, `file has ${f.size} bytes but its header (shape ${formatShape(h.dims)}, ${h.dtype}) needs ${h.dataOffset + bytes}`);
  }
  const buf = allocate(name, bytes);
  f.readInto(h.dataOffset, buf, "array data");
  if (h.bigEndian) byteSwap(buf, size);
  return {
    kind: "volume",
    data: typedView(h.dtype, buf),
    shape,
    dtype: h.dtype,
    order: h.fortran ? "F" : "C",
    spacing: [1, 1, 1],
    unit: "mm",
    name,
    format: "npy",
    meta: { npyVersion: h.version, ...(h.bigEndian ? { swappedFrom: "big-endian" } : {}) },
  };
}
