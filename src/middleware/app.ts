/**
 * The route map: every route of the middleware's REST API is bound here and only here; the
 * handlers live in routes/, one file per resource. One onError turns every failure into
 * `{error:{code,message,details}}` (input never echoed back).
 */
import { Hono, type MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { RemoteVisError } from "../errors.ts";
import type { AppEnv, Deps } from "./context.ts";
import { openapi } from "./openapi.ts";
import { access, heartbeat, ready } from "./routes/callbacks.ts";
import { health } from "./routes/health.ts";
import { createInstance, getInstance, listInstances, stopInstance } from "./routes/instances.ts";
import { createToken, deleteToken, listTokens } from "./routes/tokens.ts";

export const API = "/api/v1";

export function createApp(d: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const user: MiddlewareHandler<AppEnv> = async (c, next) => {
    c.set("who", await d.auth.identify(c.req.header("authorization")));
    await next();
  };
  const api = new Hono<AppEnv>();
  api.use(bodyLimit({ maxSize: 64 * 1024, onError: () => { throw new RemoteVisError("too_large", "the request body is larger than 64 KiB", 413); } }));

  api.get("/health", health(d));
  api.get("/openapi.json", (c) => c.json(openapi));

  api.post("/instances", user, createInstance(d));
  api.get("/instances", user, listInstances(d));
  api.get("/instances/:id", user, getInstance(d));
  api.delete("/instances/:id", user, stopInstance(d));

  // Call-backs of the instances, authenticated by each instance's own secret.
  api.post("/instances/:id/ready", ready(d));
  api.post("/instances/:id/heartbeat", heartbeat(d));
  api.post("/instances/:id/access", access(d));

  api.post("/tokens", user, createToken(d));
  api.get("/tokens", user, listTokens(d));
  api.delete("/tokens/:id", user, deleteToken(d));

  app.route(API, api);
  app.notFound((c) => c.json(new RemoteVisError("no_route", "no such API route; see /api/v1/openapi.json", 404).toJSON(), 404));
  app.onError((err, c) => {
    if (err instanceof RemoteVisError) return c.json(err.toJSON(), err.status as 400);
    if (err instanceof HTTPException) {
      const e = new RemoteVisError("http_error", err.message || "request refused", err.status);
      return c.json(e.toJSON(), err.status);
    }
    console.error(`internal error on ${c.req.method} ${c.req.path}:`, err);
    return c.json(new RemoteVisError("internal", "internal error; see the middleware's log", 500).toJSON(), 500);
  });
  return app;
}
