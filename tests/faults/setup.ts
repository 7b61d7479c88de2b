/**
 * What the fault scenarios share: a real `remotevis serve` as root (own process, own config and
 * database in a throw-away folder) that can be killed and started again on the same port and
 * database, real munged and a real user (rvtest_a), and a small volume with its checksum.
 */
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { InstanceClient } from "../../src/client/instance.ts";
import { RemoteVis, type Instance } from "../../src/client/remotevis.ts";
import { spawnMiddleware } from "../../src/testing/middleware.ts";
import { ensureUser, freePort, mungeAs, sh } from "../../src/testing/users.ts";
import { checksum, lost } from "./report.ts";

export { until } from "../../src/testing/until.ts";

export const ROOT = new URL("../..", import.meta.url).pathname;
export const isRoot = process.getuid?.() === 0;
export const USER = "rvtest_a";

export interface FaultMiddleware {
  dir: string;
  url: string;
  port: number;
  proc: Bun.Subprocess<"ignore", "pipe", "pipe">;
  /** A client of USER (real MUNGE credentials). */
  rv: RemoteVis;
  /** Starts it again on the same port and database (after a kill). */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Settings of a local-mode middleware for scenarios that need nothing else: nothing ends by
 * grace, quick sweeps and heartbeats, room for 8 GPUs. */
export const LOCAL_SETTINGS = [`grace = "10m"`, `sweep = "0.5s"`, `heartbeat = "1s"`, `start-timeout = "30s"`, `stop-timeout = "3s"`, `gpu-limit = 8`];

/** Brings up munged and USER, then a middleware with `settings` (TOML lines) added to port and db. */
export async function faultMiddleware(prefix: string, settings: string[], o: { port?: number; env?: Record<string, string> } = {}): Promise<FaultMiddleware> {
  const up = sh([join(ROOT, "scripts/munge-up.sh")]);
  if (up.code !== 0) throw new Error(`scripts/munge-up.sh failed: ${up.out}`);
  ensureUser(USER);
  const dir = mkdtempSync(`/tmp/rv-fault-${prefix}-`);
  chmodSync(dir, 0o755);
  const port = o.port ?? (await freePort());
  const config = join(dir, "serve.toml");
  await Bun.write(config, [`port = ${port}`, `db = "${dir}/state/rv.db"`, ...settings].join("\n") + "\n");
  const env = { UCX_TLS: "tcp", ...o.env };
  const m: FaultMiddleware = {
    dir,
    port,
    url: "",
    proc: undefined as never,
    rv: undefined as never,
    async restart() {
      ({ proc: m.proc, url: m.url } = await spawnMiddleware(config, ROOT, env));
      m.rv = new RemoteVis({ middleware: m.url, credential: mungeAs(USER) });
    },
    async close() {
      for (const i of (await m.rv?.list({ all: false }).catch(() => [])) ?? []) if (i.state !== "stopped" && i.state !== "failed") await m.rv.stop(i.id).catch(() => {});
      m.rv?.close();
      if (m.proc && m.proc.exitCode === null) {
        m.proc.kill("SIGTERM");
        await m.proc.exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  await m.restart();
  return m;
}

/** A small volume whose bytes depend on `seed`, and its checksum. */
export function volume(seed: number, shape: [number, number, number] = [32, 32, 32]): { data: Uint8Array; shape: [number, number, number]; sum: string } {
  const data = new Uint8Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + seed * 17 + (i >> 7)) & 0xff;
  return { data, shape, sum: checksum(data) };
}

/** The checksum of the volume an instance returns now (retrieve_volume), or undefined if it cannot. */
export async function shownSum(url: string): Promise<string | undefined> {
  try {
    const c = await InstanceClient.connect(url, { timeoutMs: 5000 });
    try {
      return checksum((await c.retrieveVolume()).data);
    } finally {
      c.close();
    }
  } catch {
    return undefined;
  }
}

/** Sends `v` to the instance at `url` and waits until it is shown. */
export async function show(url: string, v: { data: Uint8Array; shape: [number, number, number] }, name = "old"): Promise<void> {
  const c = await InstanceClient.connect(url);
  try {
    await c.renderVolume(v.data, { shape: v.shape, name });
  } finally {
    c.close();
  }
}

/** The instance's pid from its /health (needs its URL with ?token=). */
export async function pidOf(url: string): Promise<number> {
  const t = new URL(url);
  return ((await (await fetch(`${t.origin}/health${t.search}`)).json()) as { pid: number }).pid;
}

/**
 * After a fault: shows a fresh 16^3 volume (from `seed`) on the new instance `next` and answers
 * how many volumes are lost: the bystander `other`'s (it showed `old` before the fault) and the
 * fresh one.
 */
export async function lostAfterFault(other: Instance, old: { sum: string }, next: Instance, seed: number): Promise<number> {
  const fresh = volume(seed, [16, 16, 16]);
  await show(next.url!, fresh, "fresh");
  return lost([
    [old.sum, await shownSum(other.url!)],
    [fresh.sum, await shownSum(next.url!)],
  ]);
}
