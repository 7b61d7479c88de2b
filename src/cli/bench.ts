import { defaultProcList, ioBench } from "../../bench/io.ts";
import { middlewareBench, statusLoad } from "../../bench/middleware.ts";
import { slurmBench } from "../../bench/slurm.ts";
import { e2eBench } from "../../bench/e2e.ts";
import { renderCudaBench } from "../../bench/render-cuda.ts";
import { renderBench } from "../../bench/render.ts";
import { transferBench } from "../../bench/transfer.ts";
import { viewerBench } from "../../bench/viewer.ts";
import { segmentBench } from "../../bench/segment.ts";
import { loadRun } from "../../bench/load.ts";
import { RemoteVisError } from "../errors.ts";
import { parseBytes, str, type Command } from "./command.ts";

const transfer: Command = {
  name: "transfer",
  summary: "SSC-RDMA throughput per transport against ucx_perftest and memcpy",
  usage: "bench transfer [--size 1GiB] [--reps 3] [--cases tcp,shm,veth]",
  description: `
Starts 'remotevis receive' and 'remotevis client send' as separate processes for each case and
reports the best of --reps runs, with ucx_perftest tag_bw (same UCX_TLS, same size) and memcpy
measured in the same run as baselines. The veth case needs root (two network namespaces).
Each result is one JSON line; see ARCHITECTURE.md for the fields.`,
  options: {
    size: { type: "string", value: "BYTES", help: "payload size", default: "1GiB" },
    reps: { type: "string", value: "N", help: "runs per case (best is reported)", default: "3" },
    cases: { type: "string", value: "LIST", help: "comma-separated: tcp, shm, veth", default: "tcp,shm,veth" },
  },
  async run(args) {
    await transferBench({
      size: parseBytes(str(args, "size")!),
      reps: Number(str(args, "reps")),
      cases: str(args, "cases")!.split(",").map((s) => s.trim()),
    });
    return 0;
  },
};

const middleware: Command = {
  name: "middleware",
  summary: "middleware latency: start-to-URL p50 (<= 1 s) and status p99 at 500 req/s (<= 50 ms)",
  usage: "bench middleware [--starts 10] [--rate 500] [--seconds 20]",
  description: `
Starts a middleware (local mode, throw-away database) as a child process, makes an API token
with munge (munged must run: scripts/munge-up.sh), then measures start-to-URL of --starts
instances one after the other, and GET /instances/:id at --rate requests/s for --seconds from
a second process. Baselines are the targets themselves.`,
  options: {
    starts: { type: "string", value: "N", help: "instances to start for the start-to-URL p50", default: "10" },
    rate: { type: "string", value: "N", help: "status requests per second", default: "500" },
    seconds: { type: "string", value: "S", help: "duration of the status load", default: "20" },
    load: { type: "string", value: "URL", help: "(internal) be the load process against URL" },
  },
  async run(args) {
    const load = str(args, "load");
    if (load) await statusLoad(load, Number(str(args, "rate")), Number(str(args, "seconds")));
    else await middlewareBench({ starts: Number(str(args, "starts")), rate: Number(str(args, "rate")), seconds: Number(str(args, "seconds")) });
    return 0;
  },
};

const slurm: Command = {
  name: "slurm",
  summary: "slurm mode: create-request answer p50 (<= 200 ms) and job start to URL p50 (<= 2 s)",
  usage: "bench slurm [--runs 5] [--partition NAME]",
  description: `
Needs a running slurm (scripts/slurm-up.sh, root) and munged. Measures bare 'sbatch --parsable'
and 'squeue --jobs' and a bare job's submit-to-script time, then starts a middleware in slurm
mode (throw-away database) and measures --runs instances: the answer time of the create request
(baseline: sbatch + squeue) and the time from the job's start on the node to the URL being
known to a client polling every 50 ms (baseline: the 2 s target).`,
  options: {
    runs: { type: "string", value: "N", help: "jobs per measurement", default: "5" },
    partition: { type: "string", value: "NAME", help: "slurm partition (default: slurm's default)" },
  },
  async run(args) {
    await slurmBench({ runs: Number(str(args, "runs")), partition: str(args, "partition") });
    return 0;
  },
};

