/**
 * Configuration of `remotevis serve`, described as data: each setting has one name that is
 * the flag (`--grace`), the file key (`grace`, or `grace_period` style with underscores) and,
 * upper-cased with REMOTEVIS_ in front, the environment variable (`REMOTEVIS_GRACE`). The
 * help of `remotevis serve` is generated from this table. Precedence: flag > env > file >
 * default.
 */
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parseBytes } from "../cli/command.ts";
import { RemoteVisError } from "../errors.ts";
import { parseDuration } from "./units.ts";

export interface Config {
  bind: string;
  port: number;
  mode: "local" | "slurm";
  db: string;
  /** Where instance logs and secrets and the server key live (default: beside the db). */
  stateDir: string;
  storageRoots: string[];
  /** URL that instances use to report in (default: http://BIND:PORT). */
  publicUrl: string | undefined;
  /** Address that instances bind and report (their URL's host). */
  instanceHost: string;
  graceMs: number;
  idleTimeoutMs: number;
  maxAgeMs: number;
  startTimeoutMs: number;
  stopTimeoutMs: number;
  heartbeatMs: number;
  sweepMs: number;
  gpuMemory: number;
  gpuLimit: number;
  workingSet: number;
  mungeSocket: string | undefined;
  /** Environment variables passed through to instances (their names; prefixes end with *). */
  instanceEnv: string[];
  /** slurm mode: where jobs go and what they ask for ("" = slurm's default). */
  slurmPartition: string;
  slurmAccount: string;
  slurmQos: string;
  slurmConstraint: string;
  /** The job's time limit (--time); always given, so that slurm can estimate start times. */
  slurmTimeMs: number;
  /** The sbatch option that asks for the GPUs; {gpus} is the count ("" = ask for none). */
  slurmGpus: string;
  /** More sbatch arguments, each one argv element. */
  slurmExtra: string[];
  /** `remotevis` on the compute nodes (default: this program's own path). */
  slurmProgram: string;
  /** The job's output file (sbatch --output; "" = STATE_DIR/logs/ID.log). */
  slurmOutput: string;
  /** Folder of sbatch, squeue, scancel, sinfo ("" = PATH). */
  slurmBin: string;
  /** A slurm command that takes longer counts as "controller not answering". */
  slurmTimeoutMs: number;
  /** slurm mode: partitions a portal user may choose ([] = only slurmPartition). */
  slurmPartitions: string[];
  /** The web portal at /portal/ (and the viewer proxy at /i/ID/): "on" or "off". */
  portal: "on" | "off";
  /** PAM service of portal logins (/etc/pam.d/NAME). */
  pamService: string;
  /** Members of this group see every instance in the portal and may stop any ("" = nobody). */
  adminGroup: string;
  /** TLS certificate and key (PEM files); both set = HTTPS. */
  tlsCert: string;
  tlsKey: string;
  /** Portal sessions end this long after login, or after this long unused. */
  sessionMaxMs: number;
  sessionIdleMs: number;
}

type Kind = "string" | "int" | "number" | "duration" | "bytes" | "list";
interface Setting {
  key: keyof Config;
  flag: string;
  kind: Kind;
  value: string;
  help: string;
  /** Shown in --help. */
  shown: string;
}

const isRoot = () => process.getuid?.() === 0;
export function defaultDb(): string {
  return isRoot() ? "/var/lib/remotevis/remotevis.db" : join(homedir(), ".local/share/remotevis/remotevis.db");
}

