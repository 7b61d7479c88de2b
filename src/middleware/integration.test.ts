/**
 * The middleware as users meet it: real munged, real accounts (rvtest_a, rvtest_b), the
 * middleware as root in its own process, instances started as their owners. Needs root
 * (useradd, setpriv, munged); skipped with a message otherwise. All traffic on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RemoteVis } from "../client/remotevis.ts";
import { procAlive, procUid } from "./backends/procfs.ts";
import { spawnMiddleware } from "../testing/middleware.ts";
import { ensureUser, freePort, mungeAs, sh } from "../testing/users.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("integration tests of the middleware skipped: they need root (useradd, setpriv, munged); CI runs them as root");

describe.skipIf(!isRoot)("middleware as root with real munge and users", () => {
  let dir = "";
  let url = "";
  let config = "";
  let mw: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let uidA = 0;
  let uidB = 0;
  let a: RemoteVis;
  let b: RemoteVis;

  async function startMiddleware(): Promise<void> {
    ({ proc: mw, url } = await spawnMiddleware(config, ROOT));
  }

  beforeAll(async () => {
    const up = sh([join(ROOT, "scripts/munge-up.sh")]);
    if (up.code !== 0) throw new Error(`scripts/munge-up.sh failed: ${up.out}`);
    uidA = ensureUser("rvtest_a");
    uidB = ensureUser("rvtest_b");
    dir = mkdtempSync("/tmp/rv-mw-it-");
    chmodSync(dir, 0o755);
    config = join(dir, "serve.toml");
    await Bun.write(
      config,
      [`port = ${await freePort()}`, `db = "${dir}/state/rv.db"`, `grace = "3s"`, `sweep = "0.5s"`, `heartbeat = "1s"`, `start-timeout = "20s"`, `stop-timeout = "3s"`].join("\n") + "\n",
    );
    await startMiddleware();
    a = new RemoteVis({ middleware: url, credential: mungeAs("rvtest_a") });
    b = new RemoteVis({ middleware: url, credential: mungeAs("rvtest_b") });
  });

  afterAll(async () => {
    for (const c of [a, b]) for (const i of (await c?.list({ all: false }).catch(() => [])) ?? []) await c.stop(i.id).catch(() => {});
    mw?.kill("SIGTERM");
    await mw?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function healthOf(u: string) {
    const t = new URL(u);
    const res = await fetch(`${t.origin}/health${t.search}`);
    return { status: res.status, body: (await res.json()) as { pid: number; id: string } };
  }

  test("each user's instance runs under that user's uid; others cannot see, use or stop it", async () => {
    const [ia, ib] = await Promise.all([a.start({ shape: [64, 64, 64], dtype: "uint8", name: "a" }), b.start({ shape: [32, 32, 32], dtype: "float32" })]);
    expect(ia.state).toBe("running");
    expect(ia.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    const ha = await healthOf(ia.url!);
    const hb = await healthOf(ib.url!);
    expect(ha.status).toBe(200);
    expect(procUid(ha.body.pid)).toBe(uidA);
    expect(procUid(hb.body.pid)).toBe(uidB);
    // The instance refuses anyone without its token.
    expect((await fetch(`${new URL(ia.url!).origin}/health`)).status).toBe(401);
    expect((await fetch(`${new URL(ia.url!).origin}/?token=${"x".repeat(43)}`)).status).toBe(403); // the viewer's "no access" page
    // B cannot see, query or stop A's instance: 404 like a missing id.
    await expect(b.status(ia.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
    await expect(b.stop(ia.id)).rejects.toMatchObject({ status: 404, code: "not_found" });
    expect((await b.list()).map((i) => i.id)).not.toContain(ia.id);
    expect((await a.status(ia.id)).state).toBe("running");
    // The owner stops it: the process is gone.
    const stopped = await a.stop(ia.id);
    expect(stopped.state).toBe("stopped");
    expect(procAlive(ha.body.pid, null)).toBe(false);
    await b.stop(ib.id);
  });

  test("a replayed MUNGE credential is refused (401)", async () => {
    const cred = await mungeAs("rvtest_a")();
    const first = await fetch(`${url}/api/v1/instances`, { headers: { authorization: cred } });
    expect(first.status).toBe(200);
    const again = await fetch(`${url}/api/v1/instances`, { headers: { authorization: cred } });
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: { message: string } }).error.message).toContain("replayed");
  });

  test("grace period stops the unopened instance, not the opened one", async () => {
    const [unopened, opened] = await Promise.all([a.start({ shape: [16], dtype: "uint8" }), a.start({ shape: [16], dtype: "uint8" })]);
    expect((await fetch(opened.url!)).status).toBe(200); // the viewer page counts as opening it
    await Bun.sleep(4500);
    const u = await a.status(unopened.id);
    expect(u.state).toBe("stopped");
    expect(u.reason).toContain("grace period");
    expect((await a.status(opened.id)).state).toBe("running");
    await a.stop(opened.id);
  });

  test("a middleware killed with SIGKILL and restarted keeps its running instances", async () => {
    const [keep, dies] = await Promise.all([a.start({ shape: [16], dtype: "uint8" }), b.start({ shape: [16], dtype: "uint8" })]);
    for (const i of [keep, dies]) expect((await fetch(i.url!)).status).toBe(200);
    const pidKeep = (await healthOf(keep.url!)).body.pid;
    const pidDies = (await healthOf(dies.url!)).body.pid;
    mw!.kill("SIGKILL");
    await mw!.exited;
    expect(procAlive(pidKeep, null)).toBe(true);
    process.kill(pidDies, "SIGKILL");
    await Bun.sleep(200);
    await startMiddleware();
    const k = await a.status(keep.id);
    expect(k.state).toBe("running");
    expect(k.url).toBe(keep.url);
    expect((await healthOf(k.url!)).status).toBe(200);
    const d = await b.status(dies.id);
    expect(d.state).toBe("failed");
    expect(d.reason).toContain("while the middleware was not running");
    // The taken-over instance (no longer a child of this middleware) still stops on request.
    expect((await a.stop(keep.id)).state).toBe("stopped");
    expect(procAlive(pidKeep, null)).toBe(false);
  });

  test("SIGTERM stops the middleware while its instances run on; a restarted one takes them over", async () => {
    const inst = await a.start({ shape: [16], dtype: "uint8" });
    expect((await fetch(inst.url!)).status).toBe(200);
    const pid = (await healthOf(inst.url!)).body.pid;
    mw!.kill("SIGTERM");
    // it exits (it hung in Bun's server.stop(true) while an instance's request was open)
    expect(await Promise.race([mw!.exited, Bun.sleep(10_000).then(() => "still running 10 s after SIGTERM")])).toBe(0);
    expect(procAlive(pid, null)).toBe(true);
    await startMiddleware();
    expect((await a.status(inst.id)).state).toBe("running");
    expect((await a.stop(inst.id)).state).toBe("stopped");
  }, 30_000);

  test("bad requests from a real client get clear 4xx answers", async () => {
    await expect(a.start({ shape: [-5, 2], dtype: "uint8" })).rejects.toMatchObject({ status: 400, code: "invalid_request" });
    await expect(a.start({ shape: [4], dtype: "bogus" as never })).rejects.toMatchObject({ status: 400 });
    await expect(a.start({ shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], dtype: "float64" })).rejects.toMatchObject({ status: 400, code: "too_large" });
    await expect(a.status("i-ffffffffffffffff")).rejects.toMatchObject({ status: 404 });
  });
});
