/**
 * The slurm commands, described as data (argv templates, never shell strings), the one way
 * they are run (bounded in time: a controller that does not answer must not hang a request)
 * and the parsing of what they print. slurm.ts decides; this file only talks to slurm.
 */
import { join } from "node:path";
import { RemoteVisError } from "../../errors.ts";
import type { JobStatus } from "./backend.ts";
import { slurmState } from "./slurm-states.ts";

/**
 * argv templates; `{name}` is replaced in each element. squeue prints one line per job:
 * id|state|reason|start|end|nodes, times as seconds since the epoch (SLURM_TIME_FORMAT=%s).
 * For a pending job the start is slurm's expected start (what `squeue --start` shows).
 */
export const SLURM_ARGV = {
  submit: ["sbatch", "--parsable"],
  query: ["squeue", "--noheader", "--states=all", "--jobs={ids}", "--format=%i|%T|%r|%S|%e|%N"],
  cancel: ["scancel", "{id}"],
  partitionGpus: ["sinfo", "--noheader", "--partition={partition}", "--format=%D|%G"],
  defaultPartition: ["sinfo", "--noheader", "--format=%P"],
} as const;

export function fill(template: readonly string[], vars: Record<string, string>): string[] {
  return template.map((a) => a.replace(/\{(\w+)\}/g, (m, k: string) => vars[k] ?? m));
}

export interface CmdResult {
  code: number | null;
  out: string;
  err: string;
  timedOut: boolean;
}

/** Runs argv[0] from `bin` (or PATH), killed after `timeoutMs`. */
export async function runSlurm(argv: string[], o: { bin: string; timeoutMs: number; env?: Record<string, string> }): Promise<CmdResult> {
  const program = o.bin ? join(o.bin, argv[0]!) : argv[0]!;
  let proc;
  try {
    proc = Bun.spawn([program, ...argv.slice(1)], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "pipe",
      env: o.env ?? { ...process.env, SLURM_TIME_FORMAT: "%s" },
    });
  } catch (err) {
    throw new RemoteVisError("scheduler_missing", `cannot run ${program}: ${err instanceof Error ? err.message : err}; is slurm (slurm-client) installed?`, 500);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, o.timeoutMs);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code: timedOut ? null : code, out, err, timedOut };
}

/** The controller did not answer (down, restarting, overloaded): retry later, never "dead". */
export function unreachable(r: CmdResult): boolean {
  return r.timedOut || /unable to contact slurm controller|socket timed out|connection refused|zero bytes were transmitted|slurm_receive_msg|communication connection failure/i.test(r.err);
}

/** The first error line of a slurm command, without the program's prefix. */
export function slurmError(r: CmdResult): string {
  if (r.timedOut) return "no answer in time";
  const line = r.err.split("\n").find((l) => /error/i.test(l)) ?? r.err.split("\n").find((l) => l.trim()) ?? `exit status ${r.code}`;
  return line.replace(/^\w+: error: /, "").replace(/^Batch job submission failed: /, "").trim();
}

/** `squeue` lines -> status by job id. */
export function parseQueue(out: string): Map<string, JobStatus> {
  const jobs = new Map<string, JobStatus>();
  for (const line of out.split("\n")) {
    const f = line.trim().split("|");
    if (f.length < 6 || !/^\d+/.test(f[0]!)) continue;
    const [id, raw, reason, start, , nodes] = f as [string, string, string, string, string, string];
    const info = slurmState(raw);
    const t = Number(start);
    jobs.set(id, {
      state: info.state,
      raw,
      reason: reason && reason !== "None" && reason !== "(null)" ? reason : null,
      startAt: Number.isFinite(t) && t > 0 ? t * 1000 : null,
      node: nodes && nodes !== "(null)" && nodes !== "n/a" ? nodes : null,
      ...(info.ends ? { ends: info.ends } : {}),
    });
  }
  return jobs;
}

/** `sinfo --format=%D|%G` -> GPUs of the largest node and in all ("gpu:4", "gpu:a100:2(S:0)"). */
export function parseGpus(out: string): { perNode: number; total: number } {
  let perNode = 0;
  let total = 0;
  for (const line of out.split("\n")) {
    const [count, gres] = line.trim().split("|");
    if (!count || !gres) continue;
    let n = 0;
    for (const m of gres.matchAll(/gpu(?::[\w.-]+)?:(\d+)/g)) n += Number(m[1]);
    perNode = Math.max(perNode, n);
    total += n * Number(count);
  }
  return { perNode, total };
}
