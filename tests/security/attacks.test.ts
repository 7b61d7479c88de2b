/**
 * The attack suite (issue 13): every case is an attempt that must FAIL for the attacker, made
 * against real components started here: a root middleware (`remotevis serve`) with real munged
 * and two useradd'ed users, their instances (started by the middleware as those users), an
 * instance run as a user through setpriv with a storage root (load_file), and the portal's
 * routes through app.request() (sessions and CSRF, as src/middleware/portal.test.ts does).
 * All traffic on 127.0.0.1. Needs root (useradd, setpriv, munged): skipped otherwise.
 * Prints `security: N attempts, 0 succeeded` at the end (docs/SECURITY.md).
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { connect as tcpConnect, type Socket } from "node:net";
import { join } from "node:path";
import { InstanceClient } from "../../src/client/instance.ts";
import { RemoteVis } from "../../src/client/remotevis.ts";
import { RemoteVisError } from "../../src/errors.ts";
import { portalTestApp } from "../../src/middleware/testing.ts";
import type { Started } from "../../src/process/child.ts";
import { cli } from "../../src/testing/cli.ts";
import { spawnMiddleware } from "../../src/testing/middleware.ts";
import { ensureUser, freePort, mungeAs, sh } from "../../src/testing/users.ts";
import { encodeHeader } from "../../src/transfer/header.ts";
import { Connection } from "../../src/transfer/transfer.ts";

setDefaultTimeout(60_000);
process.env.UCX_LOG_LEVEL ??= "error";
const ROOT = new URL("../..", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("security attack suite (tests/security) skipped: it needs root (useradd, setpriv, munged); CI runs it as root");

// ---- the tally: every case counts one attempt; a success is an attack that got through ----
let attempts = 0;
let successes = 0;

/** One attack: `refused` answers whether the system held; a throw fails the case (and counts as got through). */
function attack(name: string, refused: () => Promise<boolean>): void {
  test(name, async () => {
    attempts++;
    let held = false;
    try {
      held = await refused();
    } finally {
      if (!held) successes++;
    }
    expect(held).toBe(true);
  });
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof RemoteVisError ? e.code : `other: ${e}`;
  }
}

/** Opens a WebSocket and says whether it opened (the attack got in) within 3 s. */
function wsOpens(url: string, headers: Record<string, string>): Promise<boolean> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers } as unknown as string[]);
    const timer = setTimeout(() => (ws.close(), resolve(false)), 3000);
    ws.onopen = () => (clearTimeout(timer), ws.close(), resolve(true));
    ws.onerror = () => (clearTimeout(timer), resolve(false));
    ws.onclose = () => (clearTimeout(timer), resolve(false));
  });
}

const errorCode = async (res: Response) => ((await res.json().catch(() => ({}))) as { error?: { code?: string } }).error?.code;

