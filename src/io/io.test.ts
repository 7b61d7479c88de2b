/**
 * SSC-IO: parallel reads equal the serial read byte for byte (real CT HDF5, synthetic chunked
 * and compressed datasets with uneven slabs), every write method reads back equal, worker
 * errors come back with their codes, and the CLI does the same from the command line.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { hdf5Available, readHdf5 } from "../formats/hdf5.ts";
import { bytesOf, type Dtype, type Vec3 } from "../formats/types.ts";
import { ensureTestData, scratch } from "../formats/testdata.ts";
import { cli } from "../testing/cli.ts";
import { Hdf5Writer } from "./hdf5-write.ts";
import { planSlabs, readParallel } from "./read.ts";
import { SharedSegment } from "./shm.ts";
import { chooseMethod, writeParallel, type WriteMethod } from "./write.ts";

setDefaultTimeout(60_000);
const DATA = await ensureTestData();
const HAVE = hdf5Available();
if (!HAVE) console.warn("SKIPPING SSC-IO tests: libhdf5 (Debian libhdf5-103-1) cannot be loaded here");
const tmp = scratch();
afterAll(() => tmp.cleanup());

const same = (a: Uint8Array, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof RemoteVisError ? e.code : `other: ${e}`;
  }
}

/** A volume whose every voxel differs from its neighbours (catches shifted or swapped slabs). */
function pattern(shape: Vec3, dtype: Dtype): Uint8Array {
  const n = shape[0] * shape[1] * shape[2];
  const a = dtype === "i32" ? new Int32Array(n) : dtype === "u16" ? new Uint16Array(n) : dtype === "f32" ? new Float32Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = dtype === "f32" ? Math.sin(i) * 1e4 : (i * 2654435761) % (dtype === "u8" ? 251 : dtype === "u16" ? 65521 : 2 ** 31 - 1);
  return bytesOf(a);
}

function segmentOf(bytes: Uint8Array): SharedSegment {
  const seg = SharedSegment.create(bytes.byteLength);
  seg.bytes.set(bytes);
  return seg;
}

describe("slab planning", () => {
  test("slabs are whole chunk rows, cover [0, nz) once, and give every process several", () => {
    const s = planSlabs(1000, 8, 1 << 20, 4);
    expect(s[0]![0]).toBe(0);
    expect(s.at(-1)![1]).toBe(1000);
    for (let i = 1; i < s.length; i++) expect(s[i]![0]).toBe(s[i - 1]![1]);
    for (const [z0] of s) expect(z0 % 8).toBe(0);
    expect(s.length).toBeGreaterThanOrEqual(16);
    expect(planSlabs(10, 4, 100, 8)).toEqual([[0, 4], [4, 8], [8, 10]]);
    expect(planSlabs(7, 1, 1, 2, 3)).toEqual([[0, 3], [3, 6], [6, 7]]);
  });
});

describe.skipIf(!HAVE)("parallel read", () => {
  test.skipIf(!DATA)("the real CT HDF5 (chunked, shuffle+gzip) equals the serial read byte for byte", async () => {
    const path = join(DATA!, "ct/cranium.h5");
    const serial = readHdf5(path);
    const seen: number[] = [];
    const r = await readParallel(path, { procs: 3, onProgress: (p) => seen.push(p) });
    expect(r.volume.shape).toEqual([108, 256, 256]);
    expect(r.volume.dtype).toBe("i16");
    expect(r.volume.spacing).toEqual(serial.spacing);
    expect(same(r.bytes, bytesOf(serial.data))).toBe(true);
    expect(same(r.bytes, new Uint8Array(readFileSync(join(DATA!, "ct/cranium.raw"))))).toBe(true);
    expect(seen.at(-1)).toBe(108);
    for (const [z0, z1] of r.slabs) expect(z0 % 8 === 0 && (z1 % 8 === 0 || z1 === 108)).toBe(true);
    // slabs that cut through chunks (13 planes, chunks of 8) still give the same bytes
    const odd = await readParallel(path, { procs: 2, slabPlanes: 13 });
    expect(odd.slabs.length).toBe(9);
    expect(same(odd.bytes, r.bytes)).toBe(true);
    // without an explicit procs a small dataset is read in this process, into the same kind of segment
    const small = await readParallel(path);
    expect(small.procs).toBe(0);
    expect(same(small.bytes, r.bytes)).toBe(true);
    // another dataset of the same file, by name
    const mask = await readParallel(path, { dataset: "/entry/mask/bone", procs: 2 });
    expect(same(mask.bytes, bytesOf(readHdf5(path, { dataset: "/entry/mask/bone" }).data))).toBe(true);
  });

  test("a synthetic chunked + compressed dataset with uneven slabs (101 planes, chunks of 7)", async () => {
    const shape: Vec3 = [101, 67, 120];
    const src = pattern(shape, "i32");
    const path = join(tmp.dir, "synthetic.h5");
    {
      using w = Hdf5Writer.create({ path, dataset: "/entry/data/data", shape, dtype: "i32", chunks: [7, 33, 50], gzip: 1, spacing: [2, 1, 0.5] });
      w.write(src);
    }
    for (const procs of [1, 3]) {
      const r = await readParallel(path, { procs });
      expect(r.volume.dtype).toBe("i32");
      expect(r.volume.spacing).toEqual([2, 1, 0.5]);
      expect(same(r.bytes, src)).toBe(true);
      expect(r.slabs.at(-1)).toEqual([r.slabs.at(-1)![0], 101]);
    }
    const uneven = await readParallel(path, { procs: 4, slabPlanes: 10 });
    expect(same(uneven.bytes, src)).toBe(true);
    expect(same(bytesOf(readHdf5(path).data), src)).toBe(true);
  });

  test("worker errors come back with their codes: missing dataset, corrupt file, missing file", async () => {
    const path = join(tmp.dir, "synthetic.h5");
    expect(await code(readParallel(path, { dataset: "/nope", procs: 2 }))).toBe("not_found");
    expect(await code(readParallel(tmp.write("bad.h5", new Uint8Array(4096)), { procs: 2 }))).toBe("corrupt_file");
    expect(await code(readParallel(join(tmp.dir, "absent.h5"), { procs: 2 }))).toBe("not_found");
  });
});

