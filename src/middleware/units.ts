/** Durations ("90s", "60m", "2h", "1d", "0" = off) and sizes for the configuration. */
import { RemoteVisError } from "../errors.ts";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** "60m" -> 3600000. A bare number is seconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new RemoteVisError("config", `${what}: not a duration; expected e.g. 30s, 60m, 2h, 1d or 0 (off)`);
  return Math.round(Number(m[1]) * UNIT_MS[(m[2] ?? "s") as keyof typeof UNIT_MS]);
}

export function formatDuration(ms: number): string {
  if (ms === 0) return "0";
  for (const [u, f] of [["d", 86_400_000], ["h", 3_600_000], ["m", 60_000], ["s", 1000]] as const)
    if (ms % f === 0) return `${ms / f}${u}`;
  return `${ms}ms`;
}
