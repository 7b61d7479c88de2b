/**
 * NIfTI-1 and NIfTI-2 single files (.nii) and gzip-compressed ones (.nii.gz, decompressed as a
 * stream straight into the result buffer, so a big file needs no second copy). Either byte
 * order. Shape [nz, ny, nx] from dim[1..3] (x = i varies fastest, so order "C"), spacing from
 * pixdim[1..3] in the unit of xyzt_units, scl_slope/scl_inter reported (not applied). 4D and
 * higher only with one volume (dim[4..7] = 1). The orientation (qform/sform) is not applied.
 */
import { createReadStream } from "node:fs";
import { createGunzip } from "node:zlib";
import { FileReader } from "./io.ts";
import {
  type Dtype,
  DTYPE_SIZE,
  type ReadLimits,
  type Vec3,
  type Volume,
  allocate,
  byteSwap,
  checkedBytes,
  corrupt,
  fail,
  typedView,
} from "./types.ts";

const DATATYPES: Record<number, Dtype> = { 2: "u8", 4: "i16", 8: "i32", 16: "f32", 64: "f64", 256: "i8", 512: "u16", 768: "u32" };
const UNSUPPORTED: Record<number, string> = {
  1: "binary (1 bit)",
  32: "complex64",
  128: "RGB24",
  1024: "int64",
  1280: "uint64",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
  2304: "RGBA32",
};
const UNITS: Record<number, string> = { 1: "m", 2: "mm", 3: "um" };
/** deflate cannot expand more than ~1032:1; a header asking for more than that is lying. */
const MAX_DEFLATE_RATIO = 1100;

export interface NiftiHeader {
  version: 1 | 2;
  littleEndian: boolean;
  dtype: Dtype;
  shape: Vec3;
  spacing: Vec3;
  unit: string;
  voxOffset: number;
  scale?: { slope: number; inter: number };
  description: string;
  intent: number;
}

/** Which NIfTI version the first 4 (+8) bytes say, or undefined when it is not NIfTI. */
export function niftiVersion(head: Uint8Array): { version: 1 | 2; littleEndian: boolean } | undefined {
  if (head.length < 4) return undefined;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  for (const le of [true, false]) {
    const n = dv.getInt32(0, le);
    if (n === 348) return { version: 1, littleEndian: le };
    if (n === 540) return { version: 2, littleEndian: le };
  }
  return undefined;
}

