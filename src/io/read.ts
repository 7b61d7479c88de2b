/**
 * SSC-IO parallel read: a dataset of an HDF5 file read by N worker processes, each taking z
 * slabs (hyperslabs) straight into one shared-memory segment; the segment's mapping *is* the
 * volume (no copy afterwards; the instance hands it to the renderer, which borrows it).
 *
 * Slabs are aligned to the dataset's chunks along z, so no chunk is read (and decompressed)
 * twice; each slab is a whole number of chunk rows, sized so that every worker gets several
 * (dynamic balance) and each is large enough that per-call overhead does not matter.
 * Contiguous datasets are split into slabs of about SLAB_TARGET bytes.
 *
 * Data the file stores plainly (no filters, no type conversion, whole-plane chunks or
 * contiguous) is copied by the kernel from the file into the segment (kernel-copy.ts: no page
 * faults on the fresh memory); the rest goes through H5Dread into the mapping. The segment is
 * one file per slab (shm.ts parts): the kernel lets one writer at a time into a file. How many
 * processes: every core up to 16 for both (PLAIN_READ_PROCS, measured); filtered data is
 * bound by decompression.
 */
import { Hdf5File, defaultDataset, spacingOf } from "../formats/hdf5.ts";
import { DTYPE_SIZE, type ReadLimits, type Vec3, type Volume, checkedBytes, fail, toShape3, typedView } from "../formats/types.ts";
import { runJobs, type PoolOptions } from "./pool.ts";
import { SharedSegment } from "./shm.ts";
import type { ReadVia } from "./worker.ts";

/** Aim for slabs of about this many bytes (and at least 4 slabs per process). */
export const SLAB_TARGET = 64 * 2 ** 20;
/** Without an explicit `procs`, datasets below this are read in this process (starting workers costs more). */
export const SMALL_DATASET = 32 * 2 ** 20;
/**
 * Default processes for plain (unfiltered) data. Measured (bench/RESULTS.md, 4 GiB, 16-core
 * H200 host, 2026-11-30): with the kernel copy into one memfd per slab the rate rises to 14-16
 * processes (2.5 GB/s for 1, 13.4 for 8, 20.6 for 14, 20.1 for 16); H5Dread into one shared file
 * peaked at 6-7 (5.3 GB/s). So: every core, up to 16.
 */
export const PLAIN_READ_PROCS = 16;

export interface ParallelReadOptions extends ReadLimits, PoolOptions {
  dataset?: string;
  /** Worker processes (default: readProcs(); datasets below SMALL_DATASET: none). */
  procs?: number;
  /** How workers read (default "auto": the kernel copies plain data; "h5dread": always libhdf5, for comparison). */
  via?: ReadVia;
  /** The fresh segment as one file per slab (default) or one file (the comparison in bench io). */
  parts?: "slabs" | "one";
  /** Planes done so far, of `total`. */
  onProgress?: (planesDone: number, total: number, bytesDone: number, bytesTotal: number) => void;
  /** Slab height in planes (default: chosen from the chunks; tests use odd ones). */
  slabPlanes?: number;
  /** Keep the segment's descriptor open (returned as `segment`) to hand it to more workers. */
  keepSegment?: boolean;
  /** Read into this segment (exactly the dataset's size; stays open) instead of a fresh one. */
  into?: SharedSegment;
}

export interface ParallelRead {
  volume: Volume;
  /** The segment behind volume.data (its fd is closed already; the mapping lives with the data). */
  bytes: Uint8Array;
  procs: number;
  slabs: [number, number][];
  /** Slabs the kernel copied (the rest went through H5Dread). */
  kernelSlabs: number;
  ms: number;
  /** With keepSegment: the open segment (close it when done). */
  segment?: SharedSegment;
}

export interface Plan {
  dataset: string;
  shape: Vec3;
  dims: number[];
  dtype: Volume["dtype"];
  chunkZ: number;
  slabs: [number, number][];
  /** Processes the slabs were planned for (the given procs or readProcs()). */
  procs: number;
  spacing: Vec3;
  unit: string;
  meta: Record<string, unknown>;
  name: string;
}

export function defaultProcs(): number {
  return Math.max(1, Math.min(16, navigator.hardwareConcurrency || 1));
}

/** Default processes for a read: every core (up to 16) to decompress, at most PLAIN_READ_PROCS to copy. */
export function readProcs(filtered: boolean): number {
  return filtered ? defaultProcs() : Math.min(defaultProcs(), PLAIN_READ_PROCS);
}

/** Slabs [z0, z1) covering [0, nz): multiples of `chunkZ` planes (the last may be short). */
export function planSlabs(nz: number, chunkZ: number, planeBytes: number, procs: number, slabPlanes?: number): [number, number][] {
  let step: number;
  if (slabPlanes) step = slabPlanes;
  else {
    const rowBytes = chunkZ * planeBytes;
    const rows = Math.ceil(nz / chunkZ);
    // enough rows per slab to reach the byte target, but at least 4 slabs per process when there are rows for it
    const byTarget = Math.max(1, Math.floor(SLAB_TARGET / rowBytes));
    const byBalance = Math.max(1, Math.floor(rows / (procs * 4)));
    step = Math.min(byTarget, byBalance) * chunkZ;
  }
  const out: [number, number][] = [];
  for (let z = 0; z < nz; z += step) out.push([z, Math.min(nz, z + step)]);
  return out;
}

