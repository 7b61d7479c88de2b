/**
 * Point clouds: the PCL scans of python3-pcl (ascii, binary_compressed, and the binary copy the
 * script makes), the LAS / XYZ / CSV made from table_scene_lms400 (same points), and synthetic
 * corrupt files for every error path of PCD, LAS and XYZ.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { readPoints } from "./index.ts";
import { readLas } from "./las.ts";
import { lzfDecompress, readPcd } from "./pcd.ts";
import { concat, ensureTestData, err, scratch } from "./testdata.ts";
import { readXyz } from "./xyz.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const tmp = scratch();
afterAll(() => tmp.cleanup());

describe.skipIf(!DATA)("point clouds (real data)", () => {
  const P = (f: string) => join(DATA!, f);
  const lms = () => readPcd(P("pcd/table_scene_lms400.pcd"));

  test("table_scene_lms400: binary_compressed and binary agree, 460400 points, intensity 0..246", () => {
    const a = lms();
    expect(a.count).toBe(460400);
    expect(a.valueField).toBe("intensity");
    expect(a.meta?.data).toBe("binary_compressed");
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of a.values) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect([lo, hi]).toEqual([0, 246]);
    const b = readPcd(P("pcd/table_scene_lms400_binary.pcd"));
    expect(b.meta?.data).toBe("binary");
    expect(Buffer.from(b.xyz.buffer).equals(Buffer.from(a.xyz.buffer))).toBe(true);
    expect(Buffer.from(b.values.buffer).equals(Buffer.from(a.values.buffer))).toBe(true);
  });

  test("ascii (lamppost), xyz only (bun0), rgba (milk), organized rgb with NaN (mug)", async () => {
    const lamp = readPcd(P("pcd/lamppost.pcd"));
    expect([lamp.count, lamp.meta?.data, lamp.valueField, lamp.values[0]]).toEqual([1771, "ascii", "", 1]);
    expect(readPcd(P("pcd/bun0.pcd")).count).toBe(112586);
    const milk = readPcd(P("pcd/milk.pcd"));
    expect(milk.count).toBe(12575);
    expect(milk.valueField).toBe("rgba");
    expect(milk.rgb!.subarray(0, 3)).toEqual(new Uint8Array([0, 0, 255]));
    const mug = await readPoints(P("pcd/table_scene_mug_stereo_textured.pcd"));
    expect(mug.count).toBe(307200);
    expect(mug.rgb).toBeDefined();
    const finite = readPcd(P("pcd/table_scene_mug_stereo_textured.pcd"), { dropNonFinite: true });
    expect(finite.count).toBeLessThan(307200);
    expect(finite.count + (finite.meta?.dropped as number)).toBe(307200);
    for (let i = 0; i < finite.xyz.length; i++) if (!Number.isFinite(finite.xyz[i]!)) throw new Error("NaN kept");
  });

  test("LAS 1.2 format 1 made from the PCD: same points within the scale, same intensity", () => {
    const a = lms();
    const l = readLas(P("points/table_scene_lms400.las"));
    expect(l.count).toBe(a.count);
    expect(l.meta?.version).toBe("1.2");
    expect(l.meta?.pointFormat).toBe(1);
    let worst = 0;
    for (let i = 0; i < a.xyz.length; i++) worst = Math.max(worst, Math.abs(a.xyz[i]! - l.xyz[i]!));
    expect(worst).toBeLessThan(1e-5);
    for (let i = 0; i < a.count; i++) if (l.values[i] !== Math.round(a.values[i]!)) throw new Error(`intensity ${i}`);
  });

  test("XYZ and CSV made from the PCD: exactly the same float32 points", () => {
    const a = lms();
    const x = readXyz(P("points/table_scene_lms400.xyz"));
    expect(x.count).toBe(a.count);
    expect(Buffer.from(x.xyz.buffer).equals(Buffer.from(a.xyz.buffer))).toBe(true);
    expect(x.values[0]).toBe(1);
    const c = readXyz(P("points/table_scene_lms400.csv"));
    expect(c.valueField).toBe("intensity");
    expect(Buffer.from(c.xyz.buffer).equals(Buffer.from(a.xyz.buffer))).toBe(true);
    expect(Buffer.from(c.values.buffer).equals(Buffer.from(a.values.buffer))).toBe(true);
  });
});

const enc = (s: string) => new TextEncoder().encode(s);
const pcdHeader = (fields: string, size: string, type: string, n: number, data: string, count?: string) =>
  `# .PCD v0.7\nVERSION 0.7\nFIELDS ${fields}\nSIZE ${size}\nTYPE ${type}\n${count ? `COUNT ${count}\n` : ""}WIDTH ${n}\nHEIGHT 1\nPOINTS ${n}\nDATA ${data}\n`;

describe("PCD: encodings and errors", () => {
  const pts = new Float32Array([1, 2, 3, 0.5, 4, 5, 6, 1.5]); // x y z intensity, 2 points
  test("binary, ascii and binary_compressed (literal-only LZF) with mixed field types", () => {
    const b = readPcd(tmp.write("b.pcd", concat(enc(pcdHeader("x y z intensity", "4 4 4 4", "F F F F", 2, "binary")), new Uint8Array(pts.buffer))));
    expect(Array.from(b.xyz)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(b.values)).toEqual([0.5, 1.5]);
    const a = readPcd(tmp.write("a.pcd", pcdHeader("x y z label", "4 4 4 2", "F F F U", 2, "ascii") + "1 2 3 7\n\n4 5 6 9\n"));
    expect([a.valueField, ...a.values]).toEqual(["label", 7, 9]);
    // SoA layout, compressed as literal runs (ctrl byte = run length - 1)
    const soa = new Float32Array([1, 4, 2, 5, 3, 6, 0.5, 1.5]);
    const raw = new Uint8Array(soa.buffer);
    const lzf = concat(new Uint8Array([31]), raw.subarray(0, 32));
    const sizes = new Uint8Array(8);
    new DataView(sizes.buffer).setUint32(0, lzf.length, true);
    new DataView(sizes.buffer).setUint32(4, 32, true);
    const c = readPcd(tmp.write("c.pcd", concat(enc(pcdHeader("x y z intensity", "4 4 4 4", "F F F F", 2, "binary_compressed")), sizes, lzf)));
    expect(Array.from(c.xyz)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(c.values)).toEqual([0.5, 1.5]);
  });
  test("LZF back references, overlapping copies, and its corrupt streams", () => {
    // "abcabcabcX": literal 'abc', back ref len 6 distance 3, literal 'X'
    const src = new Uint8Array([2, 97, 98, 99, (4 << 5) | 0, 2, 0, 88]);
    const out = new Uint8Array(10);
    lzfDecompress("t", src, out);
    expect(new TextDecoder().decode(out)).toBe("abcabcabcX");
    expect(() => lzfDecompress("t", src, new Uint8Array(9))).toThrow("expands beyond");
    expect(() => lzfDecompress("t", src, new Uint8Array(11))).toThrow("holds 10 bytes");
    expect(() => lzfDecompress("t", new Uint8Array([(1 << 5) | 0, 9]), new Uint8Array(3))).toThrow("before its start");
    expect(() => lzfDecompress("t", new Uint8Array([5, 1]), new Uint8Array(6))).toThrow("truncated");
  });
  test("truncated, lying and malformed PCDs: clear errors before any allocation", () => {
    const head = (n: number, data = "binary") => pcdHeader("x y z", "4 4 4", "F F F", n, data);
    expect(err(() => readPcd(tmp.write("t.pcd", concat(enc(head(3)), new Uint8Array(24))))).message).toContain("truncated");
    expect(err(() => readPcd(tmp.write("lie.pcd", concat(enc(head(2_000_000_000)), new Uint8Array(24))))).message).toContain("truncated");
    expect(err(() => readPcd(tmp.write("huge.pcd", concat(enc(head(2 ** 40)), new Uint8Array(24))))).message).toContain("absurd");
    expect(err(() => readPcd(tmp.write("la.pcd", head(1000, "ascii") + "1 2 3\n"))).message).toContain("truncated");
    expect(err(() => readPcd(tmp.write("bad.pcd", head(1, "ascii") + "1 two 3\n"))).message).toContain("'two' is not a number");
    expect(err(() => readPcd(tmp.write("few.pcd", head(1, "ascii") + "1 2\n\n\n"))).message).toContain("3 expected");
    const sz = new Uint8Array(8);
    new DataView(sz.buffer).setUint32(0, 4, true);
    new DataView(sz.buffer).setUint32(4, 12 * 1000, true);
    expect(err(() => readPcd(tmp.write("cz.pcd", concat(enc(head(1000, "binary_compressed")), sz, new Uint8Array(4))))).message).toContain("cannot unpack");
    new DataView(sz.buffer).setUint32(4, 999, true);
    expect(err(() => readPcd(tmp.write("cz2.pcd", concat(enc(head(1000, "binary_compressed")), sz, new Uint8Array(4))))).message).toContain("need 12000");
    new DataView(sz.buffer).setUint32(0, 1 << 30, true);
    new DataView(sz.buffer).setUint32(4, 12, true);
    expect(err(() => readPcd(tmp.write("cz3.pcd", concat(enc(head(1, "binary_compressed")), sz, new Uint8Array(4))))).message).toContain("truncated");
    expect(err(() => readPcd(tmp.write("nox.pcd", pcdHeader("a b c", "4 4 4", "F F F", 1, "ascii") + "1 2 3\n"))).message).toContain("no 'x' field");
    expect(err(() => readPcd(tmp.write("sz.pcd", pcdHeader("x y z", "4 4 3", "F F F", 1, "ascii") + "1 2 3\n"))).message).toContain("SIZE 3");
    expect(err(() => readPcd(tmp.write("len.pcd", pcdHeader("x y z", "4 4", "F F F", 1, "ascii")))).message).toContain("disagree");
    expect(err(() => readPcd(tmp.write("kind.pcd", pcdHeader("x y z", "4 4 4", "F F F", 1, "zip")))).message).toContain("unknown DATA");
    expect(err(() => readPcd(tmp.write("nodata.pcd", "VERSION 0.7\nFIELDS x y z\n"))).message).toContain("no 'DATA' line");
  });
});

function las(opts: { minor?: number; format?: number; n: number; recLen?: number; count64?: boolean; laz?: boolean; truncate?: number }): Uint8Array {
  const minor = opts.minor ?? 2;
  const fmt = opts.format ?? 0;
  const hsize = minor >= 4 ? 375 : 227;
  const rec = opts.recLen ?? [20, 28, 26, 34, 57, 63, 30, 36, 38, 59, 67][fmt]!;
  const h = new Uint8Array(hsize);
  const dv = new DataView(h.buffer);
  h.set(enc("LASF"), 0);
  h[24] = 1;
  h[25] = minor;
  dv.setUint16(94, hsize, true);
  dv.setUint32(96, hsize, true);
  h[104] = fmt | (opts.laz ? 0x80 : 0);
  dv.setUint16(105, rec, true);
  dv.setUint32(107, opts.count64 ? 0 : opts.n, true);
  [0.01, 0.01, 0.001].forEach((s, i) => dv.setFloat64(131 + 8 * i, s, true));
  [1000, 2000, 0].forEach((s, i) => dv.setFloat64(155 + 8 * i, s, true));
  if (minor >= 4) dv.setBigUint64(247, BigInt(opts.n), true);
  const pts = new Uint8Array(opts.n * rec);
  const pv = new DataView(pts.buffer);
  for (let i = 0; i < opts.n && rec >= 14; i++) {
    pv.setInt32(i * rec, i * 100, true);
    pv.setInt32(i * rec + 4, -i, true);
    pv.setInt32(i * rec + 8, 5 * i, true);
    pv.setUint16(i * rec + 12, 1000 + i, true);
  }
  const all = concat(h, pts);
  return opts.truncate ? all.subarray(0, all.length - opts.truncate) : all;
}

describe("LAS: versions, formats and errors", () => {
  test("1.0-1.3 formats 0-3 and 1.4 format 6 with a 64-bit count: scale, offset, intensity", () => {
    for (const [minor, format, count64] of [
      [0, 0, false],
      [1, 1, false],
      [2, 2, false],
      [3, 3, false],
      [4, 6, true],
      [4, 10, false],
    ] as const) {
      const p = readLas(tmp.write("p.las", las({ minor, format, n: 3, count64 })));
      expect(p.count).toBe(3);
      expect(Array.from(p.xyz)).toEqual([1000, 2000, 0, 1001, 1999.99, 0.005, 1002, 1999.98, 0.01].map(Math.fround));
      expect(Array.from(p.values)).toEqual([1000, 1001, 1002]);
    }
    const extra = readLas(tmp.write("x.las", las({ n: 2, recLen: 40 })));
    expect(extra.count).toBe(2);
  });
  test("LAZ, truncated, lying, bad versions and records", () => {
    expect(err(() => readLas(tmp.write("z.las", las({ n: 2, laz: true })))).message).toContain("LAZ");
    expect(err(() => readLas(tmp.write("t.las", las({ n: 5, truncate: 3 })))).message).toContain("truncated");
    const lie = las({ n: 2 });
    new DataView(lie.buffer).setUint32(107, 4_000_000_000, true);
    expect(err(() => readLas(tmp.write("lie.las", lie))).message).toContain("truncated");
    expect(err(() => readLas(tmp.write("r.las", las({ n: 2, recLen: 12 })))).message).toContain("shorter than format 0");
    const v = las({ n: 1 });
    v[24] = 2;
    expect(err(() => readLas(tmp.write("v.las", v))).message).toContain("version 2.2");
    const f = las({ n: 1 });
    f[104] = 11;
    expect(err(() => readLas(tmp.write("f.las", f))).message).toContain("format 11");
    const s = las({ n: 1 });
    new DataView(s.buffer).setFloat64(131, 0, true);
    expect(err(() => readLas(tmp.write("s.las", s))).message).toContain("scale");
    expect(err(() => readLas(tmp.write("sig.las", "LASX" + "\0".repeat(300)))).message).toContain("LASF");
    expect(err(() => readLas(tmp.write("short.las", "LASF"))).message).toContain("truncated inside the LAS header");
  });
});

describe("XYZ / CSV: layouts and errors", () => {
  test("whitespace, commas, semicolons, comments, header naming columns in any order", () => {
    const a = readXyz(tmp.write("a.xyz", "# comment\n1 2 3\n4\t5\t6\n\n"));
    expect([a.count, ...a.xyz, ...a.values]).toEqual([2, 1, 2, 3, 4, 5, 6, 1, 1]);
    const b = readXyz(tmp.write("b.csv", "value;z;x;y\n9;3;1;2\n8;6;4;5\n"));
    expect([b.valueField, ...b.xyz, ...b.values]).toEqual(["value", 1, 2, 3, 4, 5, 6, 9, 8]);
    const c = readXyz(tmp.write("c.txt", "1,2,3,0.25\n-1e3,NaN,3,7\n"));
    expect(c.valueField).toBe("column 4");
    expect(Array.from(c.values)).toEqual([0.25, 7]);
    expect(readXyz(tmp.write("d.txt", "1,2,3,0.25\n-1e3,NaN,3,7\n"), { dropNonFinite: true }).count).toBe(1);
  });
  test("errors", () => {
    expect(err(() => readXyz(tmp.write("e1.xyz", "1 2 3\n4 five 6\n"))).message).toContain("line 2: 'five' is not a number");
    expect(err(() => readXyz(tmp.write("e2.xyz", "1 2\n"))).message).toContain("at least x y z");
    expect(err(() => readXyz(tmp.write("e3.xyz", "# nothing\n\n"))).message).toContain("no points");
    expect(err(() => readXyz(tmp.write("e4.xyz", new Uint8Array([0x89, 0x50, 0, 1, 2])))).message).toContain("NUL");
    expect(err(() => readXyz(tmp.write("e5.csv", "1,2,3,4\n1,2,3\n"))).message).toContain("4 expected");
    expect(err(() => readXyz(tmp.write("e6.csv", "a,b\n1,2\n"))).message).toContain("fewer than 3");
  });
});
