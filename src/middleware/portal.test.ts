/**
 * The portal's routes through app.request() (no port): sessions, CSRF, the login limiter, the
 * admin view, tokens, and the owner check of the /i/ID/ proxy (against a stand-in instance
 * server). The password check is a fake here; portal-browser.test.ts uses real PAM.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { munge, portalTestApp } from "./testing.ts";

const USERS: Record<string, { uid: number; gid: number; pw: string; admin?: boolean }> = {
  alice: { uid: 2001, gid: 2001, pw: "alice-pw" },
  bob: { uid: 2002, gid: 2002, pw: "bob-pw" },
  root: { uid: 0, gid: 0, pw: "root-pw" },
  carol: { uid: 2003, gid: 2003, pw: "carol-pw", admin: true },
};

function setup() {
  const checked: string[] = [];
  return { ...portalTestApp("/tmp/rv-portal-tests", USERS, (user) => checked.push(user)), checked };
}

const H = "http://portal.test";
type App = ReturnType<typeof setup>["app"];

/** A browser in miniature: keeps cookies, sends Host and Origin like chromium does. */
class Browser {
  cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly app: App) {}
  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const h: Record<string, string> = { host: "portal.test", ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) h["content-type"] = "application/json";
    const res = await this.app.request(`${H}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    for (const sc of res.headers.getSetCookie()) {
      const [kv] = sc.split(";");
      const i = kv!.indexOf("=");
      const k = kv!.slice(0, i);
      const v = kv!.slice(i + 1);
      if (v === "" || /max-age=0/i.test(sc)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    return res;
  }
  async login(user: string, pw: string) {
    const s = (await (await this.req("GET", "/portal/api/session")).json()) as { loginCsrf: string };
    const res = await this.req("POST", "/portal/api/login", { user, password: pw }, { "x-csrf-token": s.loginCsrf, origin: H });
    if (res.status === 200) this.csrf = ((await res.clone().json()) as { csrf: string }).csrf;
    return res;
  }
  send(method: string, path: string, body?: unknown) {
    return this.req(method, path, body, { "x-csrf-token": this.csrf, origin: H });
  }
}

describe("portal sessions", () => {
  const t = setup();
  afterAll(() => t.store.close());

  test("the page and its code are served with a strict CSP; / goes to the portal", async () => {
    const page = await t.app.request(`${H}/portal/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(await page.text()).toContain("/portal/app.js");
    const js = await t.app.request(`${H}/portal/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get("content-type")).toContain("javascript");
    expect((await t.app.request(`${H}/`)).headers.get("location")).toBe("/portal/");
  });

  test("wrong password: one answer; right password: an HttpOnly SameSite=Strict session", async () => {
    const b = new Browser(t.app);
    const bad = await b.login("alice", "nope");
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: { code: "unauthenticated", message: "wrong user name or password" } });
    const unknown = await b.login("nobody", "nope");
    expect(await unknown.json()).toEqual({ error: { code: "unauthenticated", message: "wrong user name or password" } });
    const ok = await b.login("alice", "alice-pw");
    expect(ok.status).toBe(200);
    const cookie = ok.headers.getSetCookie().find((c) => c.startsWith("rv_session="))!;
    expect(cookie).toContain("HttpOnly");
    expect(cookie).toContain("SameSite=Strict");
    expect(cookie).toContain("Path=/");
    expect(cookie).not.toContain("Secure"); // no TLS here; see the TLS test
    const body = (await ok.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ authenticated: true, user: { name: "alice", uid: 2001 }, admin: false });
    expect(JSON.stringify(body)).not.toContain("alice-pw");
    const list = await b.req("GET", "/api/v1/instances");
    expect(list.status).toBe(200);
  });

  test("login needs the pre-session CSRF token and this site's Origin; root never logs in", async () => {
    const b = new Browser(t.app);
    await b.req("GET", "/portal/api/session");
    const noToken = await b.req("POST", "/portal/api/login", { user: "alice", password: "alice-pw" }, { origin: H });
    expect(noToken.status).toBe(403);
    expect(((await noToken.json()) as { error: { code: string } }).error.code).toBe("csrf");
    const s = (await (await b.req("GET", "/portal/api/session")).json()) as { loginCsrf: string };
    const foreign = await b.req("POST", "/portal/api/login", { user: "alice", password: "alice-pw" }, { "x-csrf-token": s.loginCsrf, origin: "http://evil.test" });
    expect(foreign.status).toBe(403);
    expect((await new Browser(t.app).login("root", "root-pw")).status).toBe(403);
  });

  test("a state-changing request without the CSRF token is refused, with it accepted", async () => {
    const b = new Browser(t.app);
    await b.login("alice", "alice-pw");
    const create = { shape: [64, 64, 64], dtype: "uint8" };
    const none = await b.req("POST", "/api/v1/instances?wait=false", create);
    expect(none.status).toBe(403);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe("csrf");
    const wrong = await b.req("POST", "/api/v1/instances?wait=false", create, { "x-csrf-token": "x".repeat(43), origin: H });
    expect(wrong.status).toBe(403);
    const crossSite = await b.req("POST", "/api/v1/instances?wait=false", create, { "x-csrf-token": b.csrf, origin: "http://evil.test" });
    expect(crossSite.status).toBe(403);
    expect(t.backend.launched.length).toBe(0);
    const ok = await b.send("POST", "/api/v1/instances?wait=false", create);
    expect(ok.status).toBe(202);
    const inst = (await ok.json()) as { id: string; owner: { uid: number } };
    expect(inst.owner.uid).toBe(2001);
    expect((await b.req("DELETE", `/api/v1/instances/${inst.id}`)).status).toBe(403);
    expect((await b.send("DELETE", `/api/v1/instances/${inst.id}`)).status).toBe(200);
    expect((await b.req("POST", "/portal/api/logout")).status).toBe(403);
  });

  test("forged, replayed (after logout) and expired session cookies are refused", async () => {
    const b = new Browser(t.app);
    await b.login("alice", "alice-pw");
    const value = b.cookies.get("rv_session")!;
    const [id, secret] = value.split(".");
    const forgedSecret = `${id}.${secret![0] === "A" ? "B" : "A"}${secret!.slice(1)}`;
    const get = (cookie: string) => t.app.request(`${H}/api/v1/instances`, { headers: { cookie: `rv_session=${cookie}`, host: "portal.test" } });
    expect((await get(value)).status).toBe(200);
    expect((await get(forgedSecret)).status).toBe(401);
    expect((await get(`s-${"0".repeat(24)}.${secret}`)).status).toBe(401);
    expect((await get("garbage")).status).toBe(401);
    expect((await b.send("POST", "/portal/api/logout")).status).toBe(200);
    expect((await get(value)).status).toBe(401); // replayed after logout
    // Expired: the session's end moved into the past.
    const c = new Browser(t.app);
    await c.login("alice", "alice-pw");
    const v2 = c.cookies.get("rv_session")!;
    t.portal.sessions.verify(v2);
    (t.store as unknown as { db: { query(s: string): { run(...a: unknown[]): void } } }).db.query("UPDATE sessions SET expires_at = ? WHERE id = ?").run(Date.now() - 1, v2.split(".")[0]);
    expect((await get(v2)).status).toBe(401);
    expect(t.store.getSession(v2.split(".")[0]!)).toBeNull();
    // Idle: unused longer than session-idle.
    const d = new Browser(t.app);
    await d.login("alice", "alice-pw");
    const v3 = d.cookies.get("rv_session")!;
    (t.store as unknown as { db: { query(s: string): { run(...a: unknown[]): void } } }).db.query("UPDATE sessions SET last_seen_at = ? WHERE id = ?").run(Date.now() - 700_000, v3.split(".")[0]);
    expect((await get(v3)).status).toBe(401);
  });

  test("20 wrong passwords in a row are slowed down (429 + Retry-After, PAM not asked)", async () => {
    const b = new Browser(t.app);
    const before = t.checked.filter((u) => u === "bob").length;
    const codes: number[] = [];
    for (let i = 0; i < 20; i++) codes.push((await b.login("bob", `wrong-${i}`)).status);
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5).every((c) => c === 429)).toBe(true);
    expect(t.checked.filter((u) => u === "bob").length - before).toBe(5);
    // Even the right password waits: the answer tells nothing.
    const right = await b.login("bob", "bob-pw");
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    await Bun.sleep(1100);
    expect((await b.login("bob", "bob-pw")).status).toBe(200);
  });

  test("API tokens from the portal: created (shown once), listed without the secret, revoked", async () => {
    const b = new Browser(t.app);
    await b.login("alice", "alice-pw");
    const made = await b.send("POST", "/api/v1/tokens", { name: "laptop" });
    expect(made.status).toBe(201);
    const tok = (await made.json()) as { id: string; token: string };
    expect(tok.token).toMatch(/^rv_/);
    const list = await (await b.req("GET", "/api/v1/tokens")).text();
    expect(list).toContain("laptop");
    expect(list).not.toContain(tok.token);
    const byToken = await t.app.request(`${H}/api/v1/instances`, { headers: { authorization: `Bearer ${tok.token}` } });
    expect(byToken.status).toBe(200);
    expect((await b.send("DELETE", `/api/v1/tokens/${tok.id}`)).status).toBe(200);
    expect((await t.app.request(`${H}/api/v1/instances`, { headers: { authorization: `Bearer ${tok.token}` } })).status).toBe(401);
  });

  test("admin group: sees every instance (no URLs) and stops any; others are refused", async () => {
    const a = new Browser(t.app);
    await a.login("alice", "alice-pw");
    const inst = (await (await a.send("POST", "/api/v1/instances?wait=false", { shape: [8, 8, 8], dtype: "uint8" })).json()) as { id: string };
    expect((await a.req("GET", "/portal/api/admin/instances")).status).toBe(403);
    const admin = new Browser(t.app);
    const r = await admin.login("carol", "carol-pw");
    expect(((await r.json()) as { admin: boolean }).admin).toBe(true);
    const all = (await (await admin.req("GET", "/portal/api/admin/instances")).json()) as { instances: { id: string; url: string | null }[] };
    expect(all.instances.some((i) => i.id === inst.id)).toBe(true);
    expect(all.instances.every((i) => i.url === null)).toBe(true);
    const stopped = await admin.send("DELETE", `/api/v1/instances/${inst.id}`);
    expect(stopped.status).toBe(200);
    expect(((await stopped.json()) as { reason: string }).reason).toContain("carol (admin)");
  });

  test("options show the limits; the file browser without storage roots says so", async () => {
    const b = new Browser(t.app);
    await b.login("alice", "alice-pw");
    const o = (await (await b.req("GET", "/portal/api/options")).json()) as Record<string, unknown>;
    expect(o).toMatchObject({ mode: "local", gpuLimit: 4, slurm: null });
    const roots = (await (await b.req("GET", "/portal/api/files")).json()) as { entries: unknown[] };
    expect(roots.entries).toEqual([]);
    expect((await b.req("GET", "/portal/api/files?path=/etc")).status).toBe(404);
    expect((await b.req("GET", "/portal/api/files?path=relative")).status).toBe(400);
  });
});

describe("viewer proxy /i/ID/", () => {
  const t = setup();
  // A stand-in instance: answers only with its secret, echoes what it got.
  let secretSeen: string | null = null;
  const fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      secretSeen = req.headers.get("authorization");
      const u = new URL(req.url);
      return Response.json({ path: u.pathname, search: u.search, cookie: req.headers.get("cookie") }, { headers: { "set-cookie": "x=1" } });
    },
  });
  afterAll(() => {
    fake.stop(true);
    t.store.close();
  });

  test("the owner reaches the instance with its secret added; others get 404 like a missing id", async () => {
    const a = new Browser(t.app);
    await a.login("alice", "alice-pw");
    const inst = (await (await a.send("POST", "/api/v1/instances?wait=false", { shape: [8, 8, 8], dtype: "uint8" })).json()) as { id: string };
    t.store.updateInstance(inst.id, { state: "running", host: "127.0.0.1", port: fake.port!, data_port: 1 });
    const redirect = await a.req("GET", `/i/${inst.id}`);
    expect(redirect.status).toBe(308);
    const res = await a.req("GET", `/i/${inst.id}/web/viewer.js?token=stolen&x=1`);
    expect(res.status).toBe(200);
    const got = (await res.json()) as { path: string; search: string; cookie: string | null };
    expect(got).toEqual({ path: "/web/viewer.js", search: "?x=1", cookie: null });
    expect(secretSeen!).toBe(`Instance ${t.secrets.secretFor(inst.id)}`);
    expect(res.headers.get("set-cookie")).toBeNull();

    const b = new Browser(t.app);
    await b.login("bob", "bob-pw");
    const other = await b.req("GET", `/i/${inst.id}/`);
    expect(other.status).toBe(404);
    expect(await other.json()).toEqual({ error: { code: "not_found", message: "no such instance" } });
    expect((await b.req("GET", `/i/i-0000000000000000/`)).status).toBe(404);
    // Not even the admin group looks into someone's viewer.
    const c = new Browser(t.app);
    await c.login("carol", "carol-pw");
    expect((await c.req("GET", `/i/${inst.id}/`)).status).toBe(404);
    // Not logged in.
    expect((await t.app.request(`${H}/i/${inst.id}/`)).status).toBe(401);
    // A POST from another site through the proxy.
    expect((await a.req("POST", `/i/${inst.id}/api/set_view`, {}, { origin: "http://evil.test" })).status).toBe(403);
    // MUNGE/token callers of the API may use it too (one port for scripts).
    expect((await t.app.request(`${H}/i/${inst.id}/health`, { headers: { authorization: munge(2001) } })).status).toBe(200);
    expect((await t.app.request(`${H}/i/${inst.id}/health`, { headers: { authorization: munge(2002) } })).status).toBe(404);
  });
});
