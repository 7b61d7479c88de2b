import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { Hdf5File, defaultDataset, hdf5Available, listHdf5, readHdf5 } from "./hdf5.ts";
import { ensureTestData, err, scratch } from "./testdata.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const HAVE = hdf5Available();
if (!HAVE) console.warn("SKIPPING HDF5 tests: libhdf5 (Debian libhdf5-103-1) cannot be loaded here");
const tmp = scratch();
afterAll(() => tmp.cleanup());

describe.skipIf(!DATA || !HAVE)("HDF5 through libhdf5 (real data)", () => {
  const h5 = () => join(DATA!, "ct/cranium.h5");
  const raw = () => new Uint8Array(readFileSync(join(DATA!, "ct/cranium.raw")));

  test("lists datasets with shape, type, chunks and filters", () => {
    const list = listHdf5(h5());
    const d = list.find((x) => x.path === "/entry/data/data")!;
    expect(d).toMatchObject({ dims: [108, 256, 256], dtype: "i16", shape: [108, 256, 256], chunks: [8, 128, 128], filters: ["shuffle", "gzip"] });
    expect(list.find((x) => x.path === "/entry/mask/bone")).toMatchObject({ dims: [109, 257, 257], dtype: "u8" });
    expect(list.find((x) => x.path === "/entry/title")).toMatchObject({ dims: [], type: "string" });
  });

  test("reads z slabs [z0, z1) into a caller's buffer, equal to the raw bytes", () => {
    const ref = raw();
    using f = Hdf5File.open(h5());
    using ds = f.dataset("entry/data/data");
    const plane = ds.bytesPerPlane;
    expect(plane).toBe(256 * 256 * 2);
    // one shared buffer filled by slabs, as parallel readers would
    const shared = new Uint8Array(108 * plane);
    for (const [z0, z1] of [
      [0, 37],
      [37, 38],
      [38, 108],
    ] as const) ds.readInto(shared.subarray(z0 * plane, z1 * plane), z0, z1);
    expect(Buffer.from(shared).equals(Buffer.from(ref))).toBe(true);
    const slab = readHdf5(h5(), { z0: 50, z1: 60 });
    expect(slab.shape).toEqual([10, 256, 256]);
    expect(Buffer.from(slab.data.buffer).equals(Buffer.from(ref.subarray(50 * plane, 60 * plane)))).toBe(true);
    expect(err(() => ds.readInto(new Uint8Array(plane), 5, 7)).code).toBe("bad_buffer");
    expect(err(() => ds.readInto(new Uint8Array(plane), 108, 109)).code).toBe("bad_range");
    expect(err(() => readHdf5(h5(), { z0: 5, z1: 5 })).code).toBe("bad_range");
  });

  test("NeXus files from hyperspy: 4-D with an extent of 1, 3-D default, int64 refused", () => {
    const rocks = readHdf5(join(DATA!, "hdf5/saved_multi_signal.nxs"), { dataset: "/entry1/rocks/data" });
    expect(rocks.shape).toEqual([15, 40, 40]);
    expect(rocks.dtype).toBe("f64");
    const cube = readHdf5(join(DATA!, "hdf5/saved_multi_signal.nxs"), { dataset: "/entry2/unnamed__1/data" });
    expect(cube.shape).toEqual([30, 30, 10]);
    {
      using f = Hdf5File.open(join(DATA!, "hdf5/nexus_dls_example.nxs"));
      expect(defaultDataset(f)).toBe("/entry1/testdata/nexustest/data");
    }
    const holo = join(DATA!, "hdf5/01_holo_Vbp_130V_0V_bin2_crop.hdf5");
    const list = listHdf5(holo);
    expect(list.length).toBeGreaterThan(100);
    const d = list.find((x) => x.path === "/Experiments/Hologram of Fe needle/data")!;
    expect(d).toMatchObject({ dims: [512, 512], type: "i64" });
    expect(d.dtype).toBeUndefined();
    expect(err(() => readHdf5(holo, { dataset: d.path })).message).toContain("type i64 is not supported");
    expect(listHdf5(holo, 5)).toHaveLength(5);
  });

  test("errors: missing dataset, scalar string, not HDF5, truncated file", () => {
    expect(err(() => readHdf5(h5(), { dataset: "/no/such" })).code).toBe("not_found");
    expect(err(() => readHdf5(h5(), { dataset: "/entry/title" })).code).toBe("unsupported_dtype");
    expect(err(() => readHdf5(join(DATA!, "ct/cranium.raw"))).message).toContain("not an HDF5 file");
    const bytes = readFileSync(h5());
    const cut = tmp.write("cut.h5", bytes.subarray(0, bytes.length >> 1));
    const e = err(() => readHdf5(cut, { dataset: "/entry/data/data" }));
    expect(e.code).toBe("corrupt_file");
    expect(e.message).toMatch(/truncated|corrupt/);
    const junk = Buffer.from(bytes);
    junk.fill(0x5a, 100_000, 400_000); // chunk data destroyed, superblock intact
    const e2 = err(() => readHdf5(tmp.write("junk.h5", junk), { dataset: "/entry/data/data" }));
    expect(e2.code).toBe("corrupt_file");
    expect(err(() => Hdf5File.open(tmp.write("sig.h5", new Uint8Array(2000)))).message).toContain("no HDF5 signature");
  });
});
