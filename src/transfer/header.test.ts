import { describe, expect, test } from "bun:test";
import { RemoteVisError } from "../errors.ts";
import { SSC_HEADER_SIZE } from "./ffi.ts";
import { decodeHeader, encodeHeader } from "./header.ts";
import { fillPattern, findPatternMismatch } from "./pattern.ts";

describe("application header", () => {
  test("round-trips metadata in exactly 128 KiB", () => {
    const h = encodeHeader({ shape: [2, 3, 4], dtype: "u16", name: "ü" });
    expect(h.byteLength).toBe(SSC_HEADER_SIZE);
    expect(decodeHeader(h)).toEqual({ shape: [2, 3, 4], dtype: "u16", name: "ü" });
  });
  test("refuses metadata that does not fit", () => {
    expect(() => encodeHeader({ big: "x".repeat(SSC_HEADER_SIZE) })).toThrow(/at most/);
  });
  test("refuses bad magic, bad length, bad JSON, wrong size", () => {
    const h = encodeHeader({ a: 1 });
    const bad = (mut: (b: Uint8Array) => Uint8Array) => {
      try {
        decodeHeader(mut(h.slice()));
        return "accepted";
      } catch (e) {
        return e instanceof RemoteVisError ? e.code : "other";
      }
    };
    expect(bad((b) => ((b[0] = 0), b))).toBe("invalid_header");
    expect(bad((b) => (new DataView(b.buffer).setUint32(4, 0xffffffff, true), b))).toBe("invalid_header");
    expect(bad((b) => ((b[8] = 0x7b), (b[9] = 0x7b), b))).toBe("invalid_header");
    expect(bad((b) => b.subarray(0, 100))).toBe("invalid_header");
    expect(bad((b) => (b.set(new TextEncoder().encode("[1]"), 8), new DataView(b.buffer).setUint32(4, 3, true), b))).toBe("invalid_header");
  });
});

describe("test pattern", () => {
  test("detects a single flipped byte anywhere, including the tail", () => {
    for (const size of [0, 1, 7, 4096, 4099]) {
      const b = fillPattern(new Uint8Array(size));
      expect(findPatternMismatch(b)).toBe(-1);
      if (size === 0) continue;
      const at = size - 1;
      b[at] = b[at]! ^ 1;
      expect(findPatternMismatch(b)).toBe(at);
    }
  });
  test("detects a shifted copy", () => {
    const a = fillPattern(new Uint8Array(4096));
    const b = new Uint8Array(4096);
    b.set(a.subarray(4), 0);
    expect(findPatternMismatch(b)).toBe(0);
  });
});
