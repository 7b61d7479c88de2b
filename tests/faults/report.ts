/**
 * The fault suite's report (issue 13): every scenario records one line per fault it injected,
 * with how much data was lost (payloads whose checksum no longer matches, or that a reader was
 * shown although incomplete: must be 0) and how long the user waited for a clear error.
 * faults.test.ts prints the summary `faults: N injected, 0 data lost, max time to error X s`
 * and writes the table to build/faults-report.json (docs/RELIABILITY.md shows it).
 */
import { mkdirSync, writeFileSync } from "node:fs";

export interface FaultRecord {
  fault: string;
  /** Whether the fault really happened (a kill that came after the end would not count). */
  injected: boolean;
  /** Payloads (volumes, files) lost or shown corrupt after the fault. */
  data_lost: number;
  /** Seconds from the fault to the first clear error the user got; null where none is due. */
  time_to_error_s: number | null;
  /** What was checked, in a few words (the report's last column). */
  checked: string;
}

const records: FaultRecord[] = [];

export function record(r: FaultRecord): void {
  records.push({ ...r, time_to_error_s: r.time_to_error_s === null ? null : Math.round(r.time_to_error_s * 1000) / 1000 });
}

/** SHA-256 of the bytes, hex: the payload checksum every scenario compares. */
export function checksum(bytes: ArrayBufferView): string {
  return new Bun.CryptoHasher("sha256").update(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).digest("hex");
}

/** Counts the pairs whose checksums differ: each is one payload lost or corrupted. */
export function lost(pairs: [expected: string, got: string | undefined][]): number {
  return pairs.filter(([want, got]) => want !== got).length;
}

/** Seconds since `t0` (a performance.now() value). */
export const since = (t0: number) => (performance.now() - t0) / 1000;

export function summary(): string {
  const injected = records.filter((r) => r.injected);
  const dataLost = records.reduce((n, r) => n + r.data_lost, 0);
  const times = records.flatMap((r) => (r.time_to_error_s === null ? [] : [r.time_to_error_s]));
  const max = times.length ? Math.max(...times) : 0;
  return `faults: ${injected.length} injected, ${dataLost} data lost, max time to error ${max.toFixed(1)} s`;
}

export function writeReport(path: string): void {
  mkdirSync(new URL(".", `file://${path}`).pathname, { recursive: true });
  writeFileSync(path, JSON.stringify({ summary: summary(), faults: records }, null, 2) + "\n");
}
