import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { deflateSync } from "node:zlib";
import { RemoteVisError } from "../errors.ts";
import { readTiff } from "./tiff.ts";
import { ensureTestData, err, scratch } from "./testdata.ts";
import { byteSwap } from "./types.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const tmp = scratch();
afterAll(() => tmp.cleanup());

interface PageSpec {
  w: number;
  h: number;
  bits: number;
  format: number; // 1 uint, 2 int, 3 float
  data: Uint8Array; // little-endian samples
  rowsPerStrip?: number;
  compression?: number;
  predictor?: number;
  extra?: [number, number, number, number][]; // tag, type, count, value (inline)
  description?: string;
}

function packBits(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < src.length) {
    let run = 1;
    while (i + run < src.length && src[i + run] === src[i] && run < 128) run++;
    if (run >= 2) {
      out.push(257 - run, src[i]!);
      i += run;
    } else {
      let lit = 1;
      while (i + lit < src.length && lit < 128 && !(i + lit + 1 < src.length && src[i + lit] === src[i + lit + 1])) lit++;
      out.push(lit - 1, ...src.subarray(i, i + lit));
      i += lit;
    }
  }
  return new Uint8Array(out);
}

/** A small TIFF writer: classic or BigTIFF, either byte order, one IFD per page, strips. */
function tiff(pages: PageSpec[], opts: { be?: boolean; big?: boolean } = {}): Uint8Array {
  const le = !opts.be;
  const big = !!opts.big;
  const out: number[] = [];
  const u16 = (v: number) => {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, le);
    return [...b];
  };
  const u32 = (v: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v, le);
    return [...b];
  };
  const u64 = (v: number) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(v), le);
    return [...b];
  };
  const off = (v: number) => (big ? u64(v) : u32(v));
  out.push(...(le ? [0x49, 0x49] : [0x4d, 0x4d]), ...u16(big ? 43 : 42));
  if (big) out.push(...u16(8), ...u16(0));
  let nextAt = out.length;
  out.push(...off(0));
  for (const p of pages) {
    const size = p.bits / 8;
    const raw = p.data.slice();
    if (p.predictor === 2) {
      // horizontal differencing on little-endian samples (u8/u16 only in these tests)
      const v = size === 1 ? raw : new Uint16Array(raw.buffer);
      for (let y = 0; y < p.h; y++) for (let x = p.w - 1; x >= 1; x--) v[y * p.w + x] = (v[y * p.w + x]! - v[y * p.w + x - 1]!) & (size === 1 ? 0xff : 0xffff);
    }
    if (!le) byteSwap(raw, size);
    const rps = p.rowsPerStrip ?? p.h;
    const offsets: number[] = [];
    const counts: number[] = [];
    for (let y = 0; y < p.h; y += rps) {
      let s: Uint8Array = raw.subarray(y * p.w * size, Math.min(p.h, y + rps) * p.w * size);
      if (p.compression === 8) s = deflateSync(s);
      if (p.compression === 32773) s = packBits(s);
      offsets.push(out.length);
      counts.push(s.length);
      out.push(...s);
    }
    const arrays: Record<number, number> = {};
    for (const [tag, vals] of [
      [273, offsets],
      [279, counts],
    ] as const) {
      if (vals.length > 1) {
        arrays[tag] = out.length;
        for (const v of vals) out.push(...(big ? u64(v) : u32(v)));
      }
    }
    let descAt = 0;
    if (p.description) {
      descAt = out.length;
      out.push(...new TextEncoder().encode(`${p.description}\0`));
    }
    const longT = big ? 16 : 4;
    const entries: [number, number, number, number][] = [
      [256, 4, 1, p.w],
      [257, 4, 1, p.h],
      [258, 3, 1, p.bits],
      [259, 3, 1, p.compression ?? 1],
      [262, 3, 1, 1],
      ...(p.description ? ([[270, 2, p.description.length + 1, descAt]] as [number, number, number, number][]) : []),
      [273, longT, offsets.length, offsets.length > 1 ? arrays[273]! : offsets[0]!],
      [277, 3, 1, 1],
      [278, 4, 1, rps],
      [279, longT, counts.length, counts.length > 1 ? arrays[279]! : counts[0]!],
      ...(p.predictor ? ([[317, 3, 1, p.predictor]] as [number, number, number, number][]) : []),
      [339, 3, 1, p.format],
      ...(p.extra ?? []),
    ];
    entries.sort((a, b) => a[0] - b[0]);
    const ifd = out.length;
    const patch = off(ifd);
    for (let i = 0; i < patch.length; i++) out[nextAt + i] = patch[i]!;
    out.push(...(big ? u64(entries.length) : u16(entries.length)));
    for (const [tag, type, count, value] of entries) {
      out.push(...u16(tag), ...u16(type), ...(big ? u64(count) : u32(count)));
      const w = big ? 8 : 4;
      let v: number[];
      if (type === 3 && count === 1) v = [...u16(value), ...new Array(w - 2).fill(0)];
      else if (type === 4 && count === 1) v = [...u32(value), ...new Array(w - 4).fill(0)];
      else v = big ? u64(value) : u32(value);
      out.push(...v);
    }
    nextAt = out.length;
    out.push(...off(0));
  }
  return new Uint8Array(out);
}

