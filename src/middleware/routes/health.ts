/** GET /api/v1/health: no authentication; says which users this middleware serves. */
import type { Context } from "hono";
import type { MiddlewareHealth } from "../../protocol/health.ts";
import { VERSION } from "../../version.ts";
import type { Deps } from "../context.ts";

export function health(d: Deps) {
  return (c: Context) => {
    const body: MiddlewareHealth = { status: "ok", version: VERSION, mode: d.mode, serves: d.onlyUser ?? "all" };
    return c.json(body);
  };
}
