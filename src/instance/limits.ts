/**
 * The byte limit fixed by the middleware when it started this instance (the volume that was
 * asked for, from which the GPU count was estimated). Every transfer into the instance must
 * pass checkTransferAllowed before a byte is received; the data path (control.ts) calls it.
 */
import { RemoteVisError } from "../errors.ts";

let maxBytes = Number.POSITIVE_INFINITY;

export function setTransferLimit(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RemoteVisError("usage", "--max-bytes must be a whole number >= 0");
  maxBytes = bytes;
}

export function transferLimit(): number {
  return maxBytes;
}

/** Throws 413 `over_limit` when `bytes` is more than this instance was started for. */
export function checkTransferAllowed(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RemoteVisError("invalid_size", "a transfer size must be a whole number of bytes >= 0", 400);
  if (bytes > maxBytes)
    throw new RemoteVisError(
      "over_limit",
      `a transfer of ${bytes} bytes is more than the ${maxBytes} bytes this instance was started for; start an instance with a larger shape`,
      413,
      { bytes, maxBytes },
    );
}
