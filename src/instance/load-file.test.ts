/**
 * load_file and list_files against real instance processes: every CT format of the test data
 * is shown (get_state), point clouds too; and every way out of the storage roots is refused
 * with a clear 4xx in the one error shape while the instance keeps serving. As root (CI), an
 * instance started as a useradd'ed user through setpriv cannot load a root-only file that
 * the middleware could read, not even through a hard link inside its root.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { chmodSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstanceClient } from "../client/instance.ts";
import { RemoteVisError } from "../errors.ts";
import { hdf5Available } from "../formats/hdf5.ts";
import { ensureTestData } from "../formats/testdata.ts";
import { cli } from "../testing/cli.ts";
import type { Started } from "../process/child.ts";

setDefaultTimeout(60_000);
const DATA = await ensureTestData();
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("load_file as another user skipped: it needs root (useradd, setpriv); CI runs as root");

interface Inst {
  url: string;
  secret: string;
  proc: Started;
  stop(): Promise<void>;
}

async function startInstance(roots: string[], o: { prefix?: string[]; env?: Record<string, string>; maxBytes?: number } = {}): Promise<Inst> {
  const secret = `test-secret-${crypto.randomUUID()}`;
  const args = ["instance", "--renderer", "cpu", ...roots.flatMap((r) => ["--storage-root", r]), ...(o.maxBytes ? ["--max-bytes", String(o.maxBytes)] : [])];
  const proc = cli(args, { REMOTEVIS_INSTANCE_SECRET: secret, ...o.env }, undefined, o.prefix ?? []);
  const url = (await proc.waitFor(/url: (http\S+)/, 30_000))[1]!;
  return {
    url,
    secret,
    proc,
    async stop() {
      proc.proc.kill("SIGTERM");
      await proc.done(10_000).catch(() => proc.proc.kill("SIGKILL"));
    },
  };
}

/** POST /api/OP: status and JSON body. */
async function api(i: Inst, op: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${new URL(i.url).origin}/api/${op}`, { method: "POST", headers: { authorization: `Instance ${i.secret}` }, body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Expects a refusal: a 4xx with {error:{code,message}} that does not repeat the path. */
async function refused(i: Inst, op: string, body: { path: string }, status: number, code: string): Promise<void> {
  const r = await api(i, op, body);
  expect({ status: r.status, code: r.json.error?.code }).toEqual({ status, code });
  expect(typeof r.json.error.message).toBe("string");
  expect(Object.keys(r.json)).toEqual(["error"]);
  if (body.path.length > 8) expect(r.json.error.message).not.toContain(body.path);
}

const work = mkdtempSync(join(tmpdir(), "rv-load-"));
const root = join(work, "root");
const outside = join(work, "outside");
let inst: Inst;
let c: InstanceClient;

beforeAll(async () => {
  mkdirSync(join(root, "sub"), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, "secret.raw"), new Uint8Array(64));
  writeFileSync(join(outside, "secret.json"), JSON.stringify({ shape: [4, 4, 4], dtype: "u8" }));
  symlinkSync(outside, join(root, "out-dir"));
  symlinkSync(join(outside, "secret.raw"), join(root, "sub", "out-file.raw"));
  symlinkSync("/etc/passwd", join(root, "passwd"));
  symlinkSync(join(root, "sub"), join(root, "in-link"));
  writeFileSync(join(root, "sub", "small.raw"), new Uint8Array(27).map((_, k) => k));
  writeFileSync(join(root, "sub", "small.json"), JSON.stringify({ shape: [3, 3, 3], dtype: "u8" }));
  writeFileSync(join(root, "notes.txt.bin"), "hello");
  // a hard link inside the root to a file outside it (allowed: it is the same file, same permissions)
  linkSync(join(outside, "secret.raw"), join(root, "hard.raw"));
  copyFileSync(join(outside, "secret.json"), join(root, "hard.json"));
  chmodSync(work, 0o755);
  inst = await startInstance(DATA ? [root, DATA] : [root]);
  c = await InstanceClient.connect(inst.url);
});
afterAll(async () => {
  c?.close();
  await inst?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(!DATA)("load_file shows every CT format", () => {
  const CT = ["cranium.h5", "cranium.h5:/entry/data/data", "cranium.nii.gz", "cranium.npy", "cranium_be.npy", "cranium_f.npy", "cranium.raw", "cranium.tif", "cranium_be_deflate.tif", "slices"];
  for (const name of CT)
    test(`ct/${name}`, async () => {
      if (name.includes(".h5") && !hdf5Available()) return;
      const [file, dataset] = name.split(":");
      const events: Record<string, unknown>[] = [];
      const off = c.on((e) => e.event === "transfer" && e.kind === "load" && events.push(e));
      const r = await c.loadFile(join(DATA!, "ct", file!), { dataset });
      off();
      expect(r).toMatchObject({ kind: "volume", shape: [108, 256, 256], dtype: "int16" });
      if (name.startsWith("cranium.h5")) expect(r.format).toBe("hdf5");
      const st = await c.state();
      expect((st.volume as { shape: number[] }).shape).toEqual([108, 256, 256]);
      expect((st.info as { dataMin: number; dataMax: number }).dataMin).toBe(-1024);
      expect(events.map((e) => e.state)).toContain("started");
      expect(events.at(-1)).toMatchObject({ state: "done", done: 108 * 256 * 256 * 2 });
    });

  test("point clouds: PCD and LAS", async () => {
    const r = await c.loadFile(join(DATA!, "pcd/bun0.pcd"));
    expect(r).toMatchObject({ kind: "points", format: "pcd" });
    expect(((await c.state()).points as { count: number }).count).toBe(r.count as number);
    const las = await c.loadFile(join(DATA!, "points/table_scene_lms400.las"));
    expect(las).toMatchObject({ kind: "points", format: "las" });
  });

  test("a relative path is taken from the first root; links inside the roots are followed", async () => {
    expect(await c.loadFile("sub/small.raw")).toMatchObject({ kind: "volume", shape: [3, 3, 3], dtype: "uint8" });
    expect(await c.loadFile(join(root, "in-link", "small.raw"))).toMatchObject({ shape: [3, 3, 3] });
    // hard link to a file outside the roots: the same file, allowed (see load-file.ts)
    expect(await c.loadFile(join(root, "hard.raw"))).toMatchObject({ shape: [4, 4, 4] });
  });
});

describe("refusals: clear 4xx, one error shape, the instance keeps serving", () => {
  test("'..', absolute outside, symlinks out, NUL, too long, missing, not a file", async () => {
    await c.loadFile(join(root, "sub/small.raw"));
    await refused(inst, "load_file", { path: `${root}/../outside/secret.raw` }, 400, "invalid_path");
    await refused(inst, "load_file", { path: "sub/../../outside/secret.raw" }, 400, "invalid_path");
    await refused(inst, "load_file", { path: "../etc/passwd" }, 400, "invalid_path");
    await refused(inst, "load_file", { path: "/etc/passwd" }, 403, "outside_roots");
    await refused(inst, "load_file", { path: join(outside, "secret.raw") }, 403, "outside_roots");
    await refused(inst, "load_file", { path: `${root}x/secret.raw` }, 403, "outside_roots");
    await refused(inst, "load_file", { path: join(root, "out-dir", "secret.raw") }, 403, "outside_roots");
    await refused(inst, "load_file", { path: join(root, "sub", "out-file.raw") }, 403, "outside_roots");
    await refused(inst, "load_file", { path: join(root, "passwd") }, 403, "outside_roots");
    await refused(inst, "load_file", { path: `${root}/sub/small.raw\0.png` }, 400, "invalid_path");
    await refused(inst, "load_file", { path: `${root}/${"a/".repeat(2100)}x.raw` }, 400, "path_too_long");
    await refused(inst, "load_file", { path: `${root}/${"n".repeat(300)}.raw` }, 400, "path_too_long");
    await refused(inst, "load_file", { path: join(root, "absent.h5") }, 404, "not_found");
    await refused(inst, "load_file", { path: join(root, "notes.txt.bin") }, 400, "no_layout"); // raw without a sidecar
    await refused(inst, "list_files", { path: join(root, "out-dir") }, 403, "outside_roots");
    await refused(inst, "list_files", { path: "/" }, 403, "outside_roots");
    expect((await api(inst, "load_file", { path: 42 })).status).toBe(400);
    expect((await api(inst, "load_file", { path: "x".repeat(70_000) })).json.error.code).toBe("invalid_request");
    // still serving, the last good volume still shown
    expect((await c.state()).volume).toMatchObject({ shape: [3, 3, 3] });
    expect((await api(inst, "get_state", {})).status).toBe(200);
  });

  test("over the byte limit fixed at start: 413 before reading", async () => {
    if (!DATA || !hdf5Available()) return;
    const small = await startInstance([DATA], { maxBytes: 1 << 20 });
    try {
      const r = await api(small, "load_file", { path: join(DATA, "ct/cranium.h5") });
      expect({ status: r.status, code: r.json.error?.code }).toEqual({ status: 413, code: "over_limit" });
      const n = await api(small, "load_file", { path: join(DATA, "ct/cranium.npy") });
      expect({ status: n.status, code: n.json.error?.code }).toEqual({ status: 413, code: "over_limit" });
    } finally {
      await small.stop();
    }
  });
});

describe("list_files", () => {
  test("the roots, a folder with kinds, and HDF5 datasets with shapes and dtypes", async () => {
    const top = await c.listFiles();
    expect(top.path).toBeNull();
    expect((top.entries as { path: string; kind: string }[]).map((e) => e.path)).toContain(root);
    const l = await c.listFiles(root);
    const byName = Object.fromEntries((l.entries as { name: string }[]).map((e) => [e.name, e])) as Record<string, Record<string, unknown>>;
    expect(byName.sub).toMatchObject({ kind: "dir" });
    expect(byName["in-link"]).toMatchObject({ kind: "dir", link: true });
    expect(byName["hard.raw"]).toMatchObject({ kind: "volume", size: 64, readable: true });
    expect(byName["out-dir"]).toBeUndefined(); // links out of the roots are not shown
    expect(byName.passwd).toBeUndefined();
    expect(typeof byName["hard.raw"]!.mtime).toBe("string");
    if (DATA && hdf5Available()) {
      const ct = await c.listFiles(join(DATA, "ct"));
      const h5 = (ct.entries as { name: string; kind: string; datasets?: unknown[] }[]).find((e) => e.name === "cranium.h5")!;
      expect(h5.kind).toBe("hdf5");
      expect(h5.datasets).toContainEqual(expect.objectContaining({ path: "/entry/data/data", shape: [108, 256, 256], dtype: "i16", chunks: [8, 128, 128] }));
      const nx = await c.listFiles(join(DATA, "hdf5"));
      expect((nx.entries as { kind: string }[]).filter((e) => e.kind === "hdf5").length).toBeGreaterThanOrEqual(3);
      expect((ct.entries as { name: string; kind: string }[]).find((e) => e.name === "cranium.npy")!.kind).toBe("volume");
      expect((ct.entries as { name: string; kind: string }[]).find((e) => e.name === "slices")!.kind).toBe("dir");
    }
    await refused(inst, "list_files", { path: join(root, "hard.raw") }, 400, "not_a_directory");
  });
});

describe.skipIf(!isRoot || !DATA)("as the user (setpriv): the user's own permissions", () => {
  const user = "rvtest_io";
  const uroot = join(work, "user-root");
  let uinst: Inst | undefined;

  function sh(argv: string[]): { code: number; out: string } {
    const r = Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe" });
    return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
  }

  beforeAll(async () => {
    if (sh(["id", "-u", user]).code !== 0) {
      const r = sh(["useradd", "--create-home", "--shell", "/bin/bash", user]);
      if (r.code !== 0 && r.code !== 9) throw new Error(`useradd ${user}: ${r.out}`);
    }
    const uid = Number(sh(["id", "-u", user]).out.trim());
    const gid = Number(sh(["id", "-g", user]).out.trim());
    mkdirSync(uroot, { recursive: true });
    chmodSync(uroot, 0o755);
    copyFileSync(join(DATA!, "ct/cranium.npy"), join(uroot, "public.npy"));
    chmodSync(join(uroot, "public.npy"), 0o644);
    copyFileSync(join(DATA!, "ct/cranium.npy"), join(uroot, "secret.npy"));
    chmodSync(join(uroot, "secret.npy"), 0o600); // owned by root: the middleware could read it
    if (hdf5Available()) {
      copyFileSync(join(DATA!, "ct/cranium.h5"), join(uroot, "secret.h5"));
      chmodSync(join(uroot, "secret.h5"), 0o600);
      copyFileSync(join(DATA!, "ct/cranium.h5"), join(uroot, "public.h5"));
      chmodSync(join(uroot, "public.h5"), 0o644);
    }
    // a hard link inside the root to a root-only file outside it
    writeFileSync(join(outside, "root-only.npy"), Bun.file(join(DATA!, "ct/cranium.npy")).size ? new Uint8Array(await Bun.file(join(DATA!, "ct/cranium.npy")).arrayBuffer()) : "");
    chmodSync(join(outside, "root-only.npy"), 0o600);
    linkSync(join(outside, "root-only.npy"), join(uroot, "hard-root-only.npy"));
    uinst = await startInstance([uroot], {
      prefix: ["setpriv", `--reuid=${uid}`, `--regid=${gid}`, "--init-groups", "--"],
      env: { HOME: `/home/${user}` },
    });
  });
  afterAll(async () => {
    await uinst?.stop();
  });

  test("the instance runs as the user; readable files load, root-only ones are refused (403)", async () => {
    const pid = uinst!.proc.proc.pid;
    const status = await Bun.file(`/proc/${pid}/status`).text();
    expect(status).toMatch(new RegExp(`Uid:\\s+${sh(["id", "-u", user]).out.trim()}\\s`));
    expect((await api(uinst!, "load_file", { path: join(uroot, "public.npy") })).json).toMatchObject({ ok: true, shape: [108, 256, 256] });
    await refused(uinst!, "load_file", { path: join(uroot, "secret.npy") }, 403, "permission_denied");
    await refused(uinst!, "load_file", { path: join(uroot, "hard-root-only.npy") }, 403, "permission_denied");
    if (hdf5Available()) {
      await refused(uinst!, "load_file", { path: join(uroot, "secret.h5") }, 403, "permission_denied");
      const h = await api(uinst!, "load_file", { path: join(uroot, "public.h5"), procs: 2 }); // SSC-IO workers as the user
      expect(h.json).toMatchObject({ ok: true, shape: [108, 256, 256], format: "hdf5" });
    }
    const l = await api(uinst!, "list_files", { path: uroot });
    const secret = (l.json.entries as { name: string; readable: boolean }[]).find((e) => e.name === "secret.npy")!;
    expect(secret.readable).toBe(false);
    expect((await api(uinst!, "get_state", {})).json.volume).toMatchObject({ shape: [108, 256, 256] });
  });
});