export const SETTINGS: Setting[] = [
  { key: "bind", flag: "bind", kind: "string", value: "ADDR", help: "address to listen on", shown: "127.0.0.1" },
  { key: "port", flag: "port", kind: "int", value: "PORT", help: "port to listen on (0 = any free port, printed at start)", shown: "8470" },
  { key: "mode", flag: "mode", kind: "string", value: "MODE", help: "where instances run: local (this machine) or slurm", shown: "local" },
  { key: "db", flag: "db", kind: "string", value: "PATH", help: "SQLite database of instances and tokens", shown: "/var/lib/remotevis/remotevis.db as root, else ~/.local/share/remotevis/remotevis.db" },
  { key: "stateDir", flag: "state-dir", kind: "string", value: "DIR", help: "instance logs, secrets and the server key", shown: "the db's folder" },
  { key: "storageRoots", flag: "storage-roots", kind: "list", value: "DIRS", help: "comma-separated folders instances may load files from", shown: "none" },
  { key: "publicUrl", flag: "public-url", kind: "string", value: "URL", help: "URL at which instances reach the middleware", shown: "http://BIND:PORT" },
  { key: "instanceHost", flag: "instance-host", kind: "string", value: "ADDR", help: "address instances bind and put in their URL (auto: each instance's address facing the middleware; for slurm jobs on other nodes)", shown: "127.0.0.1" },
  { key: "graceMs", flag: "grace", kind: "duration", value: "TIME", help: "stop an instance nobody opened within this time after it started (0 = never)", shown: "60m" },
  { key: "idleTimeoutMs", flag: "idle-timeout", kind: "duration", value: "TIME", help: "stop an opened instance unused for this long (0 = never)", shown: "8h" },
  { key: "maxAgeMs", flag: "max-age", kind: "duration", value: "TIME", help: "stop any instance this old (0 = never)", shown: "7d" },
  { key: "startTimeoutMs", flag: "start-timeout", kind: "duration", value: "TIME", help: "an instance that has not reported in by then failed", shown: "30s" },
  { key: "stopTimeoutMs", flag: "stop-timeout", kind: "duration", value: "TIME", help: "SIGTERM to SIGKILL when stopping an instance", shown: "5s" },
  { key: "heartbeatMs", flag: "heartbeat", kind: "duration", value: "TIME", help: "how often instances report that they live", shown: "10s" },
  { key: "sweepMs", flag: "sweep", kind: "duration", value: "TIME", help: "how often grace, idle and age limits are checked", shown: "5s" },
  { key: "gpuMemory", flag: "gpu-memory", kind: "bytes", value: "BYTES", help: "memory of one GPU, for the GPU estimate", shown: "80GiB" },
  { key: "gpuLimit", flag: "gpu-limit", kind: "int", value: "N", help: "GPUs one user may hold at once (over all running instances)", shown: "4" },
  { key: "workingSet", flag: "working-set", kind: "number", value: "FACTOR", help: "GPU memory per byte of volume (volume + rendering structures)", shown: "2" },
  { key: "mungeSocket", flag: "munge-socket", kind: "string", value: "PATH", help: "munged socket for unmunge", shown: "munge's default" },
  { key: "instanceEnv", flag: "instance-env", kind: "list", value: "NAMES", help: "environment passed to instances (comma-separated, PREFIX* allowed)", shown: "UCX_*,CUDA_VISIBLE_DEVICES,REMOTEVIS_DEBUG" },
  { key: "slurmPartition", flag: "slurm-partition", kind: "string", value: "NAME", help: "slurm mode: partition of the jobs", shown: "slurm's default partition" },
  { key: "slurmAccount", flag: "slurm-account", kind: "string", value: "NAME", help: "slurm mode: account of the jobs", shown: "the user's default" },
  { key: "slurmQos", flag: "slurm-qos", kind: "string", value: "NAME", help: "slurm mode: QoS of the jobs", shown: "the default" },
  { key: "slurmConstraint", flag: "slurm-constraint", kind: "string", value: "FEATURES", help: "slurm mode: node features the jobs need (--constraint)", shown: "none" },
  { key: "slurmTimeMs", flag: "slurm-time", kind: "duration", value: "TIME", help: "slurm mode: time limit of each job (slurm ends it then, reason timeout)", shown: "8h" },
  { key: "slurmGpus", flag: "slurm-gpus", kind: "string", value: "OPTION", help: "slurm mode: sbatch option asking for the GPUs, {gpus} = count (e.g. --gres=gpu:{gpus}; empty = none)", shown: "--gpus={gpus}" },
  { key: "slurmExtra", flag: "slurm-extra", kind: "list", value: "ARGS", help: "slurm mode: more sbatch arguments (comma-separated, or an array in the file)", shown: "none" },
  { key: "slurmProgram", flag: "slurm-program", kind: "string", value: "PATH", help: "slurm mode: path of remotevis on the compute nodes", shown: "this program's path" },
  { key: "slurmOutput", flag: "slurm-output", kind: "string", value: "PATH", help: "slurm mode: job output file (sbatch --output patterns like %u, %j work)", shown: "STATE_DIR/logs/ID.log" },
  { key: "slurmBin", flag: "slurm-bin", kind: "string", value: "DIR", help: "slurm mode: folder of sbatch, squeue, scancel, sinfo", shown: "PATH" },
  { key: "slurmTimeoutMs", flag: "slurm-timeout", kind: "duration", value: "TIME", help: "slurm mode: a slurm command slower than this means the controller does not answer", shown: "5s" },
  { key: "slurmPartitions", flag: "slurm-partitions", kind: "list", value: "NAMES", help: "slurm mode: partitions portal users may choose (comma-separated)", shown: "slurm-partition only" },
  { key: "portal", flag: "portal", kind: "string", value: "on|off", help: "the web portal at /portal/ and the viewer proxy at /i/ID/", shown: "on" },
  { key: "pamService", flag: "pam-service", kind: "string", value: "NAME", help: "PAM service of portal logins (/etc/pam.d/NAME; scripts/pam-install.sh writes 'remotevis')", shown: "remotevis" },
  { key: "adminGroup", flag: "admin-group", kind: "string", value: "GROUP", help: "members see and may stop every instance in the portal", shown: "none" },
  { key: "tlsCert", flag: "tls-cert", kind: "string", value: "PEM", help: "TLS certificate (with tls-key: serve HTTPS)", shown: "none (HTTP)" },
  { key: "tlsKey", flag: "tls-key", kind: "string", value: "PEM", help: "TLS private key", shown: "none" },
  { key: "sessionMaxMs", flag: "session-max", kind: "duration", value: "TIME", help: "portal sessions end this long after login", shown: "12h" },
  { key: "sessionIdleMs", flag: "session-idle", kind: "duration", value: "TIME", help: "portal sessions end after this long unused", shown: "2h" },
];

