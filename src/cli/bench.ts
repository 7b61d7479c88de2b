import { middlewareBench, statusLoad } from "../../bench/middleware.ts";
import { slurmBench } from "../../bench/slurm.ts";
import { transferBench } from "../../bench/transfer.ts";
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

export const bench: Command = {
  name: "bench",
  summary: "measure RemoteVis against baselines from the same run (one JSON line per result)",
  usage: "bench NAME [options]",
  subcommands: [transfer, middleware, slurm],
};
