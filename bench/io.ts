/**
 * `remotevis bench io`: SSC-IO against baselines from the same run, on a file the bench makes
 * itself (our own HDF5 writer) in a temporary folder and removes afterwards.
 *
 *   read-SIZE-pN   parallel read of a chunked (uncompressed) dataset with N worker processes
 *                  into a fresh shared segment (what load_file does), best of --reps, against
 *                  one process: the scaling curve, one JSON line per N.
 *   write-*        the write methods of src/io/write.ts (prealloc, vds with N processes; and
 *                  vds+gzip) against one process writing the same (H5Dwrite).
 *   read-SIZE-prefaulted-pN  the best N again, into a segment whose pages exist already: the
 *                  read path alone against cat (cat never allocates the 4 GiB it reads).
 *   read-SIZE      (last line, the headline) the best N against `cat FILE > /dev/null` with
 *                  the file in the page cache (target: ratio >= 0.8).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes } from "../src/cli/command.ts";
import { Hdf5Writer } from "../src/io/hdf5-write.ts";
import { defaultProcs, readParallel } from "../src/io/read.ts";
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
    const curve: { procs: number; ms: number }[] = [];
    for (const procs of o.procs) {
      const ms = await best(o.reps, async () => (await readParallel(file, { procs })).ms);
      curve.push({ procs, ms });
      const one = curve[0]!.ms;
      print(
        result(
          { bench: "io", case: `read-${formatBytes(bytes).replace(" ", "")}-p${procs}`, value: gbs(bytes, ms), unit: "GB/s", baseline: `SSC-IO read with ${curve[0]!.procs} process(es)`, baseline_value: gbs(bytes, one), higher_is_better: true },
          { procs, seconds: ms / 1000, chunks: o.chunks },
        ),
      );
    }
    // the same read into one segment whose pages exist already: the read path alone, without
    // the kernel allocating (and zeroing) fresh shared memory, which cat never has to do
    let warm = Infinity;
    {
      using seg = SharedSegment.create(bytes);
      seg.bytes.fill(0);
      const P = curve.reduce((a, b) => (b.ms < a.ms ? b : a)).procs;
      warm = await best(o.reps, async () => (await readParallel(file, { procs: P, into: seg })).ms);
      print(
        result(
          { bench: "io", case: `read-${formatBytes(bytes).replace(" ", "")}-prefaulted-p${P}`, value: gbs(bytes, warm), unit: "GB/s", baseline: "cat FILE > /dev/null (page cache)", baseline_value: gbs(bytes, cat), higher_is_better: true },
          { procs: P, seconds: warm / 1000, note: "destination pages already faulted in (reused segment)" },
        ),
      );
    }
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

    const top = curve.reduce((a, b) => (b.ms < a.ms ? b : a));
    print(
      result(
        { bench: "io", case: `read-${formatBytes(bytes).replace(" ", "")}`, value: gbs(bytes, top.ms), unit: "GB/s", baseline: "cat FILE > /dev/null (page cache)", baseline_value: gbs(bytes, cat), higher_is_better: true },
        { procs: top.procs, target_ratio: 0.8, cpus: navigator.hardwareConcurrency, seconds_total: (performance.now() - t0) / 1000, note: "into a fresh shared segment, as load_file does (includes the kernel's page allocation)" },
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