const u16data = (n: number, f: (i: number) => number) => new Uint8Array(Uint16Array.from({ length: n }, (_, i) => f(i)).buffer);

describe.skipIf(!DATA)("TIFF (real data)", () => {
  test("multi-page, big-endian deflate and slice folder agree", () => {
    const a = readTiff(join(DATA!, "ct/cranium.tif"));
    const b = readTiff(join(DATA!, "ct/cranium_be_deflate.tif"));
    const c = readTiff(join(DATA!, "ct/slices"));
    expect(a.shape).toEqual([108, 256, 256]);
    expect(c.meta?.files).toBe(108);
    expect(Buffer.from(b.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
    expect(Buffer.from(c.data.buffer).equals(Buffer.from(a.data.buffer))).toBe(true);
  });
});

describe("TIFF: encodings and errors", () => {
  const w = 5;
  const h = 4;
  const px = u16data(w * h, (i) => i * 997);
  const ref = Array.from(new Uint16Array(px.buffer));

  test("u16 in every encoding, both byte orders, classic and BigTIFF, several strips", () => {
    for (const be of [false, true])
      for (const big of [false, true])
        for (const compression of [1, 8, 32773])
          for (const predictor of compression === 8 ? [1, 2] : [1]) {
            const f = tmp.write("e.tif", tiff([{ w, h, bits: 16, format: 1, data: px, compression, predictor, rowsPerStrip: 3 }, { w, h, bits: 16, format: 1, data: px }], { be, big }));
            const v = readTiff(f);
            expect(v.shape).toEqual([2, h, w]);
            expect(v.dtype).toBe("u16");
            expect(Array.from(v.data)).toEqual([...ref, ...ref]);
          }
  });
  test("u8, i8, i16, u32, i32, f32, f64 pages", () => {
    const cases: [number, number, string, ArrayLike<number>, (n: number) => Uint8Array][] = [
      [8, 1, "u8", [0, 255, 7], (n) => new Uint8Array([0, 255, 7].slice(0, n))],
      [8, 2, "i8", [-1, 5, -128], () => new Uint8Array(new Int8Array([-1, 5, -128]).buffer)],
      [16, 2, "i16", [-1024, 2986, 0], () => new Uint8Array(new Int16Array([-1024, 2986, 0]).buffer)],
      [32, 1, "u32", [4e9, 1, 2], () => new Uint8Array(new Uint32Array([4e9, 1, 2]).buffer)],
      [32, 2, "i32", [-5, 1, 2], () => new Uint8Array(new Int32Array([-5, 1, 2]).buffer)],
      [32, 3, "f32", [0.5, -1.25, 3], () => new Uint8Array(new Float32Array([0.5, -1.25, 3]).buffer)],
      [64, 3, "f64", [0.1, -1e300, 3], () => new Uint8Array(new Float64Array([0.1, -1e300, 3]).buffer)],
    ];
    for (const [bits, format, dtype, values, make] of cases)
      for (const be of [false, true]) {
        const v = readTiff(tmp.write("t.tif", tiff([{ w: 3, h: 1, bits, format, data: make(3) }], { be })));
        expect(v.dtype as string).toBe(dtype);
        expect(Array.from(v.data)).toEqual(Array.from(values));
      }
  });
  test("ImageJ spacing and unit", () => {
    const v = readTiff(
      tmp.write(
        "ij.tif",
        tiff([{ w, h, bits: 16, format: 1, data: px, description: "ImageJ=1.53t\nimages=1\nunit=micron\nspacing=2.5\n", extra: [[296, 3, 1, 1]] }]),
      ),
    );
    expect(v.spacing[0]).toBe(2.5);
    expect(v.unit).toBe("um");
  });
  test("folder of slices: natural order, and pages that disagree", () => {
    const dir = join(tmp.dir, "slices");
    mkdirSync(dir);
    for (const z of [10, 2, 1]) tmp.write(`slices/s${z}.tif`, tiff([{ w: 2, h: 1, bits: 8, format: 1, data: new Uint8Array([z, z]) }]));
    expect(Array.from(readTiff(dir).data)).toEqual([1, 1, 2, 2, 10, 10]);
    tmp.write("slices/s11.tif", tiff([{ w: 3, h: 1, bits: 8, format: 1, data: new Uint8Array(3) }]));
    expect(err(() => readTiff(dir)).message).toContain("all pages must agree");
    const empty = join(tmp.dir, "empty");
    mkdirSync(empty);
    expect(err(() => readTiff(empty)).message).toContain("no .tif");
  });
  test("unsupported kinds are named", () => {
    const base = { w, h, bits: 16, format: 1, data: px };
    const lzw = tiff([{ ...base }]);
    // patch compression 1 -> 5 (LZW) in the IFD
    const dv = new DataView(lzw.buffer);
    const ifd = dv.getUint32(4, true);
    for (let i = 0; i < dv.getUint16(ifd, true); i++) if (dv.getUint16(ifd + 2 + 12 * i, true) === 259) dv.setUint16(ifd + 2 + 12 * i + 8, 5, true);
    expect(err(() => readTiff(tmp.write("lzw.tif", lzw))).message).toContain("LZW");
    const rgb = tiff([{ ...base }]);
    const d2 = new DataView(rgb.buffer);
    for (let i = 0; i < d2.getUint16(ifd, true); i++) if (d2.getUint16(ifd + 2 + 12 * i, true) === 277) d2.setUint16(ifd + 2 + 12 * i + 8, 3, true);
    expect(err(() => readTiff(tmp.write("rgb.tif", rgb))).message).toContain("samples per pixel");
    expect(err(() => readTiff(tmp.write("tile.tif", tiff([{ ...base, extra: [[322, 3, 1, 16]] }])))).message).toContain("tiled");
    expect(err(() => readTiff(tmp.write("b12.tif", tiff([{ ...base, bits: 12 }])))).message).toContain("12-bit");
  });
  test("corrupt, truncated and lying files", () => {
    const good = tiff([{ w, h, bits: 16, format: 1, data: px }, { w, h, bits: 16, format: 1, data: px }]);
    expect(err(() => readTiff(tmp.write("m.tif", "GIF89a, certainly not a TIFF"))).message).toContain("wrong magic");
    expect(err(() => readTiff(tmp.write("t.tif", good.subarray(0, 60)))).message).toMatch(/truncated|outside the file/);
    // a page that claims to be 100000 x 100000: its single strip lies past the end of the file
    const lie = tiff([{ w: 2, h: 2, bits: 16, format: 1, data: new Uint8Array(8) }]);
    const dv = new DataView(lie.buffer);
    const ifd = dv.getUint32(4, true);
    for (let i = 0; i < dv.getUint16(ifd, true); i++) {
      const tag = dv.getUint16(ifd + 2 + 12 * i, true);
      if (tag === 256 || tag === 257 || tag === 278) dv.setUint32(ifd + 2 + 12 * i + 8, 100000, true);
    }
    const e = err(() => readTiff(tmp.write("lie.tif", lie)));
    expect(e.code).toBe("corrupt_file");
    expect(e.message).toMatch(/truncated|strip/);
    // an IFD chain that loops
    const loop = good.slice();
    const l = new DataView(loop.buffer);
    const first = l.getUint32(4, true);
    const n = l.getUint16(first, true);
    const next = l.getUint32(first + 2 + 12 * n, true);
    const n2 = l.getUint16(next, true);
    l.setUint32(next + 2 + 12 * n2, first, true);
    expect(err(() => readTiff(tmp.write("loop.tif", loop))).message).toContain("loops");
    // corrupt deflate
    const def = tiff([{ w, h, bits: 16, format: 1, data: px, compression: 8 }]);
    def.fill(0xaa, 10, 20);
    expect(err(() => readTiff(tmp.write("def.tif", def))).message).toContain("Deflate");
    expect(err(() => readTiff(join(tmp.dir, "missing.tif"))).code).toBe("not_found");
  });
});
