import { afterAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { join } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { readRaw } from "./raw.ts";
import { ensureTestData, err, scratch } from "./testdata.ts";
import { toC } from "./types.ts";

setDefaultTimeout(30_000); // real files on a shared 2-core machine
const DATA = await ensureTestData();
const tmp = scratch();
afterAll(() => tmp.cleanup());

describe.skipIf(!DATA)("raw with a JSON sidecar (real data)", () => {
  test("cranium.raw + cranium.json: shape, dtype, spacing, window", () => {
    const v = readRaw(join(DATA!, "ct/cranium.raw"));
    expect(v.shape).toEqual([108, 256, 256]);
    expect(v.dtype).toBe("i16");
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(v.meta?.window).toEqual({ level: -18, width: 406 });
  });
  test("explicit shape and dtype override the sidecar", () => {
    const v = readRaw(join(DATA!, "ct/cranium.raw"), { shape: [216, 256, 128], dtype: "u16" });
    expect(v.shape).toEqual([216, 256, 128]);
    expect(v.dtype).toBe("u16");
  });
});

describe("raw: layouts and errors", () => {
  const bytes = new Uint8Array(new Uint16Array([1, 2, 3, 4, 5, 6, 0x0102, 0xfffe]).buffer);
  const file = tmp.write("v.raw", bytes);

  test("explicit layout, big-endian swap, F order", () => {
    const v = readRaw(file, { shape: [2, 2, 2], dtype: "u16", endian: "big", order: "F" });
    expect(Array.from(v.data)).toEqual([0x100, 0x200, 0x300, 0x400, 0x500, 0x600, 0x0201, 0xfeff]);
    const c = toC(readRaw(file, { shape: [2, 2, 2], dtype: "uint16", order: "F" }));
    // F: z fastest -> C index (z*2+y)*2+x = F index (x*2+y)*2+z
    expect(Array.from(c.data)).toEqual([1, 5, 3, 0x0102, 2, 6, 4, 0xfffe]);
  });
  test("offset skips a header", () => {
    const v = readRaw(file, { shape: [3], dtype: "u16", offset: 10 });
    expect(Array.from(v.data)).toEqual([6, 0x0102, 0xfffe]);
  });
  test("size must match exactly: a lying shape is refused before allocating", () => {
    const e = err(() => readRaw(file, { shape: [2, 2, 3], dtype: "u16" }));
    expect(e.code).toBe("corrupt_file");
    expect(e.message).toContain("file has 16 bytes but shape 2x2x3 of u16 needs 24");
  });
  test("absurd shapes whose product overflows, negative and fractional extents", () => {
    expect(err(() => readRaw(file, { shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], dtype: "f64" })).message).toContain("overflows");
    expect(err(() => readRaw(file, { shape: [-2, 2, 2], dtype: "u16" })).message).toContain("not positive");
    expect(err(() => readRaw(file, { shape: [1.5, 2, 2], dtype: "u16" })).message).toContain("not a whole number");
    expect(err(() => readRaw(file, { shape: [2, 2, 2], dtype: "u16", maxBytes: 8 })).code).toBe("too_large");
  });
  test("bad dtype, order, spacing, missing layout", () => {
    expect(err(() => readRaw(file, { shape: [8], dtype: "complex" })).message).toContain("dtype must be one of");
    expect(err(() => readRaw(file, { shape: [8], dtype: "u16", order: "X" as "C" })).code).toBe("bad_layout");
    expect(err(() => readRaw(file, { shape: [8], dtype: "u16", spacing: [1, 0, 1] })).message).toContain("spacing");
    expect(err(() => readRaw(file)).code).toBe("no_layout");
  });
  test("sidecar next to the file; broken sidecars", () => {
    const f = tmp.write("s.raw", bytes);
    tmp.write("s.json", JSON.stringify({ shape: [2, 4], dtype: "i16", spacing: [2, 1, 1], note: "x" }));
    const v = readRaw(f);
    expect(v.shape).toEqual([1, 2, 4]);
    expect(v.dtype).toBe("i16");
    expect(v.meta).toEqual({ note: "x" });
    const g = tmp.write("t.raw", bytes);
    tmp.write("t.json", "{not json");
    expect(err(() => readRaw(g)).message).toContain("not valid JSON");
    tmp.write("t.json", "[1,2]");
    expect(err(() => readRaw(g)).message).toContain("JSON object");
    tmp.write("t.json", JSON.stringify({ shape: "big", dtype: "u8" }));
    expect(err(() => readRaw(g)).message).toContain("shape must be");
  });
  test("missing file", () => {
    expect(err(() => readRaw(join(tmp.dir, "nope.raw"), { shape: [1], dtype: "u8" })).code).toBe("not_found");
  });
});
