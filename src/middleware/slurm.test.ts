/**
 * Slurm mode with a real slurm: scripts/slurm-up.sh brings up slurmctld + slurmd for one node
 * on 127.0.0.1 with 2 fake GPUs; the middleware runs as root in its own process and submits
 * each instance as a job of its owner (real munge, real users). Needs root; skipped with a
 * message otherwise. About a minute and a half on 2 cores, most of it waiting for slurm's
 * time-limit check.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RemoteVis, type Instance } from "../client/remotevis.ts";
import { selfArgv } from "../cli/self.ts";
import { procAlive, procUid } from "./backends/procfs.ts";
import { parseGpus, parseQueue, slurmError, unreachable } from "./backends/slurm-commands.ts";
import { spawnMiddleware } from "../testing/middleware.ts";
import { until as untilEvery } from "../testing/until.ts";
import { ensureUser, freePort, mungeAs, sh } from "../testing/users.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("slurm tests skipped: they need root (slurmctld/slurmd via scripts/slurm-up.sh, useradd, sbatch --uid); CI runs them as root");

/** until() asking slurm at most every 200 ms by default (the pace these tests were timed with). */
const until = <T>(what: string, f: () => Promise<T | undefined>, ms = 20_000, every = 200) => untilEvery(what, f, ms, every);

const squeue = (job: string, fmt: string) => sh(["squeue", "--noheader", "--states=all", `--jobs=${job}`, `--format=${fmt}`]).out.trim();
const ctldPid = () => Number(readFileSync("/run/slurm/slurmctld.pid", "utf8").trim());

