/**
 * Where instances run: local (this machine, as the user) or slurm (a job of the user), behind
 * this one interface. The middleware's instance service never starts or signals a process, or
 * talks to a scheduler, itself.
 */
import type { JobState } from "../../protocol/instances.ts";
import type { InstanceRow } from "../store.ts";

export interface LaunchSpec {
  id: string;
  owner: { uid: number; gid: number; name: string };
  /** Arguments after `remotevis instance` (the backend adds how the secret is handed over). */
  args: string[];
  /** Never in argv or a file others may read: stdin (local) or the job's own environment (slurm). */
  secret: string;
  logPath: string;
  /** GPUs the instance gets (the estimate, or more if asked for). */
  gpus: number;
  /** slurm mode: the user's choice of partition and time limit (checked against the site's limits). */
  slurm?: { partition?: string; timeMs?: number };
}

/** What a batch scheduler says about one job. */
export interface JobStatus {
  state: JobState;
  /** The scheduler's own state name (PENDING, NODE_FAIL, ...). */
  raw: string;
  /** The scheduler's reason (Resources, Priority, TimeLimit, ...); for `unknown`, why. */
  reason: string | null;
  /** Pending: when the scheduler expects it to start. Started: when it started. */
  startAt: number | null;
  node: string | null;
  /** Final states: how the instance ends and the words of its reason. */
  ends?: { as: "stopped" | "failed"; why: string };
  /** The scheduler no longer knows the job (ended long ago and purged). */
  gone?: boolean;
}

export interface Launched {
  pid: number | null;
  pgid: number | null;
  procStart: string | null;
  /** Batch schedulers: the job and its status right after submission. */
  job?: { id: string; status: JobStatus };
}

export interface Backend {
  readonly mode: "local" | "slurm";
  launch(spec: LaunchSpec): Promise<Launched>;
  /** Whether the instance's process still exists (schedulers: true; jobs() tells). */
  alive(row: InstanceRow): boolean;
  /**
   * Local: SIGTERM to its process group, SIGKILL after `timeoutMs`; resolves when it is gone.
   * Slurm: scancel, then confirm a bounded number of times; resolves with the last status.
   */
  stop(row: InstanceRow, timeoutMs: number): Promise<JobStatus | void>;
  /** Batch schedulers: the status of the jobs of `rows` by job id, in one query. */
  jobs?(rows: InstanceRow[]): Promise<Map<string, JobStatus>>;
  /** Called when a process that this middleware started ends: "exited with code 1" etc. */
  onExit?: (id: string, how: string, code: number | null) => void;
}
