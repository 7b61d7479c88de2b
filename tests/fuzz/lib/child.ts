/**
 * Runs one fuzz target in a child process (tests/fuzz/lib/main.ts) and watches it: a child
 * that says nothing for HANG_SECONDS is hung on one input and is killed; one that dies is a
 * crash. Failing inputs are written to build/fuzz/failures/ so they can become regression
 * inputs (tests/fuzz/regressions/TARGET/). Every run is appended to build/fuzz/runs.jsonl.
 */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RunResult } from "./target.ts";

export const REPO = new URL("../../../", import.meta.url).pathname;
export const HANG_SECONDS = 20;
const OUT = join(REPO, "build/fuzz");

export interface ChildRun extends Omit<RunResult, "failures"> {
  failures: { case: number; why: string; saved: string }[];
  /** set when the child hung or died instead of finishing */
  abnormal?: string;
}

/** Seconds per target: FUZZ_SECONDS for the long runs (make fuzz), else a short smoke. */
export function fuzzSeconds(smoke = 3): number {
  const s = Number(process.env.FUZZ_SECONDS);
  return Number.isFinite(s) && s > 0 ? s : smoke;
}

/** Fuzzes `target` for `seconds` from `seed` (or only case `only`), or replays saved input files. */
export async function runChild(target: string, seconds: number, seed: number, only?: number, replayFiles?: string[]): Promise<ChildRun> {
  const args = replayFiles ? ["replay", ...replayFiles] : [String(seconds), String(seed), ...(only !== undefined ? [String(only)] : [])];
  const argv = [process.execPath, join(REPO, "tests/fuzz/lib/main.ts"), target, ...args];
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe", cwd: REPO, env: { ...process.env, NO_COLOR: "1" } });
  const stderr = new Response(p.stderr).text();
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  let lastCase = -1;
  let done: (Omit<RunResult, "failures"> & { failures: { case: number; why: string; input: string }[] }) | undefined;
  let hung = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      hung = true;
      p.kill("SIGKILL");
    }, HANG_SECONDS * 1000);
  };
  arm();
  try {
    for (;;) {
      const { value, done: end } = await reader.read();
      if (end) break;
      arm();
      buffered += value;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const m = JSON.parse(line);
        if (m.event === "alive") lastCase = m.case;
        if (m.event === "done") done = m.result;
      }
    }
  } finally {
    clearTimeout(timer);
  }
  const code = await p.exited;
  mkdirSync(join(OUT, "failures"), { recursive: true });
  let run: ChildRun;
  if (done) {
    run = {
      ...done,
      failures: done.failures.map((f) => {
        const saved = join(OUT, "failures", `${target}-seed${seed}-case${f.case}.bin`);
        writeFileSync(saved, Buffer.from(f.input, "base64"));
        return { case: f.case, why: f.why, saved };
      }),
    };
  } else {
    const why = hung
      ? `hung: no word for ${HANG_SECONDS} s after case ${lastCase} (the input is still in /dev/shm/rv-fuzz-${target}-*/; replay with FUZZ_SEED=${seed} FUZZ_CASE=${lastCase + 1}..)`
      : `the child died (exit ${code}) after case ${lastCase}: ${(await stderr).trim().slice(-1500)}`;
    run = { target, seed, cases: lastCase + 1, seconds, outcomes: {}, failures: [], note: "", abnormal: why };
  }
  mkdirSync(OUT, { recursive: true });
  appendFileSync(join(OUT, "runs.jsonl"), `${JSON.stringify({ at: new Date().toISOString(), ...run })}\n`);
  return run;
}

/** One line for the test log: what ran, how much, what came out. */
export function summary(r: ChildRun): string {
  const outcomes = Object.entries(r.outcomes)
    .sort((a, b) => b[1] - a[1])
    .map(([k, n]) => `${k} ${n}`)
    .join(", ");
  return `fuzz ${r.target}: ${r.cases} cases in ${r.seconds.toFixed(1)} s (seed ${r.seed}), ${r.failures.length} failures${r.abnormal ? `, ${r.abnormal}` : ""}; outcomes: ${outcomes}`;
}
