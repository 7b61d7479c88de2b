/**
 * The instance service: creation (GPU decision, launch), queries with the owner check, stop,
 * and the call-backs of running instances. Routes and the lifecycle sweep call this; only the
 * backend touches processes, only the store touches the database.
 */
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import type { CreateInstanceRequest, Instance, InstanceState } from "../protocol/instances.ts";
import type { Identity } from "./auth/identity.ts";
import { hashSecret, newId } from "./auth/tokens.ts";
import type { Backend, JobStatus } from "./backends/backend.ts";
import type { Config } from "./config.ts";
import { decideGpus } from "./gpus.ts";
import { SecretKeeper } from "./keys.ts";
import { logTail } from "./logs.ts";
import { LIVE_STATES, type InstanceRow, type Store } from "./store.ts";
import { formatDuration } from "./units.ts";

export type ServiceConfig = Pick<
  Config,
  | "graceMs"
  | "idleTimeoutMs"
  | "maxAgeMs"
  | "startTimeoutMs"
  | "stopTimeoutMs"
  | "heartbeatMs"
  | "gpuMemory"
  | "gpuLimit"
  | "workingSet"
  | "instanceHost"
  | "stateDir"
  | "storageRoots"
> &
  Partial<Pick<Config, "slurmPartition" | "slurmPartitions" | "slurmTimeMs">> & { publicUrl: string };

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

export class InstanceService {
  private readonly waiters = new Map<string, Set<() => void>>();
  /**
   * How each stop in progress ends (a start timeout ends `failed`): the process may exit, or
   * slurm may report the job's end, before stop() itself gets there, and that path must not
   * turn the failure into a plain `stopped`.
   */
  private readonly stopsAs = new Map<string, "stopped" | "failed">();
  private polling: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(
    readonly store: Store,
    readonly backend: Backend,
    readonly secrets: SecretKeeper,
    readonly cfg: ServiceConfig,
  ) {
    backend.onExit = (id, how, code) => this.exited(id, how, code);
  }

  /** The API view of a row; the URL (which carries the secret) only for the owner. */
  view(row: InstanceRow): Instance {
    const url = row.state === "running" && row.host && row.port ? `http://${hostForUrl(row.host)}:${row.port}/?token=${this.secrets.secretFor(row.id)}` : null;
    return {
      id: row.id,
      name: row.name,
      owner: { uid: row.owner_uid, name: row.owner_name },
      state: row.state,
      reason: row.reason,
      url,
      host: row.host,
      port: row.port,
      dataPort: row.data_port,
      shape: JSON.parse(row.shape) as number[],
      dtype: row.dtype,
      gpus: row.gpus,
      maxBytes: row.max_bytes,
      createdAt: iso(row.created_at),
      readyAt: iso(row.ready_at),
      openedAt: iso(row.opened_at),
      lastAccessAt: iso(row.last_access_at),
      stoppedAt: iso(row.stopped_at),
      deadline: this.deadline(row),
      job: row.job_id
        ? {
            id: row.job_id,
            state: row.job_state ?? "unknown",
            reason: row.job_reason,
            expectedStart: iso(row.expected_start_at),
            startedAt: iso(row.started_at),
            node: row.job_node,
            checkedAt: iso(row.job_checked_at),
          }
        : null,
    };
  }

  /** The earliest limit that will stop this instance, for the user to see. */
  deadline(row: InstanceRow): Instance["deadline"] {
    if (row.state !== "starting" && row.state !== "running") return null;
    const c = this.cfg;
    const t = limitBases(row);
    const options: { at: number; why: string }[] = [];
    if (row.state === "starting" && c.startTimeoutMs > 0) options.push({ at: t.start + c.startTimeoutMs, why: "start timeout" });
    if (row.state === "running" && row.opened_at === null && c.graceMs > 0 && t.grace !== null)
      options.push({ at: t.grace + c.graceMs, why: "grace period (not opened yet)" });
    if (row.opened_at !== null && c.idleTimeoutMs > 0)
      options.push({ at: (row.last_access_at ?? row.opened_at) + c.idleTimeoutMs, why: "idle timeout" });
    if (c.maxAgeMs > 0) options.push({ at: t.start + c.maxAgeMs, why: "maximum age" });
    if (options.length === 0) return null;
    const first = options.reduce((a, b) => (b.at < a.at ? b : a));
    return { at: iso(first.at), why: first.why };
  }

