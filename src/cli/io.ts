/**
 * `remotevis io read|write`: SSC-IO from the command line (parallel HDF5 through worker
 * processes and one shared-memory segment), and the hidden `io-worker` those processes run.
 */
import { RemoteVisError } from "../errors.ts";
import { bytesOf, parseTarget, readVolume, toC, DTYPE_SIZE, type Dtype, type Vec3 } from "../formats/index.ts";
import { readParallel } from "../io/read.ts";
import { SharedSegment } from "../io/shm.ts";
import { runIoWorker } from "../io/worker.ts";
import { writeParallel, type WriteMethod } from "../io/write.ts";
import { flag, formatBytes, str, type Command, type ParsedArgs } from "./command.ts";
import { emit } from "./output.ts";
import { ProgressBar } from "./progress.ts";

function procsOf(args: ParsedArgs): number | undefined {
  const t = str(args, "procs");
  if (t === undefined) return undefined;
  const n = Number(t);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new RemoteVisError("usage", "--procs must be a whole number from 1 to 256");
  return n;
}

function vec3(text: string, what: string): Vec3 {
  const a = text.split(",").map((s) => Number(s.trim()));
  if (a.length !== 3 || a.some((n) => !Number.isInteger(n) || n < 1)) throw new RemoteVisError("usage", `${what} must be Z,Y,X (whole numbers >= 1)`);
  return a as Vec3;
}

const NPY_DESCR: Record<Dtype, string> = { u8: "|u1", i8: "|i1", u16: "<u2", i16: "<i2", u32: "<u4", i32: "<i4", f32: "<f4", f64: "<f8" };

/** A .npy version 1.0 header for a C-order array (every dtype of src/formats). */
function npyHeader(shape: Vec3, dtype: Dtype): Uint8Array {
  let dict = `{'descr': '${NPY_DESCR[dtype]}', 'fortran_order': False, 'shape': (${shape.join(", ")}), }`;
  const pad = 64 - ((10 + dict.length + 1) % 64);
  dict += " ".repeat(pad % 64) + "\n";
  const h = new Uint8Array(10 + dict.length);
  h.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, dict.length & 0xff, dict.length >> 8]);
  h.set(new TextEncoder().encode(dict), 10);
  return h;
}

const common = {
  procs: { type: "string", short: "p", value: "N", help: "worker processes (default: CPU count, at most 16)" },
  json: { type: "boolean", help: "print the result as JSON" },
  quiet: { type: "boolean", short: "q", help: "no progress bar" },
} as const;

const ioRead: Command = {
  name: "read",
  summary: "read an HDF5 dataset with N processes into shared memory (optionally save it)",
  usage: "io read FILE[:DATASET] [--procs N] [--out FILE.npy|FILE.raw]",
  description: `
Each worker process opens the file and reads z slabs (whole chunk rows) straight into one
shared-memory segment; progress counts planes. --out writes the volume as .npy, or raw bytes
with a JSON sidecar (FILE.json: shape, dtype, order, spacing).`,
  options: { ...common, out: { type: "string", short: "o", value: "FILE", help: "write the volume here (.npy, else raw + .json)" } },
  async run(args) {
    const target = args.positionals[0];
    if (!target) throw new RemoteVisError("usage", "expected FILE[:DATASET]; see 'remotevis io read --help'");
    const t = parseTarget(target);
    const quiet = flag(args, "quiet") || flag(args, "json");
    let bar: ProgressBar | undefined;
    const r = await readParallel(t.path, { dataset: t.dataset, procs: procsOf(args), onProgress: (_p, _n, bytes, total) => (bar ??= new ProgressBar("read", total, quiet)).update(bytes) });
    bar?.done();
    const v = r.volume;
    const out = str(args, "out");
    if (out) {
      if (out.endsWith(".npy")) await Bun.write(out, new Blob([npyHeader(v.shape, v.dtype), r.bytes]));
      else {
        await Bun.write(out, r.bytes);
        await Bun.write(`${out}.json`, JSON.stringify({ shape: v.shape, dtype: v.dtype, order: "C", spacing: v.spacing }, null, 1) + "\n");
      }
    }
    const gbs = r.bytes.byteLength / (r.ms / 1000) / 1e9;
    emit(
      flag(args, "json"),
      { event: "read", name: v.name, shape: v.shape, dtype: v.dtype, bytes: r.bytes.byteLength, procs: r.procs, slabs: r.slabs.length, seconds: r.ms / 1000, gbPerS: gbs, ...(out ? { out } : {}) },
      `${v.name}: [${v.shape.join(", ")}] ${v.dtype}, ${formatBytes(r.bytes.byteLength)} in ${(r.ms / 1000).toFixed(2)} s (${gbs.toFixed(2)} GB/s, ${r.procs ? `${r.procs} processes` : "in this process"}, ${r.slabs.length} slabs)${out ? ` -> ${out}` : ""}`,
    );
    return 0;
  },
};

