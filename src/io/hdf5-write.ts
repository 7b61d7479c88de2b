/**
 * Writing HDF5 through the same libhdf5 that src/formats/hdf5.ts reads with (its write calls,
 * loaded here so the reader stays small). Three things SSC-IO needs:
 *
 *   - a dataset written by one process (`Hdf5Writer.create` + `write`), chunked and optionally
 *     shuffle+gzip compressed, or contiguous;
 *   - a dataset *preallocated* in the file (H5D_ALLOC_TIME_EARLY, no fill) whose raw bytes sit
 *     at known file offsets (`rawExtents`): contiguous = one range, chunked (no filters) = one
 *     range per chunk. After the file is closed, worker processes pwrite disjoint ranges into
 *     it; no process but the creator ever calls libhdf5 on that file, so HDF5's lack of
 *     multi-writer support does not matter;
 *   - a virtual dataset (H5Pset_virtual) that joins per-process part files along z.
 *
 * Predefined type and property-list ids are library globals (H5T_NATIVE_SHORT_g, ...); they are
 * read through dlsym after H5open. Failures are RemoteVisErrors (`write_failed`).
 */
import { dlopen, ptr, read, type Pointer } from "bun:ffi";
import { RemoteVisError } from "../errors.ts";
import { hdf5Library } from "../formats/hdf5.ts";
import { DTYPE_SIZE, type Dtype, type Vec3 } from "../formats/types.ts";