describe.skipIf(!HAVE)("parallel write, then read back", () => {
  const shape: Vec3 = [37, 45, 61];
  const cases: [string, WriteMethod, { chunks?: Vec3; gzip?: number }][] = [
    ["single, contiguous", "single", {}],
    ["single, chunked + gzip", "single", { chunks: [4, 20, 32], gzip: 4 }],
    ["prealloc, contiguous", "prealloc", {}],
    ["prealloc, chunked (edge chunks clipped)", "prealloc", { chunks: [5, 20, 32] }],
    ["prealloc, whole-plane chunks", "prealloc", { chunks: [3, 45, 61] }],
    ["vds, plain", "vds", {}],
    ["vds, chunked + gzip", "vds", { chunks: [4, 45, 61], gzip: 1 }],
  ];
  for (const [name, method, opt] of cases)
    test(`${name}: equal after the round trip (3 processes)`, async () => {
      const src = pattern(shape, "u16");
      using seg = segmentOf(src);
      const out = join(tmp.dir, `w-${method}-${opt.chunks?.join("x") ?? "c"}-${opt.gzip ?? 0}.h5`);
      const r = await writeParallel(seg, shape, "u16", out, { method, procs: 3, dataset: "/entry/data/data", spacing: [1, 2, 3], ...opt });
      expect(r.method as string).toBe(method);
      if (method === "vds") expect(r.files.length).toBe(4);
      const back = await readParallel(out, { procs: 2 });
      expect(back.volume.shape).toEqual(shape);
      expect(back.volume.spacing).toEqual([1, 2, 3]);
      expect(same(back.bytes, src)).toBe(true);
      expect(same(bytesOf(readHdf5(out).data), src)).toBe(true);
    });

  test("auto: vds when compressing with several processes, else one writer", () => {
    expect(chooseMethod({ gzip: 1, procs: 4 })).toBe("vds");
    expect(chooseMethod({ procs: 4 })).toBe("single");
    expect(chooseMethod({ gzip: 1, procs: 1 })).toBe("single");
  });

  test("prealloc refuses compression; a wrong-sized segment is refused", async () => {
    using seg = segmentOf(pattern(shape, "u16"));
    expect(await code(writeParallel(seg, shape, "u16", join(tmp.dir, "x.h5"), { method: "prealloc", gzip: 1, chunks: [4, 4, 4] }))).toBe("usage");
    expect(await code(writeParallel(seg, [36, 45, 61], "u16", join(tmp.dir, "y.h5"), { method: "single" }))).toBe("bad_buffer");
  });
});

describe.skipIf(!HAVE || !DATA)("remotevis io", () => {
  test("io read FILE:DATASET --out .npy equals the reference npy; io write + io read round-trip", async () => {
    const npy = join(tmp.dir, "cranium.npy");
    const r = await cli(["io", "read", `${join(DATA!, "ct/cranium.h5")}:/entry/data/data`, "--procs", "2", "--out", npy, "--json"]).done(60_000);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out.trim().split("\n").at(-1)!)).toMatchObject({ event: "read", shape: [108, 256, 256], dtype: "i16", procs: 2 });
    expect(same(new Uint8Array(readFileSync(npy)), new Uint8Array(readFileSync(join(DATA!, "ct/cranium.npy"))))).toBe(true);
    const h5 = join(tmp.dir, "rt.h5");
    const w = await cli(["io", "write", "--in", join(DATA!, "ct/cranium.nii.gz"), "--out", `${h5}:/entry/data/data`, "--procs", "2", "--chunks", "8,256,256", "--method", "prealloc", "--json"]).done(60_000);
    expect(w.code).toBe(0);
    expect(JSON.parse(w.out.trim().split("\n").at(-1)!)).toMatchObject({ event: "written", method: "prealloc", shape: [108, 256, 256] });
    const back = await readParallel(h5, { procs: 2 });
    expect(same(back.bytes, new Uint8Array(readFileSync(join(DATA!, "ct/cranium.raw"))))).toBe(true);
    const bad = await cli(["io", "read", join(tmp.dir, "absent.h5")]).done(30_000);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("remotevis:");
  });
});