/** A fresh segment for a planned read: one file per slab (see shm.ts), or one file. */
export function segmentFor(plan: Plan, parts: "slabs" | "one" = "slabs"): SharedSegment {
  const plane = plan.shape[1] * plan.shape[2] * DTYPE_SIZE[plan.dtype];
  return SharedSegment.create(plan.shape[0] * plane, undefined, parts === "slabs" ? { splitAt: plan.slabs.map(([z0]) => z0 * plane) } : {});
}

/** Opens the file once (in this process) to plan: shape, type, chunks, spacing. */
export function planRead(path: string, o: { dataset?: string; procs?: number; slabPlanes?: number } & ReadLimits = {}): Plan {
  using file = Hdf5File.open(path);
  const dsPath = o.dataset ?? defaultDataset(file);
  using ds = file.dataset(dsPath);
  const { shape, dtype, dims, chunks } = ds.info;
  const name = `${file.name}:${ds.info.path}`;
  checkedBytes(name, shape, DTYPE_SIZE[dtype], o);
  const zAxis = toShape3(name, dims).axes[0];
  const chunkZ = chunks && zAxis >= 0 ? chunks[zAxis]! : 1;
  const planeBytes = ds.bytesPerPlane;
  const procs = Math.max(1, Math.floor(o.procs ?? readProcs(!!ds.info.filters?.length)));
  const slabs = planSlabs(shape[0], o.slabPlanes ? 1 : chunks ? chunkZ : 1, planeBytes, procs, o.slabPlanes);
  const { spacing, unit } = spacingOf(ds); // as readHdf5
  const meta: Record<string, unknown> = { dataset: ds.info.path, dims };
  if (chunks) meta.chunks = chunks;
  if (ds.info.filters) meta.filters = ds.info.filters;
  const window = ds.attribute("window");
  if (Array.isArray(window)) meta.window = window;
  return { dataset: ds.info.path, shape, dims, dtype, chunkZ, slabs, procs, spacing, unit, meta, name };
}

/** Reads a dataset with `procs` worker processes into one shared segment. */
export async function readParallel(path: string, o: ParallelReadOptions = {}): Promise<ParallelRead> {
  const t0 = performance.now();
  const plan = planRead(path, o);
  let procs = plan.procs;
  const [nz, ny, nx] = plan.shape;
  const plane = ny * nx * DTYPE_SIZE[plan.dtype];
  const total = nz * plane;
  if (o.into && o.into.size !== total) fail("bad_buffer", `the segment has ${o.into.size} bytes, the dataset ${total}`);
  const inProcess = o.procs === undefined && total < SMALL_DATASET;
  const seg = o.into ?? segmentFor(plan, inProcess ? "one" : (o.parts ?? "slabs"));
  let kernelSlabs = 0;
  try {
    let planes = 0;
    o.onProgress?.(0, nz, 0, total);
    if (inProcess) {
      procs = 0;
      using file = Hdf5File.open(path);
      using ds = file.dataset(plan.dataset);
      for (const [z0, z1] of plan.slabs) {
        ds.readInto(seg.bytes.subarray(z0 * plane, z1 * plane), z0, z1);
        planes += z1 - z0;
        o.onProgress?.(planes, nz, planes * plane, total);
      }
    } else {
      await runJobs(
        seg,
        procs,
        plan.slabs.map(([z0, z1]) => ({ op: "read", file: path, dataset: plan.dataset, z0, z1, at: z0 * plane, ...(o.via ? { via: o.via } : {}) })),
        (i, reply) => {
          if (reply.via === "kernel") kernelSlabs++;
          const [z0, z1] = plan.slabs[i]!;
          planes += z1 - z0;
          o.onProgress?.(planes, nz, planes * plane, total);
        },
        o,
      );
    }
  } catch (err) {
    if (!o.into) seg.close();
    throw err;
  }
  if (!o.keepSegment && !o.into) seg.close();
  if (seg.bytes.byteLength !== total) fail("io_error", "shared segment has the wrong size");
  const volume: Volume = {
    kind: "volume",
    data: typedView(plan.dtype, seg.bytes),
    shape: plan.shape,
    dtype: plan.dtype,
    order: "C",
    spacing: plan.spacing,
    unit: plan.unit,
    name: plan.name,
    format: "hdf5",
    meta: { ...plan.meta, ssc_io: { procs: Math.min(procs, plan.slabs.length), slabs: plan.slabs.length, kernelSlabs } },
  };
  // procs 0: read in this process (small dataset)
  return { volume, bytes: seg.bytes, procs: Math.min(procs, plan.slabs.length), slabs: plan.slabs, kernelSlabs, ms: performance.now() - t0, ...(o.keepSegment ? { segment: seg } : {}) };
}
