import { afterAll, describe, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { RemoteVisError } from "../errors.ts";
import { readNifti } from "./nifti.ts";
import { concat, scratch } from "./testdata.ts";

const tmp = scratch();
afterAll(() => tmp.cleanup());

interface H {
  dims: number[];
  datatype: number;
  bitpix: number;
  pixdim?: number[];
  slope?: number;
  inter?: number;
  units?: number;
  le?: boolean;
  voxOffset?: number;
  magic?: string;
}

function nifti1(h: H): Uint8Array {
  const le = h.le ?? true;
  const b = new Uint8Array(352);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 348, le);
  const dim = [h.dims.length, ...h.dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  dim.forEach((d, i) => dv.setInt16(40 + 2 * i, d, le));
  dv.setInt16(70, h.datatype, le);
  dv.setInt16(72, h.bitpix, le);
  [1, ...(h.pixdim ?? [1, 1, 1]), 0, 0, 0, 0].slice(0, 8).forEach((p, i) => dv.setFloat32(76 + 4 * i, p, le));
  dv.setFloat32(108, h.voxOffset ?? 352, le);
  dv.setFloat32(112, h.slope ?? 0, le);
  dv.setFloat32(116, h.inter ?? 0, le);
  b[123] = h.units ?? 2;
  b.set(new TextEncoder().encode(h.magic ?? "n+1\0"), 344);
  return b;
}

function nifti2(h: H): Uint8Array {
  const le = h.le ?? true;
  const b = new Uint8Array(544);
  const dv = new DataView(b.buffer);
  dv.setInt32(0, 540, le);
  b.set(new TextEncoder().encode(h.magic ?? "n+2\0\r\n\x1a\n"), 4);
  dv.setInt16(12, h.datatype, le);
  dv.setInt16(14, h.bitpix, le);
  const dim = [h.dims.length, ...h.dims, 1, 1, 1, 1, 1, 1, 1].slice(0, 8);
  dim.forEach((d, i) => dv.setBigInt64(16 + 8 * i, BigInt(d), le));
  [1, ...(h.pixdim ?? [1, 1, 1]), 0, 0, 0, 0].slice(0, 8).forEach((p, i) => dv.setFloat64(104 + 8 * i, p, le));
  dv.setBigInt64(168, BigInt(h.voxOffset ?? 544), le);
  dv.setFloat64(176, h.slope ?? 0, le);
  dv.setFloat64(184, h.inter ?? 0, le);
  dv.setInt32(500, h.units ?? 2, le);
  return b;
}

async function err(p: Promise<unknown>): Promise<RemoteVisError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteVisError);
    return e as RemoteVisError;
  }
  throw new Error("expected a RemoteVisError");
}

const i16 = (...v: number[]) => new Uint8Array(new Int16Array(v).buffer);

