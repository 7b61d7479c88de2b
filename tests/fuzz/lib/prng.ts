/**
 * A small seeded PRNG (sfc32) so that every fuzz case can be made again: case `i` of a run
 * with seed `s` draws from `caseRng(s, i)` alone, so FUZZ_SEED=s FUZZ_CASE=i replays it.
 */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number, stream = 0) {
    this.a = seed >>> 0;
    this.b = (stream * 0x9e3779b9) >>> 0;
    this.c = 0x6a09e667 ^ stream;
    this.d = 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return n <= 0 ? 0 : Math.floor(this.float() * n);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 255;
    return out;
  }
}

export function caseRng(seed: number, i: number): Rng {
  return new Rng(seed ^ Math.imul(i, 0x85ebca6b), i);
}

/** FUZZ_SEED from the environment (decimal or 0x hex), else a fresh one. */
export function seedFromEnv(): number {
  const s = process.env.FUZZ_SEED;
  if (s) return Number(s) >>> 0;
  return (Math.random() * 2 ** 32) >>> 0;
}
