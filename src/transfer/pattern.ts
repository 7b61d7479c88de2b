/**
 * A position-dependent test pattern, so a transfer that shifts, drops or repeats bytes is
 * caught (a constant fill would not be). Used by `remotevis client send -` / `receive --out -`,
 * the tests and the benchmark.
 */
import { NativeBuffer } from "./native-buffer.ts";

const K = 0x9e3779b1;
/** Bytes per window of a NativeBuffer (a multiple of 4, so that words stay aligned). */
const PART = 2 ** 30;

function word(i: number, seed: number): number {
  return (Math.imul(i, K) ^ seed) >>> 0;
}

function tailByte(i: number, seed: number): number {
  return (i ^ seed ^ 0x5a) & 0xff;
}

/** The bytes in windows: [offset, view], every offset a multiple of 4. */
function* parts(buf: Uint8Array | NativeBuffer): Generator<[number, Uint8Array]> {
  if (!(buf instanceof NativeBuffer)) return yield [0, buf];
  for (let off = 0; off < buf.byteLength; off += PART) yield [off, buf.view(off, Math.min(PART, buf.byteLength - off))];
}

/** Fills `buf` (4-byte aligned start) with the pattern for `seed`. */
export function fillPattern<T extends Uint8Array | NativeBuffer>(buf: T, seed = 1): T {
  for (const [off, v] of parts(buf)) {
    const n = v.byteLength >>> 2;
    const w = new Uint32Array(v.buffer, v.byteOffset, n);
    const first = off / 4;
    for (let i = 0; i < n; i++) w[i] = word(first + i, seed);
    for (let i = n * 4; i < v.byteLength; i++) v[i] = tailByte(off + i, seed);
  }
  return buf;
}

/** Index of the first byte that differs from the pattern, or -1. */
export function findPatternMismatch(buf: Uint8Array | NativeBuffer, seed = 1): number {
  for (const [off, v] of parts(buf)) {
    const n = v.byteLength >>> 2;
    const w = new Uint32Array(v.buffer, v.byteOffset, n);
    const first = off / 4;
    for (let i = 0; i < n; i++) {
      if (w[i] === word(first + i, seed)) continue;
      const expect = new Uint8Array(new Uint32Array([word(first + i, seed)]).buffer);
      for (let b = 0; b < 4; b++) if (v[i * 4 + b] !== expect[b]) return off + i * 4 + b;
    }
    for (let i = n * 4; i < v.byteLength; i++) if (v[i] !== tailByte(off + i, seed)) return off + i;
  }
  return -1;
}
