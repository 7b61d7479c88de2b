/** A real `remotevis serve` for tests: started from a config file, its URL read from its first line. */
import { selfArgv } from "../cli/self.ts";

export interface SpawnedMiddleware {
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  url: string;
}

export async function spawnMiddleware(config: string, cwd: string, env: Record<string, string> = {}): Promise<SpawnedMiddleware> {
  const proc = Bun.spawn([...selfArgv(), "serve", "--config", config, "--json"], { stdin: "ignore", stdout: "pipe", stderr: "pipe", cwd, env: { ...process.env, ...env } });
  const reader = proc.stdout.getReader();
  let text = "";
  const deadline = Date.now() + 15_000;
  while (!text.includes("\n") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  reader.releaseLock();
  if (!text.includes('"listening"')) throw new Error(`middleware did not start: ${text} ${await new Response(proc.stderr).text()}`);
  return { proc, url: JSON.parse(text.split("\n")[0]!).url };
}
