/** A real `remotevis instance` process for tests (no middleware), with its URL and secret. */
import { cli } from "./cli.ts";
import type { Started } from "../process/child.ts";

export interface TestInstance {
  url: string;
  secret: string;
  port: number;
  proc: Started;
  stop(): Promise<void>;
}

export async function startInstance(o: { maxBytes?: number; env?: Record<string, string>; args?: string[] } = {}): Promise<TestInstance> {
  const secret = `test-secret-${crypto.randomUUID()}`;
  const proc = cli(["instance", "--renderer", "cpu", ...(o.maxBytes ? ["--max-bytes", String(o.maxBytes)] : []), ...(o.args ?? [])], { REMOTEVIS_INSTANCE_SECRET: secret, ...o.env });
  const url = (await proc.waitFor(/url: (http\S+)/, 30_000))[1]!;
  return {
    url,
    secret,
    port: Number(new URL(url).port),
    proc,
    async stop() {
      proc.proc.kill("SIGTERM");
      await proc.done(10_000).catch(() => proc.proc.kill("SIGKILL"));
    },
  };
}
