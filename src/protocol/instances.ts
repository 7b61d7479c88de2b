/**
 * Requests and responses of /api/v1/instances and of the instance call-backs. The middleware
 * validates with these, the client library validates the answers with the same ones.
 */
import * as v from "valibot";
import { Timestamp } from "./common.ts";

/** Element types of a volume and their size in bytes. */
export const DTYPE_BYTES = {
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  float16: 2,
  uint32: 4,
  int32: 4,
  float32: 4,
  uint64: 8,
  int64: 8,
  float64: 8,
} as const;
export type Dtype = keyof typeof DTYPE_BYTES;
export const DTYPES = Object.keys(DTYPE_BYTES) as Dtype[];

/** Largest extent of one axis; the product is checked separately (overflow). */
export const MAX_EXTENT = 2 ** 31 - 1;

export const Shape = v.pipe(
  v.array(
    v.pipe(
      v.number("each extent must be a number"),
      v.integer("each extent must be a whole number"),
      v.minValue(1, "each extent must be at least 1"),
      v.maxValue(MAX_EXTENT, `each extent must be at most ${MAX_EXTENT}`),
    ),
    "shape must be an array of extents, e.g. [512, 512, 512]",
  ),
  v.minLength(1, "shape needs 1 to 4 extents"),
  v.maxLength(4, "shape needs 1 to 4 extents"),
);

export const Name = v.pipe(
  v.string("name must be a string"),
  v.maxLength(64, "name must be at most 64 characters"),
  v.regex(/^[A-Za-z0-9._ -]*$/, "name may contain letters, digits, space, '.', '_' and '-' only"),
);

export const CreateInstanceRequest = v.strictObject({
  shape: Shape,
  dtype: v.picklist(DTYPES, `dtype must be one of ${DTYPES.join(", ")}`),
  gpus: v.optional(
    v.pipe(v.number("gpus must be a number"), v.integer("gpus must be a whole number"), v.minValue(1, "gpus must be at least 1"), v.maxValue(1024, "gpus must be at most 1024")),
  ),
  name: v.optional(Name),
  /** slurm mode: one of the partitions the site allows (slurm-partitions), and a time limit up to slurm-time. */
  partition: v.optional(v.pipe(v.string("partition must be a string"), v.regex(/^[A-Za-z0-9._-]{1,64}$/, "partition must be a slurm partition name"))),
  timeMinutes: v.optional(
    v.pipe(v.number("timeMinutes must be a number"), v.integer("timeMinutes must be a whole number"), v.minValue(1, "timeMinutes must be at least 1"), v.maxValue(525_600, "timeMinutes must be at most a year")),
  ),
});
export type CreateInstanceRequest = v.InferOutput<typeof CreateInstanceRequest>;

/**
 * `pending`: a slurm job waiting in the queue (see `job.expectedStart`). `unknown`: the
 * scheduler did not answer the last query (retried on the next; the instance is not dead).
 */
export const INSTANCE_STATES = ["pending", "starting", "running", "unknown", "stopping", "stopped", "failed"] as const;
export const InstanceState = v.picklist(INSTANCE_STATES);
export type InstanceState = v.InferOutput<typeof InstanceState>;

/** States of a slurm job as RemoteVis shows them (`unknown`: the controller did not answer). */
export const JOB_STATES = ["pending", "running", "completing", "completed", "failed", "cancelled", "timeout", "unknown"] as const;
export const JobState = v.picklist(JOB_STATES);
export type JobState = v.InferOutput<typeof JobState>;

/** The slurm job of an instance (slurm mode only), refreshed on every query. */
export const Job = v.object({
  id: v.string(),
  state: JobState,
  /** slurm's reason (Resources, Priority, TimeLimit, ...) or why the state is unknown. */
  reason: v.nullable(v.string()),
  /** While pending: when slurm expects the job to start (null until it has an estimate). */
  expectedStart: Timestamp,
  startedAt: Timestamp,
  node: v.nullable(v.string()),
  /** When slurm was last asked successfully. */
  checkedAt: Timestamp,
});
export type Job = v.InferOutput<typeof Job>;

export const Instance = v.object({
  id: v.string(),
  name: v.string(),
  owner: v.object({ uid: v.number(), name: v.string() }),
  state: InstanceState,
  /** Why it stopped or failed (grace period, idle, max age, start timeout, exit status, owner). */
  reason: v.nullable(v.string()),
  /** `http://HOST:PORT/?token=SECRET` once running; only the owner ever sees it. */
  url: v.nullable(v.string()),
  host: v.nullable(v.string()),
  port: v.nullable(v.number()),
  dataPort: v.nullable(v.number()),
  shape: v.array(v.number()),
  dtype: v.string(),
  gpus: v.number(),
  /** The most bytes one transfer to this instance may carry (fixed at creation). */
  maxBytes: v.number(),
  createdAt: Timestamp,
  readyAt: Timestamp,
  openedAt: Timestamp,
  lastAccessAt: Timestamp,
  stoppedAt: Timestamp,
  /** When the middleware will stop it unless something happens (grace, idle, max age). */
  deadline: v.nullable(v.object({ at: Timestamp, why: v.string() })),
  /** slurm mode: the job (id, state, expected start); null in local mode. */
  job: v.optional(v.nullable(Job), null),
});
export type Instance = v.InferOutput<typeof Instance>;

export const InstanceList = v.object({ instances: v.array(Instance) });
export type InstanceList = v.InferOutput<typeof InstanceList>;

const Port = v.pipe(v.number("port must be a number"), v.integer("port must be a whole number"), v.minValue(1, "port must be 1..65535"), v.maxValue(65535, "port must be 1..65535"));

/** Instance -> middleware: "I am up here". */
export const ReadyRequest = v.strictObject({
  host: v.pipe(v.string("host must be a string"), v.minLength(1, "host must not be empty"), v.maxLength(255, "host is too long")),
  port: Port,
  dataPort: Port,
  pid: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
});
export type ReadyRequest = v.InferOutput<typeof ReadyRequest>;

/** Instance -> middleware, every few seconds: how many viewer/control connections are open. */
export const HeartbeatRequest = v.strictObject({
  connections: v.pipe(v.number("connections must be a number"), v.integer("connections must be a whole number"), v.minValue(0, "connections must be >= 0")),
});
export type HeartbeatRequest = v.InferOutput<typeof HeartbeatRequest>;

/** When the middleware will stop an instance unless something happens (grace, idle, max age). */
export const Deadline = v.nullable(v.object({ at: Timestamp, why: v.string() }));
export type Deadline = v.InferOutput<typeof Deadline>;

/**
 * Middleware -> instance: keep going, or stop (the middleware no longer wants it); with its
 * deadline so the viewer can warn before it comes (absent from older middlewares).
 */
export const HeartbeatResponse = v.object({ action: v.picklist(["continue", "stop"]), deadline: v.optional(Deadline) });
export type HeartbeatResponse = v.InferOutput<typeof HeartbeatResponse>;

/** Instance -> middleware: someone opened the viewer or the control socket with the token. */
export const AccessRequest = v.strictObject({ kind: v.picklist(["viewer", "control"], "kind must be viewer or control") });
export type AccessRequest = v.InferOutput<typeof AccessRequest>;

export const Ok = v.object({ ok: v.literal(true) });