const render: Command = {
  name: "render",
  summary: "frames of the renderer, S0-S3, against a reference ray caster (CPU: the CT and 512^3; CUDA: 512^3..2048^3)",
  usage: "bench render [--renderer cpu|cuda] [--scenes ct,synthetic] [--reps 3] [--volumes 512u8,...]",
  description: `
cpu (default): the real CT and a 512^3 volume at 1280x720 through the instance's renderer, against
the naive reference ray caster of bench/render-ref in the same process.
cuda: ffi/librvr's rvr_bench_cuda (built where nvcc exists; found beside the executable, in the
build tree or through RVR_BENCH_CUDA): 1920x1080 frames of each volume (SIZE then u8 or f32) on an
orbit, against the plain CUDA ray caster of bench/render-ref and, for the upload, one cudaMemcpy
from page-locked memory.`,
  options: {
    renderer: { type: "string", value: "cpu|cuda", help: "which backend to measure", default: "cpu" },
    scenes: { type: "string", value: "LIST", help: "cpu: ct (data/ct from scripts/testdata.sh), synthetic (512^3 u8)", default: "ct,synthetic" },
    reps: { type: "string", value: "N", help: "cpu: frames per case (best is reported); cuda: frames of the orbit", default: "3" },
    volumes: { type: "string", value: "LIST", help: "cuda: volumes, e.g. 512u8,1024f32", default: "512u8,1024u8,1024f32,2048u8" },
  },
  async run(args) {
    const renderer = str(args, "renderer");
    if (renderer === "cuda") {
      await renderCudaBench({ volumes: str(args, "volumes")!.split(","), frames: Math.max(8, Number(str(args, "reps"))), width: 1920, height: 1080 });
      return 0;
    }
    if (renderer !== "cpu") throw new RemoteVisError("usage", `--renderer ${renderer}: expected cpu or cuda`);
    await renderBench({ scenes: str(args, "scenes")!.split(","), reps: Number(str(args, "reps")) });
    return 0;
  },
};

const e2e: Command = {
  name: "e2e",
  summary: "render_volume to the first frame, against the bare transfer of the same bytes",
  usage: "bench e2e [--size 1GiB] [--dtype uint8|float32] [--tls sm,tcp] [--renderer cpu]",
  options: {
    size: { type: "string", value: "BYTES", help: "volume size (a cube)", default: "1GiB" },
    dtype: { type: "string", value: "TYPE", help: "uint8 or float32", default: "uint8" },
    tls: { type: "string", value: "UCX_TLS", help: "transports", default: "sm,tcp" },
    renderer: { type: "string", value: "auto|cpu|cuda", help: "the instance's renderer", default: "auto" },
  },
  async run(args) {
    const dtype = str(args, "dtype");
    if (dtype !== "uint8" && dtype !== "float32") throw new RemoteVisError("usage", "--dtype must be uint8 or float32");
    await e2eBench({ size: parseBytes(str(args, "size")!), tls: str(args, "tls")!, renderer: str(args, "renderer")!, dtype });
    return 0;
  },
};

const viewer: Command = {
  name: "viewer",
  summary: "web viewer: input-to-display latency while dragging (p50 <= 150 ms) and JPEG encode (<= 3 ms)",
  usage: "bench viewer [--drags 3] [--width 1280] [--height 800] [--ct FILE] [--frame-out FILE]",
  description: `
Starts an instance (CPU renderer) as a child process, sends it the CT of scripts/testdata.sh,
measures libturbojpeg encoding of its 1280x720 frame on one core, then drags the view in
Debian's chromium (playwright-core, /usr/bin/chromium) and reports the input-to-display
latency measured in the page (pointer event to the frame that includes it drawn): median as
the value, p95 beside it. Baselines are the targets themselves.`,
  options: {
    drags: { type: "string", value: "N", help: "drags of 2 s each", default: "3" },
    width: { type: "string", value: "PX", help: "browser window width", default: "1280" },
    height: { type: "string", value: "PX", help: "browser window height", default: "800" },
    ct: { type: "string", value: "FILE", help: "volume to show (default data/ct/cranium.raw)" },
    "frame-out": { type: "string", value: "FILE", help: "also write the 1280x720 RGBA frame (for bench/jpeg-one-core.c)" },
  },
  async run(args) {
    await viewerBench({ drags: Number(str(args, "drags")), width: Number(str(args, "width")), height: Number(str(args, "height")), ct: str(args, "ct"), frameOut: str(args, "frame-out") });
    return 0;
  },
};

