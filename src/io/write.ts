/**
 * SSC-IO parallel write: a volume in a shared segment written to an HDF5 dataset by N worker
 * processes. HDF5 without MPI must never have two processes writing one file through the
 * library, so there are three ways, chosen by `method` (numbers in docs/ssc-io.md):
 *
 *   prealloc  this process creates the dataset with all raw storage allocated up front (no fill
 *             values, no filters) and closes the file; workers then pwrite disjoint byte
 *             ranges into it (contiguous: slabs of planes; chunked: whole chunks, gathered
 *             from the segment). The file is an ordinary HDF5 file. For parallel file systems.
 *   vds       each worker writes its slab as its own HDF5 file (OUT.parts/pK.h5, compressed if
 *             asked); OUT.h5 holds a virtual dataset joining them along z. The only parallel
 *             way for compressed output. `auto` with --gzip and several processes.
 *   single    one H5Dwrite in this process (any layout and filter). `auto` otherwise: fastest
 *             uncompressed in the measurements (memory-bound; see chooseMethod).
 */
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { DTYPE_SIZE, type Dtype, type Vec3 } from "../formats/types.ts";
import { Hdf5Writer, chunkCount } from "./hdf5-write.ts";
import { runJobs, type PoolOptions } from "./pool.ts";
import { defaultProcs, planSlabs } from "./read.ts";
import type { SharedSegment } from "./shm.ts";

export type WriteMethod = "auto" | "single" | "prealloc" | "vds";

export interface WriteOptions extends PoolOptions {
  dataset?: string;
  procs?: number;
  /** Chunk shape [z, y, x]; default contiguous (prealloc/single) or whole-plane slabs (vds). */
  chunks?: Vec3;
  gzip?: number;
  method?: WriteMethod;
  spacing?: Vec3;
  onProgress?: (planesDone: number, total: number, bytesDone: number, bytesTotal: number) => void;
}

export interface WriteResult {
  method: Exclude<WriteMethod, "auto">;
  procs: number;
  files: string[];
  ms: number;
}

/**
 * The method `auto` stands for, by measurement (docs/ssc-io.md): uncompressed writes are bound
 * by memory bandwidth and the file's inode lock (buffered writes to one file serialize on local
 * file systems), and one H5Dwrite was fastest; compression is CPU-bound and scales with
 * processes writing their own part files.
 */
export function chooseMethod(o: { gzip?: number; procs: number }): Exclude<WriteMethod, "auto"> {
  return o.gzip && o.procs > 1 ? "vds" : "single";
}

/** Free bytes for this user in the folder of `path` (Infinity when it cannot be told). */
function freeBytes(path: string): number {
  try {
    const st = statfsSync(dirname(path) || ".");
    return Number(st.bavail) * Number(st.bsize);
  } catch {
    return Infinity; // the folder's own error comes with the create
  }
}

/**
 * Writes the volume, and leaves no half-written file behind and an earlier file of that name
 * as it was (writeReplacing). A disk without room for the volume is refused before the first
 * byte; one that fills up meanwhile is named as the reason.
 */
export async function writeParallel(seg: SharedSegment, shape: Vec3, dtype: Dtype, out: string, o: WriteOptions = {}): Promise<WriteResult> {
  // the volume plus room for HDF5's own structures
  return writeReplacing(out, seg.size + (1 << 20), (staging) => writeUnchecked(seg, shape, dtype, out, staging, o));
}

/**
 * Writes OUT through `write(staging)`: everything goes under a staging name in the same folder
 * and is renamed over OUT (and OUT.parts) only once complete. A write that fails (disk full, a
 * worker that dies) removes what it wrote, so nobody later reads a partial file as a whole one,
 * and an earlier OUT stays as it was. `need` bytes must be free before it starts.
 */
export async function writeReplacing<T>(out: string, need: number, write: (staging: string) => T | Promise<T>): Promise<T> {
  const free = freeBytes(out);
  if (free < need)
    throw new RemoteVisError("no_space", `not enough free space for ${basename(out)}: it needs about ${need} bytes, the disk has ${free}`, 507, { need, free });
  const staging = join(dirname(out), `.${basename(out)}.writing-${process.pid}`);
  try {
    const r = await write(staging);
    // The parts first (the new virtual file names them by their final folder), then the file.
    if (existsSync(`${staging}.parts`)) {
      rmSync(`${out}.parts`, { recursive: true, force: true });
      renameSync(`${staging}.parts`, `${out}.parts`);
    }
    renameSync(staging, out);
    return r;
  } catch (err) {
    const left = freeBytes(out);
    rmSync(staging, { force: true });
    rmSync(`${staging}.parts`, { recursive: true, force: true });
    if (left < 1 << 20)
      throw new RemoteVisError("no_space", `the disk became full while writing ${basename(out)} (${left} bytes free); nothing was written${existsSync(out) ? `, the earlier ${basename(out)} is unchanged` : ""}`, 507, {
        free: left,
        cause: err instanceof Error ? err.message : String(err),
      });
    throw err;
  }
}

