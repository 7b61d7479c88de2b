/**
 * HDF5 through the system libhdf5 (Debian libhdf5-103-1, libhdf5_serial.so.103), loaded
 * lazily through bun:ffi the first time an HDF5 file is opened.
 *
 * A dataset of rank 1..N whose extents above 1 number at most three is a volume: extents of 1
 * are dropped and the rest padded to [z, y, x] (order "C", as HDF5 stores it). Chunked and
 * compressed datasets are read by the library (gzip/shuffle/szip as built in; a filter the
 * library lacks is named in the error). Readers get the whole dataset or a slab of z planes
 * [z0, z1) straight into a buffer the caller owns (`Hdf5Dataset.readInto`): that is the unit
 * of work a parallel reader hands to each process (its own Hdf5File, one slab of a shared
 * memory segment).
 *
 * Type ids (`hid_t`) are 64-bit and use their high bits, so they are bigints here. Memory types
 * come from `H5Tget_native_type` of the file type, so no library globals (H5T_NATIVE_*) are
 * needed. The library's own error printing is switched off; failures become RemoteVisErrors.
 */
import { CString, JSCallback, dlopen, ptr, read, type Pointer } from "bun:ffi";
import { fstatSync, statSync } from "node:fs";
import { FileReader } from "./io.ts";
import {
  type Dtype,
  DTYPE_SIZE,
  type ReadLimits,
  type Vec3,
  type Volume,
  allocate,
  baseName,
  checkedBytes,
  corrupt,
  fail,
  formatShape,
  toShape3,
  typedView,
} from "./types.ts";

/** Sonames tried in order (REMOTEVIS_HDF5_LIB first when set). */
export const HDF5_SONAMES = [
  "libhdf5_serial.so.103",
  "libhdf5.so.103",
  "libhdf5_serial.so.200",
  "libhdf5.so.200",
  "libhdf5.so.310",
  "libhdf5.so.320",
  "libhdf5_serial.so",
  "libhdf5.so",
];

