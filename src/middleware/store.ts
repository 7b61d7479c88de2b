/**
 * The middleware's state in SQLite (WAL): instances and API tokens. Everything a restarted
 * middleware needs to find its instances again is here; secrets and tokens only as hashes.
 * Times are milliseconds since the epoch; the routes turn them into ISO strings.
 */
import { Database } from "bun:sqlite";
import { chmodSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { InstanceState, JobState } from "../protocol/instances.ts";

export interface InstanceRow {
  id: string;
  name: string;
  owner_uid: number;
  owner_gid: number;
  owner_name: string;
  state: InstanceState;
  reason: string | null;
  pid: number | null;
  pgid: number | null;
  /** /proc/PID/stat start time, so that a recycled pid is not mistaken for the instance. */
  proc_start: string | null;
  host: string | null;
  port: number | null;
  data_port: number | null;
  secret_hash: string;
  shape: string;
  dtype: string;
  gpus: number;
  max_bytes: number;
  log_path: string | null;
  created_at: number;
  ready_at: number | null;
  opened_at: number | null;
  last_access_at: number | null;
  last_heartbeat_at: number | null;
  stopped_at: number | null;
  /** slurm mode: the job, its last known state and reason (null in local mode). */
  job_id: string | null;
  job_state: JobState | null;
  job_reason: string | null;
  /** While pending: slurm's expected start. */
  expected_start_at: number | null;
  /** When the job started running (slurm); the grace period and start timeout count from it. */
  started_at: number | null;
  job_node: string | null;
  job_checked_at: number | null;
}

export interface TokenRow {
  id: string;
  owner_uid: number;
  owner_gid: number;
  owner_name: string;
  name: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
  expires_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS instances (
  id TEXT PRIMARY KEY, name TEXT NOT NULL,
  owner_uid INTEGER NOT NULL, owner_gid INTEGER NOT NULL, owner_name TEXT NOT NULL,
  state TEXT NOT NULL, reason TEXT,
  pid INTEGER, pgid INTEGER, proc_start TEXT,
  host TEXT, port INTEGER, data_port INTEGER,
  secret_hash TEXT NOT NULL,
  shape TEXT NOT NULL, dtype TEXT NOT NULL, gpus INTEGER NOT NULL, max_bytes INTEGER NOT NULL,
  log_path TEXT,
  created_at INTEGER NOT NULL, ready_at INTEGER, opened_at INTEGER, last_access_at INTEGER,
  last_heartbeat_at INTEGER, stopped_at INTEGER,
  job_id TEXT, job_state TEXT, job_reason TEXT, expected_start_at INTEGER, started_at INTEGER,
  job_node TEXT, job_checked_at INTEGER
);
CREATE INDEX IF NOT EXISTS instances_owner ON instances(owner_uid, state);
CREATE INDEX IF NOT EXISTS instances_state ON instances(state);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY,
  owner_uid INTEGER NOT NULL, owner_gid INTEGER NOT NULL, owner_name TEXT NOT NULL,
  name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL, last_used_at INTEGER, expires_at INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_owner ON tokens(owner_uid);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY, hash TEXT NOT NULL,
  uid INTEGER NOT NULL, gid INTEGER NOT NULL, name TEXT NOT NULL, admin INTEGER NOT NULL,
  csrf TEXT NOT NULL, addr TEXT NOT NULL,
  created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL, expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expiry ON sessions(expires_at);
`;

/** A portal login (cookie `id.secret`; only the secret's hash is kept). */
export interface SessionRow {
  id: string;
  hash: string;
  uid: number;
  gid: number;
  name: string;
  admin: number;
  csrf: string;
  addr: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/** Columns added after the first release: a database of an older version gets them on open. */
const ADDED_COLUMNS: Record<string, string> = {
  job_id: "TEXT",
  job_state: "TEXT",
  job_reason: "TEXT",
  expected_start_at: "INTEGER",
  started_at: "INTEGER",
  job_node: "TEXT",
  job_checked_at: "INTEGER",
};

/** States in which an instance holds (or waits for) resources: GPUs, a process, a job. */
export const LIVE_STATES: InstanceState[] = ["pending", "starting", "running", "unknown", "stopping"];

export class Store {
  private readonly db: Database;
  private closed = false;

  constructor(path: string) {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    this.db = new Database(path, { create: true, strict: true });
    // Hashes of secrets and tokens: nobody but the middleware's user reads the database.
    if (path !== ":memory:") chmodSync(path, 0o600);
    this.db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;");
    this.db.exec(SCHEMA);
    const have = new Set(this.db.query<{ name: string }, []>("PRAGMA table_info(instances)").all().map((c) => c.name));
    for (const [col, type] of Object.entries(ADDED_COLUMNS)) if (!have.has(col)) this.db.exec(`ALTER TABLE instances ADD COLUMN ${col} ${type}`);
  }

  insertInstance(row: InstanceRow): void {
    const cols = Object.keys(row);
    this.db
      .query(`INSERT INTO instances (${cols.join(",")}) VALUES (${cols.map((c) => `$${c}`).join(",")})`)
      .run(row as never);
  }

  getInstance(id: string): InstanceRow | null {
    return this.db.query<InstanceRow, [string]>("SELECT * FROM instances WHERE id = ?").get(id);
  }

  /** Partial update; `state` changes can be guarded with `whenState` (compare-and-set). */
  updateInstance(id: string, patch: Partial<InstanceRow>, whenState?: InstanceState[]): boolean {
    const cols = Object.keys(patch);
    if (cols.length === 0) return false;
    const guard = whenState ? ` AND state IN (${whenState.map((s) => `'${s}'`).join(",")})` : "";
    const r = this.db
      .query(`UPDATE instances SET ${cols.map((c) => `${c} = $${c}`).join(", ")} WHERE id = $id${guard}`)
      .run({ ...patch, id } as never);
    return r.changes > 0;
  }

  listInstances(ownerUid: number, includeEnded = true): InstanceRow[] {
    const live = includeEnded ? "" : ` AND state IN (${LIVE_STATES.map((s) => `'${s}'`).join(",")})`;
    return this.db.query<InstanceRow, [number]>(`SELECT * FROM instances WHERE owner_uid = ?${live} ORDER BY created_at DESC`).all(ownerUid);
  }

  /** Every instance in one of `states` (lifecycle sweeps, restart reconnect). */
  instancesIn(states: InstanceState[]): InstanceRow[] {
    return this.db.query<InstanceRow, []>(`SELECT * FROM instances WHERE state IN (${states.map((s) => `'${s}'`).join(",")})`).all();
  }

  /** GPUs held by a user's live instances. */
  gpusInUse(ownerUid: number): number {
    const r = this.db
      .query<{ n: number | null }, [number]>(`SELECT SUM(gpus) AS n FROM instances WHERE owner_uid = ? AND state IN (${LIVE_STATES.map((s) => `'${s}'`).join(",")})`)
      .get(ownerUid);
    return r?.n ?? 0;
  }

  insertToken(row: TokenRow): void {
    const cols = Object.keys(row);
    this.db.query(`INSERT INTO tokens (${cols.join(",")}) VALUES (${cols.map((c) => `$${c}`).join(",")})`).run(row as never);
  }

  tokenByHash(hash: string): TokenRow | null {
    return this.db.query<TokenRow, [string]>("SELECT * FROM tokens WHERE hash = ?").get(hash);
  }

  touchToken(id: string, at: number): void {
    this.db.query("UPDATE tokens SET last_used_at = ? WHERE id = ?").run(at, id);
  }

  listTokens(ownerUid: number): TokenRow[] {
    return this.db.query<TokenRow, [number]>("SELECT * FROM tokens WHERE owner_uid = ? ORDER BY created_at DESC").all(ownerUid);
  }

  deleteToken(id: string, ownerUid: number): boolean {
    return this.db.query("DELETE FROM tokens WHERE id = ? AND owner_uid = ?").run(id, ownerUid).changes > 0;
  }

  insertSession(row: SessionRow): void {
    const cols = Object.keys(row);
    this.db.query(`INSERT INTO sessions (${cols.join(",")}) VALUES (${cols.map((c) => `$${c}`).join(",")})`).run(row as never);
  }

  getSession(id: string): SessionRow | null {
    return this.db.query<SessionRow, [string]>("SELECT * FROM sessions WHERE id = ?").get(id);
  }

  touchSession(id: string, at: number): void {
    this.db.query("UPDATE sessions SET last_seen_at = ? WHERE id = ?").run(at, id);
  }

  deleteSession(id: string): boolean {
    return this.db.query("DELETE FROM sessions WHERE id = ?").run(id).changes > 0;
  }

  /** Removes sessions past their end; `idleBefore`: also those unused since then. */
  purgeSessions(now: number, idleBefore: number): number {
    return this.db.query("DELETE FROM sessions WHERE expires_at < ? OR last_seen_at < ?").run(now, idleBefore).changes;
  }

  /** Every instance, newest first (the portal's admin view). */
  allInstances(includeEnded = true): InstanceRow[] {
    const live = includeEnded ? "" : ` WHERE state IN (${LIVE_STATES.map((s) => `'${s}'`).join(",")})`;
    return this.db.query<InstanceRow, []>(`SELECT * FROM instances${live} ORDER BY created_at DESC LIMIT 1000`).all();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
  [Symbol.dispose](): void {
    this.close();
  }
}
