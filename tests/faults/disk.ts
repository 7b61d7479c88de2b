/**
 * Fault: the disk is full while a volume is written to HDF5 (a 4 MiB tmpfs for a 13.5 MiB CT).
 * The write fails with a clear message and leaves no partial file that could later be read as
 * a whole volume.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync } from "node:fs";
import { ensureTestData } from "../../src/formats/testdata.ts";
import { cli } from "../../src/testing/cli.ts";

const isRoot = process.getuid?.() === 0;
const DATA = await ensureTestData();
if (!isRoot) console.warn("SKIPPING the disk-full test: mounting a small tmpfs needs root");
const MNT = `/tmp/rv-fault-full-${process.pid}`;

describe.skipIf(!isRoot || !DATA)("disk full while writing HDF5", () => {
  beforeAll(() => {
    mkdirSync(MNT, { recursive: true });
    expect(Bun.spawnSync(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", MNT]).exitCode).toBe(0);
  });
  afterAll(() => void Bun.spawnSync(["umount", MNT]));

  for (const method of ["single", "vds", "prealloc"])
    test(`${method}: a clear error, nothing left behind`, async () => {
      const r = await cli(["io", "write", "--in", `${DATA}/ct/cranium.raw`, "--out", `${MNT}/ct-${method}.h5`, "--method", method, "--procs", "2", "-q"]).done(60_000);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/^remotevis: not enough free space for ct-\w+\.h5/);
      expect(readdirSync(MNT)).toEqual([]);
    });
});
