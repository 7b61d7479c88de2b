/**
 * libhdf5 (Debian 1.10.8) crashes on some corrupt files: tests/fuzz/hdf5 (libFuzzer) finds
 * such files within minutes, and tests/fuzz/hdf5/crashers/ keeps real ones that make a
 * plain `bun` process die with SIGSEGV. An instance opens files from central storage that
 * anyone may have written, so such a file must become a clear error while the instance
 * serves on: list_files of the folder holding it, load_file of it, then the next load of a
 * good file, on a real instance process.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hdf5Available } from "../../src/formats/hdf5.ts";
import { type TestInstance, startInstance } from "../../src/testing/instance.ts";
import { REPO } from "./lib/child.ts";

setDefaultTimeout(60_000);
const CRASHERS = join(REPO, "tests/fuzz/hdf5/crashers");
const haveHdf5 = hdf5Available();
if (!haveHdf5) console.warn("SKIPPING libhdf5 containment: libhdf5 is missing (Debian libhdf5-103-1)");

async function api(i: TestInstance, op: string, body: unknown): Promise<{ status: number; json: Record<string, any> }> {
  const res = await fetch(`${new URL(i.url).origin}/api/${op}`, { method: "POST", headers: { authorization: `Instance ${i.secret}` }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, any> };
}

/** Exit status of a plain bun process that lists the file's datasets (139 = SIGSEGV). */
async function plainProcessStatus(file: string): Promise<number> {
  const code = `import { listDatasets } from ${JSON.stringify(join(REPO, "src/formats/index.ts"))}; try { listDatasets(${JSON.stringify(file)}); } catch {}`;
  const p = Bun.spawn([process.execPath, "-e", code], { stdout: "ignore", stderr: "ignore" });
  return await p.exited;
}

describe.skipIf(!haveHdf5)("an HDF5 file that crashes libhdf5", () => {
  const root = mkdtempSync(join(tmpdir(), "rv-h5crash-"));
  const crashers = readdirSync(CRASHERS).filter((f) => f.endsWith(".h5"));
  let inst: TestInstance;

  beforeAll(async () => {
    for (const f of crashers) copyFileSync(join(CRASHERS, f), join(root, f));
    // a good volume beside them: raw + sidecar (no libhdf5 involved in reading it)
    writeFileSync(join(root, "good.raw"), new Uint8Array(4 * 4 * 4).map((_, k) => k));
    writeFileSync(join(root, "good.json"), JSON.stringify({ shape: [4, 4, 4], dtype: "u8" }));
    inst = await startInstance({ args: ["--storage-root", root] });
  });

  afterAll(async () => {
    await inst?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  test("really crashes a plain process (so the rest of this test means something)", async () => {
    for (const f of crashers) expect({ file: f, status: await plainProcessStatus(join(root, f)) }).toEqual({ file: f, status: 139 });
  });

  test("list_files names the file with an error, and the instance answers the next request", async () => {
    const r = await api(inst, "list_files", { path: root });
    expect(r.status).toBe(200);
    for (const f of crashers) {
      const e = r.json.entries.find((x: { name: string }) => x.name === f);
      expect(e.kind).toBe("hdf5");
      expect(e.datasets).toBeUndefined();
      expect(e.error).toMatch(/libhdf5/);
    }
    expect((await api(inst, "get_state", {})).status).toBe(200);
  });

  test("load_file refuses it with a clear 4xx error; a good file loads afterwards", async () => {
    for (const f of crashers) {
      const r = await api(inst, "load_file", { path: join(root, f) });
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(r.json.error.code).toBe("hdf5_crashed");
      expect(r.json.error.message).not.toContain(root);
    }
    const ok = await api(inst, "load_file", { path: join(root, "good.raw") });
    expect(ok.status).toBe(200);
    expect(ok.json.shape).toEqual([4, 4, 4]);
    expect(inst.proc.proc.exitCode).toBeNull();
  });
});