const symbols = {
  H5open: { args: [], returns: "i32" },
  H5Fcreate: { args: ["ptr", "u32", "i64", "i64"], returns: "i64" },
  H5Fclose: { args: ["i64"], returns: "i32" },
  H5Screate_simple: { args: ["i32", "ptr", "ptr"], returns: "i64" },
  H5Sselect_hyperslab: { args: ["i64", "i32", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
  H5Sclose: { args: ["i64"], returns: "i32" },
  H5Pcreate: { args: ["i64"], returns: "i64" },
  H5Pclose: { args: ["i64"], returns: "i32" },
  H5Pset_chunk: { args: ["i64", "i32", "ptr"], returns: "i32" },
  H5Pset_deflate: { args: ["i64", "u32"], returns: "i32" },
  H5Pset_shuffle: { args: ["i64"], returns: "i32" },
  H5Pset_alloc_time: { args: ["i64", "i32"], returns: "i32" },
  H5Pset_fill_time: { args: ["i64", "i32"], returns: "i32" },
  H5Pset_virtual: { args: ["i64", "i64", "ptr", "ptr", "i64"], returns: "i32" },
  H5Pset_create_intermediate_group: { args: ["i64", "u32"], returns: "i32" },
  H5Dcreate2: { args: ["i64", "ptr", "i64", "i64", "i64", "i64", "i64"], returns: "i64" },
  H5Dwrite: { args: ["i64", "i64", "i64", "i64", "i64", "ptr"], returns: "i32" },
  H5Dclose: { args: ["i64"], returns: "i32" },
  H5Dget_offset: { args: ["i64"], returns: "u64" },
  H5Dget_space: { args: ["i64"], returns: "i64" },
  H5Dget_num_chunks: { args: ["i64", "i64", "ptr"], returns: "i32" },
  H5Dget_chunk_info: { args: ["i64", "i64", "u64", "ptr", "ptr", "ptr", "ptr"], returns: "i32" },
  H5Acreate2: { args: ["i64", "ptr", "i64", "i64", "i64", "i64"], returns: "i64" },
  H5Awrite: { args: ["i64", "i64", "ptr"], returns: "i32" },
  H5Aclose: { args: ["i64"], returns: "i32" },
} as const;

type Lib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

const H5F_ACC_TRUNC = 2;
const H5F_ACC_EXCL = 4;
const H5P_DEFAULT = 0n;
const H5S_ALL = 0n;
const H5S_SELECT_SET = 0;
const H5D_ALLOC_TIME_EARLY = 1;
const H5D_FILL_TIME_NEVER = 1;
const HADDR_UNDEF = 0xffffffffffffffffn;

const NATIVE: Record<Dtype, string> = {
  u8: "H5T_NATIVE_UCHAR_g",
  i8: "H5T_NATIVE_SCHAR_g",
  u16: "H5T_NATIVE_USHORT_g",
  i16: "H5T_NATIVE_SHORT_g",
  u32: "H5T_NATIVE_UINT_g",
  i32: "H5T_NATIVE_INT_g",
  f32: "H5T_NATIVE_FLOAT_g",
  f64: "H5T_NATIVE_DOUBLE_g",
};

let lib: Lib | undefined;
let globals: ((name: string) => bigint) | undefined;

function h5w(): { L: Lib; g: (name: string) => bigint } {
  if (!lib) {
    const soname = hdf5Library(); // loads (or explains the absence of) libhdf5
    lib = dlopen(soname, symbols).symbols;
    lib.H5open();
    const c = dlopen("libc.so.6", { dlopen: { args: ["ptr", "i32"], returns: "ptr" }, dlsym: { args: ["ptr", "ptr"], returns: "ptr" } }).symbols;
    const handle = c.dlopen(Buffer.from(`${soname}\0`), 2 /* RTLD_NOW */);
    globals = (name: string) => {
      const p = handle ? c.dlsym(handle, Buffer.from(`${name}\0`)) : null;
      if (!p) throw new RemoteVisError("hdf5_unavailable", `libhdf5 lacks ${name}`, 500);
      return read.i64(p as Pointer, 0);
    };
  }
  return { L: lib, g: globals! };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new RemoteVisError("write_failed", `HDF5: ${what} failed`, 500);
}

const dims = (a: readonly number[]) => new BigUint64Array(a.map(BigInt));

export interface CreateSpec {
  /** File to create (an existing file is replaced unless `exclusive`). */
  path: string;
  /** Dataset path inside the file; intermediate groups are made. */
  dataset: string;
  shape: Vec3;
  dtype: Dtype;
  /** Chunk shape [z, y, x]; none = contiguous. */
  chunks?: Vec3;
  /** gzip level 1..9 (with shuffle); chunked only. */
  gzip?: number;
  /** Allocate all raw storage now and never write fill values (for pwrite by other processes). */
  preallocate?: boolean;
  /** Join these files' datasets along z into a virtual dataset instead of storing data. */
  sources?: { file: string; dataset: string; z0: number; z1: number }[];
  spacing?: Vec3;
  exclusive?: boolean;
}

/** A byte range of the file holding raw data: the chunk at `lo` [z, y, x] (or all of a contiguous dataset). */
export interface RawExtent {
  lo: Vec3;
  addr: number;
  size: number;
}

export class Hdf5Writer implements Disposable {
  private file: bigint;
  private dset: bigint;

  private constructor(
    readonly spec: CreateSpec,
    file: bigint,
    dset: bigint,
  ) {
    this.file = file;
    this.dset = dset;
  }

  static create(spec: CreateSpec): Hdf5Writer {
    const { L, g } = h5w();
    const name = spec.path.slice(spec.path.lastIndexOf("/") + 1);
    const file = L.H5Fcreate(ptr(Buffer.from(`${spec.path}\0`)), spec.exclusive ? H5F_ACC_EXCL : H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0n) throw new RemoteVisError("write_failed", `${name}: cannot create it (exists, or no permission)`, 400);
    const type = g(NATIVE[spec.dtype]);
    const space = L.H5Screate_simple(3, ptr(dims(spec.shape)), null);
    const dcpl = L.H5Pcreate(g("H5P_CLS_DATASET_CREATE_ID_g"));
    const lcpl = L.H5Pcreate(g("H5P_CLS_LINK_CREATE_ID_g"));
    let dset = -1n;
    try {
      check(space >= 0n && dcpl >= 0n && lcpl >= 0n, "making the dataspace");
      L.H5Pset_create_intermediate_group(lcpl, 1);
      if (spec.sources) {
        for (const s of spec.sources) {
          const count = dims([s.z1 - s.z0, spec.shape[1], spec.shape[2]]);
          const src = L.H5Screate_simple(3, ptr(count), null);
          const vspace = L.H5Screate_simple(3, ptr(dims(spec.shape)), null);
          try {
            check(L.H5Sselect_hyperslab(vspace, H5S_SELECT_SET, ptr(dims([s.z0, 0, 0])), null, ptr(count), null) >= 0, "selecting a virtual slab");
            check(L.H5Pset_virtual(dcpl, vspace, ptr(Buffer.from(`${s.file}\0`)), ptr(Buffer.from(`${s.dataset}\0`)), src) >= 0, "H5Pset_virtual");
          } finally {
            L.H5Sclose(src);
            L.H5Sclose(vspace);
          }
        }
      } else if (spec.chunks) {
        const c = spec.chunks.map((x, k) => Math.max(1, Math.min(x, spec.shape[k]!)));
        check(L.H5Pset_chunk(dcpl, 3, ptr(dims(c))) >= 0, "H5Pset_chunk");
        if (spec.gzip) {
          check(L.H5Pset_shuffle(dcpl) >= 0, "H5Pset_shuffle");
          check(L.H5Pset_deflate(dcpl, spec.gzip) >= 0, "H5Pset_deflate");
        }
      }
      if (spec.preallocate) {
        if (spec.gzip) throw new RemoteVisError("usage", "a compressed dataset cannot be preallocated for parallel writes", 400);
        check(L.H5Pset_alloc_time(dcpl, H5D_ALLOC_TIME_EARLY) >= 0, "H5Pset_alloc_time");
        check(L.H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0, "H5Pset_fill_time");
      }
      const dpath = spec.dataset.startsWith("/") ? spec.dataset : `/${spec.dataset}`;
      dset = L.H5Dcreate2(file, ptr(Buffer.from(`${dpath}\0`)), type, space, lcpl, dcpl, H5P_DEFAULT);
      check(dset >= 0n, `creating dataset ${dpath.slice(0, 200)}`);
      if (spec.spacing) {
        const aspace = L.H5Screate_simple(1, ptr(dims([3])), null);
        const a = L.H5Acreate2(dset, ptr(Buffer.from("spacing\0")), g("H5T_NATIVE_DOUBLE_g"), aspace, H5P_DEFAULT, H5P_DEFAULT);
        if (a >= 0n) {
          L.H5Awrite(a, g("H5T_NATIVE_DOUBLE_g"), ptr(new Float64Array(spec.spacing)));
          L.H5Aclose(a);
        }
        L.H5Sclose(aspace);
      }
    } catch (err) {
      if (dset >= 0n) L.H5Dclose(dset);
      L.H5Fclose(file);
      throw err;
    } finally {
      if (lcpl >= 0n) L.H5Pclose(lcpl);
      if (dcpl >= 0n) L.H5Pclose(dcpl);
      if (space >= 0n) L.H5Sclose(space);
    }
    return new Hdf5Writer(spec, file, dset);
  }

  get bytesPerPlane(): number {
    return this.spec.shape[1] * this.spec.shape[2] * DTYPE_SIZE[this.spec.dtype];
  }

  /** Writes planes [z0, z1) from `src` (exactly that many planes, C order). */
  write(src: Uint8Array, z0 = 0, z1 = this.spec.shape[0]): void {
    const { L, g } = h5w();
    if (src.byteLength !== (z1 - z0) * this.bytesPerPlane) throw new RemoteVisError("bad_buffer", `planes [${z0}, ${z1}) need ${(z1 - z0) * this.bytesPerPlane} bytes, got ${src.byteLength}`, 500);
    const count = dims([z1 - z0, this.spec.shape[1], this.spec.shape[2]]);
    const fspace = L.H5Dget_space(this.dset);
    const mspace = L.H5Screate_simple(3, ptr(count), null);
    try {
      check(L.H5Sselect_hyperslab(fspace, H5S_SELECT_SET, ptr(dims([z0, 0, 0])), null, ptr(count), null) >= 0, "selecting planes");
      check(L.H5Dwrite(this.dset, g(NATIVE[this.spec.dtype]), mspace, fspace, H5P_DEFAULT, ptr(src)) >= 0, "H5Dwrite");
    } finally {
      L.H5Sclose(mspace);
      L.H5Sclose(fspace);
    }
  }

  /** Where the raw data lies in the file (preallocated, unfiltered datasets only). */
  rawExtents(): RawExtent[] {
    const { L } = h5w();
    const { shape, dtype, chunks } = this.spec;
    if (!chunks) {
      const off = L.H5Dget_offset(this.dset);
      check(BigInt(off) !== HADDR_UNDEF, "H5Dget_offset (storage not allocated)");
      return [{ lo: [0, 0, 0], addr: Number(off), size: shape[0] * shape[1] * shape[2] * DTYPE_SIZE[dtype] }];
    }
    const space = L.H5Dget_space(this.dset);
    try {
      const n = new BigUint64Array(1);
      check(L.H5Dget_num_chunks(this.dset, space, ptr(n)) >= 0, "H5Dget_num_chunks");
      const out: RawExtent[] = [];
      const offset = new BigUint64Array(3);
      const mask = new Uint32Array(1);
      const addr = new BigUint64Array(1);
      const size = new BigUint64Array(1);
      for (let i = 0n; i < n[0]!; i++) {
        check(L.H5Dget_chunk_info(this.dset, space, i, ptr(offset), ptr(mask), ptr(addr), ptr(size)) >= 0, "H5Dget_chunk_info");
        out.push({ lo: Array.from(offset, Number) as Vec3, addr: Number(addr[0]), size: Number(size[0]) });
      }
      return out;
    } finally {
      L.H5Sclose(space);
    }
  }

  close(): void {
    if (this.file >= 0n) {
      const { L } = h5w();
      if (this.dset >= 0n) L.H5Dclose(this.dset);
      const rc = L.H5Fclose(this.file);
      this.dset = -1n;
      this.file = -1n;
      check(rc >= 0, "closing the file");
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** Copies the chunk at `lo` (full chunk extent `c`, clipped at the volume's edges) out of a C-order volume. */
export function gatherChunk(vol: Uint8Array, shape: Vec3, item: number, lo: Vec3, c: Vec3, out: Uint8Array): void {
  const [, ny, nx] = shape;
  const rowBytes = Math.min(c[2], nx - lo[2]) * item;
  if (rowBytes === c[2] * item && c[1] >= ny && lo[1] === 0 && lo[2] === 0) {
    // whole planes: one contiguous range
    const planes = Math.min(c[0], shape[0] - lo[0]);
    out.set(vol.subarray(lo[0] * ny * nx * item, (lo[0] + planes) * ny * nx * item));
    return;
  }
  for (let z = 0; z < c[0] && lo[0] + z < shape[0]; z++)
    for (let y = 0; y < c[1] && lo[1] + y < ny; y++) {
      const s = (((lo[0] + z) * ny + lo[1] + y) * nx + lo[2]) * item;
      out.set(vol.subarray(s, s + rowBytes), (z * c[1] + y) * c[2] * item);
    }
}

/** How many chunks of shape `c` cover `shape`. */
export function chunkCount(shape: Vec3, c: Vec3): number {
  return Math.ceil(shape[0] / c[0]) * Math.ceil(shape[1] / c[1]) * Math.ceil(shape[2] / c[2]);
}