export function parseNiftiHeader(name: string, h: Uint8Array): NiftiHeader {
  const v = niftiVersion(h);
  if (!v) corrupt(name, "not a NIfTI file (sizeof_hdr is neither 348 nor 540)");
  const need = v.version === 1 ? 348 : 540;
  if (h.length < need) corrupt(name, `file is truncated inside the NIfTI-${v.version} header (${h.length} of ${need} bytes)`);
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const le = v.littleEndian;
  const ascii = (o: number, n: number) => new TextDecoder("latin1").decode(h.subarray(o, o + n)).replace(/\0.*$/s, "");
  let datatype: number;
  let dim: number[];
  let pixdim: number[];
  let voxOffset: number;
  let slope: number;
  let inter: number;
  let units: number;
  let description: string;
  let intent: number;
  if (v.version === 1) {
    const magic = ascii(344, 4);
    if (magic === "ni1") fail("unsupported_format", `${name}: a NIfTI-1 header/image pair (.hdr + .img) is not supported; convert it to one .nii file`);
    if (magic !== "n+1") corrupt(name, "NIfTI-1 magic is not 'n+1'");
    dim = Array.from({ length: 8 }, (_, i) => dv.getInt16(40 + 2 * i, le));
    datatype = dv.getInt16(70, le);
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat32(76 + 4 * i, le));
    voxOffset = dv.getFloat32(108, le);
    slope = dv.getFloat32(112, le);
    inter = dv.getFloat32(116, le);
    units = h[123]!;
    description = ascii(148, 80);
    intent = dv.getInt16(68, le);
  } else {
    const magic = ascii(4, 3);
    if (magic === "ni2") fail("unsupported_format", `${name}: a NIfTI-2 header/image pair is not supported; convert it to one .nii file`);
    if (magic !== "n+2") corrupt(name, "NIfTI-2 magic is not 'n+2'");
    datatype = dv.getInt16(12, le);
    dim = Array.from({ length: 8 }, (_, i) => Number(dv.getBigInt64(16 + 8 * i, le)));
    pixdim = Array.from({ length: 8 }, (_, i) => dv.getFloat64(104 + 8 * i, le));
    voxOffset = Number(dv.getBigInt64(168, le));
    slope = dv.getFloat64(176, le);
    inter = dv.getFloat64(184, le);
    units = dv.getInt32(500, le);
    description = ascii(240, 80);
    intent = dv.getInt32(504, le);
  }
  const dtype = DATATYPES[datatype];
  if (!dtype) {
    const what = UNSUPPORTED[datatype];
    if (what) fail("unsupported_dtype", `${name}: NIfTI datatype ${datatype} (${what}) is not supported`);
    corrupt(name, `unknown NIfTI datatype code ${datatype}`);
  }
  const ndim = dim[0]!;
  if (ndim < 1 || ndim > 7) corrupt(name, `dim[0] = ${ndim}; must be 1 to 7`);
  for (let i = 1; i <= ndim; i++) {
    if (!Number.isSafeInteger(dim[i]) || dim[i]! < 1) corrupt(name, `dim[${i}] = ${dim[i]} is not a positive extent`);
  }
  const extra = dim.slice(4, ndim + 1).reduce((a, b) => a * b, 1);
  if (extra > 1) {
    fail("unsupported_shape", `${name}: has ${extra} volumes (dims ${dim.slice(1, ndim + 1).join("x")}); only one volume (3D, or 4D with one) is supported`);
  }
  const ext = (i: number) => (i <= ndim ? dim[i]! : 1);
  const shape: Vec3 = [ext(3), ext(2), ext(1)];
  const sp = (i: number) => {
    const s = Math.abs(pixdim[i] ?? 0);
    return i <= ndim && Number.isFinite(s) && s > 0 ? s : 1;
  };
  const spacing: Vec3 = [sp(3), sp(2), sp(1)];
  if (!Number.isFinite(voxOffset) || voxOffset < need || !Number.isInteger(voxOffset)) {
    corrupt(name, `vox_offset ${voxOffset} is not a whole number of bytes after the header`);
  }
  const scaled = Number.isFinite(slope) && slope !== 0 && !(slope === 1 && (inter === 0 || !Number.isFinite(inter)));
  return {
    version: v.version,
    littleEndian: le,
    dtype,
    shape,
    spacing,
    unit: UNITS[units & 7] ?? "mm",
    voxOffset,
    ...(scaled ? { scale: { slope, inter: Number.isFinite(inter) ? inter : 0 } } : {}),
    description,
    intent,
  };
}

function toVolume(name: string, h: NiftiHeader, buf: Uint8Array, compressed: boolean): Volume {
  if (!h.littleEndian) byteSwap(buf, DTYPE_SIZE[h.dtype]);
  return {
    kind: "volume",
    data: typedView(h.dtype, buf),
    shape: h.shape,
    dtype: h.dtype,
    order: "C",
    spacing: h.spacing,
    unit: h.unit,
    name,
    format: "nifti",
    ...(h.scale ? { scale: h.scale } : {}),
    meta: {
      nifti: h.version,
      ...(compressed ? { gzip: true } : {}),
      ...(h.littleEndian ? {} : { swappedFrom: "big-endian" }),
      ...(h.description ? { description: h.description } : {}),
      ...(h.intent ? { intent: h.intent } : {}),
    },
  };
}

