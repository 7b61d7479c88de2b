/** /api/v1/instances: create, list mine, get one, stop one. Owner-only; others get 404. */
import type { Context } from "hono";
import { RemoteVisError } from "../../errors.ts";
import { CreateInstanceRequest, type InstanceList } from "../../protocol/instances.ts";
import { jsonBody } from "../body.ts";
import type { AppEnv, Deps } from "../context.ts";

type C = Context<AppEnv>;

export function createInstance(d: Deps) {
  return async (c: C) => {
    const req = await jsonBody(c, CreateInstanceRequest, "instance request");
    const who = c.get("who");
    const created = await d.service.create(who, req);
    // Local mode answers once the instance is up (the URL is known); ?wait=false and slurm mode
    // (job id, state pending, expected start) answer at once.
    if (c.req.query("wait") === "false" || d.mode !== "local") return c.json(d.service.view(created), 202);
    const timeout = d.service.cfg.startTimeoutMs || 30_000;
    let row = await d.service.waitStarted(created.id, timeout);
    if (row.state === "starting")
      row = await d.service.stop(row.id, `the instance did not report in within ${timeout / 1000} s (start timeout)`, "failed");
    if (row.state !== "running")
      throw new RemoteVisError("start_failed", `instance ${row.id} did not start: ${row.reason ?? row.state}`, 502, { id: row.id, state: row.state });
    return c.json(d.service.view(row), 201);
  };
}

export function listInstances(d: Deps) {
  return async (c: C) => {
    const all = c.req.query("all") !== "false";
    await d.service.refreshJobs();
    const body: InstanceList = { instances: d.service.list(c.get("who"), all).map((r) => d.service.view(r)) };
    return c.json(body);
  };
}

export function getInstance(d: Deps) {
  return async (c: C) => {
    const who = c.get("who");
    const row = await d.service.current(who, c.req.param("id") ?? "");
    const view = d.service.view(row);
    // An admin of the portal sees others' instances, never their secret URL.
    if (row.owner_uid !== who.uid && who.uid !== 0) view.url = null;
    return c.json(view);
  };
}

export function stopInstance(d: Deps) {
  return async (c: C) => {
    const who = c.get("who");
    const row = d.service.getOwned(who, c.req.param("id") ?? "");
    const stopped = await d.service.stop(row.id, `stopped by ${who.name}${row.owner_uid !== who.uid ? " (admin)" : ""}`);
    const view = d.service.view(stopped);
    if (row.owner_uid !== who.uid && who.uid !== 0) view.url = null;
    return c.json(view);
  };
}
