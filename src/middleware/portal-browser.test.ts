/**
 * The portal as a user meets it: the middleware as root in its own process, real PAM
 * (/etc/pam.d/remotevis from scripts/pam-install.sh, pam_unix), accounts made here with useradd
 * and chpasswd, a real instance started as the user, Debian's chromium through playwright-core.
 * Needs root (useradd, setpriv, /etc/shadow), chromium and the CT of scripts/testdata.sh; skipped
 * with a message otherwise.
 *
 * REMOTEVIS_SCREENSHOTS=1 also writes docs/portal-*.png.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { selfArgv } from "../cli/self.ts";
import { ensureTestData } from "../formats/testdata.ts";
import { CHROMIUM, launchChromium } from "../testing/viewer.ts";
import { ensureUser, sh } from "../testing/users.ts";

// The page's globals as page.evaluate sees them (this file has no DOM types).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const document: any;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
declare const window: any;

const ROOT = new URL("../..", import.meta.url).pathname;
const H5 = join(ROOT, "data/ct/cranium.h5");
const isRoot = process.getuid?.() === 0;
// The CT's HDF5 comes from scripts/testdata.sh; a fresh clone makes it here (CI has no data/ yet).
if (isRoot) await ensureTestData();
const ready = isRoot && existsSync(CHROMIUM) && existsSync(H5);
if (!ready)
  console.warn(
    `portal browser tests skipped: ${!isRoot ? "they need root (useradd, chpasswd, setpriv, PAM reading /etc/shadow); CI runs them as root" : !existsSync(CHROMIUM) ? "no /usr/bin/chromium (Debian package chromium)" : "no data/ct/cranium.h5 (run scripts/testdata.sh)"}`,
  );


/** A small cookie-keeping client of the real server (user B, attacks). */
class Client {
  cookies = new Map<string, string>();
  csrf = "";
  constructor(readonly base: string) {}
  async req(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
    const h: Record<string, string> = { origin: this.base, ...headers };
    if (this.cookies.size) h.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
    if (body !== undefined) h["content-type"] = "application/json";
    const res = await fetch(`${this.base}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body), redirect: "manual" });
    for (const sc of res.headers.getSetCookie()) {
      const kv = sc.split(";")[0]!;
      const i = kv.indexOf("=");
      if (kv.slice(i + 1) === "" || /max-age=0/i.test(sc)) this.cookies.delete(kv.slice(0, i));
      else this.cookies.set(kv.slice(0, i), kv.slice(i + 1));
    }
    return res;
  }
  async login(user: string, password: string) {
    const s = (await (await this.req("GET", "/portal/api/session")).json()) as { loginCsrf: string };
    const res = await this.req("POST", "/portal/api/login", { user, password }, { "x-csrf-token": s.loginCsrf });
    if (res.status === 200) this.csrf = ((await res.clone().json()) as { csrf: string }).csrf;
    return res;
  }
}

describe.skipIf(!ready)("portal in chromium with real PAM", () => {
  const pwA = `A-${crypto.randomUUID()}`;
  const pwB = `B-${crypto.randomUUID()}`;
  let dir = "";
  let url = "";
  let mw: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let mwLog = "";
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;
  let instanceId = "";
  let directUrl = "";
  const shots = process.env.REMOTEVIS_SCREENSHOTS === "1";

  beforeAll(async () => {
    for (const s of ["scripts/munge-up.sh", "scripts/pam-install.sh"]) {
      const r = sh([join(ROOT, s)]);
      if (r.code !== 0) throw new Error(`${s} failed: ${r.out}`);
    }
    ensureUser("rvportal_a", pwA);
    const uidB = ensureUser("rvportal_b", pwB);
    dir = mkdtempSync("/tmp/rv-portal-");
    chmodSync(dir, 0o755);
    const storage = join(dir, "storage");
    mkdirSync(join(storage, "ct"), { recursive: true });
    copyFileSync(H5, join(storage, "ct/cranium.h5"));
    chmodSync(join(storage, "ct/cranium.h5"), 0o644);
    // A folder only B may read: A's listing of it must be refused (A's permissions, not root's).
    mkdirSync(join(storage, "only-b"), { mode: 0o700 });
    chownSync(join(storage, "only-b"), uidB, uidB);
    for (const d of [storage, join(storage, "ct")]) chmodSync(d, 0o755);
    const config = join(dir, "serve.toml");
    await Bun.write(
      config,
      [
        `port = 0`,
        `db = "${dir}/rv.db"`,
        `state-dir = "${dir}/state"`,
        `storage-roots = ["${storage}"]`,
        `pam-service = "remotevis"`,
        `grace = "10m"`,
        `heartbeat = "1s"`,
        `sweep = "1s"`,
        `instance-env = ["UCX_*", "OMP_NUM_THREADS"]`,
      ].join("\n"),
    );
    mw = Bun.spawn([...selfArgv(), "serve", "--config", config, "--json"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd: ROOT, env: { ...process.env, UCX_LOG_LEVEL: "error", UCX_TLS: "tcp,sm,self" } });
    const reader = mw.stdout.getReader();
    const deadline = Date.now() + 15_000;
    while (!mwLog.includes("\n") && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      mwLog += new TextDecoder().decode(value);
    }
    if (!mwLog.includes('"listening"')) throw new Error(`middleware did not start: ${mwLog} ${await new Response(mw.stderr).text()}`);
    url = JSON.parse(mwLog.split("\n")[0]!).url;
    void (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) break;
        mwLog += new TextDecoder().decode(value);
      }
    })();
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on("dialog", (d) => void d.accept());
  }, 60_000);

  afterAll(async () => {
    await browser?.[Symbol.asyncDispose]();
    if (instanceId) await fetch(`${url}/api/v1/instances/${instanceId}`, { method: "DELETE" }).catch(() => {});
    mw?.kill("SIGTERM");
    await mw?.exited;
    // Instances outlive the middleware by design: end the ones this test started.
    sh(["pkill", "-u", "rvportal_a", "-f", "remotevis|main.ts"]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("wrong password shows an error, the right one logs in", async () => {
    await page.goto(`${url}/`);
    await page.waitForSelector("#user");
    await page.fill("#user", "rvportal_a");
    await page.fill("#password", "not-the-password");
    await page.click("#login-btn");
    await page.waitForFunction(() => document.querySelector("#login-error")?.textContent?.includes("wrong user name or password"), null, { timeout: 15_000 });
    await page.fill("#password", pwA);
    await page.click("#login-btn");
    await page.waitForSelector("#nav:not([hidden])", { timeout: 15_000 });
    expect(await page.textContent("#who")).toContain("rvportal_a");
    const cookie = (await browser.context.cookies()).find((c) => c.name === "rv_session")!;
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe("Strict");
    expect(mwLog).not.toContain(pwA);
    expect(mwLog).not.toContain("not-the-password");
  }, 30_000);

  test("browse to the CT's HDF5 file, open its dataset in a new instance, see it rendered", async () => {
    await page.goto(`${url}/portal/#files`);
    await page.click(`a[data-dir]`).catch(async () => page.click(`a.dir`));
    await page.waitForSelector(`tr[data-entry="ct"] a.dir`);
    await page.click(`tr[data-entry="ct"] a.dir`);
    await page.waitForSelector(`button[data-datasets="cranium.h5"]`);
    const row = await page.textContent(`tr[data-entry="cranium.h5"]`);
    expect(row).toMatch(/KiB|MiB/);
    await page.click(`button[data-datasets="cranium.h5"]`);
    await page.waitForSelector(`tr[data-dataset="/entry/data/data"]`);
    expect(await page.textContent(`tr[data-dataset="/entry/data/data"]`)).toContain("108 × 256 × 256");
    if (shots) await page.screenshot({ path: join(ROOT, "docs/portal-files.png") });
    await page.click(`tr[data-dataset="/entry/data/data"] button[data-open-dataset]`);
    await page.waitForSelector("#open-viewer", { timeout: 60_000 });
    expect(await page.textContent("#load-status")).toContain("shown in the instance");
    const href = (await page.getAttribute("#open-viewer", "href"))!;
    instanceId = /\/i\/(i-[0-9a-f]{16})\//.exec(href)![1]!;

    // The viewer through the middleware's one port.
    const viewer = await browser.context.newPage();
    await viewer.goto(`${url}${href}`);
    await viewer.waitForFunction(() => !!window.remotevis?.lastFrame, null, { timeout: 30_000 });
    await Bun.sleep(500);
    const lit = await viewer.evaluate(() => {
      const c = document.querySelector("#view");
      const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 180) n++;
      return n / (d.length / 4);
    });
    expect(lit).toBeGreaterThan(0.01);
    if (shots) await viewer.screenshot({ path: join(ROOT, "docs/portal-viewer.png") });
    await viewer.close();

    await page.goto(`${url}/portal/#instances`);
    await page.waitForSelector(`tr[data-id="${instanceId}"][data-state="running"]`);
    if (shots) await page.screenshot({ path: join(ROOT, "docs/portal-instances.png") });
    const api = (await (await page.request.get(`${url}/api/v1/instances/${instanceId}`)).json()) as { url: string; owner: { name: string } };
    expect(api.owner.name).toBe("rvportal_a");
    directUrl = api.url;
  }, 90_000);

  test("the file browser lists with the user's permissions", async () => {
    const listing = await page.request.get(`${url}/portal/api/files?path=${encodeURIComponent(join(dir, "storage/only-b"))}`);
    expect(listing.status()).toBe(403);
    const outside = await page.request.get(`${url}/portal/api/files?path=/etc`);
    expect(outside.status()).toBe(403);
    const up = await page.request.get(`${url}/portal/api/files?path=${encodeURIComponent(join(dir, "storage/ct/../.."))}`);
    expect(up.status()).toBe(403);
  });

  test("user B cannot open A's instance through /i/ID/ nor with A's direct URL without the secret", async () => {
    const b = new Client(url);
    expect((await b.login("rvportal_b", pwB)).status).toBe(200);
    const through = await b.req("GET", `/i/${instanceId}/`);
    expect(through.status).toBe(404);
    const ws = await b.req("GET", `/i/${instanceId}/viewer`, undefined, { upgrade: "websocket", connection: "Upgrade", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==", "sec-websocket-version": "13" });
    expect(ws.status).toBe(404);
    const direct = new URL(directUrl);
    const noSecret = await fetch(`${direct.origin}/`, { headers: { cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join("; ") } });
    expect(noSecret.status).toBe(403);
    const wrongSecret = await fetch(`${direct.origin}/?token=${"x".repeat(32)}`);
    expect(wrongSecret.status).toBe(403);
    // The owner's direct URL keeps working beside the proxy.
    expect((await fetch(directUrl, { redirect: "manual" })).status).toBe(200);
  });

  test("forged and replayed session cookies and requests without the CSRF token are refused", async () => {
    const a = new Client(url);
    expect((await a.login("rvportal_a", pwA)).status).toBe(200);
    const value = a.cookies.get("rv_session")!;
    const forged = value.slice(0, -1) + (value.endsWith("A") ? "B" : "A");
    const get = (c: string) => fetch(`${url}/api/v1/instances`, { headers: { cookie: `rv_session=${c}` } });
    expect((await get(value)).status).toBe(200);
    expect((await get(forged)).status).toBe(401);
    const noCsrf = await a.req("POST", "/api/v1/instances?wait=false", { shape: [8, 8, 8], dtype: "uint8" });
    expect(noCsrf.status).toBe(403);
    expect((await a.req("DELETE", `/api/v1/instances/${instanceId}`)).status).toBe(403);
    expect((await a.req("POST", "/portal/api/logout", undefined, { "x-csrf-token": a.csrf })).status).toBe(200);
    expect((await get(value)).status).toBe(401); // replayed after logout
  });

  test("stop the instance from the page, then log out", async () => {
    await page.goto(`${url}/portal/#instances`);
    await page.click(`button[data-stop="${instanceId}"]`);
    await page.waitForFunction((id) => !document.querySelector(`tr[data-id="${id}"]`) || document.querySelector(`tr[data-id="${id}"]`).dataset.state === "stopped", instanceId, { timeout: 20_000 });
    const state = ((await (await page.request.get(`${url}/api/v1/instances/${instanceId}`)).json()) as { state: string }).state;
    expect(state).toBe("stopped");
    const before = (await browser.context.cookies()).find((c) => c.name === "rv_session")!.value;
    await page.click("#logout");
    await page.waitForSelector("#login-btn");
    expect((await fetch(`${url}/api/v1/instances`, { headers: { cookie: `rv_session=${before}` } })).status).toBe(401);
  }, 30_000);

  test("20 wrong passwords in a row are slowed down", async () => {
    const c = new Client(url);
    const codes: number[] = [];
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) codes.push((await c.login("rvportal_b", `wrong-${i}`)).status);
    const ms = performance.now() - t0;
    expect(codes.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(codes.slice(5).every((s) => s === 429)).toBe(true);
    // pam_unix's failure delay (about 2 s) is kept, without blocking the server.
    expect(ms).toBeGreaterThan(5 * 1000);
    const right = await c.login("rvportal_b", pwB);
    expect(right.status).toBe(429);
    expect(Number(right.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const health = await fetch(`${url}/api/v1/health`);
    expect(health.status).toBe(200);
  }, 60_000);
});
