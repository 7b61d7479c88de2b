/**
 * Slurm backend: each instance is a batch job of its owner. Submission is one `sbatch
 * --parsable` with argv arrays (options from the configuration: partition, account, QoS,
 * constraint, the GPUs of the estimate, always a time limit, extra arguments); as root with
 * `--uid/--gid` of the owner. The job's environment is explicit: sbatch runs with an
 * environment made here (PATH, the instance secret, the configured pass-through variables) and
 * `--export=` names exactly those, so nothing of the middleware's own environment reaches the
 * job (slurm 22.05 ignores variables given with --export=NONE, so NONE cannot carry the secret).
 * The secret thus lives only in the job's environment (readable by the owner and slurm's
 * admins), never in argv or a file. The batch script is a fixed two-line launcher; the program
 * and its arguments follow it on sbatch's command line.
 *
 * States come from one `squeue` for all jobs; a controller that does not answer gives
 * `unknown` (retried, never taken as the end). Stop is scancel, then confirming the end a
 * bounded number of times.
 */
import { chownSync, closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { selfArgv } from "../../cli/self.ts";
import { RemoteVisError } from "../../errors.ts";
import type { InstanceRow } from "../store.ts";
import type { Backend, JobStatus, LaunchSpec, Launched } from "./backend.ts";
import { fill, parseGpus, parseQueue, runSlurm, SLURM_ARGV, slurmError, unreachable, type CmdResult } from "./slurm-commands.ts";
import { FINAL_JOB_STATES } from "./slurm-states.ts";

export interface SlurmOptions {
  partition: string;
  account: string;
  qos: string;
  constraint: string;
  timeMs: number;
  /** The sbatch option for the GPUs with {gpus}; "" = none. */
  gpusOption: string;
  extra: string[];
  /** argv of remotevis on the compute nodes ([] = this program). */
  program: string[];
  /** sbatch --output ("" = the instance's log path); {id} is the instance id. */
  output: string;
  bin: string;
  timeoutMs: number;
  /** Names (or PREFIX*) of the middleware's environment variables handed to jobs. */
  passEnv: string[];
  stateDir: string;
}

const LAUNCHER = `#!/bin/sh
# RemoteVis: the batch script of an instance job. The middleware gives the program and its
# arguments after this script on sbatch's command line (never as shell text).
exec "$@"
`;
/** slurm decides which GPUs a job sees; the middleware's own value must not override it. */
const NEVER_PASSED = new Set(["CUDA_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL", "ROCR_VISIBLE_DEVICES"]);
const SAFE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/** How often stop() asks whether the cancelled job ended, and how far apart. */
const CONFIRM_EVERY_MS = 250;

export class SlurmBackend implements Backend {
  readonly mode = "slurm" as const;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly script: string;

  constructor(private readonly o: SlurmOptions) {
    const dir = join(o.stateDir, "slurm");
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    this.script = join(dir, "remotevis-job.sh");
    writeFileSync(this.script, LAUNCHER, { mode: 0o755 });
  }

  private run(argv: string[], env?: Record<string, string>): Promise<CmdResult> {
    return runSlurm(argv, { bin: this.o.bin, timeoutMs: this.o.timeoutMs, env });
  }

  /** The job's whole environment (also sbatch's own): PATH, pass-through variables, secret. */
  jobEnv(secret: string): Record<string, string> {
    const env: Record<string, string> = { PATH: process.env.PATH && !this.asRoot ? process.env.PATH : SAFE_PATH };
    if (!this.asRoot) for (const k of ["HOME", "USER", "LOGNAME"]) if (process.env[k]) env[k] = process.env[k]!;
    for (const [k, v] of Object.entries(process.env)) {
      if (v === undefined || NEVER_PASSED.has(k)) continue;
      if (this.o.passEnv.some((p) => (p.endsWith("*") ? k.startsWith(p.slice(0, -1)) : k === p))) env[k] = v;
    }
    env.REMOTEVIS_INSTANCE_SECRET = secret;
    return env;
  }

  outputPath(spec: LaunchSpec): string {
    return this.o.output ? this.o.output.replaceAll("{id}", spec.id) : spec.logPath;
  }

  /** sbatch's argv: options from the configuration, the launcher, then `remotevis instance ...`. */
  submitArgv(spec: LaunchSpec, envNames: string[]): string[] {
    const o = this.o;
    const opt = (name: string, value: string) => (value ? [`--${name}=${value}`] : []);
    return [
      ...SLURM_ARGV.submit,
      `--job-name=remotevis-${spec.id}`,
      `--output=${this.outputPath(spec)}`,
      `--time=${Math.max(1, Math.ceil((spec.slurm?.timeMs ?? o.timeMs) / 60_000))}`,
      // Several GPUs: one task per GPU (the instance starts its MPI ranks in them with srun);
      // slurm adds nodes when one node has too few GPUs.
      ...(spec.gpus > 1 ? [`--ntasks=${spec.gpus}`] : ["--nodes=1", "--ntasks=1"]),
      ...(o.gpusOption ? fill([o.gpusOption], { gpus: String(spec.gpus) }) : []),
      ...opt("partition", spec.slurm?.partition || o.partition),
      ...opt("account", o.account),
      ...opt("qos", o.qos),
      ...opt("constraint", o.constraint),
      ...(this.asRoot ? [`--uid=${spec.owner.uid}`, `--gid=${spec.owner.gid}`] : []),
      `--export=${envNames.join(",")}`,
      "--chdir=/tmp",
      ...o.extra,
      this.script,
      ...(o.program.length ? o.program : selfArgv()),
      "instance",
      ...spec.args,
    ];
  }

  async launch(spec: LaunchSpec): Promise<Launched> {
    // The default output file is made here, owned by the user, so that the job (running as
    // the user) can write it and nobody else can read it.
    if (!this.o.output) {
      mkdirSync(dirname(spec.logPath), { recursive: true, mode: 0o711 });
      closeSync(openSync(spec.logPath, "a", 0o600));
      if (this.asRoot) chownSync(spec.logPath, spec.owner.uid, spec.owner.gid);
    }
    const env = this.jobEnv(spec.secret);
    const sbatchEnv = { ...env, ...(process.env.SLURM_CONF ? { SLURM_CONF: process.env.SLURM_CONF } : {}) };
    const r = await this.run(this.submitArgv(spec, Object.keys(env)), sbatchEnv);
    if (r.code !== 0) throw await this.submitError(r, spec.gpus);
    const id = r.out.trim().split(";")[0]!;
    if (!/^\d+(_\d+)?$/.test(id)) throw new RemoteVisError("slurm_refused", `sbatch answered without a job id: ${r.out.slice(0, 200)}`, 502);
    const status = (await this.query([id])).get(id)!;
    return { pid: null, pgid: null, procStart: null, job: { id, status } };
  }

  /** A clear error for a refused submission; GPUs beyond the partition's are named as such. */
  private async submitError(r: CmdResult, gpus: number): Promise<RemoteVisError> {
    if (unreachable(r)) return new RemoteVisError("scheduler_unavailable", `the slurm controller did not answer (${slurmError(r)}); try again shortly`, 503);
    const msg = slurmError(r);
    if (/node configuration is not available|gres|gpu/i.test(msg)) {
      const partition = this.o.partition || (await this.defaultPartition());
      const g = await this.run(fill(SLURM_ARGV.partitionGpus, { partition }));
      if (g.code === 0) {
        const { perNode, total } = parseGpus(g.out);
        if (gpus > perNode)
          return new RemoteVisError(
            "gpus_unavailable",
            `this instance needs ${gpus} GPU(s) on one node, but slurm partition '${partition}' has at most ${perNode} GPU(s) per node (${total} in all); ask for a smaller volume or fewer GPUs`,
            400,
            { gpus, perNode, total, partition },
          );
      }
    }
    return new RemoteVisError("slurm_refused", `slurm refused the job: ${msg}`, 400);
  }

  private async defaultPartition(): Promise<string> {
    const r = await this.run([...SLURM_ARGV.defaultPartition]);
    return r.out.split("\n").find((l) => l.trim().endsWith("*"))?.trim().slice(0, -1) ?? "";
  }

  /** The status of each job id; `unknown` for all when the controller does not answer. */
  async query(ids: string[]): Promise<Map<string, JobStatus>> {
    const out = new Map<string, JobStatus>();
    if (ids.length === 0) return out;
    const r = await this.run(fill(SLURM_ARGV.query, { ids: ids.join(",") }));
    const blank = { raw: "", startAt: null, node: null };
    if (r.code !== 0 && /invalid job id/i.test(r.err)) {
      for (const id of ids) out.set(id, { ...blank, state: "unknown", reason: "slurm no longer knows this job", gone: true });
      return out;
    }
    if (r.code !== 0) {
      const why = unreachable(r) ? `the slurm controller did not answer (${slurmError(r)})` : `squeue failed: ${slurmError(r)}`;
      for (const id of ids) out.set(id, { ...blank, state: "unknown", reason: why });
      return out;
    }
    const found = parseQueue(r.out);
    for (const id of ids) out.set(id, found.get(id) ?? { ...blank, state: "unknown", reason: "slurm no longer knows this job", gone: true });
    return out;
  }

  jobs(rows: InstanceRow[]): Promise<Map<string, JobStatus>> {
    return this.query([...new Set(rows.flatMap((r) => (r.job_id ? [r.job_id] : [])))]);
  }

  /** Jobs are watched through jobs(); a row is never declared dead from here. */
  alive(): boolean {
    return true;
  }

  async stop(row: InstanceRow, timeoutMs: number): Promise<JobStatus | void> {
    const id = row.job_id;
    if (!id) return;
    const r = await this.run(fill(SLURM_ARGV.cancel, { id }));
    if (r.code !== 0 && !/invalid job id|already completing or completed|job\/step already/i.test(r.err)) {
      if (unreachable(r)) throw new RemoteVisError("scheduler_unavailable", `the slurm controller did not answer to scancel (${slurmError(r)}); the job will be cancelled when it answers again`, 503);
      throw new RemoteVisError("slurm_refused", `scancel ${id} failed: ${slurmError(r)}`, 502);
    }
    let last: JobStatus | undefined;
    const tries = Math.max(4, Math.ceil(timeoutMs / CONFIRM_EVERY_MS));
    for (let i = 0; i < tries; i++) {
      last = (await this.query([id])).get(id)!;
      if (last.gone || FINAL_JOB_STATES.includes(last.state)) return last;
      await Bun.sleep(CONFIRM_EVERY_MS);
    }
    return last;
  }
}