/** Writes the volume to `staging` (+ `staging`.parts); the result names the final paths under `out`. */
async function writeUnchecked(seg: SharedSegment, shape: Vec3, dtype: Dtype, out: string, staging: string, o: WriteOptions): Promise<WriteResult> {
  const t0 = performance.now();
  const procs = Math.max(1, Math.floor(o.procs ?? defaultProcs()));
  const method = o.method && o.method !== "auto" ? o.method : chooseMethod({ gzip: o.gzip, procs });
  const dataset = o.dataset ?? "/data";
  const item = DTYPE_SIZE[dtype];
  const plane = shape[1] * shape[2] * item;
  if (seg.size !== shape[0] * plane) throw new RemoteVisError("bad_buffer", `the volume has ${seg.size} bytes, shape ${shape.join("x")} ${dtype} needs ${shape[0] * plane}`, 400);
  const [nz] = shape;
  let planes = 0;
  const progress = (n: number) => {
    planes += n;
    o.onProgress?.(planes, nz, planes * plane, nz * plane);
  };
  o.onProgress?.(0, nz, 0, nz * plane);

  if (method === "single") {
    using w = Hdf5Writer.create({ path: staging, dataset, shape, dtype, chunks: o.chunks, gzip: o.gzip, spacing: o.spacing });
    for (const [z0, z1] of planSlabs(nz, o.chunks?.[0] ?? 1, plane, 1)) {
      w.write(seg.bytes.subarray(z0 * plane, z1 * plane), z0, z1);
      progress(z1 - z0);
      if (o.onProgress) await Bun.sleep(0);
    }
    w.close();
    return { method, procs: 1, files: [out], ms: performance.now() - t0 };
  }

  if (method === "prealloc") {
    if (o.gzip) throw new RemoteVisError("usage", "prealloc writes cannot compress; use --method vds (or single) with --gzip", 400);
    let extents;
    {
      using w = Hdf5Writer.create({ path: staging, dataset, shape, dtype, chunks: o.chunks, preallocate: true, spacing: o.spacing });
      extents = w.rawExtents();
    }
    let jobs: Record<string, unknown>[];
    let planesOf: number[];
    if (!o.chunks) {
      const base = extents[0]!.addr;
      const slabs = planSlabs(nz, 1, plane, procs);
      jobs = slabs.map(([z0, z1]) => ({ op: "pwrite", file: staging, ranges: [[z0 * plane, (z1 - z0) * plane, base + z0 * plane]] }));
      planesOf = slabs.map(([z0, z1]) => z1 - z0);
    } else {
      const c = o.chunks.map((x, k) => Math.max(1, Math.min(x, shape[k]!))) as Vec3;
      if (extents.length !== chunkCount(shape, c)) throw new RemoteVisError("write_failed", "HDF5 did not allocate every chunk", 500);
      // one job per row of chunks along z (several rows when chunks are thin)
      const rows = new Map<number, [number, number, number, number][]>();
      for (const e of extents) {
        const list = rows.get(e.lo[0]) ?? [];
        list.push([e.lo[0], e.lo[1], e.lo[2], e.addr]);
        rows.set(e.lo[0], list);
      }
      const zs = [...rows.keys()].sort((a, b) => a - b);
      const slabs = planSlabs(nz, c[0], plane, procs);
      jobs = [];
      planesOf = [];
      for (const [z0, z1] of slabs) {
        const chunks = zs.filter((z) => z >= z0 && z < z1).flatMap((z) => rows.get(z)!);
        jobs.push({ op: "pwrite", file: staging, gather: { shape, item, chunk: c, chunks } });
        planesOf.push(z1 - z0);
      }
    }
    await runJobs(seg, procs, jobs, (i) => progress(planesOf[i]!), o);
    return { method, procs: Math.min(procs, jobs.length), files: [out], ms: performance.now() - t0 };
  }

  // vds: one part file per slab, then the virtual dataset
  const partsDir = `${staging}.parts`;
  rmSync(partsDir, { recursive: true, force: true });
  mkdirSync(partsDir, { recursive: true });
  const slabs = evenSlabs(nz, o.chunks?.[0] ?? 1, procs);
  const partName = (i: number) => `p${String(i).padStart(4, "0")}.h5`;
  const parts = slabs.map((_, i) => join(partsDir, partName(i)));
  const jobs = slabs.map(([z0, z1], i) => ({
    op: "part",
    file: parts[i],
    dataset: "/data",
    shape,
    dtype,
    z0,
    z1,
    at: z0 * plane,
    ...(o.chunks ? { chunks: o.chunks } : o.gzip ? { chunks: [1, shape[1], shape[2]] } : {}),
    ...(o.gzip ? { gzip: o.gzip } : {}),
  }));
  await runJobs(seg, procs, jobs, (i) => progress(slabs[i]![1] - slabs[i]![0]), o);
  {
    // source names relative to the virtual file's folder (HDF5 looks there), so the set can
    // move; they name the parts' final folder OUT.parts, where they are renamed to at the end
    const rel = `${basename(out)}.parts`;
    using w = Hdf5Writer.create({
      path: staging,
      dataset,
      shape,
      dtype,
      spacing: o.spacing,
      sources: slabs.map(([z0, z1], i) => ({ file: `${rel}/${partName(i)}`, dataset: "/data", z0, z1 })),
    });
  }
  return { method, procs: Math.min(procs, jobs.length), files: [out, ...slabs.map((_, i) => join(`${out}.parts`, partName(i)))], ms: performance.now() - t0 };
}

/** `procs` slabs of whole chunk rows, as equal as they can be (one part file per process). */
function evenSlabs(nz: number, chunkZ: number, procs: number): [number, number][] {
  const rows = Math.ceil(nz / chunkZ);
  const n = Math.min(procs, rows);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) {
    const r0 = Math.floor((rows * i) / n);
    const r1 = Math.floor((rows * (i + 1)) / n);
    out.push([Math.min(nz, r0 * chunkZ), Math.min(nz, r1 * chunkZ)]);
  }
  return out.filter(([a, b]) => b > a);
}
