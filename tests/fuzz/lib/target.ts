/**
 * What a fuzz target is, and the loop that runs one: case `i` of seed `s` is made from
 * `caseRng(s, i)` alone, checked, and counted by outcome ("ok" or the error code it gave).
 * A broken property throws a PropertyBroken; the loop keeps the first few with their case
 * numbers (and the input's bytes, saved by the caller) and goes on.
 */
import { RemoteVisError } from "../../../src/errors.ts";
import { type Rng, caseRng } from "./prng.ts";

export class PropertyBroken extends Error {
  override name = "PropertyBroken";
}

export function broken(why: string): never {
  throw new PropertyBroken(why);
}

export interface Target<C = unknown, I = unknown> {
  name: string;
  /** Seeds and scratch space; once per run. `note` says what the seeds are (real or synthetic). */
  prepare(): Promise<{ ctx: C; note: string }>;
  /** The input of one case, from `rng` alone. */
  input(rng: Rng, ctx: C): I;
  /** Runs the code under test; returns the outcome ("ok" or an error code); throws PropertyBroken. */
  check(input: I, ctx: C): Promise<string> | string;
  /** The input as bytes, to save a failing one, and back (regression inputs; the file name may carry the extension). */
  bytes(input: I): Uint8Array;
  fromBytes(bytes: Uint8Array, fileName: string, ctx: C): I;
  cleanup?(ctx: C): void;
}

export interface Failure {
  case: number;
  why: string;
  input: Uint8Array;
}

export interface RunResult {
  target: string;
  seed: number;
  cases: number;
  seconds: number;
  outcomes: Record<string, number>;
  failures: Failure[];
  note: string;
}

/** The outcome of an exception from a reader: its code when it is ours, a broken property otherwise. */
export function outcomeOf(err: unknown): string {
  if (err instanceof PropertyBroken) throw err;
  if (err instanceof RemoteVisError) return err.code;
  const e = err as Error;
  broken(`threw ${e?.name ?? typeof err} instead of a RemoteVisError: ${String(e?.message ?? err).slice(0, 300)}`);
}

/** Runs saved inputs (tests/fuzz/regressions/TARGET/*) once each; failures keep the file name in `why`. */
export async function replay(t: Target, files: { name: string; bytes: Uint8Array }[]): Promise<RunResult> {
  const { ctx, note } = await t.prepare();
  const outcomes: Record<string, number> = {};
  const failures: Failure[] = [];
  const t0 = performance.now();
  try {
    for (const [i, f] of files.entries()) {
      try {
        const out = await t.check(t.fromBytes(f.bytes, f.name, ctx), ctx);
        outcomes[out] = (outcomes[out] ?? 0) + 1;
      } catch (err) {
        const why = err instanceof PropertyBroken ? err.message : `check itself failed: ${String((err as Error)?.stack ?? err).slice(0, 500)}`;
        failures.push({ case: i, why: `${f.name}: ${why}`, input: f.bytes });
      }
    }
  } finally {
    t.cleanup?.(ctx);
  }
  return { target: t.name, seed: 0, cases: files.length, seconds: (performance.now() - t0) / 1000, outcomes, failures, note };
}

export async function runTarget(
  t: Target,
  o: { seed: number; seconds: number; only?: number; maxFailures?: number; onCase?: (i: number) => void },
): Promise<RunResult> {
  const { ctx, note } = await t.prepare();
  const outcomes: Record<string, number> = {};
  const failures: Failure[] = [];
  const t0 = performance.now();
  let i = o.only ?? 0;
  let cases = 0;
  try {
    for (;;) {
      if (o.only === undefined ? performance.now() - t0 >= o.seconds * 1000 : cases === 1) break;
      o.onCase?.(i);
      const input = t.input(caseRng(o.seed, i), ctx);
      try {
        const out = await t.check(input, ctx);
        outcomes[out] = (outcomes[out] ?? 0) + 1;
      } catch (err) {
        const why = err instanceof PropertyBroken ? err.message : `check itself failed: ${String((err as Error)?.stack ?? err).slice(0, 500)}`;
        outcomes.BROKEN = (outcomes.BROKEN ?? 0) + 1;
        failures.push({ case: i, why, input: t.bytes(input) });
      }
      i++;
      cases++;
      if (failures.length >= (o.maxFailures ?? 5)) break;
    }
  } finally {
    t.cleanup?.(ctx);
  }
  return { target: t.name, seed: o.seed, cases, seconds: (performance.now() - t0) / 1000, outcomes, failures, note };
}