const ioWrite: Command = {
  name: "write",
  summary: "write a volume (any readable format) to an HDF5 dataset with N processes",
  usage: "io write --in FILE[:DATASET] --out OUT.h5[:DATASET] [--procs N] [--chunks Z,Y,X] [--gzip L] [--method auto|single|prealloc|vds]",
  description: `
The input is read (HDF5 in parallel) into one shared-memory segment; workers then write it.
prealloc: the dataset's storage is allocated in one go and workers pwrite disjoint ranges of the
one file (no compression; for parallel file systems). vds: each worker writes its own part file
(OUT.h5.parts/), joined by a virtual dataset in OUT.h5 (compression possible). single: one
H5Dwrite. auto = vds with --gzip and several processes, else single (the fastest uncompressed in
the measurements of docs/ssc-io.md; 'remotevis bench io' compares them on this machine). The
default dataset is /data.`,
  options: {
    ...common,
    in: { type: "string", short: "i", value: "FILE[:DATASET]", help: "the volume to write" },
    out: { type: "string", short: "o", value: "OUT.h5[:DATASET]", help: "the HDF5 file (replaced) and dataset" },
    chunks: { type: "string", value: "Z,Y,X", help: "chunk shape (default: contiguous)" },
    gzip: { type: "string", value: "LEVEL", help: "shuffle + gzip at LEVEL 1..9 (chunked)" },
    method: { type: "string", value: "M", help: "auto, single, prealloc or vds", default: "auto" },
  },
  async run(args) {
    const input = str(args, "in");
    const outArg = str(args, "out");
    if (!input || !outArg) throw new RemoteVisError("usage", "expected --in FILE and --out OUT.h5[:DATASET]; see 'remotevis io write --help'");
    const m = /^(.*?\.(?:h5|hdf5|hdf|nxs|nx5|cxi))(?::(.+))?$/i.exec(outArg);
    const out = m ? m[1]! : outArg;
    const dataset = m?.[2] ?? "/data";
    const method = str(args, "method") as WriteMethod;
    if (!["auto", "single", "prealloc", "vds"].includes(method)) throw new RemoteVisError("usage", "--method must be auto, single, prealloc or vds");
    const gzipText = str(args, "gzip");
    const gzip = gzipText === undefined ? undefined : Number(gzipText);
    if (gzip !== undefined && !(Number.isInteger(gzip) && gzip >= 1 && gzip <= 9)) throw new RemoteVisError("usage", "--gzip must be 1..9");
    const chunks = str(args, "chunks") ? vec3(str(args, "chunks")!, "--chunks") : undefined;
    if (gzip && !chunks && method === "single") throw new RemoteVisError("usage", "--gzip needs --chunks with --method single");
    const procs = procsOf(args);
    const quiet = flag(args, "quiet") || flag(args, "json");

    // the input into one shared segment (HDF5: read there directly by the workers)
    const t = parseTarget(input);
    let seg: SharedSegment;
    let shape: Vec3;
    let dtype;
    let spacing: Vec3;
    const head = await Bun.file(t.path).slice(0, 8).bytes().catch(() => new Uint8Array(0));
    if (head[0] === 0x89 && head[1] === 0x48 && head[2] === 0x44 && head[3] === 0x46) {
      const r = await readParallel(t.path, { dataset: t.dataset, procs, keepSegment: true });
      seg = r.segment!;
      ({ shape, dtype, spacing } = r.volume);
    } else {
      const v = toC(await readVolume(input));
      ({ shape, dtype, spacing } = v);
      seg = SharedSegment.create(v.data.byteLength);
      seg.bytes.set(bytesOf(v.data));
    }
    try {
      const total = shape[0] * shape[1] * shape[2] * DTYPE_SIZE[dtype];
      const bar = new ProgressBar("write", total, quiet);
      const r = await writeParallel(seg, shape, dtype, out, { dataset, procs, chunks, gzip, method, spacing, onProgress: (_p, _n, b) => bar.update(b) });
      bar.done();
      const gbs = total / (r.ms / 1000) / 1e9;
      emit(
        flag(args, "json"),
        { event: "written", out, dataset, shape, dtype, bytes: total, method: r.method, procs: r.procs, files: r.files.length, seconds: r.ms / 1000, gbPerS: gbs },
        `${out}:${dataset}: [${shape.join(", ")}] ${dtype}, ${formatBytes(total)} in ${(r.ms / 1000).toFixed(2)} s (${gbs.toFixed(2)} GB/s, ${r.method}, ${r.procs} processes${r.files.length > 1 ? `, ${r.files.length - 1} part files` : ""})`,
      );
      return 0;
    } finally {
      seg.close();
    }
  },
};

export const io: Command = {
  name: "io",
  summary: "SSC-IO: parallel HDF5 reading and writing through shared memory",
  usage: "io read|write [options]",
  subcommands: [ioRead, ioWrite],
};

/** The worker process of SSC-IO (started by src/io/pool.ts; not for people). */
export const ioWorker: Command = {
  name: "io-worker",
  summary: "(internal) an SSC-IO worker process",
  usage: "io-worker   (jobs as JSON lines on stdin; shared segment on fd 3)",
  hidden: true,
  run: () => runIoWorker(),
};
