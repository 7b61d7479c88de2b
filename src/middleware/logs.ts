/** The last lines of an instance's log, for error messages (start timeout, unexpected exit). */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";

export function logTail(path: string | null, lines = 15, maxBytes = 8192): string {
  if (!path) return "";
  try {
    const fd = openSync(path, "r");
    try {
      const size = fstatSync(fd).size;
      const n = Math.min(size, maxBytes);
      const buf = Buffer.alloc(n);
      readSync(fd, buf, 0, n, size - n);
      return buf.toString("utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } finally {
      closeSync(fd);
    }
  } catch {
    return "";
  }
}
