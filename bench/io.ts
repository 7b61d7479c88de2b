/**
 * `remotevis bench io`: SSC-IO against baselines from the same run, on a file the bench makes
 * itself (our own HDF5 writer) in a temporary folder and removes afterwards.
 *
 *   read-SIZE-pN   parallel read of a chunked (uncompressed) dataset with N worker processes
 *                  into a fresh shared segment (what load_file does; the kernel copies the
 *                  plain chunks, see src/io/kernel-copy.ts), best of --reps, against one
 *                  process: the scaling curve, one JSON line per N.
 *   read-SIZE-h5dread-pN  the same with every slab read by H5Dread through the mapping of a
 *                  one-file segment (the path before the kernel copy: one page fault per
 *                  fresh 4 KiB page), against the kernel copy with the same N: the effect
 *                  of the copy path per N.
 *   read-SIZE-kernel-onefile-pN  the kernel copy at the best N into a one-file segment:
 *                  what one file per slab is for (the kernel lets one writer at a time in).
 *   read-SIZE-prefaulted-pN, read-SIZE-h5dread-prefaulted-pN  each path's best N into a
 *                  segment whose pages exist already, against cat: what page allocation
 *                  still costs (cat never allocates the 4 GiB it reads).
 *   write-*        the write methods of src/io/write.ts (prealloc, vds with N processes; and
 *                  vds+gzip) against one process writing the same (H5Dwrite).
 *   read-SIZE      (last line, the headline) the read as load_file does it, with the process
 *                  count chosen automatically (readProcs), against `cat FILE > /dev/null` with
 *                  the file in the page cache (target: ratio >= 0.8); with the best N of the
 *                  curve, the shmem huge page setting and the worker start time beside it.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes } from "../src/cli/command.ts";
import { Hdf5Writer } from "../src/io/hdf5-write.ts";
import { readFileSync } from "node:fs";
import { defaultProcs, planRead, readParallel, segmentFor } from "../src/io/read.ts";
import type { ReadVia } from "../src/io/worker.ts";
import { SharedSegment } from "../src/io/shm.ts";
import { writeParallel, type WriteMethod } from "../src/io/write.ts";
import type { Vec3 } from "../src/formats/types.ts";
import { print, result } from "./report.ts";

export interface IoBenchOpts {
  /** Bytes of the read dataset (uint32 planes of 1024 x 1024). */
  size: number;
  /** Process counts for the scaling curve (default 1..CPU count, at most 16). */
  procs: number[];
  reps: number;
  /** Chunk planes of the read dataset (chunks are [chunkZ, 1024, 1024]... or --chunks). */
  chunks: Vec3;
  /** Bytes for the write cases (0 = skip them). */
  writeSize: number;
  dir?: string;
}

const log = (s: string) => process.stderr.write(`bench io: ${s}\n`);
const gbs = (bytes: number, ms: number) => bytes / (ms / 1000) / 1e9;

/** Fills a segment with a cheap non-constant pattern (1 MiB block, repeated). */
function fill(seg: SharedSegment): void {
  const block = new Uint32Array(1 << 18);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 0;
  const b = new Uint8Array(block.buffer);
  for (let at = 0; at < seg.size; at += b.byteLength) seg.bytes.set(b.subarray(0, Math.min(b.byteLength, seg.size - at)), at);
}

async function catMs(file: string): Promise<number> {
  const t0 = performance.now();
  const p = Bun.spawn(["cat", file], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error("cat failed");
  return performance.now() - t0;
}

/** The selected value of a kernel setting like "always [never] advise", or "unknown". */
function setting(path: string): string {
  try {
    return /\[([^\]]+)\]/.exec(readFileSync(path, "utf8"))?.[1] ?? "unknown";
  } catch {
    return "unknown";
  }
}

async function best(reps: number, fn: () => Promise<number>): Promise<number> {
  let ms = Infinity;
  for (let i = 0; i < reps; i++) {
    ms = Math.min(ms, await fn());
    Bun.gc(true);
  }
  return ms;
}

