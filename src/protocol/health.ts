/** GET /api/v1/health of the middleware and GET /health of an instance. */
import * as v from "valibot";

export const MiddlewareHealth = v.object({
  status: v.literal("ok"),
  version: v.string(),
  mode: v.picklist(["local", "slurm"]),
  /** "all" when run as root; otherwise the one uid it serves. */
  serves: v.union([v.literal("all"), v.object({ uid: v.number(), name: v.string() })]),
});
export type MiddlewareHealth = v.InferOutput<typeof MiddlewareHealth>;

export const InstanceHealth = v.object({
  status: v.literal("ok"),
  id: v.string(),
  pid: v.number(),
  uptimeSeconds: v.number(),
  connections: v.number(),
});
export type InstanceHealth = v.InferOutput<typeof InstanceHealth>;
