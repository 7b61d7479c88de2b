/**
 * The fuzz child process: `bun tests/fuzz/lib/main.ts TARGET SECONDS SEED [CASE]` runs one
 * target (tests/fuzz/targets), `... TARGET replay FILE...` runs saved inputs once each; it
 * writes JSON lines: {"event":"start"}, {"event":"alive",
 * case} about twice a second (a silence means a hang; tests/fuzz/lib/child.ts watches), and
 * {"event":"done", result} with each failing input in base64. A child, so that a hang can be
 * killed and a crash of the runtime does not take the test run with it.
 */
import { installAllocWatch } from "./alloc-watch.ts";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { replay, runTarget } from "./target.ts";
import { targetByName } from "../targets/index.ts";

const [name, seconds, seed, only] = process.argv.slice(2) as [string, string, string, string | undefined];
const target = targetByName(name ?? "");
if (!target) {
  console.error(`unknown fuzz target ${name}`);
  process.exit(2);
}
installAllocWatch();
const line = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
line({ event: "start", pid: process.pid });
let last = 0;
const result =
  seconds === "replay"
    ? await replay(target, process.argv.slice(4).map((f) => ({ name: basename(f), bytes: new Uint8Array(readFileSync(f)) })))
    : await runTarget(target, {
  seed: Number(seed) >>> 0,
  seconds: Number(seconds),
  ...(only !== undefined ? { only: Number(only) } : {}),
  onCase(i) {
    const now = performance.now();
    if (now - last > 500) {
      last = now;
      line({ event: "alive", case: i });
    }
  },
});
line({ event: "done", result: { ...result, failures: result.failures.map((f) => ({ ...f, input: Buffer.from(f.input).toString("base64") })) } });
