/** For tests: waiting on a condition that real processes bring about (no fixed sleeps). */

/** Polls `f` every `every` ms until it gives a value (not undefined), or throws once `ms` pass. */
export async function until<T>(what: string, f: () => Promise<T | undefined>, ms = 20_000, every = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms / 1000} s waiting for ${what}`);
    await Bun.sleep(every);
  }
}
