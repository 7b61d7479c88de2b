/**
 * What the portal's instance pages need beyond /api/v1/instances (which the page uses with its
 * session): the choices and limits of the new-instance form, and the admin view of everyone's
 * instances (admin group only; never their secret URLs).
 */
import type { Context } from "hono";
import { RemoteVisError } from "../../errors.ts";
import type { AppEnv, Deps } from "../context.ts";
import { portalOf } from "./portal-session.ts";

type C = Context<AppEnv>;

export function portalOptions(d: Deps) {
  return (c: C) => {
    const p = portalOf(d);
    const who = c.get("who");
    const ch = d.service.slurmChoices();
    return c.json({
      mode: d.mode,
      gpuLimit: p.cfg.gpuLimit,
      gpusInUse: d.store.gpusInUse(who.uid),
      gpuMemory: p.cfg.gpuMemory,
      workingSet: p.cfg.workingSet,
      storageRoots: p.cfg.storageRoots,
      lifetime: { graceMs: p.cfg.graceMs, idleTimeoutMs: p.cfg.idleTimeoutMs, maxAgeMs: p.cfg.maxAgeMs },
      slurm: d.mode === "slurm" ? { partitions: ch.partitions, defaultPartition: ch.defaultPartition, maxTimeMinutes: Math.floor(ch.maxTimeMs / 60_000) } : null,
    });
  };
}

export function adminInstances(d: Deps) {
  return async (c: C) => {
    const who = c.get("who");
    if (!who.admin) throw new RemoteVisError("forbidden", "only members of the admin group see every instance", 403);
    await d.service.refreshJobs();
    const all = c.req.query("all") !== "false";
    const instances = d.store.allInstances(all).map((r) => ({ ...d.service.view(r), url: null }));
    return c.json({ instances });
  };
}