const symbols = {
  H5open: { args: [], returns: "i32" },
  H5Eset_auto2: { args: ["i64", "ptr", "ptr"], returns: "i32" },
  H5Fopen: { args: ["ptr", "u32", "i64"], returns: "i64" },
  H5Fclose: { args: ["i64"], returns: "i32" },
  H5Dopen2: { args: ["i64", "ptr", "i64"], returns: "i64" },
  H5Dclose: { args: ["i64"], returns: "i32" },
  H5Dget_space: { args: ["i64"], returns: "i64" },
  H5Dget_type: { args: ["i64"], returns: "i64" },
  H5Dget_create_plist: { args: ["i64"], returns: "i64" },
  H5Dread: { args: ["i64", "i64", "i64", "i64", "i64", "ptr"], returns: "i32" },
  H5Sget_simple_extent_ndims: { args: ["i64"], returns: "i32" },
  H5Sget_simple_extent_dims: { args: ["i64", "ptr", "ptr"], returns: "i32" },
  H5Sget_simple_extent_npoints: { args: ["i64"], returns: "i64" },
  H5Screate_simple: { args: ["i32", "ptr", "ptr"], returns: "i64" },
  H5Sselect_hyperslab: { args: ["i64", "i32", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
  H5Sclose: { args: ["i64"], returns: "i32" },
  H5Tget_class: { args: ["i64"], returns: "i32" },
  H5Tget_size: { args: ["i64"], returns: "u64" },
  H5Tget_sign: { args: ["i64"], returns: "i32" },
  H5Tget_native_type: { args: ["i64", "i32"], returns: "i64" },
  H5Tis_variable_str: { args: ["i64"], returns: "i32" },
  H5Tclose: { args: ["i64"], returns: "i32" },
  H5Pget_layout: { args: ["i64"], returns: "i32" },
  H5Pget_chunk: { args: ["i64", "i32", "ptr"], returns: "i32" },
  H5Pget_nfilters: { args: ["i64"], returns: "i32" },
  H5Pget_filter2: { args: ["i64", "u32", "ptr", "ptr", "ptr", "u64", "ptr", "ptr"], returns: "i32" },
  H5Pclose: { args: ["i64"], returns: "i32" },
  H5Zfilter_avail: { args: ["i32"], returns: "i32" },
  H5Lvisit: { args: ["i64", "i32", "i32", "function", "ptr"], returns: "i32" },
  H5Oopen: { args: ["i64", "ptr", "i64"], returns: "i64" },
  H5Oclose: { args: ["i64"], returns: "i32" },
  H5Iget_type: { args: ["i64"], returns: "i32" },
  H5Aexists: { args: ["i64", "ptr"], returns: "i32" },
  H5Aopen: { args: ["i64", "ptr", "i64"], returns: "i64" },
  H5Aget_space: { args: ["i64"], returns: "i64" },
  H5Aget_type: { args: ["i64"], returns: "i64" },
  H5Aread: { args: ["i64", "i64", "ptr"], returns: "i32" },
  H5Aclose: { args: ["i64"], returns: "i32" },
  H5free_memory: { args: ["ptr"], returns: "i32" },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

/** Where raw data lies in the file (libhdf5 1.10.5 and later; without them every read goes through H5Dread). */
const storageSymbols = {
  H5Dget_offset: { args: ["i64"], returns: "u64" },
  H5Dget_chunk_info_by_coord: { args: ["i64", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
  H5Tequal: { args: ["i64", "i64"], returns: "i32" },
  H5Fget_vfd_handle: { args: ["i64", "i64", "ptr"], returns: "i32" },
} as const;
type StorageLib = ReturnType<typeof dlopen<typeof storageSymbols>>["symbols"];
let storageLib: StorageLib | null | undefined;

function h5storage(): StorageLib | null {
  if (storageLib === undefined) {
    h5();
    try {
      storageLib = dlopen(libPath, storageSymbols).symbols;
    } catch {
      storageLib = null;
    }
  }
  return storageLib;
}

const H5F_ACC_RDONLY = 0;
const H5P_DEFAULT = 0n;
const H5S_ALL = 0n;
const H5S_SELECT_SET = 0;
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const H5T_STRING = 3;
const H5T_DIR_ASCEND = 1;
const H5I_DATASET = 5;
const H5D_CONTIGUOUS = 1;
const H5D_CHUNKED = 2;
const HADDR_UNDEF = 0xffffffffffffffffn;
const H5_INDEX_NAME = 0;
const H5_ITER_INC = 0;
const H5L_TYPE_HARD = 0;
const FILTER_NAMES: Record<number, string> = {
  1: "gzip",
  2: "shuffle",
  3: "fletcher32",
  4: "szip",
  5: "nbit",
  6: "scaleoffset",
  307: "bzip2",
  32000: "lzf",
  32001: "blosc",
  32004: "lz4",
  32008: "bitshuffle",
  32015: "zstd",
};
const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];

let lib: Lib | undefined;
let libPath = "";

/** The loaded library (dlopen on first use). */
function h5(): Lib {
  if (lib) return lib;
  const names = [process.env.REMOTEVIS_HDF5_LIB, ...HDF5_SONAMES].filter((n): n is string => !!n);
  for (const name of names) {
    try {
      const l = dlopen(name, symbols).symbols;
      if (l.H5open() < 0) continue;
      l.H5Eset_auto2(0n, null, null); // no error stacks on stderr
      lib = l;
      libPath = name;
      return l;
    } catch {
      // try the next name
    }
  }
  throw fail("hdf5_unavailable", "HDF5 files need libhdf5 (Debian package libhdf5-103-1); it was not found (set REMOTEVIS_HDF5_LIB to its path)");
}

/** True when libhdf5 can be loaded here. */
export function hdf5Available(): boolean {
  try {
    h5();
    return true;
  } catch {
    return false;
  }
}

export function hdf5Library(): string {
  h5();
  return libPath;
}

export function isHdf5(head: Uint8Array): boolean {
  return HDF5_MAGIC.every((b, i) => head[i] === b);
}

/** The element type of a (file) datatype, or a description of why it is not a volume type. */
function dtypeOf(L: Lib, type: bigint): { dtype?: Dtype; text: string } {
  const cls = L.H5Tget_class(type);
  const size = Number(L.H5Tget_size(type));
  if (cls === H5T_INTEGER) {
    const signed = L.H5Tget_sign(type) !== 0;
    const text = `${signed ? "i" : "u"}${size * 8}`;
    const map: Record<string, Dtype> = { u8: "u8", i8: "i8", u16: "u16", i16: "i16", u32: "u32", i32: "i32" };
    return { dtype: map[text], text };
  }
  if (cls === H5T_FLOAT) {
    const text = `f${size * 8}`;
    return { dtype: text === "f32" ? "f32" : text === "f64" ? "f64" : undefined, text };
  }
  const names: Record<number, string> = { 2: "time", 3: "string", 4: "bitfield", 5: "opaque", 6: "compound", 7: "reference", 8: "enum", 9: "vlen", 10: "array" };
  return { text: names[cls] ?? `class ${cls}` };
}

function dimsOf(L: Lib, space: bigint): number[] {
  const rank = L.H5Sget_simple_extent_ndims(space);
  if (rank < 0) throw new Error("bad dataspace");
  if (rank === 0) return [];
  const dims = new BigUint64Array(rank);
  L.H5Sget_simple_extent_dims(space, ptr(dims), null);
  return Array.from(dims, Number);
}

export interface Hdf5DatasetInfo {
  /** Absolute path inside the file, e.g. "/entry/data/data". */
  path: string;
  /** Extents as stored (any rank). */
  dims: number[];
  /** [z, y, x] when it can be read as a volume. */
  shape?: Vec3;
  /** Volume element type, when supported. */
  dtype?: Dtype;
  /** The stored type, also for unsupported ones ("i64", "string", "compound", ...). */
  type: string;
  chunks?: number[];
  filters?: string[];
}

export class Hdf5Dataset implements Disposable {
  readonly info: Hdf5DatasetInfo & { shape: Vec3; dtype: Dtype };
  /** File axis of each of z, y, x (-1 for padding). */
  private readonly axes: [number, number, number];
  private id: bigint;
  private readonly memType: bigint;
  /** The stored bytes are the memory bytes (same type and byte order: no conversion). */
  private readonly storedAsInMemory: boolean;
  private plain?: { layout: "contiguous"; offset: number } | { layout: "chunked"; chunkZ: number } | null;

  /** @internal use Hdf5File.dataset */
  constructor(
    private readonly file: Hdf5File,
    id: bigint,
    info: Hdf5DatasetInfo,
  ) {
    const L = h5();
    this.id = id;
    const name = `${file.name}:${info.path}`;
    if (!info.dtype) {
      this.close();
      fail("unsupported_dtype", `${name}: type ${info.type} is not supported (u8 i8 u16 i16 u32 i32 f32 f64)`);
    }
    if (info.dims.length === 0) {
      this.close();
      fail("unsupported_shape", `${name}: is a scalar, not a volume`);
    }
    if (info.dims.some((d) => d === 0)) {
      this.close();
      fail("empty", `${name}: is empty (shape ${formatShape(info.dims)})`);
    }
    let s: ReturnType<typeof toShape3>;
    try {
      s = toShape3(name, info.dims);
    } catch (e) {
      this.close();
      throw e;
    }
    for (const f of info.filters ?? []) {
      const idn = Number(Object.entries(FILTER_NAMES).find(([, v]) => v === f)?.[0] ?? f.replace(/^filter /, ""));
      if (Number.isFinite(idn) && L.H5Zfilter_avail(idn) <= 0) {
        this.close();
        fail("hdf5_filter_missing", `${name}: is compressed with the ${f} filter, which this libhdf5 lacks`);
      }
    }
    this.axes = s.axes;
    this.info = { ...info, shape: s.shape, dtype: info.dtype };
    const ftype = L.H5Dget_type(id);
    this.memType = L.H5Tget_native_type(ftype, H5T_DIR_ASCEND);
    this.storedAsInMemory = (h5storage()?.H5Tequal(ftype, this.memType) ?? 0) > 0;
    L.H5Tclose(ftype);
  }

  /** How the data is stored when its planes can be copied from the file as they are, else null. */
  private plainStorage(): { layout: "contiguous"; offset: number } | { layout: "chunked"; chunkZ: number } | null {
    if (this.plain !== undefined) return this.plain;
    this.plain = null;
    const L = h5();
    const S = h5storage();
    // filters change the bytes; a user block shifts addresses (not every libhdf5 adds it back)
    if (!S || !this.storedAsInMemory || this.info.filters?.length || this.file.superblockAt !== 0 || this.id < 0n) return null;
    const plist = L.H5Dget_create_plist(this.id);
    if (plist < 0n) return null;
    const layout = L.H5Pget_layout(plist);
    L.H5Pclose(plist);
    const zAxis = this.axes[0];
    if (layout === H5D_CONTIGUOUS) {
      // undefined when never written or stored in external files
      const off = BigInt(S.H5Dget_offset(this.id));
      if (off !== HADDR_UNDEF) this.plain = { layout: "contiguous", offset: Number(off) };
    } else if (layout === H5D_CHUNKED && this.info.chunks) {
      // only chunks of whole planes are whole byte ranges of the volume
      const c = this.info.chunks;
      if (this.info.dims.every((d, i) => i === zAxis || c[i] === d)) this.plain = { layout: "chunked", chunkZ: zAxis >= 0 ? c[zAxis]! : 1 };
    }
    return this.plain;
  }

  /**
   * Where planes [z0, z1) lie in the file when the file holds them as plain bytes in memory
   * order: [at, len, off] = `len` bytes for offset `at` of the caller's buffer are at file
   * offset `off`. Undefined when only the library can produce them (filters, a type to
   * convert, chunks that are not whole planes, chunks never written, a user block, external or
   * virtual storage, libhdf5 older than 1.10.5). With it a reader copies the bytes with the
   * kernel (sendfile into the shared segment) instead of through a mapping of fresh pages.
   */
  plainRanges(z0: number, z1: number): [number, number, number][] | undefined {
    const nz = this.info.shape[0];
    if (!Number.isInteger(z0) || !Number.isInteger(z1) || z0 < 0 || z1 > nz || z0 >= z1) return undefined;
    const st = this.plainStorage();
    if (!st) return undefined;
    const plane = this.bytesPerPlane;
    if (st.layout === "contiguous") return [[0, (z1 - z0) * plane, st.offset + z0 * plane]];
    const S = h5storage()!;
    const zAxis = this.axes[0];
    const coord = new BigUint64Array(this.info.dims.length);
    const mask = new Uint32Array(1);
    const addr = new BigUint64Array(1);
    const size = new BigUint64Array(1);
    const out: [number, number, number][] = [];
    const cz = st.chunkZ;
    for (let zc = Math.floor(z0 / cz) * cz; zc < z1; zc += cz) {
      if (zAxis >= 0) coord[zAxis] = BigInt(zc);
      addr[0] = HADDR_UNDEF;
      size[0] = 0n;
      mask[0] = 0;
      if (S.H5Dget_chunk_info_by_coord(this.id, ptr(coord), ptr(mask), ptr(addr), ptr(size)) < 0) return undefined;
      // a chunk never written reads as the fill value: the library knows it
      if (addr[0] === HADDR_UNDEF || mask[0] !== 0 || Number(size[0]) !== cz * plane) return undefined;
      const a = Math.max(z0, zc);
      const b = Math.min(z1, zc + cz);
      out.push([(a - z0) * plane, (b - a) * plane, Number(addr[0]) + (a - zc) * plane]);
    }
    return out;
  }

  get bytesPerPlane(): number {
    const [, ny, nx] = this.info.shape;
    return ny * nx * DTYPE_SIZE[this.info.dtype];
  }

  /**
   * Reads z planes [z0, z1) into `dst` (exactly (z1-z0) * y * x * itemsize bytes, C order,
   * native byte order). Blocks the calling thread while libhdf5 works.
   */
  readInto(dst: Uint8Array, z0 = 0, z1 = this.info.shape[0]): void {
    const L = h5();
    const name = `${this.file.name}:${this.info.path}`;
    const nz = this.info.shape[0];
    if (!Number.isInteger(z0) || !Number.isInteger(z1) || z0 < 0 || z1 > nz || z0 >= z1) {
      fail("bad_range", `${name}: z range [${z0}, ${z1}) is not inside [0, ${nz})`);
    }
    const want = (z1 - z0) * this.bytesPerPlane;
    if (dst.byteLength !== want) fail("bad_buffer", `${name}: the buffer has ${dst.byteLength} bytes, planes [${z0}, ${z1}) need ${want}`);
    if (this.id < 0n) fail("closed", `${name}: dataset is closed`);
    const rank = this.info.dims.length;
    const start = new BigUint64Array(rank);
    const count = new BigUint64Array(this.info.dims.map(BigInt));
    const zAxis = this.axes[0];
    if (zAxis >= 0) {
      start[zAxis] = BigInt(z0);
      count[zAxis] = BigInt(z1 - z0);
    }
    const fspace = L.H5Dget_space(this.id);
    const mspace = L.H5Screate_simple(rank, ptr(count), null);
    try {
      if (fspace < 0n || mspace < 0n) corrupt(name, "cannot make its dataspace");
      if (L.H5Sselect_hyperslab(fspace, H5S_SELECT_SET, ptr(start), null, ptr(count), null) < 0) corrupt(name, "cannot select the planes");
      if (L.H5Dread(this.id, this.memType, mspace, fspace, H5P_DEFAULT, ptr(dst)) < 0) {
        corrupt(name, "reading failed (the file is truncated or its data is corrupt)");
      }
    } finally {
      if (mspace >= 0n) L.H5Sclose(mspace);
      if (fspace >= 0n) L.H5Sclose(fspace);
    }
  }

  /** A numeric attribute of up to 64 values (as numbers), or a string attribute. */
  attribute(attr: string): number[] | string | undefined {
    const L = h5();
    const cname = Buffer.from(`${attr}\0`);
    if (L.H5Aexists(this.id, ptr(cname)) <= 0) return undefined;
    const a = L.H5Aopen(this.id, ptr(cname), H5P_DEFAULT);
    if (a < 0n) return undefined;
    const space = L.H5Aget_space(a);
    const ftype = L.H5Aget_type(a);
    try {
      const n = Number(L.H5Sget_simple_extent_npoints(space));
      const cls = L.H5Tget_class(ftype);
      if (cls === H5T_STRING && n === 1) {
        if (L.H5Tis_variable_str(ftype) > 0) {
          const p = new BigUint64Array(1);
          if (L.H5Aread(a, ftype, ptr(p)) < 0 || p[0] === 0n) return undefined;
          const s = new CString(Number(p[0]) as Pointer).toString();
          L.H5free_memory(Number(p[0]) as Pointer);
          return s.slice(0, 256);
        }
        const size = Number(L.H5Tget_size(ftype));
        if (size > 4096) return undefined;
        const buf = new Uint8Array(size + 1);
        if (L.H5Aread(a, ftype, ptr(buf)) < 0) return undefined;
        return new TextDecoder().decode(buf).replace(/\0.*$/s, "").slice(0, 256);
      }
      if ((cls !== H5T_INTEGER && cls !== H5T_FLOAT) || n < 1 || n > 64) return undefined;
      const mtype = L.H5Tget_native_type(ftype, H5T_DIR_ASCEND);
      try {
        const { dtype } = dtypeOf(L, mtype);
        const size = Number(L.H5Tget_size(mtype));
        const buf = new Uint8Array(n * size);
        if (L.H5Aread(a, mtype, ptr(buf)) < 0) return undefined;
        if (dtype) return Array.from(typedView(dtype, buf));
        if (cls === H5T_INTEGER && size === 8) return Array.from(new BigInt64Array(buf.buffer), Number);
        return undefined;
      } finally {
        L.H5Tclose(mtype);
      }
    } finally {
      L.H5Tclose(ftype);
      L.H5Sclose(space);
      L.H5Aclose(a);
    }
  }

  close(): void {
    if (this.id >= 0n) {
      const L = h5();
      L.H5Dclose(this.id);
      if (this.memType !== undefined && this.memType >= 0n) L.H5Tclose(this.memType);
      this.id = -1n;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export class Hdf5File implements Disposable {
  readonly name: string;
  private id: bigint;

  private constructor(
    readonly path: string,
    id: bigint,
    /** Byte offset of the HDF5 signature (above 0 after a user block). */
    readonly superblockAt: number,
  ) {
    this.name = baseName(path);
    this.id = id;
  }

  /**
   * The descriptor libhdf5 reads the file through (its default sec2 driver), checked to be the
   * file at `path`; undefined with another driver or when the path now names another file.
   * For copying plain data ranges with the kernel; it stays owned by libhdf5.
   */
  descriptor(): number | undefined {
    const S = h5storage();
    if (!S || this.id < 0n) return undefined;
    const handle = new BigUint64Array(1);
    if (S.H5Fget_vfd_handle(this.id, H5P_DEFAULT, ptr(handle)) < 0 || handle[0] === 0n) return undefined;
    const fd = read.i32(Number(handle[0]) as Pointer, 0);
    try {
      const a = fstatSync(fd);
      const b = statSync(this.path);
      return a.isFile() && a.dev === b.dev && a.ino === b.ino ? fd : undefined;
    } catch {
      return undefined;
    }
  }

  /** Opens read-only; checks that the file exists, is readable and looks like HDF5 first. */
  static open(path: string): Hdf5File {
    const name = baseName(path);
    let superblockAt = -1;
    {
      using f = FileReader.open(path);
      // the superblock may sit at 0, 512, 1024, 2048, ... (after a user block)
      for (let at = 0; at + 8 <= f.size && at <= 1 << 20; at = at === 0 ? 512 : at * 2) {
        if (isHdf5(f.read(at, 8))) {
          superblockAt = at;
          break;
        }
      }
      if (superblockAt < 0) corrupt(name, "not an HDF5 file (no HDF5 signature)");
    }
    const L = h5();
    const id = L.H5Fopen(ptr(Buffer.from(`${path}\0`)), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (id < 0n) corrupt(name, "libhdf5 cannot open it (truncated or corrupt HDF5 file)");
    return new Hdf5File(path, id, superblockAt);
  }

  private check(): bigint {
    if (this.id < 0n) fail("closed", `${this.name}: file is closed`);
    return this.id;
  }

  private describe(L: Lib, dset: bigint, path: string): Hdf5DatasetInfo {
    const space = L.H5Dget_space(dset);
    const type = L.H5Dget_type(dset);
    const plist = L.H5Dget_create_plist(dset);
    try {
      const dims = dimsOf(L, space);
      const native = L.H5Tget_native_type(type, H5T_DIR_ASCEND);
      const t = native >= 0n ? dtypeOf(L, native) : dtypeOf(L, type);
      if (native >= 0n) L.H5Tclose(native);
      const info: Hdf5DatasetInfo = { path, dims, type: t.text, ...(t.dtype ? { dtype: t.dtype } : {}) };
      if (dims.length > 0 && dims.every((d) => d > 0)) {
        try {
          const s = toShape3(path, dims);
          if (t.dtype) info.shape = s.shape;
        } catch {
          // more than three extents above 1: listed, but not a volume
        }
      }
      if (plist >= 0n && L.H5Pget_layout(plist) === H5D_CHUNKED && dims.length > 0) {
        const c = new BigUint64Array(dims.length);
        if (L.H5Pget_chunk(plist, dims.length, ptr(c)) > 0) info.chunks = Array.from(c, Number);
        const nf = L.H5Pget_nfilters(plist);
        const filters: string[] = [];
        const flags = new Uint32Array(1);
        const nelm = new BigUint64Array([0n]);
        const cfg = new Uint32Array(1);
        for (let i = 0; i < nf && i < 32; i++) {
          nelm[0] = 0n;
          const f = L.H5Pget_filter2(plist, i, ptr(flags), ptr(nelm), null, 0n, null, ptr(cfg));
          filters.push(FILTER_NAMES[f] ?? `filter ${f}`);
        }
        if (filters.length) info.filters = filters;
      }
      return info;
    } finally {
      if (plist >= 0n) L.H5Pclose(plist);
      L.H5Tclose(type);
      L.H5Sclose(space);
    }
  }

  /** Opens a dataset by its path inside the file ("/entry/data/data" or "entry/data/data"). */
  dataset(path: string): Hdf5Dataset {
    const L = h5();
    const fid = this.check();
    const p = path.startsWith("/") ? path : `/${path}`;
    if (p.length > 4096 || p.includes("\0")) fail("bad_dataset", `${this.name}: dataset path is not valid`);
    const id = L.H5Dopen2(fid, ptr(Buffer.from(`${p}\0`)), H5P_DEFAULT);
    if (id < 0n) fail("not_found", `${this.name}: has no dataset '${p.slice(0, 200)}'`, undefined);
    let info: Hdf5DatasetInfo;
    try {
      info = this.describe(L, id, p);
    } catch (e) {
      L.H5Dclose(id);
      throw e;
    }
    return new Hdf5Dataset(this, id, info);
  }

  /** Every dataset reachable through hard links (at most `max`), with shape, type, chunks, filters. */
  list(max = 10_000): Hdf5DatasetInfo[] {
    const L = h5();
    const fid = this.check();
    const names: string[] = [];
    const cb = new JSCallback(
      (_group: bigint, name: Pointer, info: Pointer) => {
        if (read.i32(info, 0) === H5L_TYPE_HARD) names.push(new CString(name).toString());
        return names.length >= 100_000 ? 1 : 0;
      },
      { args: ["i64", "ptr", "ptr", "ptr"], returns: "i32" },
    );
    try {
      if (L.H5Lvisit(fid, H5_INDEX_NAME, H5_ITER_INC, cb.ptr!, null) < 0) corrupt(this.name, "cannot list its contents");
    } finally {
      cb.close();
    }
    const out: Hdf5DatasetInfo[] = [];
    for (const n of names) {
      if (out.length >= max) break;
      const cname = Buffer.from(`/${n}\0`);
      const oid = L.H5Oopen(fid, ptr(cname), H5P_DEFAULT);
      if (oid < 0n) continue;
      try {
        if (L.H5Iget_type(oid) !== H5I_DATASET) continue;
        out.push(this.describe(L, oid, `/${n}`));
      } finally {
        L.H5Oclose(oid);
      }
    }
    return out;
  }

  close(): void {
    if (this.id >= 0n) {
      h5().H5Fclose(this.id);
      this.id = -1n;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Candidates tried, in order, when no dataset is named. */
const DEFAULT_DATASETS = ["/entry/data/data", "/entry/instrument/detector/data", "/exchange/data", "/data", "/volume"];

/** The dataset to read when none is named: a usual NeXus/tomography path, or the only volume. */
export function defaultDataset(file: Hdf5File): string {
  const list = file.list();
  const volumes = list.filter((d) => d.shape && d.dims.filter((x) => x > 1).length >= 2);
  for (const d of DEFAULT_DATASETS) if (volumes.some((v) => v.path === d)) return d;
  if (volumes.length === 1) return volumes[0]!.path;
  const threeD = volumes.filter((d) => d.dims.filter((x) => x > 1).length === 3);
  if (threeD.length === 1) return threeD[0]!.path;
  if (volumes.length === 0) fail("not_found", `${file.name}: has no dataset that is a 2D or 3D array of a supported type`);
  const some = volumes
    .slice(0, 8)
    .map((v) => `${v.path} (${formatShape(v.dims)} ${v.type})`)
    .join(", ");
  fail("dataset_required", `${file.name}: has ${volumes.length} volumes; name one as FILE:DATASET, e.g. ${some}`);
}

export interface Hdf5Options extends ReadLimits {
  /** Dataset path inside the file; default: see defaultDataset. */
  dataset?: string;
  /** Only planes [z0, z1) of the first axis. */
  z0?: number;
  z1?: number;
}

/** Reads a dataset (or a slab of it) as a volume. */

/** Voxel size and unit from a dataset's attributes: `spacing` (mm), else NeXus-style
 *  `element_size_um`, and `units`/`unit`; [1, 1, 1] mm without them. */
export function spacingOf(ds: { attribute(name: string): unknown }): { spacing: Vec3; unit: string } {
  let spacing: Vec3 = [1, 1, 1];
  let unit = "mm";
  const sp = ds.attribute("spacing");
  const um = ds.attribute("element_size_um");
  if (Array.isArray(sp) && sp.length === 3 && sp.every((s) => s > 0)) spacing = sp as Vec3;
  else if (Array.isArray(um) && um.length === 3 && um.every((s) => s > 0)) {
    spacing = um as Vec3;
    unit = "um";
  }
  const units = ds.attribute("units") ?? ds.attribute("unit");
  if (typeof units === "string" && units && !Array.isArray(um)) unit = units === "micron" ? "um" : units.slice(0, 16);
  return { spacing, unit };
}

export function readHdf5(path: string, opts: Hdf5Options = {}): Volume {
  using file = Hdf5File.open(path);
  const dsPath = opts.dataset ?? defaultDataset(file);
  using ds = file.dataset(dsPath);
  const { shape, dtype } = ds.info;
  const z0 = opts.z0 ?? 0;
  const z1 = opts.z1 ?? shape[0];
  const outShape: Vec3 = [z1 - z0, shape[1], shape[2]];
  const name = `${file.name}:${ds.info.path}`;
  if (!(z0 >= 0 && z1 <= shape[0] && z0 < z1)) fail("bad_range", `${name}: z range [${z0}, ${z1}) is not inside [0, ${shape[0]})`);
  const bytes = checkedBytes(name, outShape, DTYPE_SIZE[dtype], opts);
  const buf = allocate(name, bytes);
  ds.readInto(buf, z0, z1);
  const { spacing, unit } = spacingOf(ds);
  const meta: Record<string, unknown> = { dataset: ds.info.path, dims: ds.info.dims };
  if (ds.info.chunks) meta.chunks = ds.info.chunks;
  if (ds.info.filters) meta.filters = ds.info.filters;
  if (z0 !== 0 || z1 !== shape[0]) meta.zRange = [z0, z1];
  const window = ds.attribute("window");
  if (Array.isArray(window)) meta.window = window;
  return {
    kind: "volume",
    data: typedView(dtype, buf),
    shape: outShape,
    dtype,
    order: "C",
    spacing,
    unit,
    name,
    format: "hdf5",
    meta,
  };
}

/** The datasets of a file, for `remotevis info` and the file browser. */
export function listHdf5(path: string, max?: number): Hdf5DatasetInfo[] {
  using file = Hdf5File.open(path);
  return file.list(max);
}