export function defaults(): Config {
  const db = defaultDb();
  return {
    bind: "127.0.0.1",
    port: 8470,
    mode: "local",
    db,
    stateDir: dirname(db),
    storageRoots: [],
    publicUrl: undefined,
    instanceHost: "127.0.0.1",
    graceMs: 60 * 60_000,
    idleTimeoutMs: 8 * 3_600_000,
    maxAgeMs: 7 * 86_400_000,
    startTimeoutMs: 30_000,
    stopTimeoutMs: 5_000,
    heartbeatMs: 10_000,
    sweepMs: 5_000,
    gpuMemory: 80 * 2 ** 30,
    gpuLimit: 4,
    workingSet: 2,
    mungeSocket: undefined,
    instanceEnv: ["UCX_*", "CUDA_VISIBLE_DEVICES", "REMOTEVIS_DEBUG"],
    slurmPartition: "",
    slurmAccount: "",
    slurmQos: "",
    slurmConstraint: "",
    slurmTimeMs: 8 * 3_600_000,
    slurmGpus: "--gpus={gpus}",
    slurmExtra: [],
    slurmProgram: "",
    slurmOutput: "",
    slurmBin: "",
    slurmTimeoutMs: 5_000,
    slurmPartitions: [],
    portal: "on",
    pamService: "remotevis",
    adminGroup: "",
    tlsCert: "",
    tlsKey: "",
    sessionMaxMs: 12 * 3_600_000,
    sessionIdleMs: 2 * 3_600_000,
  };
}

function convert(s: Setting, raw: unknown, where: string): unknown {
  const what = `${s.flag} (${where})`;
  if (s.kind === "list") {
    if (Array.isArray(raw) && raw.every((x) => typeof x === "string")) return raw;
    if (typeof raw === "string") return raw.split(",").map((x) => x.trim()).filter(Boolean);
    throw new RemoteVisError("config", `${what}: expected a comma-separated list or an array of strings`);
  }
  if (typeof raw === "number" && s.kind !== "string") {
    if (s.kind === "duration") return Math.round(raw * 1000); // a bare number is seconds
    if (!Number.isFinite(raw) || raw < 0) throw new RemoteVisError("config", `${what}: must be a number >= 0`);
    return raw;
  }
  if (typeof raw !== "string") throw new RemoteVisError("config", `${what}: expected a ${s.kind}`);
  switch (s.kind) {
    case "string":
      return raw;
    case "duration":
      return parseDuration(raw, what);
    case "bytes":
      return parseBytes(raw);
    case "int":
    case "number": {
      const n = Number(raw);
      if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || (s.kind === "int" && !Number.isInteger(n)))
        throw new RemoteVisError("config", `${what}: expected a ${s.kind === "int" ? "whole " : ""}number >= 0`);
      return n;
    }
  }
}

