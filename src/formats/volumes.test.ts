/**
 * The InVesalius CT as scripts/testdata.sh wrote it in every volume format: raw, npy (C, F,
 * big-endian), HDF5, TIFF (plain, big-endian deflate, folder of slices) and NIfTI .nii.gz must
 * all give the very same voxels as the raw bytes, with the expected range and spacing.
 */
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { hdf5Available, read, readVolume, toC, type Volume } from "./index.ts";
import { ensureTestData } from "./testdata.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const CT = DATA ? join(DATA, "ct") : "";

describe.skipIf(!DATA)("the CT in every format (real data)", () => {
  const ref = DATA ? new Int16Array(readFileSync(join(CT, "cranium.raw")).buffer.slice(0)) : new Int16Array();
  const spacing = [1.5, 0.9570312, 0.9570312];

  function same(v: Volume) {
    expect(v.shape).toEqual([108, 256, 256]);
    expect(v.dtype).toBe("i16");
    const c = toC(v);
    expect(c.data).toBeInstanceOf(Int16Array);
    expect(Buffer.compare(Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength), Buffer.from(ref.buffer))).toBe(0);
  }

  test("raw bytes hold CT values -1024..2986", () => {
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of ref) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(ref.length).toBe(108 * 256 * 256);
    expect([lo, hi]).toEqual([-1024, 2986]);
  });

  for (const [file, order, withSpacing] of [
    ["cranium.raw", "C", true],
    ["cranium.npy", "C", false],
    ["cranium_f.npy", "F", false],
    ["cranium_be.npy", "C", false],
    ["cranium.tif", "C", false],
    ["cranium_be_deflate.tif", "C", false],
    ["slices", "C", false],
    ["cranium.nii.gz", "C", true],
  ] as const) {
    test(`${file} gives the same voxels (order ${order})`, async () => {
      const v = await readVolume(join(CT, file));
      expect(v.order).toBe(order);
      same(v);
      if (withSpacing) {
        v.spacing.forEach((s, i) => expect(s).toBeCloseTo(spacing[i]!, 5));
        expect(v.unit).toBe("mm");
      }
    });
  }

  test.skipIf(!hdf5Available())("cranium.h5 (chunked, shuffle+gzip) gives the same voxels and its spacing", async () => {
    const v = await readVolume(join(CT, "cranium.h5"));
    same(v);
    v.spacing.forEach((s, i) => expect(s).toBeCloseTo(spacing[i]!, 5));
    expect(v.meta?.window).toEqual([-18, 406]);
    const named = await read(`${join(CT, "cranium.h5")}:/entry/data/data`);
    expect(named.kind).toBe("volume");
  });

  test("the bone mask: u8 109x257x257 with 0, 1 and 255, bone where CT >= 226", async () => {
    const m = await readVolume(join(CT, "cranium_bone_mask.raw"));
    expect(m.shape).toEqual([109, 257, 257]);
    expect(m.dtype).toBe("u8");
    const hist = new Uint32Array(256);
    for (const v of m.data) hist[v]!++;
    expect([...hist.keys()].filter((k) => hist[k]! > 0)).toEqual([0, 1, 255]);
    // the mask has one voxel of border before each axis: mask[z+1][y+1][x+1] <-> ct[z][y][x]
    let agree = 0;
    let total = 0;
    for (let z = 0; z < 108; z += 7)
      for (let y = 0; y < 256; y += 5)
        for (let x = 0; x < 256; x += 5) {
          const bone = m.data[((z + 1) * 257 + y + 1) * 257 + x + 1] === 255;
          const dense = ref[(z * 256 + y) * 256 + x]! >= 226;
          if (bone === dense) agree++;
          total++;
        }
    expect(agree / total).toBeGreaterThan(0.97);
  });

  test("MRI ch2better.nii.gz: u8 template, 0.5 mm, orientation not applied", async () => {
    const v = await readVolume(join(DATA!, "mri/ch2better.nii.gz"));
    expect(v.format).toBe("nifti");
    expect(v.dtype).toBe("u8");
    expect(v.shape).toEqual([316, 370, 301]);
    expect(v.spacing).toEqual([0.5, 0.5, 0.5]);
    expect(v.data.length).toBe(316 * 370 * 301);
  });
});
