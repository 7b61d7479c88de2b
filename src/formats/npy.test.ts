import { afterAll, describe, expect, test } from "bun:test";
import { RemoteVisError } from "../errors.ts";
import { readNpy } from "./npy.ts";
import { concat, err, scratch } from "./testdata.ts";

const tmp = scratch();
afterAll(() => tmp.cleanup());

/** A .npy file as numpy writes it (header padded so the data starts on a multiple of 64). */
function npy(header: string, data: Uint8Array, version = 1): Uint8Array {
  const pre = version === 1 ? 10 : 12;
  let h = header;
  while ((pre + h.length + 1) % 64 !== 0) h += " ";
  h += "\n";
  const head = new Uint8Array(pre);
  head.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]);
  const dv = new DataView(head.buffer);
  if (version === 1) dv.setUint16(8, h.length, true);
  else dv.setUint32(8, h.length, true);
  return concat(head, new TextEncoder().encode(h), data);
}
const hdr = (descr: string, shape: string, fortran = false) => `{'descr': '${descr}', 'fortran_order': ${fortran ? "True" : "False"}, 'shape': ${shape}, }`;

describe("npy: versions, orders, byte orders, types", () => {
  const f32 = new Uint8Array(new Float32Array([1.5, -2, 3, 4, 5, 6]).buffer);
  test("v1, v2, v3 headers read the same", () => {
    for (const v of [1, 2, 3]) {
      const vol = readNpy(tmp.write(`v${v}.npy`, npy(hdr("<f4", "(2, 3)"), f32, v)));
      expect(vol.shape).toEqual([1, 2, 3]);
      expect(vol.dtype).toBe("f32");
      expect(Array.from(vol.data)).toEqual([1.5, -2, 3, 4, 5, 6]);
      expect(vol.meta?.npyVersion).toBe(`${v}.0`);
    }
  });
  test("Fortran order is kept as order F", () => {
    const v = readNpy(tmp.write("f.npy", npy(hdr("<f4", "(1, 2, 3)", true), f32)));
    expect(v.order).toBe("F");
    expect(v.shape).toEqual([1, 2, 3]);
  });
  test("big-endian is swapped; bool reads as u8; 1-D pads to [1,1,n]; 4-D with an extent of 1 squeezes", () => {
    const be = new Uint8Array([0x01, 0x02, 0xff, 0xfe]);
    expect(Array.from(readNpy(tmp.write("be.npy", npy(hdr(">i2", "(2,)"), be))).data)).toEqual([0x0102, -2]);
    const b = readNpy(tmp.write("b.npy", npy(hdr("|b1", "(3,)"), new Uint8Array([1, 0, 1]))));
    expect([b.dtype, ...b.shape]).toEqual(["u8", 1, 1, 3]);
    const four = readNpy(tmp.write("4.npy", npy(hdr("<f4", "(1, 2, 1, 3)"), f32)));
    expect(four.shape).toEqual([1, 2, 3]);
  });
  test("unsupported types are named", () => {
    for (const d of ["<c8", "<i8", "<f2", "|O", "<U4"]) {
      const e = err(() => readNpy(tmp.write("t.npy", npy(hdr(d, "(1,)"), new Uint8Array(16)))));
      expect(e.code).toBe("unsupported_dtype");
      expect(e.message).toContain(`'${d}'`);
    }
    const rec = npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", new Uint8Array(4));
    expect(err(() => readNpy(tmp.write("r.npy", rec))).message).toContain("structured");
  });
  test("corrupt, truncated and lying files", () => {
    expect(err(() => readNpy(tmp.write("m.npy", new TextEncoder().encode("PK\x03\x04 not numpy")))).message).toContain("wrong magic");
    const good = npy(hdr("<f4", "(2, 3)"), f32);
    expect(err(() => readNpy(tmp.write("tr.npy", good.subarray(0, good.length - 4)))).message).toContain("needs");
    expect(err(() => readNpy(tmp.write("tr2.npy", good.subarray(0, 40)))).message).toContain("truncated");
    const lie = npy(hdr("<f4", "(2000000, 3000000)"), f32);
    expect(err(() => readNpy(tmp.write("lie.npy", lie))).code).toMatch(/corrupt_file|too_large/);
    const huge = npy(hdr("<f8", "(9999999999, 9999999999, 9999999999)"), f32);
    expect(err(() => readNpy(tmp.write("huge.npy", huge))).message).toMatch(/2\^31|overflow/);
    expect(err(() => readNpy(tmp.write("neg.npy", npy(hdr("<f4", "(-2, 3)"), f32)))).message).toContain("whole numbers");
    expect(err(() => readNpy(tmp.write("scalar.npy", npy(hdr("<f4", "()"), f32)))).message).toContain("scalar");
    expect(err(() => readNpy(tmp.write("empty.npy", npy(hdr("<f4", "(0, 3)"), new Uint8Array(0))))).code).toBe("empty");
    const v9 = npy(hdr("<f4", "(2, 3)"), f32);
    v9[6] = 9;
    expect(err(() => readNpy(tmp.write("v9.npy", v9))).message).toContain("version 9");
    expect(err(() => readNpy(tmp.write("nodescr.npy", npy("{'fortran_order': False, 'shape': (2,), }", f32)))).message).toContain("descr");
  });
});
