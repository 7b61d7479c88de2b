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
import { getLoad, listDatasets, listFiles, openDataset } from "./routes/portal-files.ts";
import { adminInstances, portalOptions } from "./routes/portal-instances.ts";
import { portalAsset, portalPage, portalRedirect } from "./routes/portal-pages.ts";
import { login, logout, sessionInfo } from "./routes/portal-session.ts";
import { isUpgrade, proxyGuard, proxyHttp, proxyRedirect, proxyWebSocket } from "./proxy.ts";

export const API = "/api/v1";

export function createApp(d: Deps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // The caller: MUNGE credential or API token (Authorization), else a portal session (cookie;
  // state-changing requests also need its CSRF token and this site's Origin).
  const user: MiddlewareHandler<AppEnv> = async (c, next) => {
    const h = c.req.header("authorization");
    c.set("who", h || !d.portal ? await d.auth.identify(h) : d.portal.sessions.identify(c));
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

  // The web portal (routes/portal-*.ts, pages in src/web/portal/) and the viewer proxy.
  if (d.portal) {
    const portal = new Hono<AppEnv>();
    portal.use(bodyLimit({ maxSize: 16 * 1024, onError: () => { throw new RemoteVisError("too_large", "the request body is larger than 16 KiB", 413); } }));
    portal.get("/app.js", portalAsset("js"));
    portal.get("/portal.css", portalAsset("css"));
    portal.get("/api/session", sessionInfo(d));
    portal.post("/api/login", login(d));
    portal.post("/api/logout", logout(d));
    portal.get("/api/options", user, portalOptions(d));
    portal.get("/api/admin/instances", user, adminInstances(d));
    portal.get("/api/files", user, listFiles(d));
    portal.get("/api/datasets", user, listDatasets(d));
    portal.post("/api/open", user, openDataset(d));
    portal.get("/api/loads/:id", user, getLoad(d));
    app.get("/", portalRedirect());
    app.get("/portal", portalRedirect());
    app.get("/portal/", portalPage());
    app.route("/portal", portal);

    const guard = proxyGuard(d);
    const ws = proxyWebSocket(d);
    const http = proxyHttp(d);
    app.all("/i/:id", guard, proxyRedirect());
    app.all("/i/:id/*", guard, (c, next) => (isUpgrade(c) ? ws(c, next) : http(c)));
  }
  app.notFound((c) => c.json(new RemoteVisError("no_route", "no such API route; see /api/v1/openapi.json", 404).toJSON(), 404));
  app.onError((err, c) => {
    if (err instanceof RemoteVisError) {
      const retry = err.details?.retryAfterSeconds;
      if (typeof retry === "number") c.header("retry-after", String(retry));
      return c.json(err.toJSON(), err.status as 400);
    }
    if (err instanceof HTTPException) {
      const e = new RemoteVisError("http_error", err.message || "request refused", err.status);
      return c.json(e.toJSON(), err.status);
    }
    console.error(`internal error on ${c.req.method} ${c.req.path}:`, err);
    return c.json(new RemoteVisError("internal", "internal error; see the middleware's log", 500).toJSON(), 500);
  });
  return app;
}
