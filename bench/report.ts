/**
 * The one output form of every benchmark (ARCHITECTURE.md): a JSON object per result, the
 * headline result last. `ratio` is value / baseline_value, so >= 1 is good when higher is better.
 */
export interface BenchInput {
  bench: string;
  case: string;
  value: number;
  unit: string;
  baseline: string;
  baseline_value: number;
  higher_is_better: boolean;
}

export type BenchResult = BenchInput & { ratio: number } & Record<string, unknown>;

const round = (x: number) => Math.round(x * 1000) / 1000;

/** Adds the ratio; `extra` fields (sizes, transports, percentiles) follow the standard ones. */
export function result(r: BenchInput, extra: Record<string, unknown> = {}): BenchResult {
  return { ...r, value: round(r.value), baseline_value: round(r.baseline_value), ratio: round(r.value / r.baseline_value), ...extra };
}

export function print(r: BenchResult): void {
  process.stdout.write(JSON.stringify(r) + "\n");
}
