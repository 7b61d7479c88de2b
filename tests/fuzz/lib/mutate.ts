/**
 * Mutations of a file's bytes, the way a damaged or hostile file differs from a good one: bit
 * flips, bytes and integers set to boundary values (sizes that lie: 0, -1, 2^31, 2^32-1, 2^53),
 * numbers in text headers replaced by absurd ones, truncation, garbage appended, spans deleted,
 * duplicated or inserted. Most land in the header (the first `headerBytes`), where a reader
 * takes its decisions.
 */
import type { Rng } from "./prng.ts";

const INT_VALUES = [0, 1, 2, 3, 4, 7, 8, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xffffffff];
const BIG_VALUES = [0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, 2n ** 64n - 1n];
const TEXT_NUMBERS = ["0", "-1", "1", "2147483647", "2147483648", "4294967296", "9007199254740993", "99999999999999999999", "1e308", "-0", "0x10", "nan", "inf", ""];

function where(rng: Rng, length: number, headerBytes: number): number {
  if (length === 0) return 0;
  return rng.chance(0.75) ? rng.int(Math.min(length, headerBytes)) : rng.int(length);
}

function setInt(buf: Uint8Array, at: number, size: 1 | 2 | 4 | 8, value: bigint, le: boolean): void {
  const v = BigInt.asUintN(size * 8, value);
  for (let k = 0; k < size && at + k < buf.length; k++) {
    const shift = BigInt(le ? k : size - 1 - k) * 8n;
    buf[at + k] = Number((v >> shift) & 0xffn);
  }
}

/** Replaces one run of digits (an ASCII number in a text header) by another number. */
function mutateTextNumber(rng: Rng, buf: Uint8Array, headerBytes: number): Uint8Array {
  const end = Math.min(buf.length, headerBytes);
  const runs: [number, number][] = [];
  for (let i = 0; i < end; ) {
    if (buf[i]! >= 0x30 && buf[i]! <= 0x39) {
      let j = i;
      while (j < end && buf[j]! >= 0x30 && buf[j]! <= 0x39) j++;
      runs.push([i, j]);
      i = j;
    } else i++;
  }
  if (runs.length === 0) return buf;
  const [a, b] = rng.pick(runs);
  const text = rng.chance(0.7) ? rng.pick(TEXT_NUMBERS) : String(rng.u32() >>> rng.int(32));
  const rep = new TextEncoder().encode(text);
  const out = new Uint8Array(buf.length - (b - a) + rep.length);
  out.set(buf.subarray(0, a));
  out.set(rep, a);
  out.set(buf.subarray(b), a + rep.length);
  return out;
}

/** One mutation of `input` (a new array; the input is never changed). */
export function mutateOnce(rng: Rng, input: Uint8Array, headerBytes: number): Uint8Array {
  const buf = input.slice();
  const n = buf.length;
  switch (rng.int(11)) {
    case 0: {
      // flip a few bits
      for (let k = 1 + rng.int(8); k > 0 && n > 0; k--) buf[where(rng, n, headerBytes)]! ^= 1 << rng.int(8);
      return buf;
    }
    case 1: {
      // a byte to a boundary value
      if (n > 0) buf[where(rng, n, headerBytes)] = rng.pick([0, 1, 0x7f, 0x80, 0xff, 0x20, 0x0a, 0x30]);
      return buf;
    }
    case 2:
    case 3: {
      // an integer field that lies: 2, 4 or 8 bytes, either byte order, at any offset
      if (n === 0) return buf;
      const size = rng.pick([2, 4, 4, 8] as const);
      const value = size === 8 || rng.chance(0.3) ? rng.pick(BIG_VALUES) : BigInt(rng.pick(INT_VALUES));
      const at = where(rng, n, headerBytes);
      setInt(buf, rng.chance(0.5) ? at & ~(size - 1) : at, size, rng.chance(0.2) ? -value : value, rng.chance(0.8));
      return buf;
    }
    case 4:
      return mutateTextNumber(rng, buf, headerBytes);
    case 5: {
      // truncation: often inside the header
      const cut = rng.chance(0.5) ? rng.int(Math.min(n, headerBytes) + 1) : rng.int(n + 1);
      return buf.subarray(0, cut).slice();
    }
    case 6: {
      // garbage or zeros appended
      const extra = rng.chance(0.5) ? rng.bytes(1 + rng.int(64)) : new Uint8Array(1 + rng.int(4096));
      const out = new Uint8Array(n + extra.length);
      out.set(buf);
      out.set(extra, n);
      return out;
    }
    case 7: {
      // a span deleted
      if (n === 0) return buf;
      const a = where(rng, n, headerBytes);
      const len = 1 + rng.int(Math.min(64, n - a));
      const out = new Uint8Array(n - len);
      out.set(buf.subarray(0, a));
      out.set(buf.subarray(a + len), a);
      return out;
    }
    case 8: {
      // a span duplicated in place
      if (n === 0) return buf;
      const a = where(rng, n, headerBytes);
      const len = 1 + rng.int(Math.min(64, n - a));
      const out = new Uint8Array(n + len);
      out.set(buf.subarray(0, a + len));
      out.set(buf.subarray(a), a + len);
      return out;
    }
    case 9: {
      // random bytes inserted
      const a = where(rng, n, headerBytes);
      const ins = rng.bytes(1 + rng.int(16));
      const out = new Uint8Array(n + ins.length);
      out.set(buf.subarray(0, a));
      out.set(ins, a);
      out.set(buf.subarray(a), a + ins.length);
      return out;
    }
    default: {
      // a run of bytes overwritten by random ones
      if (n === 0) return buf;
      const a = where(rng, n, headerBytes);
      buf.set(rng.bytes(Math.min(1 + rng.int(16), n - a)), a);
      return buf;
    }
  }
}

/** 1 to `max` stacked mutations. */
export function mutate(rng: Rng, input: Uint8Array, headerBytes: number, max = 4): Uint8Array {
  let buf = input;
  for (let k = 1 + rng.int(max); k > 0; k--) buf = mutateOnce(rng, buf, headerBytes);
  return buf;
}
