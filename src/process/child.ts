/**
 * Child processes for benchmarks and tests: argv arrays only (never a shell string), output
 * collected as text, every wait bounded in time so a stuck child cannot hang a run.
 */
import { RemoteVisError } from "../errors.ts";

export interface Started {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** Resolves with the first stdout line matching `re`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** All stdout once the process ended. */
  done(timeoutMs?: number): Promise<{ code: number; out: string; err: string }>;
}

export function start(argv: string[], env: Record<string, string> = {}): Started {
  const proc = Bun.spawn(argv, { env: { ...process.env, ...env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reader = (async () => {
    for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) out += chunk;
  })();
  const errText = new Response(proc.stderr).text();
  /** `p`, or the child killed and an error after `ms`; the timer never outlives `p`. */
  const limit = async <T>(p: Promise<T>, ms: number, what: string): Promise<T> => {
    let timer: Timer | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        proc.kill("SIGKILL");
        reject(new RemoteVisError("child_timeout", `${argv[0]} ${what} took longer than ${ms / 1000} s`));
      }, ms);
    });
    try {
      return await Promise.race([p, expired]);
    } finally {
      clearTimeout(timer);
    }
  };
  return {
    proc,
    async waitFor(re, timeoutMs = 20_000) {
      const t0 = Date.now();
      for (;;) {
        const m = re.exec(out);
        if (m) return m;
        if (proc.exitCode !== null || Date.now() - t0 > timeoutMs)
          // stderr is whole only once the child exited; a child still running would hang here.
          throw new RemoteVisError("child_failed", `${argv.join(" ")} did not print ${re}: ${out} ${proc.exitCode !== null ? await errText : "(still running)"}`);
        await Bun.sleep(20);
      }
    },
    async done(timeoutMs = 120_000) {
      const code = await limit(proc.exited, timeoutMs, "run");
      await reader;
      return { code, out, err: await errText };
    },
  };
}

export async function run(argv: string[], env: Record<string, string> = {}, timeoutMs = 120_000) {
  const s = start(argv, env);
  const r = await s.done(timeoutMs);
  if (r.code !== 0) throw new RemoteVisError("child_failed", `${argv.join(" ")} failed (${r.code}): ${r.err.slice(-2000)}`);
  return r.out;
}