describe.skipIf(!isRoot)("attack suite", () => {
  const USER_A = "rvtest_a";
  const USER_B = "rvtest_b";
  let dir = "";
  let url = "";
  let mw: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let a: RemoteVis;
  let b: RemoteVis;
  let ia: { id: string; url: string };
  let ib: { id: string; url: string };
  let secretA = "";
  let secretB = "";
  let originA = "";
  let owner: InstanceClient;
  // load_file target: an instance run as USER_A (setpriv) with a storage root
  let fileInst: { url: string; secret: string; proc: Started } | undefined;
  let storage = "";
  let outside = "";

  const api = (path: string, init: RequestInit = {}) => fetch(`${url}/api/v1${path}`, init);
  const asUser = async (user: string, path: string, init: RequestInit = {}) =>
    api(path, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: await mungeAs(user)() } });
  const healthy = async () => (await api("/health")).status === 200;

  beforeAll(async () => {
    const up = sh([join(ROOT, "scripts/munge-up.sh")]);
    if (up.code !== 0) throw new Error(`scripts/munge-up.sh failed: ${up.out}`);
    const uidA = ensureUser(USER_A);
    ensureUser(USER_B);
    const gidA = Number(sh(["id", "-g", USER_A]).out.trim());
    dir = mkdtempSync("/tmp/rv-attacks-");
    chmodSync(dir, 0o755);
    const config = join(dir, "serve.toml");
    await Bun.write(config, [`port = ${await freePort()}`, `db = "${dir}/state/rv.db"`, `grace = "10m"`, `start-timeout = "20s"`, `stop-timeout = "3s"`].join("\n") + "\n");
    ({ proc: mw, url } = await spawnMiddleware(config, ROOT, { UCX_TLS: "tcp" }));
    a = new RemoteVis({ middleware: url, credential: mungeAs(USER_A) });
    b = new RemoteVis({ middleware: url, credential: mungeAs(USER_B) });
    const [sa, sb] = await Promise.all([a.start({ shape: [16, 16, 16], dtype: "uint8", name: "victim" }), b.start({ shape: [16], dtype: "uint8", name: "attacker" })]);
    ia = { id: sa.id, url: sa.url! };
    ib = { id: sb.id, url: sb.url! };
    secretA = new URL(ia.url).searchParams.get("token")!;
    secretB = new URL(ib.url).searchParams.get("token")!;
    originA = new URL(ia.url).origin;
    owner = await InstanceClient.connect(ia.url);
    await owner.renderVolume(new Uint8Array(8).fill(1), { shape: [2, 2, 2], name: "keep-me" });

    // Storage for load_file: a root readable by USER_A, files outside it, links out of it.
    storage = join(dir, "storage");
    outside = join(dir, "outside");
    mkdirSync(join(storage, "sub"), { recursive: true });
    mkdirSync(outside);
    for (const d of [storage, join(storage, "sub"), outside]) chmodSync(d, 0o755);
    const layout = JSON.stringify({ shape: [4, 4, 4], dtype: "u8" });
    writeFileSync(join(storage, "sub", "ok.raw"), new Uint8Array(64));
    writeFileSync(join(storage, "sub", "ok.json"), layout);
    writeFileSync(join(outside, "secret.raw"), new Uint8Array(64).fill(7));
    writeFileSync(join(outside, "secret.json"), layout);
    for (const f of ["sub/ok.raw", "sub/ok.json"]) chmodSync(join(storage, f), 0o644);
    for (const f of ["secret.raw", "secret.json"]) chmodSync(join(outside, f), 0o644);
    writeFileSync(join(outside, "root-only.raw"), new Uint8Array(64).fill(9));
    chmodSync(join(outside, "root-only.raw"), 0o600);
    linkSync(join(outside, "root-only.raw"), join(storage, "hard.raw")); // hard link to a root-only file
    writeFileSync(join(storage, "hard.json"), layout);
    chmodSync(join(storage, "hard.json"), 0o644);
    symlinkSync(outside, join(storage, "out-dir"));
    symlinkSync("/etc/shadow", join(storage, "shadow.raw"));
    const secret = `test-secret-${crypto.randomUUID()}`;
    const proc = cli(["instance", "--renderer", "cpu", "--storage-root", storage], { REMOTEVIS_INSTANCE_SECRET: secret, HOME: `/home/${USER_A}` }, undefined, [
      "setpriv",
      `--reuid=${uidA}`,
      `--regid=${gidA}`,
      "--init-groups",
      "--",
    ]);
    fileInst = { url: (await proc.waitFor(/url: (http\S+)/, 30_000))[1]!, secret, proc };
  });

  afterAll(async () => {
    owner?.close();
    if (fileInst) {
      fileInst.proc.proc.kill("SIGTERM");
      await fileInst.proc.done(10_000).catch(() => fileInst!.proc.proc.kill("SIGKILL"));
    }
    for (const c of [a, b]) for (const i of (await c?.list({ all: false }).catch(() => [])) ?? []) await c.stop(i.id).catch(() => {});
    mw?.kill("SIGTERM");
    await mw?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
    console.log(`security: ${attempts} attempts, ${successes} succeeded`);
  });

  // ---- another user's instance id on every API route ----
  describe("another user's instance id", () => {
    attack("GET /instances/:id of A by B: 404 exactly like a missing id", async () => {
      const theirs = await asUser(USER_B, `/instances/${ia.id}`);
      const missing = await asUser(USER_B, "/instances/i-0123456789abcdef");
      return theirs.status === 404 && JSON.stringify(await theirs.json()) === JSON.stringify(await missing.json());
    });
    attack("DELETE /instances/:id of A by B: 404 and A's instance keeps running", async () => {
      const r = await asUser(USER_B, `/instances/${ia.id}`, { method: "DELETE" });
      return r.status === 404 && (await a.status(ia.id)).state === "running";
    });
    attack("GET /instances by B does not list A's instance", async () => {
      const r = await asUser(USER_B, "/instances");
      const body = (await r.json()) as { instances: { id: string }[] };
      return r.status === 200 && !body.instances.some((i) => i.id === ia.id) && !JSON.stringify(body).includes(secretA);
    });
    attack("ready call-back on A's id with a wrong secret: 401", async () => {
      const r = await api(`/instances/${ia.id}/ready`, { method: "POST", headers: { "content-type": "application/json", authorization: `Instance ${"x".repeat(43)}` }, body: JSON.stringify({ host: "127.0.0.1", port: 1, dataPort: 2 }) });
      return r.status === 401 && (await a.status(ia.id)).url === ia.url;
    });
    attack("heartbeat call-back on A's id with B's instance secret: 401", async () => {
      const r = await api(`/instances/${ia.id}/heartbeat`, { method: "POST", headers: { "content-type": "application/json", authorization: `Instance ${secretB}` }, body: JSON.stringify({ connections: 0 }) });
      return r.status === 401;
    });
    attack("access call-back on A's id with B's user credential (not an instance secret): 401", async () => {
      const r = await asUser(USER_B, `/instances/${ia.id}/access`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ kind: "viewer" }) });
      return r.status === 401;
    });
    attack("heartbeat call-back without any credential: 401", async () => {
      const r = await api(`/instances/${ia.id}/heartbeat`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ connections: 0 }) });
      return r.status === 401;
    });
  });

  // ---- another user's viewer URL ----
  describe("viewer and control socket of A's instance", () => {
    attack("viewer page and /health without the secret: 403 / 401", async () => {
      const page = await fetch(`${originA}/`);
      const health = await fetch(`${originA}/health`);
      const js = await fetch(`${originA}/web/viewer.js`);
      return page.status === 403 && health.status === 401 && js.status === 403;
    });
    attack("viewer with a guessed token (page, /embed, REST op): refused", async () => {
      const guess = crypto.randomUUID().replace(/-/g, "").padEnd(43, "A");
      const page = await fetch(`${originA}/?token=${guess}`);
      const embed = await fetch(`${originA}/embed?token=${guess}`);
      const op = await fetch(`${originA}/api/get_state?token=${guess}`, { method: "POST" });
      return page.status === 403 && embed.status === 403 && op.status === 401 && !page.headers.getSetCookie().length;
    });
    attack("B's own instance secret does not open A's viewer or REST", async () => {
      const page = await fetch(`${originA}/?token=${secretB}`);
      const op = await fetch(`${originA}/api/get_state`, { method: "POST", headers: { authorization: `Instance ${secretB}` } });
      return page.status === 403 && op.status === 401;
    });
    attack("a forged viewer cookie (guessed value) is refused", async () => {
      const state = (await owner.state()) as { id?: string };
      const name = `remotevis_${String(state.id ?? ia.id).replace(/[^A-Za-z0-9_-]/g, "")}`;
      const r = await fetch(`${originA}/`, { headers: { cookie: `${name}=${"y".repeat(43)}` } });
      const op = await fetch(`${originA}/api/get_state`, { method: "POST", headers: { cookie: `${name}=${"y".repeat(43)}` } });
      return r.status === 403 && op.status === 401;
    });
    attack("WebSocket /control from another Origin without the secret does not open", async () => {
      const ws = `ws://${new URL(ia.url).host}/control`;
      return !(await wsOpens(ws, { origin: "http://evil.test" }));
    });
    attack("WebSocket /control and /viewer with a guessed token from another Origin do not open", async () => {
      const host = new URL(ia.url).host;
      const guess = "z".repeat(43);
      const c1 = await wsOpens(`ws://${host}/control?token=${guess}`, { origin: "http://evil.test" });
      const c2 = await wsOpens(`ws://${host}/control`, { origin: "http://evil.test", authorization: `Instance ${secretB}` });
      const v1 = await wsOpens(`ws://${host}/viewer`, { origin: "http://evil.test" });
      return !c1 && !c2 && !v1;
    });
  });

  // ---- the data port ----
  describe("data port of A's instance", () => {
    // One transfer prepared by the owner and left pending: the attacks below aim at it (a
    // rejected header does not end it), the size mismatch last (that one fails it).
    let pending: { transfer: string; port: number } | undefined;
    async function prepared(): Promise<{ transfer: string; port: number }> {
      if (!pending) {
        const t = (await owner.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "uint8", name: "never" })).json;
        pending = { transfer: String(t.transfer), port: Number(t.dataPort) };
      }
      return pending;
    }
    async function sendRaw(port: number, header: Record<string, unknown>, size: number): Promise<string> {
      await using conn = await Connection.connect("127.0.0.1", port);
      return await codeOf(conn.send(encodeHeader(header), new Uint8Array(size).fill(0xee)));
    }
    const oldVolumeKept = async () => ((await owner.state()).volume as { name?: string } | undefined)?.name === "keep-me";

    attack("a header without a secret: rejected, old volume kept", async () => {
      const t = await prepared();
      const got = await sendRaw(t.port, { transfer: t.transfer, part: "volume" }, 8);
      return got !== "ok" && (await oldVolumeKept());
    });
    attack("a header with a wrong secret (B's instance secret): rejected", async () => {
      const t = await prepared();
      const got = await sendRaw(t.port, { secret: secretB, transfer: t.transfer, part: "volume" }, 8);
      return got === "transfer_rejected" && (await oldVolumeKept());
    });
    attack("the right secret with a made-up transfer id: rejected", async () => {
      const t = await prepared();
      const got = await sendRaw(t.port, { secret: secretA, transfer: "made-up", part: "volume" }, 8);
      return got === "transfer_rejected" && (await oldVolumeKept());
    });
    attack("a volume header whose payload size does not match the prepared size: refused", async () => {
      const t = await prepared();
      const got = await sendRaw(t.port, { secret: secretA, transfer: t.transfer, part: "volume" }, 9);
      const waited = await codeOf(owner.request("wait_transfer", { transfer: t.transfer, timeoutMs: 5000 }));
      return got === "transfer_size" && waited === "size_mismatch" && (await oldVolumeKept());
    });
    attack("a transfer above the instance's byte limit (maxBytes 4096) is refused before allocation", async () => {
      const got = await codeOf(owner.request("prepare_volume", { bytes: 32 ** 3, shape: [32, 32, 32], dtype: "uint8" }));
      const inst = await a.status(ia.id);
      return got === "over_limit" && inst.maxBytes === 4096;
    });
    attack("shapes whose byte count overflows (shape x itemsize > 2^64) are refused by the instance", async () => {
      const codes = [
        await codeOf(owner.request("prepare_volume", { bytes: 8, shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], dtype: "float64" })),
        await codeOf(owner.request("prepare_volume", { bytes: 0, shape: [2 ** 53, 2 ** 53, 2 ** 53], dtype: "float64" })),
        await codeOf(owner.request("prepare_volume", { bytes: 8, shape: [2 ** 62, 4], dtype: "uint16" })),
      ];
      return codes.every((c) => c !== "ok" && !c.startsWith("other")) && ((await owner.state()).volume as { name?: string }).name === "keep-me";
    });
    attack("shapes whose byte count overflows are refused by the middleware (no instance started)", async () => {
      const before = (await a.list()).length;
      const codes = [
        await codeOf(a.start({ shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], dtype: "float64" })),
        await codeOf(a.start({ shape: [2 ** 53, 2 ** 53, 2 ** 53], dtype: "uint8" })),
      ];
      return codes.every((c) => c === "too_large" || c === "invalid_request") && (await a.list()).length === before;
    });
  });

  // ---- file paths escaping the storage roots (instance running as USER_A) ----
  describe("load_file out of the storage roots", () => {
    const load = async (path: string) => {
      const r = await fetch(`${new URL(fileInst!.url).origin}/api/load_file`, { method: "POST", headers: { authorization: `Instance ${fileInst!.secret}` }, body: JSON.stringify({ path }) });
      const body = (await r.json()) as { ok?: boolean; error?: { code: string; message: string } };
      return { status: r.status, body };
    };
    const refusedLoad = async (path: string, code?: string) => {
      const r = await load(path);
      const ok = r.status >= 400 && r.status < 500 && !r.body.ok && (code === undefined || r.body.error?.code === code);
      if (!ok) console.warn(`load_file ${JSON.stringify(path.slice(0, 80))}: ${r.status} ${JSON.stringify(r.body)}`);
      return ok && (path.length <= 8 || !r.body.error!.message.includes(path));
    };
    test("control: a file inside the root loads (the instance works)", async () => {
      expect((await load(join(storage, "sub", "ok.raw"))).body).toMatchObject({ ok: true, shape: [4, 4, 4] });
    });
    attack("'..' out of the root", async () => (await refusedLoad(`${storage}/../outside/secret.raw`)) && (await refusedLoad("sub/../../outside/secret.raw")));
    attack("an absolute path outside the roots", async () => (await refusedLoad("/etc/shadow")) && (await refusedLoad(join(outside, "secret.raw"), "outside_roots")));
    attack("a symlink out of the root (directory and file)", async () => (await refusedLoad(join(storage, "out-dir", "secret.raw"), "outside_roots")) && (await refusedLoad(join(storage, "shadow.raw"))));
    attack("a hard link inside the root to a root-only file", async () => refusedLoad(join(storage, "hard.raw")));
    attack("a NUL byte in the path", async () => refusedLoad(`${storage}/sub/ok.raw\0../../../etc/shadow`, "invalid_path"));
    attack("very long paths (deep and long names)", async () => (await refusedLoad(`${storage}/${"a/".repeat(2100)}x.raw`)) && (await refusedLoad(`${storage}/${"n".repeat(300)}.raw`)));
    attack("list_files of / and of a link out of the root", async () => {
      const r1 = await fetch(`${new URL(fileInst!.url).origin}/api/list_files`, { method: "POST", headers: { authorization: `Instance ${fileInst!.secret}` }, body: JSON.stringify({ path: "/" }) });
      const r2 = await fetch(`${new URL(fileInst!.url).origin}/api/list_files`, { method: "POST", headers: { authorization: `Instance ${fileInst!.secret}` }, body: JSON.stringify({ path: join(storage, "out-dir") }) });
      return r1.status === 403 && r2.status === 403;
    });
  });

  // ---- MUNGE credentials and API tokens against the real middleware ----
  describe("credentials", () => {
    attack("a replayed MUNGE credential: 401 replayed", async () => {
      const cred = await mungeAs(USER_A)();
      const first = await api("/instances", { headers: { authorization: cred } });
      const again = await api("/instances", { headers: { authorization: cred } });
      return first.status === 200 && again.status === 401;
    });
    attack("a forged MUNGE credential (one byte of the payload changed): 401", async () => {
      const cred = await mungeAs(USER_B)();
      const i = Math.floor(cred.length / 2);
      const forged = cred.slice(0, i) + (cred[i] === "A" ? "B" : "A") + cred.slice(i + 1);
      const r = await api("/instances", { headers: { authorization: forged } });
      return r.status === 401;
    });
    attack("an expired MUNGE credential (ttl 1 s, used 2.5 s later): 401", async () => {
      const made = sh(["runuser", "-u", USER_A, "--", "munge", "--no-input", "--ttl", "1"]);
      if (made.code !== 0) throw new Error(`munge --ttl: ${made.out}`);
      await Bun.sleep(2500);
      const r = await api("/instances", { headers: { authorization: `MUNGE ${made.out.trim()}` } });
      return r.status === 401;
    });
    attack("identity headers (X-Remote-User, X-Forwarded-User) do not make B into A", async () => {
      const r = await asUser(USER_B, `/instances/${ia.id}`, { headers: { "x-remote-user": USER_A, "x-forwarded-user": USER_A } });
      return r.status === 404;
    });
    attack("a forged API token: 401", async () => {
      const r1 = await api("/instances", { headers: { authorization: `Bearer rv_${"A".repeat(43)}` } });
      const r2 = await api("/instances", { headers: { authorization: "Bearer rv_" } });
      return r1.status === 401 && r2.status === 401;
    });
    attack("a revoked API token: 401", async () => {
      const made = await asUser(USER_A, "/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "revoke-me" }) });
      if (made.status !== 201) throw new Error(`token create: ${made.status}`);
      const tok = (await made.json()) as { id: string; token: string };
      const before = await api("/instances", { headers: { authorization: `Bearer ${tok.token}` } });
      const del = await asUser(USER_A, `/tokens/${tok.id}`, { method: "DELETE" });
      const after = await api("/instances", { headers: { authorization: `Bearer ${tok.token}` } });
      return before.status === 200 && del.status === 200 && after.status === 401;
    });
    attack("B cannot revoke A's token; a token cannot mint tokens", async () => {
      const made = await asUser(USER_A, "/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "keep" }) });
      const tok = (await made.json()) as { id: string; token: string };
      const byB = await asUser(USER_B, `/tokens/${tok.id}`, { method: "DELETE" });
      const mint = await api("/tokens", { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${tok.token}` }, body: JSON.stringify({ name: "more" }) });
      const still = await api("/instances", { headers: { authorization: `Bearer ${tok.token}` } });
      return byB.status === 404 && mint.status === 403 && still.status === 200;
    });
  });

  // ---- bodies ----
  describe("oversized and deeply nested bodies", () => {
    attack("a JSON body above 64 KiB to the middleware: 413, nothing started", async () => {
      const before = (await a.list()).length;
      const r = await asUser(USER_A, "/instances?wait=false", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ shape: [1], dtype: "uint8", name: "x".repeat(70 * 1024) }) });
      return r.status === 413 && (await a.list()).length === before;
    });
    attack("a 1 MiB JSON body without a Content-Length cap (chunked): 413", async () => {
      const chunk = new TextEncoder().encode(" ".repeat(64 * 1024));
      let n = 0;
      const body = new ReadableStream({
        pull(c) {
          if (n++ < 16) c.enqueue(chunk);
          else (c.enqueue(new TextEncoder().encode("{}")), c.close());
        },
      });
      const r = await asUser(USER_A, "/tokens", { method: "POST", headers: { "content-type": "application/json" }, body });
      return r.status === 413 && (await healthy());
    });
    attack("deeply nested JSON (50 000 levels) to the middleware: 4xx, still serving", async () => {
      const deep = "[".repeat(50_000) + "]".repeat(50_000);
      const obj = '{"a":'.repeat(10_000) + "1" + "}".repeat(10_000);
      const r1 = await asUser(USER_A, "/instances?wait=false", { method: "POST", headers: { "content-type": "application/json" }, body: deep });
      const r2 = await asUser(USER_A, "/tokens", { method: "POST", headers: { "content-type": "application/json" }, body: obj });
      return r1.status >= 400 && r1.status < 500 && r2.status >= 400 && r2.status < 500 && (await healthy());
    });
    attack("deeply nested JSON to the instance (no secret: 401; with it: 4xx), instance still serving", async () => {
      const deep = "[".repeat(50_000) + "]".repeat(50_000);
      const r1 = await fetch(`${originA}/api/set_view`, { method: "POST", body: deep });
      const r2 = await fetch(`${originA}/api/set_view`, { method: "POST", headers: { authorization: `Instance ${secretA}` }, body: deep });
      const alive = await fetch(`${originA}/health`, { headers: { authorization: `Instance ${secretA}` } });
      return r1.status === 401 && r2.status >= 400 && r2.status < 500 && alive.status === 200;
    });
  });

  // ---- slowloris ----
  describe("slow requests", () => {
    const slowSocket = (port: number): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = tcpConnect({ host: "127.0.0.1", port }, () => resolve(s));
        s.on("error", reject);
      });
    async function timedHealth(): Promise<number> {
      const t0 = performance.now();
      const r = await api("/health");
      if (r.status !== 200) return Infinity;
      return performance.now() - t0;
    }
    attack("a request sent byte by byte does not block another client (health < 1 s)", async () => {
      const port = Number(new URL(url).port);
      const s = await slowSocket(port);
      const text = `POST /api/v1/instances HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\nX-Slow: `;
      let stop = false;
      const dripping = (async () => {
        for (let i = 0; i < text.length && !stop; i++) {
          s.write(text[i]!);
          await Bun.sleep(50);
        }
      })();
      await Bun.sleep(300);
      const ms = [await timedHealth(), await timedHealth(), await timedHealth()];
      stop = true;
      await dripping;
      s.destroy();
      return ms.every((m) => m < 1000);
    });
    attack("100 half-open slow connections at once do not block another client", async () => {
      const port = Number(new URL(url).port);
      const socks = await Promise.all(Array.from({ length: 100 }, () => slowSocket(port)));
      for (const s of socks) s.write("GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      await Bun.sleep(200);
      const ms = await timedHealth();
      const ok = await asUser(USER_A, "/instances");
      for (const s of socks) s.destroy();
      return ms < 1000 && ok.status === 200;
    });
    attack("a slow body to the instance's REST port does not block its owner's control socket", async () => {
      const s = await slowSocket(Number(new URL(ia.url).port));
      s.write(`POST /api/get_state HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Instance ${"q".repeat(43)}\r\nContent-Length: 50000\r\n\r\n{`);
      const t0 = performance.now();
      const st = await owner.state();
      const ms = performance.now() - t0;
      s.destroy();
      return ms < 1000 && (st.volume as { name?: string }).name === "keep-me";
    });
  });

  // ---- portal: sessions and CSRF (route level, as portal.test.ts; PAM replaced by a fake check) ----
  describe("portal sessions and CSRF", () => {
    const H = "http://portal.test";
    const { app, store, backend } = portalTestApp("/tmp/rv-attacks-portal", { alice: { uid: 2001, gid: 2001, pw: "alice-pw" } });
    afterAll(() => store.close());

    async function login(): Promise<{ cookie: string; csrf: string }> {
      const s0 = await app.request(`${H}/portal/api/session`, { headers: { host: "portal.test" } });
      const pre = s0.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
      const { loginCsrf } = (await s0.json()) as { loginCsrf: string };
      const res = await app.request(`${H}/portal/api/login`, {
        method: "POST",
        headers: { host: "portal.test", origin: H, "content-type": "application/json", "x-csrf-token": loginCsrf, ...(pre ? { cookie: pre } : {}) },
        body: JSON.stringify({ user: "alice", password: "alice-pw" }),
      });
      if (res.status !== 200) throw new Error(`login: ${res.status}`);
      const cookie = res.headers.getSetCookie().find((c) => c.startsWith("rv_session="))!.split(";")[0]!;
      return { cookie, csrf: ((await res.json()) as { csrf: string }).csrf };
    }
    const get = (cookie: string) => app.request(`${H}/api/v1/instances`, { headers: { cookie, host: "portal.test" } });
    const create = (headers: Record<string, string>) =>
      app.request(`${H}/api/v1/instances?wait=false`, { method: "POST", headers: { host: "portal.test", "content-type": "application/json", ...headers }, body: JSON.stringify({ shape: [8, 8, 8], dtype: "uint8" }) });

    attack("a forged session cookie (changed secret, made-up id, garbage): 401", async () => {
      const { cookie } = await login();
      const [id, secret] = cookie.slice("rv_session=".length).split(".");
      const forged = `rv_session=${id}.${secret![0] === "A" ? "B" : "A"}${secret!.slice(1)}`;
      const madeUp = `rv_session=s-${"0".repeat(24)}.${secret}`;
      return (await get(cookie)).status === 200 && (await get(forged)).status === 401 && (await get(madeUp)).status === 401 && (await get("rv_session=garbage")).status === 401;
    });
    attack("an expired session cookie and one replayed after logout: 401", async () => {
      const s1 = await login();
      const out = await app.request(`${H}/portal/api/logout`, { method: "POST", headers: { host: "portal.test", origin: H, cookie: s1.cookie, "x-csrf-token": s1.csrf } });
      const s2 = await login();
      const id2 = s2.cookie.slice("rv_session=".length).split(".")[0];
      (store as unknown as { db: { query(s: string): { run(...a: unknown[]): void } } }).db.query("UPDATE sessions SET expires_at = ? WHERE id = ?").run(Date.now() - 1, id2);
      return out.status === 200 && (await get(s1.cookie)).status === 401 && (await get(s2.cookie)).status === 401;
    });
    attack("a state-changing request without the CSRF token: 403, nothing launched", async () => {
      const s = await login();
      const r = await create({ cookie: s.cookie, origin: H });
      return r.status === 403 && (await errorCode(r)) === "csrf" && backend.launched.length === 0;
    });
    attack("CSRF with a guessed token, and with the right token from another Origin: 403", async () => {
      const s = await login();
      const guessed = await create({ cookie: s.cookie, origin: H, "x-csrf-token": "x".repeat(43) });
      const cross = await create({ cookie: s.cookie, origin: "http://evil.test", "x-csrf-token": s.csrf });
      return guessed.status === 403 && cross.status === 403 && backend.launched.length === 0;
    });
    attack("login without the pre-session CSRF token or from another Origin: 403", async () => {
      const noTok = await app.request(`${H}/portal/api/login`, { method: "POST", headers: { host: "portal.test", origin: H, "content-type": "application/json" }, body: JSON.stringify({ user: "alice", password: "alice-pw" }) });
      const s0 = await app.request(`${H}/portal/api/session`, { headers: { host: "portal.test" } });
      const pre = s0.headers.getSetCookie().map((c) => c.split(";")[0]!).join("; ");
      const { loginCsrf } = (await s0.json()) as { loginCsrf: string };
      const foreign = await app.request(`${H}/portal/api/login`, {
        method: "POST",
        headers: { host: "portal.test", origin: "http://evil.test", "content-type": "application/json", "x-csrf-token": loginCsrf, ...(pre ? { cookie: pre } : {}) },
        body: JSON.stringify({ user: "alice", password: "alice-pw" }),
      });
      return noTok.status === 403 && foreign.status === 403 && !foreign.headers.getSetCookie().some((c) => c.startsWith("rv_session="));
    });
  });
});
