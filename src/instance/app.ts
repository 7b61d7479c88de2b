/**
 * The route map of one instance: every HTTP route and WebSocket of the instance is bound
 * here. The secret (`?token=`, `Authorization: Instance <secret>`, or for the browser the
 * cookie that `/?token=` sets) guards all of them; a wrong or missing one gets 401 (API) or
 * a 403 page (viewer).
 *
 *   GET  /                 the viewer (GET /?token= sets the cookie first)
 *   GET  /web/viewer.js|css  its code and styles
 *   WS   /viewer           frames and operations for the viewer (viewer-socket.ts)
 *   WS   /control          the control socket of the client library (control-socket.ts)
 *   POST /api/OP           the same operations over REST (screenshot answers image/png)
 *   GET  /health
 */
import { Hono, type Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { upgradeWebSocket } from "hono/bun";
import { RemoteVisError } from "../errors.ts";
import { CONTROL_OP_NAMES, type ControlOp } from "../protocol/control.ts";
import type { InstanceHealth } from "../protocol/health.ts";
import { presentedSecret, secretMatches } from "./auth.ts";
import type { Control } from "./control.ts";
import { controlSocket } from "./control-socket.ts";
import type { Scene } from "./scene.ts";
import type { InstanceState } from "./state.ts";
import { encodePng } from "../render/png.ts";
import { enterHtml, forbiddenHtml, viewerCss, viewerHtml, viewerScript } from "../web/assets.ts";
import { ViewerHub, viewerSocket } from "./viewer-socket.ts";

export function createInstanceApp(s: InstanceState, scene: Scene, control: Control): Hono {
  const app = new Hono();
  const guard = (url: string, authorization: string | undefined) => {
    if (!secretMatches(presentedSecret(url, authorization), s.secret))
      throw new RemoteVisError("unauthenticated", "this instance needs its token (?token=... from the URL the middleware gave)", 401);
  };

  app.get("/health", (c) => {
    guard(c.req.url, c.req.header("authorization"));
    const body: InstanceHealth = { status: "ok", id: s.id, pid: process.pid, uptimeSeconds: (Date.now() - s.startedAt) / 1000, connections: s.connections };
    return c.json(body);
  });

  // ---- the web viewer ----
  // `/?token=` sets an HttpOnly SameSite=Strict cookie (named per instance: cookies do not
  // tell ports apart) and goes on to `/` without the token in the address bar; the page, its
  // code and its socket then take the cookie. A cookie is only taken from this origin (Origin
  // header), so another page on the same host cannot use it.
  const cookieName = `remotevis_${s.id.replace(/[^A-Za-z0-9_-]/g, "")}`;
  const byCookie = (c: Context): boolean => {
    const cookie = getCookie(c, cookieName);
    if (!secretMatches(cookie, s.secret)) return false;
    const origin = c.req.header("origin");
    if (!origin) return true;
    try {
      return new URL(origin).host === c.req.header("host");
    } catch {
      return false; // "null" (sandboxed frames) or garbage
    }
  };
  const viewerAllowed = (c: Context) => byCookie(c) || secretMatches(presentedSecret(c.req.url, c.req.header("authorization")), s.secret);
  const noStore = { "cache-control": "no-store", "referrer-policy": "no-referrer", "x-content-type-options": "nosniff" };
  const hub = new ViewerHub(s, scene, control);

  app.get("/", (c) => {
    const token = c.req.query("token");
    if (token !== undefined) {
      if (!secretMatches(token, s.secret)) return c.html(forbiddenHtml, 403, noStore);
      s.opened("viewer"); // following the link counts as opening it (grace period)
      setCookie(c, cookieName, token, { httpOnly: true, sameSite: "Strict", path: "/" });
      const nonce = crypto.randomUUID().replace(/-/g, "");
      return c.html(enterHtml(nonce), 200, { ...noStore, "content-security-policy": `default-src 'none'; script-src 'nonce-${nonce}'` });
    }
    if (!viewerAllowed(c)) return c.html(forbiddenHtml, 403, noStore);
    s.opened("viewer");
    return c.html(viewerHtml(`RemoteVis ${s.id}`), 200, {
      ...noStore,
      "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
    });
  });
  // The viewer inside another page (Jupyter's _repr_html_): a third-party iframe gets no
  // SameSite=Strict cookie, so the token stays in the URL and the page passes it on to its
  // assets, socket and screenshot requests; embedding is allowed only on this route.
  app.get("/embed", (c) => {
    const token = c.req.query("token");
    if (!token || !secretMatches(token, s.secret)) return c.html(forbiddenHtml, 403, noStore);
    s.opened("viewer");
    const q = `?token=${encodeURIComponent(token)}`;
    const html = viewerHtml(`RemoteVis ${s.id}`).replace('href="web/viewer.css"', `href="web/viewer.css${q}"`).replace('src="web/viewer.js"', `src="web/viewer.js${q}"`);
    return c.html(html, 200, {
      ...noStore,
      "content-security-policy": "default-src 'self'; img-src 'self' blob: data:; connect-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors *",
    });
  });
  app.get("/favicon.ico", (c) => c.body(null, 204));
  app.get("/web/viewer.js", async (c) => {
    if (!viewerAllowed(c)) return c.text("forbidden", 403);
    return c.body(await viewerScript(), 200, { ...noStore, "content-type": "text/javascript; charset=utf-8" });
  });
  app.get("/web/viewer.css", (c) => {
    if (!viewerAllowed(c)) return c.text("forbidden", 403);
    return c.body(viewerCss, 200, { ...noStore, "content-type": "text/css; charset=utf-8" });
  });
  // Frames for browsers: see viewer-socket.ts.
  app.get(
    "/viewer",
    (c, next) => {
      if (!viewerAllowed(c)) throw new RemoteVisError("unauthenticated", "the viewer socket needs the instance's cookie or token", 401);
      return next();
    },
    upgradeWebSocket(() => viewerSocket(hub)),
  );

  // The control socket of the client library: {id, op, ...} -> {id, ok, ...}; events pushed.
  app.get(
    "/control",
    (c, next) => {
      guard(c.req.url, c.req.header("authorization"));
      return next();
    },
    upgradeWebSocket(() => controlSocket(s, scene, control)),
  );

  // The same operations over REST for scripts: POST /api/OP with the op's JSON body.
  // screenshot answers image/png, or raw RGBA with ?format=rgba (width/height in headers).
  app.post("/api/:op", async (c) => {
    if (!byCookie(c)) guard(c.req.url, c.req.header("authorization"));
    const op = c.req.param("op");
    if (!CONTROL_OP_NAMES.includes(op as ControlOp)) throw new RemoteVisError("no_route", `no operation ${op}; one of ${CONTROL_OP_NAMES.join(", ")}`, 404);
    let body: unknown;
    try {
      const text = await c.req.text();
      body = text ? JSON.parse(text) : {};
    } catch {
      throw new RemoteVisError("invalid_json", "the request body is not valid JSON", 400);
    }
    s.opened("control");
    const r = await control.run(op as ControlOp, body);
    if (!r.bytes) return c.json({ ok: true, ...r.json });
    const { width, height } = r.json as { width: number; height: number };
    const headers = { "x-width": String(width), "x-height": String(height) };
    if (c.req.query("format") === "rgba") return c.body(r.bytes, 200, { ...headers, "content-type": "application/octet-stream" });
    return c.body(encodePng(r.bytes, width, height), 200, { ...headers, "content-type": "image/png" });
  });

  app.notFound((c) => c.json(new RemoteVisError("no_route", "no such route on this instance", 404).toJSON(), 404));
  app.onError((err, c) => {
    if (err instanceof RemoteVisError) return c.json(err.toJSON(), err.status as 400);
    console.error("internal error:", err);
    return c.json(new RemoteVisError("internal", "internal error; see the instance log", 500).toJSON(), 500);
  });
  return app;
}