export async function ioBench(o: IoBenchOpts): Promise<void> {
  const dir = mkdtempSync(join(o.dir ?? tmpdir(), "rv-bench-io-"));
  const t0 = performance.now();
  try {
    const shape: Vec3 = [Math.max(1, Math.floor(o.size / (4 * 2 ** 20))), 1024, 1024];
    const bytes = shape[0] * 4 * 2 ** 20;
    const file = join(dir, "volume.h5");
    log(`making ${file}: [${shape.join(", ")}] u32 (${formatBytes(bytes)}), chunks [${o.chunks.join(", ")}]`);
    {
      using seg = SharedSegment.create(bytes);
      fill(seg);
      using w = Hdf5Writer.create({ path: file, dataset: "/entry/data/data", shape, dtype: "u32", chunks: o.chunks });
      w.write(seg.bytes);
    }
    Bun.gc(true);
    await catMs(file); // into the page cache
    const cat = await best(o.reps, () => catMs(file));
    log(`cat: ${gbs(bytes, cat).toFixed(2)} GB/s`);
    const tag = formatBytes(bytes).replace(" ", "");
    const shmemThp = setting("/sys/kernel/mm/transparent_hugepage/shmem_enabled");
    log(`shmem huge pages: ${shmemThp}`);
    const read = async (via: ReadVia, procs: number | undefined, o2: { into?: SharedSegment; parts?: "slabs" | "one" } = {}) => {
      let r: Awaited<ReturnType<typeof readParallel>> | undefined;
      const ms = await best(o.reps, async () => (r = await readParallel(file, { procs, via, ...o2 })).ms);
      return { ms, procs: r!.procs, kernel: r!.kernelSlabs === r!.slabs.length ? "kernel" : r!.kernelSlabs === 0 ? "h5dread" : "mixed" };
    };
    const curve: { procs: number; ms: number }[] = [];
    for (const procs of o.procs) {
      const { ms, kernel } = await read("auto", procs);
      curve.push({ procs, ms });
      const one = curve[0]!.ms;
      print(
        result(
          { bench: "io", case: `read-${tag}-p${procs}`, value: gbs(bytes, ms), unit: "GB/s", baseline: `SSC-IO read with ${curve[0]!.procs} process(es)`, baseline_value: gbs(bytes, one), higher_is_better: true },
          { procs, seconds: ms / 1000, chunks: o.chunks, copy: kernel },
        ),
      );
    }
    const oldCurve: { procs: number; ms: number }[] = [];
    for (const [i, procs] of o.procs.entries()) {
      const { ms, kernel } = await read("h5dread", procs, { parts: "one" });
      oldCurve.push({ procs, ms });
      print(
        result(
          { bench: "io", case: `read-${tag}-h5dread-p${procs}`, value: gbs(bytes, ms), unit: "GB/s", baseline: `SSC-IO read with ${procs} process(es), kernel copy`, baseline_value: gbs(bytes, curve[i]!.ms), higher_is_better: true },
          { procs, seconds: ms / 1000, copy: kernel },
        ),
      );
    }
    const top = curve.reduce((a, b) => (b.ms < a.ms ? b : a));
    const oldTop = oldCurve.reduce((a, b) => (b.ms < a.ms ? b : a));
    // the kernel copy into one file: its writers queue on the file's lock
    {
      const { ms, kernel } = await read("auto", top.procs, { parts: "one" });
      print(
        result(
          { bench: "io", case: `read-${tag}-kernel-onefile-p${top.procs}`, value: gbs(bytes, ms), unit: "GB/s", baseline: `SSC-IO read with ${top.procs} process(es), kernel copy, one file per slab`, baseline_value: gbs(bytes, top.ms), higher_is_better: true },
          { procs: top.procs, seconds: ms / 1000, copy: kernel },
        ),
      );
    }
    // each path into a segment whose pages exist already: the copy alone, without the kernel
    // allocating fresh shared memory (and, through a mapping, zeroing it), which cat never has to do
    for (const [via, P, name, parts] of [["auto", top.procs, "prefaulted", "slabs"], ["h5dread", oldTop.procs, "h5dread-prefaulted", "one"]] as const) {
      {
        using seg = segmentFor(planRead(file, { procs: P }), parts);
        seg.bytes.fill(0);
        const { ms } = await read(via, P, { into: seg });
        print(
          result(
            { bench: "io", case: `read-${tag}-${name}-p${P}`, value: gbs(bytes, ms), unit: "GB/s", baseline: "cat FILE > /dev/null (page cache)", baseline_value: gbs(bytes, cat), higher_is_better: true },
            { procs: P, seconds: ms / 1000, note: "destination pages exist already (reused segment)" },
          ),
        );
      }
      Bun.gc(true);
    }
    Bun.gc(true);
    // as load_file reads: the process count chosen by readProcs()
    const chosen = await read("auto", undefined);
    // what starting the worker processes costs: a tiny dataset, one 16 KiB plane per worker
    const tiny = join(dir, "tiny.h5");
    {
      using w = Hdf5Writer.create({ path: tiny, dataset: "/entry/data/data", shape: [chosen.procs, 64, 64], dtype: "u32" });
      w.write(new Uint8Array(chosen.procs * 64 * 64 * 4));
    }
    const startMs = await best(o.reps, async () => (await readParallel(tiny, { procs: chosen.procs, slabPlanes: 1 })).ms);
    Bun.gc(true);
    rmSync(file);

    if (o.writeSize > 0) {
      const wshape: Vec3 = [Math.max(1, Math.floor(o.writeSize / (4 * 2 ** 20))), 1024, 1024];
      const wbytes = wshape[0] * 4 * 2 ** 20;
      using seg = SharedSegment.create(wbytes);
      fill(seg);
      const P = Math.max(...o.procs);
      const out = join(dir, "out.h5");
      const time = (method: WriteMethod, procs: number, x: { chunks?: Vec3; gzip?: number } = {}) =>
        best(1, async () => {
          rmSync(out, { force: true });
          rmSync(`${out}.parts`, { recursive: true, force: true });
          const r = await writeParallel(seg, wshape, "u32", out, { method, procs, ...x });
          return r.ms;
        });
      const single = await time("single", 1);
      for (const [method, x] of [["prealloc", {}], ["prealloc", { chunks: o.chunks }], ["vds", {}]] as [WriteMethod, { chunks?: Vec3 }][]) {
        const ms = await time(method, P, x);
        print(
          result(
            { bench: "io", case: `write-${formatBytes(wbytes).replace(" ", "")}-${method}${x.chunks ? "-chunked" : ""}-p${P}`, value: gbs(wbytes, ms), unit: "GB/s", baseline: "one process, H5Dwrite (contiguous)", baseline_value: gbs(wbytes, single), higher_is_better: true },
            { procs: P, seconds: ms / 1000 },
          ),
        );
      }
      // compressed: a quarter of the size (gzip is slow), vds with P processes vs one
      const zshape: Vec3 = [Math.max(1, Math.floor(wshape[0] / 4)), 1024, 1024];
      const zbytes = zshape[0] * 4 * 2 ** 20;
      const zseg = SharedSegment.create(zbytes);
      zseg.bytes.set(seg.bytes.subarray(0, zbytes));
      const ztime = (method: WriteMethod, procs: number) =>
        best(1, async () => {
          rmSync(out, { force: true });
          rmSync(`${out}.parts`, { recursive: true, force: true });
          return (await writeParallel(zseg, zshape, "u32", out, { method, procs, gzip: 1, chunks: [4, 1024, 1024] })).ms;
        });
      const zsingle = await ztime("single", 1);
      const zvds = await ztime("vds", P);
      zseg.close();
      print(
        result(
          { bench: "io", case: `write-${formatBytes(zbytes).replace(" ", "")}-gzip1-vds-p${P}`, value: gbs(zbytes, zvds), unit: "GB/s", baseline: "one process, H5Dwrite (same chunks, gzip 1)", baseline_value: gbs(zbytes, zsingle), higher_is_better: true },
          { procs: P, seconds: zvds / 1000 },
        ),
      );
      rmSync(out, { force: true });
      rmSync(`${out}.parts`, { recursive: true, force: true });
    }

    print(
      result(
        { bench: "io", case: `read-${tag}`, value: gbs(bytes, chosen.ms), unit: "GB/s", baseline: "cat FILE > /dev/null (page cache)", baseline_value: gbs(bytes, cat), higher_is_better: true },
        {
          procs: chosen.procs,
          copy: chosen.kernel,
          best_procs: top.procs,
          best_value: Math.round(gbs(bytes, top.ms) * 1000) / 1000,
          h5dread_best: Math.round(gbs(bytes, oldTop.ms) * 1000) / 1000,
          h5dread_best_procs: oldTop.procs,
          worker_start_s: startMs / 1000,
          shmem_thp: shmemThp,
          target_ratio: 0.8,
          cpus: navigator.hardwareConcurrency,
          seconds_total: (performance.now() - t0) / 1000,
          note: "into a fresh shared segment with the automatic process count, as load_file does (includes the kernel's page allocation and the worker start)",
        },
      ),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function defaultProcList(): number[] {
  const n = defaultProcs();
  return Array.from({ length: n }, (_, i) => i + 1);
}
