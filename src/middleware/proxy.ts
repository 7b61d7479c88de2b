/**
 * The viewer of an instance through the middleware: `/i/ID/...` is passed on to the instance
 * (HTTP and WebSocket), so that a site opens one port only. The caller must be the instance's
 * owner (portal session, or an Authorization header as for the API); anyone else gets 404,
 * exactly like an id that does not exist. The middleware adds the instance's secret itself
 * (`Authorization: Instance ...`, never shown to the browser) and strips what belongs to the
 * portal: its cookies, the caller's Authorization and CSRF headers, a `token` query parameter,
 * and any Set-Cookie of the instance. Requests that change state and WebSocket upgrades must come
 * from this site (Origin), on top of the SameSite=Strict session cookie. Direct instance URLs
 * (`http://HOST:PORT/?token=...`) keep working beside this.
 */
import type { Context, Next } from "hono";
import { upgradeWebSocket } from "hono/bun";
import { RemoteVisError } from "../errors.ts";
import type { Identity } from "./auth/identity.ts";
import { checkOrigin } from "./auth/sessions.ts";
import type { AppEnv, Deps } from "./context.ts";
import { notFound } from "./service.ts";

type C = Context<AppEnv>;

const HOP = ["connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host"];
const STRIP_REQUEST = new Set([...HOP, "cookie", "authorization", "x-csrf-token", "origin", "referer", "content-length"]);
const STRIP_RESPONSE = new Set([...HOP, "set-cookie", "content-length", "content-encoding"]);
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
/** A browser that reads frames slower than the instance sends them: closed beyond this backlog. */
const MAX_BUFFERED = 64 * 2 ** 20;

interface Target {
  base: string;
  secret: string;
  rest: string;
  search: string;
}

/** Who calls: the API's Authorization header, else the portal session (no CSRF token here: Origin). */
async function caller(d: Deps, c: C): Promise<Identity> {
  const h = c.req.header("authorization");
  if (h) return d.auth.identify(h);
  const row = d.portal?.sessions.of(c);
  if (!row) throw new RemoteVisError("unauthenticated", "not logged in (or the session ended): log in at /portal/", 401);
  return { uid: row.uid, gid: row.gid, name: row.name, via: "session", sessionId: row.id, admin: row.admin === 1 };
}

function target(d: Deps, c: C, who: Identity): Target {
  const id = c.req.param("id") ?? "";
  const row = /^i-[0-9a-f]{16}$/.test(id) ? d.store.getInstance(id) : null;
  // Owner only: not root, not the admin group (they may stop it, not look into it).
  if (!row || row.owner_uid !== who.uid) throw notFound();
  if (row.state !== "running" || !row.host || !row.port) throw new RemoteVisError("not_running", `instance ${id} is ${row.state}`, 409);
  const host = row.host.includes(":") && !row.host.startsWith("[") ? `[${row.host}]` : row.host;
  const url = new URL(c.req.url);
  url.searchParams.delete("token");
  const search = url.searchParams.toString();
  return {
    base: `${host}:${row.port}`,
    secret: d.service.secrets.secretFor(row.id),
    rest: url.pathname.slice(`/i/${id}`.length) || "/",
    search: search ? `?${search}` : "",
  };
}

/** Authentication, owner check and Origin for every /i/ID/ request. */
export function proxyGuard(d: Deps) {
  return async (c: C, next: Next) => {
    const who = await caller(d, c);
    if (!SAFE.has(c.req.method) || c.req.header("upgrade")?.toLowerCase() === "websocket") checkOrigin(c);
    target(d, c, who);
    c.set("who", who);
    await next();
  };
}

/** `/i/ID` -> `/i/ID/` so that the viewer's relative addresses resolve under it. */
export function proxyRedirect() {
  return (c: C) => c.redirect(`/i/${c.req.param("id")}/`, 308);
}

export function proxyHttp(d: Deps) {
  return async (c: C) => {
    const t = target(d, c, c.get("who"));
    const headers = new Headers();
    for (const [k, v] of c.req.raw.headers) if (!STRIP_REQUEST.has(k.toLowerCase())) headers.set(k, v);
    headers.set("authorization", `Instance ${t.secret}`);
    headers.set("x-forwarded-prefix", `/i/${c.req.param("id")}`);
    let res: Response;
    try {
      res = await fetch(`http://${t.base}${t.rest}${t.search}`, {
        method: c.req.method,
        headers,
        body: SAFE.has(c.req.method) ? undefined : await c.req.arrayBuffer(),
        redirect: "manual",
        decompress: true,
      } as RequestInit);
    } catch {
      throw new RemoteVisError("instance_unreachable", "the instance does not answer", 502);
    }
    const out = new Headers();
    for (const [k, v] of res.headers) if (!STRIP_RESPONSE.has(k.toLowerCase())) out.set(k, v);
    // An instance's own redirect to "/..." stays under /i/ID/.
    const loc = out.get("location");
    if (loc?.startsWith("/")) out.set("location", `/i/${c.req.param("id")}${loc}`);
    return new Response(res.body, { status: res.status, headers: out });
  };
}

export function proxyWebSocket(d: Deps) {
  return upgradeWebSocket((c) => {
    const t = target(d, c as C, (c as C).get("who"));
    const protocol = c.req.header("sec-websocket-protocol");
    let upstream: WebSocket | undefined;
    const queue: (string | ArrayBuffer)[] = [];
    return {
      onOpen(_e, ws) {
        const up = new WebSocket(`ws://${t.base}${t.rest}${t.search}`, {
          headers: { authorization: `Instance ${t.secret}` },
          ...(protocol ? { protocols: protocol.split(",").map((s) => s.trim()) } : {}),
        } as unknown as string[]);
        up.binaryType = "arraybuffer";
        upstream = up;
        up.onopen = () => {
          for (const m of queue.splice(0)) up.send(m);
        };
        up.onmessage = (e: MessageEvent) => {
          const raw = ws.raw as { getBufferedAmount?: () => number } | undefined;
          if ((raw?.getBufferedAmount?.() ?? 0) > MAX_BUFFERED) {
            ws.close(1013, "the browser does not keep up");
            up.close();
            return;
          }
          ws.send(e.data as string | ArrayBuffer);
        };
        up.onclose = (e: CloseEvent) => ws.close(e.code >= 1000 && e.code < 5000 && e.code !== 1005 && e.code !== 1006 ? e.code : 1011, e.reason.slice(0, 120));
        up.onerror = () => ws.close(1011, "the instance does not answer");
      },
      onMessage(e) {
        const data = e.data as string | ArrayBuffer;
        if (upstream?.readyState === WebSocket.OPEN) upstream.send(data);
        else if (queue.length < 256) queue.push(data);
      },
      onClose() {
        upstream?.close();
      },
    };
  });
}

export function isUpgrade(c: Context): boolean {
  return c.req.header("upgrade")?.toLowerCase() === "websocket";
}