  /**
   * Owner check: someone else's instance is "not found", exactly like a missing id. Root and
   * members of the portal's admin group pass too (they may see and stop any).
   */
  getOwned(who: Identity, id: string): InstanceRow {
    const row = /^i-[0-9a-f]{16}$/.test(id) ? this.store.getInstance(id) : null;
    if (!row || (row.owner_uid !== who.uid && who.uid !== 0 && !who.admin)) throw notFound();
    return row;
  }

  list(who: Identity, all: boolean): InstanceRow[] {
    return this.store.listInstances(who.uid, all);
  }

  /** One of `who`'s instances as it is now: a live job is first asked about (slurm mode). */
  async current(who: Identity, id: string): Promise<InstanceRow> {
    const row = this.getOwned(who, id);
    if (row.job_id && LIVE_STATES.includes(row.state)) await this.refreshJobs();
    return this.store.getInstance(row.id)!;
  }

  /** slurm mode: the partitions a user may choose and the longest time limit. */
  slurmChoices(): { partitions: string[]; defaultPartition: string; maxTimeMs: number } {
    const c = this.cfg;
    const def = c.slurmPartition ?? "";
    const partitions = [...new Set([...(def ? [def] : []), ...(c.slurmPartitions ?? [])])];
    return { partitions, defaultPartition: def, maxTimeMs: c.slurmTimeMs ?? 8 * 3_600_000 };
  }

  private slurmSpec(req: CreateInstanceRequest): { partition?: string; timeMs?: number } | undefined {
    if (req.partition === undefined && req.timeMinutes === undefined) return undefined;
    if (this.backend.mode !== "slurm") throw new RemoteVisError("slurm_only", "partition and timeMinutes apply in slurm mode only", 400);
    const ch = this.slurmChoices();
    if (req.partition !== undefined && !ch.partitions.includes(req.partition))
      throw new RemoteVisError("invalid_partition", `partition must be one of: ${ch.partitions.join(", ") || "(slurm's default only)"}`, 400);
    const timeMs = req.timeMinutes === undefined ? undefined : req.timeMinutes * 60_000;
    if (timeMs !== undefined && timeMs > ch.maxTimeMs) throw new RemoteVisError("time_limit", `the time limit may be at most ${formatDuration(ch.maxTimeMs)}`, 400);
    return { ...(req.partition !== undefined ? { partition: req.partition } : {}), ...(timeMs !== undefined ? { timeMs } : {}) };
  }