export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** Reads a .nii or .nii.gz (told apart by the gzip magic, not the name). */
export async function readNifti(path: string, opts: ReadLimits = {}): Promise<Volume> {
  let compressedSize: number;
  let isize: number;
  let name: string;
  {
    using f = FileReader.open(path);
    name = f.name;
    const head = f.read(0, 540);
    if (!isGzip(head)) {
      const h = parseNiftiHeader(name, head);
      const bytes = checkedBytes(name, h.shape, DTYPE_SIZE[h.dtype], opts);
      if (f.size < h.voxOffset + bytes) {
        corrupt(name, `file is truncated: the header says ${bytes} bytes of voxels from byte ${h.voxOffset}, the file has ${f.size} bytes`);
      }
      const buf = allocate(name, bytes);
      f.readInto(h.voxOffset, buf, "voxels");
      return toVolume(name, h, buf, false);
    }
    compressedSize = f.size;
    const tail = f.read(Math.max(0, f.size - 4), 4);
    isize = tail.length === 4 ? new DataView(tail.buffer).getUint32(0, true) : 0;
  }
  return readGzipped(path, name, compressedSize, isize, opts);
}

async function readGzipped(path: string, name: string, compressedSize: number, isize: number, opts: ReadLimits): Promise<Volume> {
  const gunzip = createGunzip();
  const source = createReadStream(path);
  source.on("error", (e) => gunzip.destroy(e));
  const stream = source.pipe(gunzip);
  let header: NiftiHeader | undefined;
  let head = new Uint8Array(0);
  let buf: Uint8Array | undefined;
  let pos = 0; // decompressed bytes seen so far
  let filled = 0; // voxel bytes written into buf
  try {
    for await (const chunk of stream as AsyncIterable<Uint8Array>) {
      let c: Uint8Array = chunk;
      if (!header) {
        const joined = new Uint8Array(head.length + c.length);
        joined.set(head);
        joined.set(c, head.length);
        head = joined;
        const v = niftiVersion(head);
        if (head.length >= 4 && !v) corrupt(name, "gzip data is not a NIfTI file (sizeof_hdr is neither 348 nor 540)");
        if (!v || head.length < (v.version === 1 ? 348 : 540)) continue;
        header = parseNiftiHeader(name, head);
        const bytes = checkedBytes(name, header.shape, DTYPE_SIZE[header.dtype], opts);
        const total = header.voxOffset + bytes;
        if (total > compressedSize * MAX_DEFLATE_RATIO + (1 << 20)) {
          corrupt(name, `header says ${total} bytes but ${compressedSize} compressed bytes cannot hold that much`);
        }
        if (total < 2 ** 32 && isize < total) {
          corrupt(name, `file is truncated or lying: the header says ${total} bytes, the gzip data holds ${isize}`);
        }
        buf = allocate(name, bytes);
        c = head;
        pos = 0;
      }
      // c starts at decompressed offset `pos`
      const h = header;
      const start = Math.max(0, h.voxOffset - pos);
      if (start < c.length && buf) {
        const n = Math.min(c.length - start, buf.length - filled);
        buf.set(c.subarray(start, start + n), filled);
        filled += n;
      }
      pos += c.length;
      if (buf && filled === buf.length) break;
    }
  } catch (err) {
    if (err instanceof Error && err.name === "RemoteVisError") throw err;
    const code = (err as { code?: string }).code ?? "";
    if (code === "Z_BUF_ERROR" || /unexpected end/i.test(String(err))) corrupt(name, "gzip data is truncated");
    corrupt(name, `gzip data is corrupt (${code || "decompression failed"})`);
  } finally {
    stream.destroy();
    source.destroy();
  }
  if (!header) corrupt(name, `file is truncated inside the NIfTI header (${head.length} bytes after decompression)`);
  if (!buf || filled < buf.length) {
    corrupt(name, `file is truncated: the header says ${buf?.length ?? 0} bytes of voxels, the gzip data holds ${filled}`);
  }
  return toVolume(name, header, buf, true);
}
