/** Process facts from /proc: is a pid still the process we started (not a zombie, not reused)? */
import { readFileSync } from "node:fs";

/** Fields of /proc/PID/stat after the command name (which may contain spaces and parens). */
function statFields(pid: number): string[] | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** Start time in clock ticks since boot (field 22), the identity of a pid over time. */
export function procStart(pid: number): string | null {
  return statFields(pid)?.[19] ?? null;
}

export function procAlive(pid: number, start: string | null): boolean {
  const f = statFields(pid);
  if (!f || f[0] === "Z" || f[0] === "X") return false;
  return start === null || f[19] === start;
}

/** Real uid of a process (from /proc/PID/status), for tests and checks. */
export function procUid(pid: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