  async create(who: Identity, req: CreateInstanceRequest): Promise<InstanceRow> {
    const c = this.cfg;
    const slurm = this.slurmSpec(req);
    const g = decideGpus({
      shape: req.shape,
      dtype: req.dtype,
      requested: req.gpus,
      inUse: this.store.gpusInUse(who.uid),
      limit: c.gpuLimit,
      workingSet: c.workingSet,
      gpuMemory: c.gpuMemory,
    });
    const id = newId("i-");
    const secret = this.secrets.secretFor(id);
    const logPath = join(c.stateDir, "logs", `${id}.log`);
    const row: InstanceRow = {
      id,
      name: req.name ?? "",
      owner_uid: who.uid,
      owner_gid: who.gid,
      owner_name: who.name,
      state: this.backend.mode === "slurm" ? "pending" : "starting",
      reason: null,
      pid: null,
      pgid: null,
      proc_start: null,
      host: null,
      port: null,
      data_port: null,
      secret_hash: hashSecret(secret),
      shape: JSON.stringify(req.shape),
      dtype: req.dtype,
      gpus: g.gpus,
      max_bytes: g.bytes,
      log_path: logPath,
      created_at: Date.now(),
      ready_at: null,
      opened_at: null,
      last_access_at: null,
      last_heartbeat_at: null,
      stopped_at: null,
      job_id: null,
      job_state: null,
      job_reason: null,
      expected_start_at: null,
      started_at: null,
      job_node: null,
      job_checked_at: null,
    };
    this.store.insertInstance(row);
    const args = [
      "--middleware", c.publicUrl,
      "--id", id,
      "--max-bytes", String(g.bytes),
      "--gpus", String(g.gpus),
      "--host", c.instanceHost,
      "--heartbeat", String(Math.max(1, Math.round(c.heartbeatMs / 1000))),
      ...c.storageRoots.flatMap((r) => ["--storage-root", r]),
    ];
    try {
      const p = await this.backend.launch({ id, owner: { uid: who.uid, gid: who.gid, name: who.name }, args, secret, logPath, gpus: g.gpus, ...(slurm ? { slurm } : {}) });
      this.store.updateInstance(id, { pid: p.pid, pgid: p.pgid, proc_start: p.procStart, job_id: p.job?.id ?? null });
      if (p.job) this.applyJob(this.store.getInstance(id)!, p.job.status);
    } catch (err) {
      this.finish(id, "failed", `could not start: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
    return this.store.getInstance(id)!;
  }

  /** Resolves when the instance left `starting` (or after `timeoutMs`) with its current row. */
  async waitStarted(id: string, timeoutMs: number): Promise<InstanceRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const row = this.store.getInstance(id)!;
      const left = deadline - Date.now();
      if (row.state !== "starting" || left <= 0) return row;
      await new Promise<void>((resolve) => {
        const set = this.waiters.get(id) ?? new Set();
        this.waiters.set(id, set);
        const done = () => {
          clearTimeout(t);
          set.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 1000));
        set.add(done);
      });
    }
  }

  private notify(id: string): void {
    for (const w of this.waiters.get(id) ?? []) w();
    this.waiters.delete(id);
  }

  /** Records the end (stopped/failed) once; later calls keep the first reason. */
  private finish(id: string, state: "stopped" | "failed", reason: string): void {
    this.stopsAs.delete(id);
    this.store.updateInstance(id, { state, reason, stopped_at: Date.now() }, LIVE_STATES);
    this.notify(id);
  }

  /**
   * Stops an instance: `stopping` (with the reason), signals or cancels, then `stopped` or
   * `failed`. A job whose end slurm has not confirmed yet stays `stopping`; refreshJobs()
   * finishes it (and cancels again while it still runs).
   */
  async stop(id: string, reason: string, final: "stopped" | "failed" = "stopped"): Promise<InstanceRow> {
    const row = this.store.getInstance(id);
    if (!row) throw notFound();
    if (row.state === "stopped" || row.state === "failed") return row;
    if (row.state !== "stopping") {
      this.stopsAs.set(id, final);
      this.store.updateInstance(id, { state: "stopping", reason }, LIVE_STATES.filter((s) => s !== "stopping"));
    }
    const job = await this.backend.stop(this.store.getInstance(id)!, this.cfg.stopTimeoutMs);
    const current = this.store.getInstance(id)!;
    if (job && !job.gone && !job.ends) {
      this.applyJob(current, job); // not confirmed yet: stays stopping
      return this.store.getInstance(id)!;
    }
    if (job?.ends) this.store.updateInstance(id, { job_state: job.state, job_reason: job.reason, job_checked_at: Date.now() });
    this.finish(id, final, current.reason ?? reason);
    return this.store.getInstance(id)!;
  }

  /** A process this middleware started ended. Expected (stopping) or not (failed). */
  private exited(id: string, how: string, code: number | null): void {
    const row = this.store.getInstance(id);
    if (!row || row.state === "stopped" || row.state === "failed") return;
    if (row.state === "stopping") return this.finish(id, this.stopsAs.get(id) ?? "stopped", row.reason ?? `stopped (${how})`);
    const tail = logTail(row.log_path, 8);
    const clean = code === 0 && row.state === "running";
    this.finish(id, clean ? "stopped" : "failed", `the instance ${how}${tail ? `; last lines of its log:\n${tail}` : ""}`);
  }

  // ---- call-backs of the instance itself (authenticated by its secret) ----

  /** Finds the instance a call-back is about and checks the secret it presented. */
  callbackRow(id: string, secret: string | undefined): InstanceRow {
    const row = /^i-[0-9a-f]{16}$/.test(id) ? this.store.getInstance(id) : null;
    if (!row) throw notFound();
    if (!secret || !SecretKeeper.matches(secret, row.secret_hash))
      throw new RemoteVisError("unauthenticated", "wrong or missing instance secret", 401);
    return row;
  }

  ready(row: InstanceRow, r: { host: string; port: number; dataPort: number }): InstanceRow {
    if (!REPORTING_STATES.includes(row.state)) throw new RemoteVisError("not_wanted", `this instance is ${row.state}; it should exit`, 409);
    const now = Date.now();
    // A job can report in before squeue was asked whether it runs: then it started by now.
    const started = row.job_id ? { started_at: row.started_at ?? now, expected_start_at: null, job_state: "running" as const, job_reason: null } : {};
    this.store.updateInstance(row.id, { state: "running", host: r.host, port: r.port, data_port: r.dataPort, ready_at: row.ready_at ?? now, last_heartbeat_at: now, ...started }, REPORTING_STATES);
    this.notify(row.id);
    return this.store.getInstance(row.id)!;
  }

  heartbeat(row: InstanceRow, connections: number): "continue" | "stop" {
    if (!REPORTING_STATES.includes(row.state)) return "stop";
    const now = Date.now();
    this.store.updateInstance(row.id, connections > 0 ? { last_heartbeat_at: now, last_access_at: now } : { last_heartbeat_at: now });
    return "continue";
  }

  access(row: InstanceRow): void {
    const now = Date.now();
    this.store.updateInstance(row.id, { opened_at: row.opened_at ?? now, last_access_at: now });
  }

  // ---- restart and lifecycle ----

  /**
   * After a middleware restart: live instances whose process is still there stay as they are
   * (they keep reporting in); those that ended meanwhile become failed with what is known.
   */
  reconnect(): { kept: number; failed: number } {
    let kept = 0;
    let failed = 0;
    for (const row of this.store.instancesIn(LIVE_STATES)) {
      if (this.backend.alive(row)) {
        kept++;
        continue;
      }
      failed++;
      const tail = logTail(row.log_path, 8);
      const was = row.state === "stopping" ? "stopped" : "failed";
      this.finish(row.id, was, row.state === "stopping" ? (row.reason ?? "stopped") : `the instance ended while the middleware was not running (exit status unknown)${tail ? `; last lines of its log:\n${tail}` : ""}`);
    }
    return { kept, failed };
  }

  /**
   * Slurm mode: asks the scheduler about every live job in one query and applies the answers.
   * Every caller gets an answer asked for after its call; callers that come while a query runs
   * share the one that follows it (at most one squeue at a time, one more queued, however many
   * status requests arrive).
   */
  refreshJobs(): Promise<void> {
    if (!this.backend.jobs) return Promise.resolve();
    if (!this.polling) return this.poll();
    this.queued ??= this.polling.then(() => {
      this.queued = undefined;
      return this.poll();
    });
    return this.queued;
  }

  private poll(): Promise<void> {
    const p = this.pollOnce().finally(() => {
      if (this.polling === p) this.polling = undefined;
    });
    this.polling = p;
    return p;
  }

  private async pollOnce(): Promise<void> {
    const rows = this.store.instancesIn(LIVE_STATES).filter((r) => r.job_id !== null);
    if (rows.length === 0) return;
    const status = await this.backend.jobs!(rows);
    for (const row of rows) {
      const s = status.get(row.job_id!);
      const now = this.store.getInstance(row.id);
      if (s && now) this.applyJob(now, s);
    }
  }

  /** What slurm says about a row's job, applied: its state, expected start, or its end. */
  private applyJob(row: InstanceRow, s: JobStatus): void {
    if (!LIVE_STATES.includes(row.state)) return;
    const now = Date.now();
    const id = row.job_id!;
    if (s.state === "unknown" && !s.gone) {
      // A controller hiccup: keep what is known. Only a not yet running instance shows it.
      const patch: Partial<InstanceRow> = { job_state: "unknown", job_reason: s.reason };
      if (row.state === "pending" || row.state === "starting") patch.state = "unknown";
      this.store.updateInstance(row.id, patch, [row.state]);
      return;
    }
    const patch: Partial<InstanceRow> = { job_state: s.state, job_reason: s.reason, job_node: s.node ?? row.job_node, job_checked_at: now };
    if (s.gone || s.ends) {
      this.store.updateInstance(row.id, s.gone ? { job_state: row.job_state, job_checked_at: now } : patch);
      if (row.state === "stopping") return this.finish(row.id, this.stopsAs.get(row.id) ?? "stopped", row.reason ?? `slurm job ${id} ended`);
      if (s.gone) return this.finish(row.id, "failed", `slurm job ${id} ended unseen: slurm no longer knows it, so how it ended is unknown`);
      const tail = s.ends!.as === "failed" ? logTail(row.log_path, 8) : "";
      return this.finish(row.id, s.ends!.as, `slurm job ${id} ended: ${s.ends!.why}${tail ? `; last lines of its log:\n${tail}` : ""}`);
    }
    if (s.state === "pending") {
      // An answer from before the job started (it reported in meanwhile): nothing new.
      if (row.state === "starting" || row.state === "running") return;
      patch.expected_start_at = s.startAt;
      if (row.state === "unknown") patch.state = "pending";
    } else {
      // running or completing: the job holds its node.
      patch.started_at = row.started_at ?? s.startAt ?? now;
      patch.expected_start_at = null;
      if (row.state === "pending" || row.state === "unknown") patch.state = row.ready_at !== null ? "running" : "starting";
      if (row.state === "stopping" && s.state === "running") this.cancelAgain(row);
    }
    if (row.state === "stopping" && s.state === "pending") this.cancelAgain(row);
    this.store.updateInstance(row.id, patch, [row.state]);
    if (patch.state) this.notify(row.id);
  }

  private readonly cancelling = new Set<string>();
  /** A job that should have ended still runs (a cancel the controller missed): again. */
  private cancelAgain(row: InstanceRow): void {
    if (this.cancelling.has(row.id)) return;
    this.cancelling.add(row.id);
    void this.backend
      .stop(row, 0)
      .catch(() => {})
      .finally(() => this.cancelling.delete(row.id));
  }

  /** Rows that a limit says must stop now, with the reason to record. */
  due(now = Date.now()): { row: InstanceRow; reason: string; final: "stopped" | "failed" }[] {
    const c = this.cfg;
    const out: { row: InstanceRow; reason: string; final: "stopped" | "failed" }[] = [];
    for (const row of this.store.instancesIn(["starting", "running"])) {
      const t = limitBases(row);
      if (!this.backend.alive(row) && row.pid !== null) {
        const tail = logTail(row.log_path, 8);
        out.push({ row, reason: `the instance process is gone${tail ? `; last lines of its log:\n${tail}` : ""}`, final: "failed" });
      } else if (row.state === "starting" && c.startTimeoutMs > 0 && now - t.start > c.startTimeoutMs) {
        const tail = logTail(row.log_path);
        out.push({ row, reason: `the instance did not report in within ${formatDuration(c.startTimeoutMs)} (start timeout)${tail ? `; last lines of its log:\n${tail}` : "; its log is empty"}`, final: "failed" });
      } else if (c.maxAgeMs > 0 && now - t.start > c.maxAgeMs) {
        out.push({ row, reason: `reached the maximum age of ${formatDuration(c.maxAgeMs)}`, final: "stopped" });
      } else if (row.state === "running" && row.opened_at === null && c.graceMs > 0 && t.grace !== null && now - t.grace > c.graceMs) {
        out.push({ row, reason: `nobody opened it within the grace period of ${formatDuration(c.graceMs)}`, final: "stopped" });
      } else if (row.opened_at !== null && c.idleTimeoutMs > 0 && now - (row.last_access_at ?? row.opened_at) > c.idleTimeoutMs) {
        out.push({ row, reason: `unused for the idle timeout of ${formatDuration(c.idleTimeoutMs)}`, final: "stopped" });
      }
    }
    return out;
  }
}

/** States in which an instance may report in and heartbeat (a job can run before squeue says so). */
const REPORTING_STATES: InstanceState[] = ["pending", "starting", "running", "unknown"];

/**
 * Where the limits count from. Local: created (start timeout, max age) and reported ready
 * (grace). Slurm: when the job started running, for all three; a pending job has no limits.
 */
function limitBases(row: InstanceRow): { start: number; grace: number | null } {
  return { start: row.started_at ?? row.created_at, grace: row.started_at ?? row.ready_at };
}

export function notFound(): RemoteVisError {
  return new RemoteVisError("not_found", "no such instance", 404);
}

function hostForUrl(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

export type { InstanceState };
