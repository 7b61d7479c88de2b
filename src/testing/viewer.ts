/**
 * What the viewer's browser tests and `remotevis bench viewer` share: a real instance as a
 * child process (CPU renderer) holding the real CT, and Debian's chromium driven by
 * playwright-core with a fresh profile.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstanceClient } from "../client/instance.ts";
import { selfArgv } from "../cli/self.ts";
import { readVolume } from "../formats/index.ts";

export const CHROMIUM = "/usr/bin/chromium";
export const CT = new URL("../../data/ct/cranium.raw", import.meta.url).pathname;
const CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export interface RunningInstance extends AsyncDisposable {
  url: string;
  base: string;
  secret: string;
  pid: number;
  log: () => string;
}

/** Starts `remotevis instance --renderer cpu` alone and waits for the `url:` line of its log. */
export async function startInstance(o: { threads?: number } = {}): Promise<RunningInstance> {
  const secret = Buffer.from(crypto.getRandomValues(new Uint8Array(24))).toString("base64url");
  const env: Record<string, string> = { ...(process.env as Record<string, string>), REMOTEVIS_INSTANCE_SECRET: secret };
  if (o.threads) env.OMP_NUM_THREADS = String(o.threads);
  const p = Bun.spawn([...selfArgv(), "instance", "--renderer", "cpu"], { env, stdout: "pipe", stderr: "pipe" });
  let out = "";
  const reader = p.stdout.getReader();
  const deadline = Date.now() + 30_000;
  while (!/url: (\S+)/.test(out)) {
    if (Date.now() > deadline) throw new Error(`instance did not print its URL: ${out}`);
    const { value, done } = await reader.read();
    if (done) throw new Error(`instance exited: ${out} ${await new Response(p.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  // Keep reading so the pipe never fills.
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) break;
      out += new TextDecoder().decode(value);
    }
  })();
  const url = /url: (\S+)/.exec(out)![1]!;
  return {
    url,
    base: new URL(url).origin,
    secret,
    pid: p.pid,
    log: () => out,
    async [Symbol.asyncDispose]() {
      p.kill("SIGTERM");
      await Promise.race([p.exited, Bun.sleep(5000)]);
      if (p.exitCode === null) p.kill("SIGKILL");
    },
  };
}

/** Sends the CT of scripts/testdata.sh to the instance; returns the volume for comparisons. */
export async function sendCt(url: string, path = CT) {
  const vol = await readVolume(path);
  const inst = await InstanceClient.connect(url);
  try {
    await inst.renderVolume(vol.data as Int16Array, { shape: vol.shape, spacing: vol.spacing, name: "cranium", dtype: "int16" });
    await inst.setRender({ tf: { preset: "ct-bone" }, window: [-1024, 2986] });
  } finally {
    inst.close();
  }
  return vol;
}

/** Debian's chromium, headless, with a fresh profile that is removed on dispose. */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  const profile = mkdtempSync(join(tmpdir(), "remotevis-chromium-"));
  // The fresh profile folder is chromium's --user-data-dir (playwright passes it).
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  return {
    context,
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Percentile of a list (nearest rank). */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
