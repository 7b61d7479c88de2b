/**
 * Plain data (no filters, no conversion, contiguous or whole-plane chunks) is copied into the
 * segment by the kernel, everything else still by H5Dread, and either way the segment holds
 * exactly the dataset: slabs that cut chunks, a short last chunk, chunks never written, a
 * big-endian type, a user block, extra extents of 1.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { hdf5Available, readHdf5 } from "../formats/hdf5.ts";
import { bytesOf, type Vec3 } from "../formats/types.ts";
import { scratch } from "../formats/testdata.ts";
import { Hdf5Writer } from "./hdf5-write.ts";
import { readParallel } from "./read.ts";

const HAVE = hdf5Available();
const tmp = scratch();
afterAll(() => tmp.cleanup());

const shape: Vec3 = [37, 45, 61];
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

/** u16 voxels that differ from their neighbours and between planes (a shifted slab shows). */
function pattern(): Uint8Array {
  const a = new Uint16Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < a.length; i++) a[i] = (i * 2654435761) % 65521;
  return bytesOf(a);
}

function write(name: string, o: { chunks?: Vec3; gzip?: number; planes?: [number, number] } = {}): string {
  const path = join(tmp.dir, name);
  using w = Hdf5Writer.create({ path, dataset: "/entry/data/data", shape, dtype: "u16", chunks: o.chunks, gzip: o.gzip });
  const [z0, z1] = o.planes ?? [0, shape[0]];
  const plane = shape[1] * shape[2] * 2;
  w.write(pattern().subarray(z0 * plane, z1 * plane), z0, z1);
  return path;
}

describe.skipIf(!HAVE)("the kernel copies plain data; H5Dread reads the rest", () => {
  const src = pattern();

  test("contiguous and whole-plane chunks (a short last chunk, slabs that cut chunks): every slab by the kernel", async () => {
    for (const [name, chunks] of [["contig.h5", undefined], ["planes.h5", [4, 45, 61]]] as [string, Vec3 | undefined][]) {
      const path = write(name, { chunks });
      for (const slabPlanes of [undefined, 7]) {
        const r = await readParallel(path, { procs: 3, slabPlanes });
        expect(same(r.bytes, src)).toBe(true);
        expect(r.kernelSlabs).toBe(r.slabs.length);
        expect(r.volume.meta?.ssc_io).toMatchObject({ kernelSlabs: r.slabs.length });
      }
      // the same file through the library only: the comparison the benchmark makes
      const lib = await readParallel(path, { procs: 2, via: "h5dread" });
      expect(lib.kernelSlabs).toBe(0);
      expect(same(lib.bytes, src)).toBe(true);
    }
  });

  test("a segment of several files whose seams cut slabs and chunks (6.9 MB, parts every 2 MiB): same bytes both ways", async () => {
    const big: Vec3 = [37, 300, 311];
    const a = new Uint16Array(big[0] * big[1] * big[2]);
    for (let i = 0; i < a.length; i++) a[i] = (i * 2654435761) % 65521;
    const path = join(tmp.dir, "big.h5");
    {
      using w = Hdf5Writer.create({ path, dataset: "/d", shape: big, dtype: "u16", chunks: [3, 300, 311] });
      w.write(bytesOf(a));
    }
    for (const via of ["auto", "h5dread"] as const) {
      const r = await readParallel(path, { procs: 3, slabPlanes: 5, via, keepSegment: true });
      expect(r.segment!.parts.length).toBe(4); // seams at 2, 4 and 6 MiB, none on a slab edge
      r.segment!.close();
      expect(same(r.bytes, bytesOf(a))).toBe(true);
      expect(r.kernelSlabs).toBe(via === "auto" ? r.slabs.length : 0);
    }
  });

  test("chunks that are not whole planes, and compressed chunks: H5Dread, same bytes", async () => {
    for (const [name, o] of [
      ["tiles.h5", { chunks: [4, 20, 61] }],
      ["gzip.h5", { chunks: [4, 45, 61], gzip: 1 }],
    ] as [string, { chunks: Vec3; gzip?: number }][]) {
      const r = await readParallel(write(name, o), { procs: 2 });
      expect(r.kernelSlabs).toBe(0);
      expect(same(r.bytes, src)).toBe(true);
    }
  });

  test("chunks never written read as the fill value (H5Dread for their slabs, the kernel for the rest)", async () => {
    const path = write("partial.h5", { chunks: [4, 45, 61], planes: [0, 8] });
    const r = await readParallel(path, { procs: 2, slabPlanes: 4 });
    expect(r.kernelSlabs).toBe(2); // planes [0, 8): two written chunks
    expect(same(r.bytes, bytesOf(readHdf5(path).data))).toBe(true);
    const plane = shape[1] * shape[2] * 2;
    expect(same(r.bytes.subarray(0, 8 * plane), src.subarray(0, 8 * plane))).toBe(true);
    expect(r.bytes.subarray(8 * plane).every((b) => b === 0)).toBe(true);
  });

  // files our writer cannot make: h5py (Debian python3-h5py, as scripts/testdata.sh uses)
  const py = Bun.spawnSync(["/usr/bin/python3", "-c", "import h5py, numpy"]).exitCode === 0;
  test.skipIf(!py)("big-endian values, a user block, extents of 1 (h5py files): equal to the serial read", async () => {
    const dir = tmp.dir;
    const script = `
import h5py, numpy as np, sys
d = sys.argv[1]
a = (np.arange(37*45*61, dtype=np.uint64) * 2654435761 % 65521).astype(np.uint16).reshape(37, 45, 61)
with h5py.File(d + "/be.h5", "w") as f: f.create_dataset("v", data=a.astype(">u2"))
with h5py.File(d + "/ub.h5", "w", userblock_size=512) as f: f.create_dataset("v", data=a, chunks=(4, 45, 61))
with h5py.File(d + "/4d.h5", "w") as f: f.create_dataset("v", data=a[None], chunks=(1, 4, 45, 61))
`;
    const p = Bun.spawnSync(["/usr/bin/python3", "-c", script, dir]);
    expect(p.stderr.toString()).toBe("");
    for (const [name, kernel] of [["be.h5", false], ["ub.h5", false], ["4d.h5", true]] as [string, boolean][]) {
      const r = await readParallel(join(dir, name), { procs: 2, slabPlanes: 5 });
      expect(r.volume.shape).toEqual(shape);
      expect(same(r.bytes, src)).toBe(true);
      expect(r.kernelSlabs).toBe(kernel ? r.slabs.length : 0);
    }
  });
});