const io: Command = {
  name: "io",
  summary: "SSC-IO: parallel HDF5 read vs cat from page cache (>= 0.8x), scaling 1..N, write methods",
  usage: "bench io [--size 4GiB] [--procs 1,2,4,...] [--reps 2] [--chunks 8,1024,1024] [--write-size 1GiB]",
  description: `
Makes a chunked uint32 dataset of --size with our own HDF5 writer in a temporary folder (--dir),
reads it with 1..N worker processes into a fresh shared segment each time (best of --reps; one
JSON line per N, against one process), then times the write methods (prealloc, prealloc
chunked, vds; vds+gzip on a quarter of --write-size) against one H5Dwrite process, and last the
best read against 'cat FILE > /dev/null' from the page cache. Everything it made is removed.`,
  options: {
    size: { type: "string", value: "BYTES", help: "size of the read dataset", default: "4GiB" },
    procs: { type: "string", value: "LIST", help: "process counts (default: 1..CPU count, at most 16)" },
    reps: { type: "string", value: "N", help: "runs per read case (best is reported; write cases run once)", default: "2" },
    chunks: { type: "string", value: "Z,Y,X", help: "chunk shape of the read dataset", default: "8,1024,1024" },
    "write-size": { type: "string", value: "BYTES", help: "size for the write cases (0 skips them)", default: "1GiB" },
    dir: { type: "string", value: "DIR", help: "where the temporary files go (default: the system temp folder)" },
  },
  async run(args) {
    const list = str(args, "procs");
    const chunks = str(args, "chunks")!.split(",").map(Number);
    if (chunks.length !== 3 || chunks.some((n) => !Number.isInteger(n) || n < 1)) throw new RemoteVisError("usage", "--chunks must be Z,Y,X");
    await ioBench({
      size: parseBytes(str(args, "size")!),
      procs: list ? list.split(",").map((s) => Math.max(1, Math.floor(Number(s)))) : defaultProcList(),
      reps: Math.max(1, Number(str(args, "reps"))),
      chunks: chunks as [number, number, number],
      writeSize: parseBytes(str(args, "write-size")!),
      dir: str(args, "dir"),
    });
    return 0;
  },
};

const segment: Command = {
  name: "segment",
  summary: "segmentation: slices/s through an instance vs the same ONNX model run directly (overhead <= 10%)",
  usage: "bench segment [--model data/models/ct-unet.onnx] [--ct data/ct/cranium.raw] [--batch 8] [--reps 3]",
  description: `
Starts an instance (CPU renderer) as a child process, sends it the CT of scripts/testdata.sh and
the U-Net of scripts/train-segmentation.sh (with its .json description), segments all slices
--reps times (best counts), then runs the same model with ONNX Runtime directly in this process
on the same slices, batched the same way, timing only the inference calls. One JSON line: the
instance's slices/s against the direct ones, and the overhead.`,
  options: {
    model: { type: "string", value: "FILE", help: "ONNX model with FILE.json beside it", default: "data/models/ct-unet.onnx" },
    ct: { type: "string", value: "FILE", help: "int16 raw volume with FILE.json beside it", default: "data/ct/cranium.raw" },
    batch: { type: "string", value: "N", help: "slices per inference call", default: "8" },
    reps: { type: "string", value: "N", help: "runs of each side (best is reported)", default: "3" },
  },
  async run(args) {
    await segmentBench({ model: str(args, "model")!, ct: str(args, "ct")!, batch: Math.max(1, Number(str(args, "batch"))), reps: Math.max(1, Number(str(args, "reps"))) });
    return 0;
  },
};

const load: Command = {
  name: "load",
  summary: "many clients (status, list, start/stop) and WebSocket viewers against one middleware: errors (0), p99, memory",
  usage: "bench load [--clients 200] [--seconds 60] [--viewers 20] [--starters 4] [--think-ms 250] [--viewer-fps 2]",
  description: `
Starts a middleware (local mode, throw-away database) as a child process and one instance with
a 128^3 volume, opens --viewers WebSocket viewers on it (the viewer protocol, no browser), then
runs --clients API clients for --seconds: --starters of them start, query and stop their own
local instances again and again, the others ask for the status of the viewers' instance or list
(random pauses of 0..2x --think-ms). Reports every error (must be 0), p50/p99 per operation,
viewer frame latency, and the resident memory of the middleware and the instance before and
after. As root it needs munged (scripts/munge-up.sh) for its token.`,
  options: {
    clients: { type: "string", value: "N", help: "concurrent API clients", default: "200" },
    seconds: { type: "string", value: "S", help: "duration of the load", default: "60" },
    viewers: { type: "string", value: "N", help: "WebSocket viewers on one instance", default: "20" },
    starters: { type: "string", value: "N", help: "clients that start and stop instances", default: "4" },
    "think-ms": { type: "string", value: "MS", help: "mean pause between one client's requests", default: "250" },
    "viewer-fps": { type: "string", value: "N", help: "camera moves per second of each viewer", default: "2" },
  },
  async run(args) {
    const n = (name: string) => Math.max(0, Number(str(args, name)));
    await loadRun({ clients: n("clients"), seconds: n("seconds"), viewers: n("viewers"), starters: n("starters"), thinkMs: n("think-ms"), viewerFps: Math.max(0.1, n("viewer-fps")) });
    return 0;
  },
};

export const bench: Command = {
  name: "bench",
  summary: "measure RemoteVis against baselines from the same run (one JSON line per result)",
  usage: "bench NAME [options]",
  subcommands: [transfer, middleware, slurm, render, e2e, viewer, io, segment, load],
};
