/** Format detection, FILE:DATASET targets, CCP4/MRC maps and the `remotevis info` command. */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { cli } from "../testing/cli.ts";
import { detectFormat, hdf5Available, listDatasets, parseTarget, read, readPoints, readVolume, toShape3 } from "./index.ts";
import { readMrc } from "./mrc.ts";
import { concat, ensureTestData, scratch } from "./testdata.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const tmp = scratch();
afterAll(() => tmp.cleanup());

async function err(p: Promise<unknown> | (() => unknown)): Promise<RemoteVisError> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteVisError);
    return e as RemoteVisError;
  }
  throw new Error("expected a RemoteVisError");
}

describe.skipIf(!DATA)("detection and targets (real data)", () => {
  const P = (f: string) => join(DATA!, f);
  test("every test file is detected by its content", () => {
    const expected: [string, string][] = [
      ["ct/cranium.raw", "raw"],
      ["ct/cranium.npy", "npy"],
      ["ct/cranium.nii.gz", "nifti"],
      ["ct/cranium.tif", "tiff"],
      ["ct/slices", "tiff"],
      ["ct/cranium.h5", "hdf5"],
      ["hdf5/simple_signal.nxs", "hdf5"],
      ["ccp4/1jzv.ccp4", "mrc"],
      ["pcd/lamppost.pcd", "pcd"],
      ["points/table_scene_lms400.las", "las"],
      ["points/table_scene_lms400.csv", "xyz"],
    ];
    for (const [f, fmt] of expected) expect(`${f}: ${detectFormat(P(f))}`).toBe(`${f}: ${fmt}`);
  });
  test("FILE:DATASET targets; volumes and points are told apart", async () => {
    expect(parseTarget(`${P("ct/cranium.h5")}:/entry/mask/bone`)).toEqual({ path: P("ct/cranium.h5"), dataset: "/entry/mask/bone" });
    expect(parseTarget(P("ct/cranium.h5"))).toEqual({ path: P("ct/cranium.h5") });
    if (hdf5Available()) {
      const m = await readVolume(`${P("ct/cranium.h5")}:/entry/mask/bone`);
      expect(m.shape).toEqual([109, 257, 257]);
      expect(listDatasets(P("ct/cranium.h5")).length).toBe(3);
    }
    expect(listDatasets(P("ct/cranium.npy"))).toEqual([]);
    expect((await err(readVolume(P("pcd/lamppost.pcd")))).code).toBe("not_a_volume");
    expect((await err(readPoints(P("ct/cranium.npy")))).code).toBe("not_points");
    expect((await err(read(`${P("ct/cranium.npy")}:/x`))).message).toContain("only HDF5");
  });
  test("CCP4 density map 1jzv: float32, Angstrom spacing", () => {
    const v = readMrc(P("ccp4/1jzv.ccp4"));
    expect(v.dtype).toBe("f32");
    expect(v.unit).toBe("A");
    expect(v.shape[0] * v.shape[1] * v.shape[2]).toBe(v.data.length);
    expect(v.spacing.every((s) => s > 0.3 && s < 1)).toBe(true);
  });
  test("remotevis info prints shape, dtype, spacing, order and range", async () => {
    const r = await cli(["info", P("ct/cranium.nii.gz"), "--json"]).done();
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ format: "nifti", shape: [108, 256, 256], dtype: "i16", order: "C", range: [-1024, 2986] });
    const h = await cli(["info", P("points/table_scene_lms400.las")]).done();
    expect(h.out).toContain("count    460400");
    const bad = await cli(["info", P("nope.raw")]).done();
    expect(bad.code).not.toBe(0);
    expect(bad.err).toContain("nope.raw: no such file");
  });
});

describe("detection and shapes (synthetic)", () => {
  test("unknown, empty and gzip-but-not-NIfTI files", async () => {
    expect((await err(() => detectFormat(tmp.write("a.weird", "hello")))).code).toBe("unsupported_format");
    expect((await err(() => detectFormat(tmp.write("e.raw", "")))).message).toContain("empty");
    expect((await err(() => detectFormat(tmp.write("x.tar.gzz", new Uint8Array([0x1f, 0x8b, 8, 0]))))).message).toContain("only .nii.gz");
    expect(detectFormat(tmp.write("h.bin", concat(new Uint8Array(512), new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))))).toBe("hdf5");
  });
  test("toShape3 pads up to three extents and squeezes only beyond three", () => {
    expect(toShape3("t", [5]).shape).toEqual([1, 1, 5]);
    expect(toShape3("t", [10, 1, 1]).shape).toEqual([10, 1, 1]);
    expect(toShape3("t", [15, 1, 40, 40])).toEqual({ shape: [15, 40, 40], axes: [0, 2, 3] });
    expect(() => toShape3("t", [2, 2, 2, 2])).toThrow("at most 3");
  });
  test("CCP4/MRC errors", () => {
    const h = new Uint8Array(1024);
    const dv = new DataView(h.buffer);
    [4, 4, 4].forEach((n, i) => dv.setInt32(4 * i, n, true));
    dv.setInt32(12, 2, true);
    h.set(new TextEncoder().encode("MAP "), 208);
    h[212] = 0x44;
    h[213] = 0x41;
    expect(readMrc(tmp.write("ok.mrc", concat(h, new Uint8Array(256)))).shape).toEqual([4, 4, 4]);
    expect(() => readMrc(tmp.write("t.mrc", concat(h, new Uint8Array(255))))).toThrow("truncated");
    dv.setInt32(12, 4, true);
    expect(() => readMrc(tmp.write("c.mrc", concat(h, new Uint8Array(512))))).toThrow("mode 4");
    dv.setInt32(12, 2, true);
    dv.setInt32(0, -4, true);
    expect(() => readMrc(tmp.write("n.mrc", concat(h, new Uint8Array(256))))).toThrow("not positive");
    expect(() => readMrc(tmp.write("s.mrc", new Uint8Array(2000)))).toThrow("MAP");
  });
});
