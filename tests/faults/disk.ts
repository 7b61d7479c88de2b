/**
 * Fault: the disk is full while a volume is written to HDF5. Two ways:
 *  - no room from the start (a 4 MiB tmpfs for the 13.5 MiB CT): refused before the first byte;
 *  - the disk fills up in the middle of the write (a 320 MiB tmpfs, a 256 MiB volume; the
 *    writer is stopped with SIGSTOP once it has written some, another file takes the rest of
 *    the disk, then it goes on and meets ENOSPC).
 * Each time the folder already holds an earlier volume under the same name: the write must fail
 * with a clear message, leave no partial file that could later be read as a whole volume, and
 * leave the earlier file as it was (checksums of every file in the folder).
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureTestData } from "../../src/formats/testdata.ts";
import { cli, FROM_SOURCE, UCX_QUIET } from "../../src/testing/cli.ts";
import { checksum, lost, record, since } from "./report.ts";

const isRoot = process.getuid?.() === 0;
const DATA = await ensureTestData();
if (!isRoot) console.warn("SKIPPING the disk-full test: mounting a small tmpfs needs root");
const MNT = `/tmp/rv-fault-full-${process.pid}`;
const WORK = `/tmp/rv-fault-disk-${process.pid}`;

/** Every file under `dir` (recursively) with its checksum, sorted: the folder's state. */
function folderState(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .map((p) => `${p.slice(dir.length + 1)} ${checksum(readFileSync(p))}`)
    .sort();
}

/** A raw volume with its layout file (shape z,y,x of uint8), filled from `seed`. */
function rawVolume(path: string, shape: [number, number, number], seed: number): void {
  const n = shape[0] * shape[1] * shape[2];
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i += 4096) data.fill((seed + i / 4096) & 0xff, i, Math.min(n, i + 4096));
  writeFileSync(path, data);
  writeFileSync(path.replace(/\.raw$/, ".json"), JSON.stringify({ shape, dtype: "u8" }));
}

const write = (input: string, out: string, method: string) => cli(["io", "write", "--in", input, "--out", out, "--method", method, "--procs", "2", "-q"]);
const mount = (dir: string, size: string) => {
  mkdirSync(dir, { recursive: true });
  expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]).exitCode).toBe(0);
};
const unmount = (dir: string) => {
  Bun.spawnSync(["umount", dir]);
  rmSync(dir, { recursive: true, force: true });
};
const used = (dir: string) => {
  const s = statfsSync(dir);
  return (Number(s.blocks) - Number(s.bfree)) * Number(s.bsize);
};

describe.skipIf(!isRoot || !DATA)("disk full while writing HDF5", () => {
  beforeAll(() => {
    mkdirSync(WORK, { recursive: true });
    rawVolume(join(WORK, "small.raw"), [8, 64, 64], 1);
    rawVolume(join(WORK, "big.raw"), [256, 1024, 1024], 2);
  });
  afterAll(() => {
    rmSync(WORK, { recursive: true, force: true });
  });

  describe("no room from the start", () => {
    beforeAll(() => mount(MNT, "4m"));
    afterAll(() => unmount(MNT));

    for (const method of ["single", "vds", "prealloc"])
      test(`${method}: a clear error before the first byte; the earlier file of that name is untouched`, async () => {
        const out = `${MNT}/ct-${method}.h5`;
        expect((await write(join(WORK, "small.raw"), out, method).done(60_000)).code).toBe(0);
        const before = folderState(MNT);
        const t0 = performance.now();
        const r = await write(`${DATA}/ct/cranium.raw`, out, method).done(60_000);
        const timeToError = since(t0);
        const after = folderState(MNT);
        const dataLost = lost(before.map((b, i) => [b, after[i]])) + Math.max(0, after.length - before.length);
        record({ fault: `disk full at the start of an HDF5 write (${method})`, injected: true, data_lost: dataLost, time_to_error_s: timeToError, checked: "refused before writing; the folder's files (earlier volume) unchanged" });
        expect(r.code).toBe(1);
        expect(r.err).toMatch(/^remotevis: not enough free space for ct-\w+\.h5/);
        expect(after).toEqual(before);
        rmSync(out, { force: true });
        rmSync(`${out}.parts`, { recursive: true, force: true });
      });
  });

  describe("the disk fills up during the write", () => {
    beforeAll(() => mount(MNT, "320m"));
    afterEach(() => {
      for (const f of readdirSync(MNT)) rmSync(join(MNT, f), { recursive: true, force: true });
    });
    afterAll(() => unmount(MNT));

    for (const method of ["single", "prealloc", "vds"])
      test(`${method}: ENOSPC midway gives a clear error, no partial file, the earlier file of that name is untouched`, async () => {
        const out = `${MNT}/vol-${method}.h5`;
        expect((await write(join(WORK, "small.raw"), out, method).done(60_000)).code).toBe(0);
        const before = folderState(MNT);
        const base = used(MNT);
        // Its own process group, so that SIGSTOP reaches the write workers too.
        const w = Bun.spawn([...FROM_SOURCE, "io", "write", "--in", join(WORK, "big.raw"), "--out", out, "--method", method, "--procs", "2", "-q"], {
          env: { ...process.env, ...UCX_QUIET },
          stdout: "pipe",
          stderr: "pipe",
          detached: true,
        });
        const started = Date.now();
        while (used(MNT) - base < 32 * 2 ** 20 && w.exitCode === null && Date.now() - started < 60_000) await Bun.sleep(1);
        if (w.exitCode !== null) throw new Error(`the write ended before the fault: ${await new Response(w.stderr).text()}`);
        process.kill(-w.pid, "SIGSTOP");
        const written = used(MNT) - base;
        const midway = w.exitCode === null && written < 256 * 2 ** 20;
        // Another file takes the rest of the disk.
        const filler = join(MNT, "filler");
        Bun.spawnSync(["dd", "if=/dev/zero", `of=${filler}`, "bs=1M"], { stderr: "ignore" }); // until ENOSPC
        const t0 = performance.now();
        process.kill(-w.pid, "SIGCONT");
        const code = await w.exited;
        const timeToError = since(t0);
        const err = await new Response(w.stderr).text();
        const fillerBytes = statSync(filler).size;
        rmSync(filler, { force: true });
        const after = folderState(MNT);
        const dataLost = lost(before.map((b, i) => [b, after[i]])) + Math.max(0, after.length - before.length);
        record({ fault: `disk full in the middle of an HDF5 write (${method})`, injected: midway, data_lost: dataLost, time_to_error_s: timeToError, checked: "clear error; no partial file; the earlier file of that name unchanged (checksums)" });
        expect(midway).toBe(true);
        expect(fillerBytes).toBeGreaterThan(0);
        expect(code).toBe(1);
        expect(err).toMatch(/^remotevis: the disk became full while writing vol-\w+\.h5 .*the earlier vol-\w+\.h5 is unchanged/);
        expect(after).toEqual(before);
      }, 120_000);
  });
});
