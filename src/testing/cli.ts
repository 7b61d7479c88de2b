/** Running the real CLI from tests: from source (`bun src/main.ts`) or a given executable. */
import { start, type Started } from "../process/child.ts";

export const REPO = new URL("../../", import.meta.url).pathname;
export const FROM_SOURCE = [process.execPath, `${REPO}src/main.ts`];

export const UCX_QUIET = { UCX_LOG_LEVEL: "error", UCX_WARN_UNUSED_ENV_VARS: "n" };

export function cli(args: string[], env: Record<string, string> = {}, exe: string[] = FROM_SOURCE, prefix: string[] = []): Started {
  return start([...prefix, ...exe, ...args], { ...UCX_QUIET, ...env });
}

/** Parses the JSON-lines events a command printed with --json. */
export function events(out: string): Record<string, unknown>[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