/** The file's settings: TOML (by extension .toml) or JSON. Unknown keys are errors (typos). */
export async function readConfigFile(path: string): Promise<Record<string, unknown>> {
  const file = Bun.file(path);
  if (!(await file.exists())) throw new RemoteVisError("config", `config file not found: ${path}`);
  const text = await file.text();
  try {
    const parsed = path.endsWith(".toml") ? Bun.TOML.parse(text) : JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new Error("not a table/object");
    return parsed as Record<string, unknown>;
  } catch (err) {
    throw new RemoteVisError("config", `cannot parse ${path} as ${path.endsWith(".toml") ? "TOML" : "JSON"}: ${err instanceof Error ? err.message : err}`);
  }
}

/**
 * Merges the layers. `flags` holds flag values by flag name (undefined = not given), `env` the
 * process environment, `file` the parsed config file.
 */
export function resolveConfig(layers: { file?: Record<string, unknown>; env?: Record<string, string | undefined>; flags?: Record<string, unknown> }): Config {
  const cfg = defaults() as unknown as Record<string, unknown>;
  const byName = new Map(SETTINGS.map((s) => [s.flag, s]));
  let stateDirGiven = false;
  const set = (s: Setting, raw: unknown, where: string) => {
    cfg[s.key] = convert(s, raw, where);
    if (s.key === "stateDir") stateDirGiven = true;
  };
  for (const [k, raw] of Object.entries(layers.file ?? {})) {
    const s = byName.get(k.replace(/_/g, "-"));
    if (!s) throw new RemoteVisError("config", `unknown setting '${k}' in the config file; see 'remotevis serve --help'`);
    set(s, raw, "config file");
  }
  for (const s of SETTINGS) {
    const name = `REMOTEVIS_${s.flag.toUpperCase().replace(/-/g, "_")}`;
    const raw = layers.env?.[name];
    if (raw !== undefined && raw !== "") set(s, raw, name);
  }
  for (const s of SETTINGS) {
    const raw = layers.flags?.[s.flag];
    if (raw !== undefined) set(s, raw, `--${s.flag}`);
  }
  const c = cfg as unknown as Config;
  if (!stateDirGiven) c.stateDir = dirname(c.db);
  if (c.mode !== "local" && c.mode !== "slurm") throw new RemoteVisError("config", "mode: expected local or slurm");
  if (c.port > 65535) throw new RemoteVisError("config", "port: must be 0..65535");
  if (c.gpuMemory <= 0) throw new RemoteVisError("config", "gpu-memory: must be more than 0");
  if (c.workingSet <= 0) throw new RemoteVisError("config", "working-set: must be more than 0");
  if (c.slurmTimeMs < 60_000) throw new RemoteVisError("config", "slurm-time: must be at least 1m (slurm counts time limits in minutes)");
  if (c.slurmTimeoutMs <= 0) throw new RemoteVisError("config", "slurm-timeout: must be more than 0");
  if (c.portal !== "on" && c.portal !== "off") throw new RemoteVisError("config", "portal: expected on or off");
  if (!c.tlsCert !== !c.tlsKey) throw new RemoteVisError("config", "tls-cert and tls-key: give both (HTTPS) or neither (HTTP)");
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(c.pamService)) throw new RemoteVisError("config", "pam-service: a name under /etc/pam.d (letters, digits, '.', '_', '-')");
  if (c.sessionMaxMs <= 0 || c.sessionIdleMs <= 0) throw new RemoteVisError("config", "session-max and session-idle: must be more than 0");
  return c;
}