describe.skipIf(!isRoot)("slurm mode with a real slurm (one node, 2 fake GPUs)", () => {
  let dir = "";
  let url = "";
  let config = "";
  let mw: Bun.Subprocess<"ignore", "pipe", "pipe"> | undefined;
  let uidA = 0;
  let a: RemoteVis;

  async function startMiddleware(): Promise<void> {
    ({ proc: mw, url } = await spawnMiddleware(config, ROOT));
  }

  /**
   * Counts as opened (so the grace period leaves it alone): the access report an instance
   * sends when a viewer opens it, sent here with its secret. Answers the instance's pid.
   */
  async function open(i: Instance): Promise<{ pid: number }> {
    const t = new URL(i.url!);
    const secret = t.searchParams.get("token")!;
    const res = await fetch(`${url}/api/v1/instances/${i.id}/access`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Instance ${secret}` },
      body: JSON.stringify({ kind: "viewer" }),
    });
    expect(res.status).toBe(200);
    return (await (await fetch(`${t.origin}/health${t.search}`)).json()) as { pid: number };
  }

  const running = (id: string) =>
    until(`${id} running`, async () => {
      const i = await a.status(id);
      if (i.state === "stopped" || i.state === "failed") throw new Error(`${id} is ${i.state}: ${i.reason}`);
      return i.state === "running" && i.url ? i : undefined;
    });

  beforeAll(async () => {
    const up = sh([join(ROOT, "scripts/slurm-up.sh")], { env: { NODE_GPUS: "2", NODE_CPUS: "8" } });
    if (up.code !== 0) throw new Error(`scripts/slurm-up.sh failed: ${up.out}`);
    uidA = ensureUser("rvtest_a");
    dir = mkdtempSync("/tmp/rv-slurm-it-");
    chmodSync(dir, 0o755);
    config = join(dir, "serve.toml");
    // 1 MiB "GPUs": a 2 MiB volume needs 2 of them, which fills the node.
    await Bun.write(
      config,
      [
        `mode = "slurm"`,
        `port = ${await freePort()}`,
        `db = "${dir}/state/rv.db"`,
        `grace = "6s"`,
        `sweep = "0.5s"`,
        `heartbeat = "1s"`,
        `start-timeout = "30s"`,
        `stop-timeout = "5s"`,
        `gpu-memory = "1MiB"`,
        `working-set = 1`,
        `gpu-limit = 8`,
        `slurm-time = "10m"`,
        `slurm-timeout = "2s"`,
      ].join("\n") + "\n",
    );
    await startMiddleware();
    a = new RemoteVis({ middleware: url, credential: mungeAs("rvtest_a") });
  });

  afterAll(async () => {
    for (const i of (await a?.list({ all: false }).catch(() => [])) ?? []) await a.stop(i.id).catch(() => {});
    mw?.kill("SIGTERM");
    await mw?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test("more GPUs than the partition's nodes have: a clear error", async () => {
    await expect(a.start({ shape: [16], dtype: "uint8", gpus: 3 })).rejects.toMatchObject({
      status: 400,
      code: "gpus_unavailable",
      message: expect.stringContaining("partition 'rv' has at most 2 GPU(s) per node"),
    });
  });

  test("a job that can start at once: pending at once, then running with a URL, as the user with the estimated GPUs; cancel ends it", async () => {
    const t0 = performance.now();
    const created = await a.start({ shape: [2 * 2 ** 20], dtype: "uint8" });
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(created.job?.id).toMatch(/^\d+$/);
    expect(["pending", "starting", "running"]).toContain(created.state);
    expect(created.url).toBeNull();
    expect(created.gpus).toBe(2);
    const job = created.job!.id;
    const r = await running(created.id);
    expect(r.job?.state).toBe("running");
    expect(r.job?.node).toBe("rvnode");
    expect(r.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{43}$/);
    const { pid } = await open(r);
    expect(procUid(pid)).toBe(uidA);
    expect(squeue(job, "%u")).toBe("rvtest_a");
    // slurm gave it the estimated 2 GPUs; the secret is in its own environment, never in argv.
    const env = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    expect(env).toContain("CUDA_VISIBLE_DEVICES=0,1");
    const secret = new URL(r.url!).searchParams.get("token")!;
    expect(readFileSync(`/proc/${pid}/cmdline`, "utf8")).not.toContain(secret);
    expect(sh(["scontrol", "show", "job", job]).out).not.toContain(secret);

    const stopped = await a.stop(created.id);
    expect(stopped.state).toBe("stopped");
    expect(stopped.reason).toContain("stopped by rvtest_a");
    expect(stopped.job?.state).toBe("cancelled");
    expect(squeue(job, "%T")).toBe("CANCELLED");
    await until("the instance process to end", async () => (procAlive(pid, null) ? undefined : true), 5000);
  });

  test("node full: the second request stays pending with an expected start in the future; the grace period counts from its start", async () => {
    const big = await running((await a.start({ shape: [2 * 2 ** 20], dtype: "uint8" })).id);
    await open(big);
    const small = await a.start({ shape: [2 ** 20], dtype: "uint8" });
    expect(small.state).toBe("pending");
    const withStart = await until("an expected start time", async () => {
      const i = await a.status(small.id);
      return i.job?.expectedStart && i.job.reason ? i : undefined;
    });
    expect(withStart.state).toBe("pending");
    expect(withStart.job?.reason).toBe("Resources");
    expect(Date.parse(withStart.job!.expectedStart!)).toBeGreaterThan(Date.now() + 60_000);
    // The CLI says the same: job id, pending, expected start.
    const cli = sh([...selfArgv(), "client", "status", small.id, "--middleware", url]);
    expect(cli.code).toBe(0);
    expect(cli.out).toContain(`slurm job ${small.job!.id} pending (Resources), expected start`);
    // Pending longer than the grace period: not stopped (it has not started).
    await Bun.sleep(6500);
    expect((await a.status(small.id)).state).toBe("pending");
    // The big one ends: the small one starts, and nobody opens it within 6 s of its start.
    await a.stop(big.id);
    const r = await running(small.id);
    expect(r.job?.startedAt).not.toBeNull();
    const gone = await until("the grace period to stop it", async () => {
      const i = await a.status(small.id);
      return i.state === "stopped" ? i : undefined;
    }, 15_000);
    expect(gone.reason).toContain("grace period");
    expect(Date.parse(gone.stoppedAt!) - Date.parse(r.job!.startedAt!)).toBeGreaterThanOrEqual(6000);
    expect(gone.job?.state).toBe("cancelled");
  }, 60_000);

  test("a job that reaches its time limit ends the instance with reason timeout", async () => {
    const r = await running((await a.start({ shape: [16], dtype: "uint8" })).id);
    await open(r);
    // slurm's smallest --time is 1 minute; the end time is moved to 2 s from now instead (slurmctld
    // checks time limits every 30 s at most).
    const end = sh(["date", "-d", "+2 sec", "+%Y-%m-%dT%H:%M:%S"]).out.trim();
    const upd = sh(["scontrol", "update", `JobId=${r.job!.id}`, `EndTime=${end}`]);
    expect(upd.code).toBe(0);
    const ended = await until("the time limit", async () => {
      const i = await a.status(r.id);
      return i.state === "stopped" || i.state === "failed" ? i : undefined;
    }, 45_000, 500);
    expect(ended).toMatchObject({ state: "stopped", job: { state: "timeout" } });
    expect(ended.reason).toContain("timeout");
    expect(ended.reason).toContain("time limit");
  }, 60_000);

  test("slurmctld stopped: queries give unknown (not dead); after its restart the states are right", async () => {
    const big = await running((await a.start({ shape: [2 * 2 ** 20], dtype: "uint8" })).id);
    await open(big);
    const small = await a.start({ shape: [2 ** 20], dtype: "uint8" });
    expect(small.state).toBe("pending");
    const pid = ctldPid();
    process.kill(pid, "SIGTERM");
    await until("slurmctld to exit", async () => (procAlive(pid, null) ? undefined : true), 10_000, 100);
    try {
      const s = await a.status(small.id);
      expect(s.state).toBe("unknown");
      expect(s.job?.state).toBe("unknown");
      expect(s.job?.reason).toContain("did not answer");
      const b = await a.status(big.id);
      expect(b.state).toBe("running"); // it still reports in: the instance is fine
      expect(b.job?.state).toBe("unknown");
      await expect(a.start({ shape: [16], dtype: "uint8" })).rejects.toMatchObject({ status: 503, code: "scheduler_unavailable" });
      await Bun.sleep(1500); // sweeps meanwhile must not end anything
      expect(await a.status(big.id)).toMatchObject({ state: "running" });
    } finally {
      expect(sh(["/usr/sbin/slurmctld"]).code).toBe(0); // keeps its saved state (no -c)
    }
    const back = await until("slurmctld to answer", async () => {
      const i = await a.status(small.id);
      return i.state === "pending" ? i : undefined;
    }, 20_000, 300);
    expect(back.job?.state).toBe("pending");
    expect((await a.status(big.id)).job?.state).toBe("running");
    await a.stop(small.id);
    await a.stop(big.id);
  }, 60_000);

  test("middleware killed and restarted still knows its jobs, also those that changed meanwhile", async () => {
    const big = await running((await a.start({ shape: [2 * 2 ** 20], dtype: "uint8" })).id);
    await open(big);
    const small = await a.start({ shape: [2 ** 20], dtype: "uint8" });
    expect(small.state).toBe("pending");
    mw!.kill("SIGKILL");
    await mw!.exited;
    // While it is down: the big job is cancelled outside RemoteVis, so the small one starts.
    expect(sh(["scancel", big.job!.id]).code).toBe(0);
    await until("the small job to run", async () => (squeue(small.job!.id, "%T") === "RUNNING" ? true : undefined), 15_000);
    await startMiddleware();
    const b = await a.status(big.id);
    expect(b.state).toBe("stopped");
    expect(b.job?.state).toBe("cancelled");
    expect(b.reason).toContain("cancelled");
    const s = await running(small.id); // its instance retried its report until the middleware came back
    await open(s);
    expect(s.job?.state).toBe("running");
    expect((await a.stop(small.id)).state).toBe("stopped");
  }, 60_000);

});

describe("slurm output, parsed (no slurm needed)", () => {
  test("squeue lines: states, reasons, expected start, nodes; unknown states stay unknown", () => {
    const q = parseQueue("12|PENDING|Resources|1796027234|1796027534|\n13|RUNNING|None|1796026934|1796027234|rvnode\n14|NODE_FAIL|NodeDown|1796026000|1796026100|rvnode\n15|WEIRD|None|N/A|N/A|\n");
    expect(q.get("12")).toMatchObject({ state: "pending", reason: "Resources", startAt: 1796027234000, node: null });
    expect(q.get("13")).toMatchObject({ state: "running", reason: null, node: "rvnode" });
    expect(q.get("14")).toMatchObject({ state: "failed", ends: { as: "failed", why: "failed (node failure)" } });
    expect(q.get("15")).toMatchObject({ state: "unknown", startAt: null });
  });

  test("GPUs of a partition; a controller that does not answer is told apart", () => {
    expect(parseGpus("1|gpu:4\n2|gpu:a100:2(S:0-1)\n1|(null)\n")).toEqual({ perNode: 4, total: 8 });
    const down = { code: 1, out: "", err: "slurm_load_jobs error: Unable to contact slurm controller (connect failure)\n", timedOut: false };
    expect(unreachable(down)).toBe(true);
    expect(unreachable({ code: 1, out: "", err: "slurm_load_jobs error: Invalid job id specified\n", timedOut: false })).toBe(false);
    expect(slurmError({ code: 1, out: "", err: "sbatch: error: Batch job submission failed: Requested node configuration is not available\n", timedOut: false })).toBe(
      "Requested node configuration is not available",
    );
  });
});
