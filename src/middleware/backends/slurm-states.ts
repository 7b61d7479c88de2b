/**
 * Slurm's job states, described as data: each raw state that squeue prints (%T) maps to one of
 * the few states RemoteVis shows (`job.state`), and each final one says how it ends the
 * instance and why. `unknown` is not a slurm state: it means the controller did not answer
 * (a hiccup, never a dead job), and the next query asks again.
 */
import type { JobState } from "../../protocol/instances.ts";

export interface SlurmStateInfo {
  state: JobState;
  /** Set for final states: how the instance ends, and why ("slurm job N ended: <why>"). */
  ends?: { as: "stopped" | "failed"; why: string };
}

const TABLE: Record<string, SlurmStateInfo> = {
  PENDING: { state: "pending" },
  CONFIGURING: { state: "pending" },
  REQUEUED: { state: "pending" },
  REQUEUE_HOLD: { state: "pending" },
  REQUEUE_FED: { state: "pending" },
  RESV_DEL_HOLD: { state: "pending" },
  SPECIAL_EXIT: { state: "pending" },
  RUNNING: { state: "running" },
  SUSPENDED: { state: "running" },
  STOPPED: { state: "running" },
  RESIZING: { state: "running" },
  SIGNALING: { state: "running" },
  COMPLETING: { state: "completing" },
  STAGE_OUT: { state: "completing" },
  COMPLETED: { state: "completed", ends: { as: "stopped", why: "completed (the instance exited)" } },
  FAILED: { state: "failed", ends: { as: "failed", why: "failed (the instance exited with an error)" } },
  NODE_FAIL: { state: "failed", ends: { as: "failed", why: "failed (node failure)" } },
  BOOT_FAIL: { state: "failed", ends: { as: "failed", why: "failed (the node did not boot)" } },
  OUT_OF_MEMORY: { state: "failed", ends: { as: "failed", why: "failed (out of memory)" } },
  CANCELLED: { state: "cancelled", ends: { as: "stopped", why: "cancelled (outside RemoteVis, e.g. scancel)" } },
  PREEMPTED: { state: "cancelled", ends: { as: "stopped", why: "cancelled (preempted by a job of higher priority)" } },
  REVOKED: { state: "cancelled", ends: { as: "stopped", why: "cancelled (revoked: it runs on another cluster)" } },
  TIMEOUT: { state: "timeout", ends: { as: "stopped", why: "timeout (it reached its time limit)" } },
  DEADLINE: { state: "timeout", ends: { as: "stopped", why: "timeout (it reached its deadline)" } },
};

/** What a raw squeue state means; states this table does not know are kept as `unknown`. */
export function slurmState(raw: string): SlurmStateInfo {
  const key = raw.trim().toUpperCase().replace(/\s+.*$/, "").replace(/\+$/, "");
  return TABLE[key] ?? { state: "unknown" };
}

/** Job states after which slurm runs nothing more of the job. */
export const FINAL_JOB_STATES: readonly JobState[] = ["completed", "failed", "cancelled", "timeout"];
