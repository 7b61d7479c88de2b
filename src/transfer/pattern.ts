/**
 * A position-dependent test pattern, so a transfer that shifts, drops or repeats bytes is
 * caught (a constant fill would not be). Used by `remotevis client send -` / `receive --out -`,
 * the tests and the benchmark.
 */
const K = 0x9e3779b1;

function word(i: number, seed: number): number {
  return (Math.imul(i, K) ^ seed) >>> 0;
}

function tailByte(i: number, seed: number): number {
  return (i ^ seed ^ 0x5a) & 0xff;
}

/** Fills `buf` (4-byte aligned start) with the pattern for `seed`. */
export function fillPattern(buf: Uint8Array, seed = 1): Uint8Array {
  const n = buf.byteLength >>> 2;
  const w = new Uint32Array(buf.buffer, buf.byteOffset, n);
  for (let i = 0; i < n; i++) w[i] = word(i, seed);
  for (let i = n * 4; i < buf.byteLength; i++) buf[i] = tailByte(i, seed);
  return buf;
}

/** Index of the first byte that differs from the pattern, or -1. */
export function findPatternMismatch(buf: Uint8Array, seed = 1): number {
  const n = buf.byteLength >>> 2;
  const w = new Uint32Array(buf.buffer, buf.byteOffset, n);
  for (let i = 0; i < n; i++) {
    if (w[i] === word(i, seed)) continue;
    const expect = new Uint8Array(new Uint32Array([word(i, seed)]).buffer);
    for (let b = 0; b < 4; b++) if (buf[i * 4 + b] !== expect[b]) return i * 4 + b;
  }
  for (let i = n * 4; i < buf.byteLength; i++) if (buf[i] !== tailByte(i, seed)) return i;
  return -1;
}