describe("NIfTI-1 and NIfTI-2", () => {
  test("NIfTI-1 .nii: shape [z,y,x], spacing from pixdim, scl_slope noted", async () => {
    const f = tmp.write("a.nii", concat(nifti1({ dims: [3, 2, 1], datatype: 4, bitpix: 16, pixdim: [0.5, 0.6, 2], slope: 2, inter: -1 }), i16(1, 2, 3, 4, 5, -6)));
    const v = await readNifti(f);
    expect(v.shape).toEqual([1, 2, 3]);
    expect(v.spacing.map((s) => +s.toFixed(4))).toEqual([2, 0.6, 0.5]);
    expect(Array.from(v.data)).toEqual([1, 2, 3, 4, 5, -6]);
    expect(v.scale).toEqual({ slope: 2, inter: -1 });
    expect(v.unit).toBe("mm");
  });
  test("NIfTI-1 big-endian, units in micrometres", async () => {
    const be = new Uint8Array([0x00, 0x01, 0xff, 0xfe]);
    const v = await readNifti(tmp.write("be.nii", concat(nifti1({ dims: [2, 1, 1], datatype: 4, bitpix: 16, le: false, units: 3 }), be)));
    expect(Array.from(v.data)).toEqual([1, -2]);
    expect(v.unit).toBe("um");
    expect(v.scale).toBeUndefined();
  });
  test("NIfTI-2 .nii and .nii.gz (f32), 4D with one volume", async () => {
    const data = new Uint8Array(new Float32Array([0.5, 1.5, 2.5, 3.5]).buffer);
    const file = concat(nifti2({ dims: [2, 2, 1, 1], datatype: 16, bitpix: 32, pixdim: [1, 2, 3] }), data);
    for (const [name, bytes] of [
      ["b.nii", file],
      ["b.nii.gz", gzipSync(file)],
    ] as const) {
      const v = await readNifti(tmp.write(name, bytes));
      expect(v.dtype).toBe("f32");
      expect(v.shape).toEqual([1, 2, 2]);
      expect(v.spacing).toEqual([3, 2, 1]);
      expect(Array.from(v.data)).toEqual([0.5, 1.5, 2.5, 3.5]);
      expect(v.meta?.nifti).toBe(2);
    }
  });
  test("several volumes, bad dims, unsupported types, pairs, bad magic", async () => {
    const body = new Uint8Array(64);
    const w = (n: string, h: Uint8Array) => readNifti(tmp.write(n, concat(h, body)));
    expect((await err(w("4d.nii", nifti1({ dims: [2, 2, 2, 3], datatype: 2, bitpix: 8 })))).message).toContain("3 volumes");
    expect((await err(w("neg.nii", nifti1({ dims: [2, -2, 2], datatype: 2, bitpix: 8 })))).message).toContain("not a positive extent");
    expect((await err(w("cx.nii", nifti1({ dims: [2], datatype: 32, bitpix: 64 })))).message).toContain("complex64");
    expect((await err(w("i64.nii", nifti1({ dims: [2], datatype: 1024, bitpix: 64 })))).code).toBe("unsupported_dtype");
    expect((await err(w("u.nii", nifti1({ dims: [2], datatype: 77, bitpix: 8 })))).message).toContain("unknown NIfTI datatype");
    expect((await err(w("p.nii", nifti1({ dims: [2], datatype: 2, bitpix: 8, magic: "ni1\0" })))).message).toContain(".hdr + .img");
    expect((await err(w("m.nii", nifti1({ dims: [2], datatype: 2, bitpix: 8, magic: "xyz\0" })))).message).toContain("magic");
    expect((await err(w("vo.nii", nifti1({ dims: [2], datatype: 2, bitpix: 8, voxOffset: 10 })))).message).toContain("vox_offset");
    expect((await err(readNifti(tmp.write("not.nii", "hello, this is not a NIfTI file at all..."))))!.message).toContain("sizeof_hdr");
  });
  test("truncated and lying files, plain and gzip: errors, no giant allocation", async () => {
    const h = nifti1({ dims: [4, 4, 4], datatype: 4, bitpix: 16 });
    const full = concat(h, new Uint8Array(128));
    expect((await err(readNifti(tmp.write("t.nii", full.subarray(0, full.length - 10))))).message).toContain("truncated");
    expect((await err(readNifti(tmp.write("th.nii", full.subarray(0, 200))))).message).toContain("truncated inside the NIfTI-1 header");
    const gz = gzipSync(full);
    expect((await err(readNifti(tmp.write("t.nii.gz", gz.subarray(0, gz.length - 20))))).message).toMatch(/truncated|corrupt/);
    const garbage = gz.slice();
    garbage.fill(0x55, 12, Math.min(40, garbage.length - 8));
    expect((await err(readNifti(tmp.write("g.nii.gz", garbage)))).code).toBe("corrupt_file");
    // a header that claims 30000^3 voxels of f64 in a tiny gzip: refused by size, before any allocation
    const lie = gzipSync(concat(nifti1({ dims: [30000, 30000, 30000], datatype: 64, bitpix: 64 }), new Uint8Array(100)));
    const e = await err(readNifti(tmp.write("lie.nii.gz", lie)));
    expect(["too_large", "corrupt_file"]).toContain(e.code);
    const lie2 = gzipSync(concat(nifti1({ dims: [300, 300, 30], datatype: 4, bitpix: 16 }), new Uint8Array(100)));
    expect((await err(readNifti(tmp.write("lie2.nii.gz", lie2)))).message).toMatch(/cannot hold|lying/);
    const big = gzipSync(concat(nifti1({ dims: [300, 300, 30], datatype: 2, bitpix: 8 }), new Uint8Array(300 * 300 * 30 - 1)));
    expect((await err(readNifti(tmp.write("short.nii.gz", big)))).message).toMatch(/truncated|lying/);
    expect((await err(readNifti(tmp.write("hdr.nii.gz", gzipSync(h.subarray(0, 100)))))).message).toContain("truncated inside");
  });
});
