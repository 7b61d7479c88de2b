/**
 * `remotevis bench transfer`: SSC-RDMA throughput through the real CLI (receiver and sender as
 * separate processes), per transport, against two baselines measured in the same run:
 * `ucx_perftest -t tag_bw` with the same UCX_TLS and size, and memcpy on this machine.
 *
 * Cases: tcp (loopback, UCX_TLS=tcp), shm (UCX_TLS=sm,tcp on one host), veth (UCX_TLS=tcp
 * between two network namespaces; needs root, skipped with a message otherwise).
 */
import { selfArgv } from "../src/cli/self.ts";
import { print, result, type BenchResult } from "./report.ts";
import { run, start } from "../src/process/child.ts";

export interface TransferBenchOpts {
  size: number;
  reps: number;
  cases: string[];
}

interface Where {
  tls: string;
  /** Extra environment: shared memory needs libsscrdma's opt-in mode (ssc_rdma.h, SSC_UCX_ERR_MODE). */
  env?: Record<string, string>;
  /** argv prefix that runs a command on the receiver/sender host. */
  rx: string[];
  tx: string[];
  host: string;
}

const ROOT = new URL("..", import.meta.url).pathname;
const UCX_ENV = { UCX_LOG_LEVEL: "error", UCX_WARN_UNUSED_ENV_VARS: "n" };

function where(c: string): Where {
  if (c === "tcp") return { tls: "tcp", rx: [], tx: [], host: "127.0.0.1" };
  // With peer-failure handling UCX 1.13 only takes transports that report a dead peer, which
  // on one host means TCP; SSC_UCX_ERR_MODE=none lets it use shared memory (dead peers are
  // then found by keepalive, ~1 s).
  if (c === "shm") return { tls: "sm,tcp", rx: [], tx: [], host: "127.0.0.1", env: { SSC_UCX_ERR_MODE: "none" } };
  if (c === "veth")
    return { tls: "tcp", rx: ["ip", "netns", "exec", "rvA"], tx: ["ip", "netns", "exec", "rvB"], host: "10.203.77.1" };
  throw new Error(`unknown case ${c} (tcp, shm, veth)`);
}

/** Best of `reps` sends of our own CLI, in GB/s (10^9 bytes/s). */
async function ours(w: Where, size: number, reps: number): Promise<number> {
  const env = { ...UCX_ENV, UCX_TLS: w.tls, ...w.env };
  const rx = start([...w.rx, ...selfArgv(), "receive", "--port", "0", "--out", "-", "--size", String(size), "--json", "--count", String(reps), "--timeout", "30"], env);
  const port = (await rx.waitFor(/"port":(\d+)/))[1]!;
  let best = 0;
  for (let i = 0; i < reps; i++) {
    const out = await run([...w.tx, ...selfArgv(), "client", "send", "--to", `${w.host}:${port}`, "-", "--size", String(size), "--json", "--timeout", "30"], env);
    best = Math.max(best, JSON.parse(out.trim().split("\n").pop()!).gbps);
  }
  const r = await rx.done(60_000);
  if (r.code !== 0) throw new Error(`receiver reported a failure: ${r.out}`);
  return best;
}

/** ucx_perftest tag_bw, same transport and message size, in GB/s. */
async function perftest(w: Where, size: number, reps: number): Promise<number> {
  const env = { ...UCX_ENV, UCX_TLS: w.tls };
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const server = start([...w.rx, "ucx_perftest", "-p", port], env);
  await Bun.sleep(500);
  const out = await run([...w.tx, "ucx_perftest", w.host, "-p", port, "-t", "tag_bw", "-s", String(size), "-n", String(reps + 1)], env);
  await server.done(30_000);
  const final = out.split("\n").find((l) => l.startsWith("Final:"));
  if (!final) throw new Error(`ucx_perftest printed no Final line: ${out}`);
  const mbPerS = Number(final.trim().split(/\s+/)[6]); // "overall" bandwidth, MB = 2^20 in UCX
  return (mbPerS * 1048576) / 1e9;
}

/** The lanes libsscrdma uses here (ssc_rdma.h, SSC_LANES): reported beside each figure. */
function lanes(): number {
  const env = Number(process.env.SSC_LANES);
  if (env >= 1) return Math.min(4, Math.floor(env));
  return navigator.hardwareConcurrency >= 8 ? 2 : 1;
}

/** memcpy of `size` bytes between pre-faulted buffers (TypedArray.set is memcpy), best of 3. */
function memcpy(size: number): number {
  const src = new Uint8Array(size).fill(7);
  const dst = new Uint8Array(size).fill(1);
  let best = 0;
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    dst.set(src);
    best = Math.max(best, size / ((performance.now() - t0) / 1000) / 1e9);
  }
  return best;
}

async function vethReady(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return "needs root (network namespaces)";
  const p = Bun.spawnSync(["bash", `${ROOT}scripts/netns.sh`, "up"], { stderr: "pipe" });
  return p.exitCode === 0 ? undefined : `scripts/netns.sh up failed: ${p.stderr.toString()}`;
}

export async function transferBench(o: TransferBenchOpts): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  const sizeName = o.size % 2 ** 30 === 0 ? `${o.size / 2 ** 30}GiB` : `${o.size}B`;
  const mem = memcpy(o.size);
  for (const c of o.cases) {
    if (c === "veth") {
      const why = await vethReady();
      if (why) {
        process.stderr.write(`bench transfer: skipping veth: ${why}\n`);
        continue;
      }
    }
    try {
      const w = where(c);
      const value = await ours(w, o.size, o.reps);
      const base = await perftest(w, o.size, o.reps);
      const extra = { transport: w.tls, size: o.size, lanes: lanes(), memcpy_gbps: Math.round(mem * 100) / 100 };
      const r = result({ bench: "transfer", case: `${c}-${sizeName}`, value, unit: "GB/s", baseline: "ucx_perftest tag_bw", baseline_value: base, higher_is_better: true }, extra);
      print(r);
      results.push(r);
      if (c === "shm") {
        const m = result({ bench: "transfer", case: `shm-${sizeName}-vs-memcpy`, value, unit: "GB/s", baseline: "memcpy", baseline_value: mem, higher_is_better: true });
        print(m);
        results.push(m);
      }
    } finally {
      if (c === "veth") Bun.spawnSync(["bash", `${ROOT}scripts/netns.sh`, "down"]);
    }
  }
  return results;
}
