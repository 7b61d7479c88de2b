/**
 * Call-backs of an instance: ready (host and ports), heartbeat, access (someone opened it).
 * Authenticated by the instance's own secret (`Authorization: Instance <secret>`), never by
 * a user's credentials.
 */
import type { Context } from "hono";
import { AccessRequest, HeartbeatRequest, ReadyRequest, type HeartbeatResponse } from "../../protocol/instances.ts";
import { jsonBody } from "../body.ts";
import type { Deps } from "../context.ts";

function secretOf(c: Context): string | undefined {
  const h = c.req.header("authorization") ?? "";
  return h.startsWith("Instance ") ? h.slice("Instance ".length).trim() : undefined;
}

export function ready(d: Deps) {
  return async (c: Context) => {
    const row = d.service.callbackRow(c.req.param("id") ?? "", secretOf(c));
    const body = await jsonBody(c, ReadyRequest, "ready report");
    d.service.ready(row, body);
    return c.json({ ok: true as const });
  };
}

export function heartbeat(d: Deps) {
  return async (c: Context) => {
    const row = d.service.callbackRow(c.req.param("id") ?? "", secretOf(c));
    const body = await jsonBody(c, HeartbeatRequest, "heartbeat");
    const action = d.service.heartbeat(row, body.connections);
    const answer: HeartbeatResponse = { action, deadline: d.service.deadline(d.service.callbackRow(row.id, secretOf(c))) };
    return c.json(answer);
  };
}

export function access(d: Deps) {
  return async (c: Context) => {
    const row = d.service.callbackRow(c.req.param("id") ?? "", secretOf(c));
    await jsonBody(c, AccessRequest, "access report");
    d.service.access(row);
    return c.json({ ok: true as const });
  };
}
