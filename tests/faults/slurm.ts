/**
 * Faults in slurm mode, with a real slurm (scripts/slurm-up.sh: one node, 2 fake GPUs) and the
 * middleware as root submitting jobs of rvtest_a:
 *  - a job that starts but never reports back: the job script sleeps instead of running
 *    remotevis (while a hold file exists). Within the start timeout the middleware fails the
 *    instance with a clear reason, cancels the job (slurm frees its GPU) and keeps serving.
 *  - slurmctld stopped and restarted while status queries keep coming: every query is
 *    answered (job state unknown, not dead), new starts get a clear 503, running instances
 *    keep their volume (checksum), and after the restart the states are right again.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Instance } from "../../src/client/remotevis.ts";
import { selfArgv } from "../../src/cli/self.ts";
import { procAlive } from "../../src/middleware/backends/procfs.ts";
import { sh } from "../../src/testing/users.ts";
import { lost, record, since } from "./report.ts";
import { faultMiddleware, isRoot, lostAfterFault, ROOT, show, shownSum, until, volume, type FaultMiddleware } from "./setup.ts";

const START_TIMEOUT_S = 5;
const squeueState = (job: string) => sh(["squeue", "--noheader", "--states=all", `--jobs=${job}`, "--format=%T"]).out.trim();

describe.skipIf(!isRoot)("slurm mode faults (real slurm, one node with 2 GPUs)", () => {
  let m: FaultMiddleware;
  let hold = "";
  let marks = "";

  /** Polls until the instance runs with a URL (fails at once if it ended). */
  const running = (id: string) =>
    until(`${id} running`, async () => {
      const i = await m.rv.status(id);
      if (i.state === "stopped" || i.state === "failed") throw new Error(`${id} is ${i.state}: ${i.reason}`);
      return i.state === "running" && i.url ? i : undefined;
    }, 30_000, 100);

  beforeAll(async () => {
    const up = sh([join(ROOT, "scripts/slurm-up.sh")], { env: { NODE_GPUS: "2", NODE_CPUS: "8" } });
    if (up.code !== 0) throw new Error(`scripts/slurm-up.sh failed: ${up.out}`);
    const dir = `/tmp/rv-fault-slurm-job-${process.pid}`;
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    hold = join(dir, "hold");
    marks = join(dir, "marks");
    mkdirSync(marks, { recursive: true });
    chmodSync(marks, 0o1777); // the job (as the user) leaves a mark here when it holds
    // The program of every job: remotevis, unless the hold file exists: then it never reports back.
    const program = join(dir, "remotevis-or-hang.sh");
    const [bun, main] = selfArgv();
    writeFileSync(program, `#!/bin/sh\nif [ -e ${hold} ]; then touch ${marks}/$SLURM_JOB_ID; exec sleep 3600; fi\nexec ${bun} ${main ?? ""} "$@"\n`, { mode: 0o755 });
    m = await faultMiddleware("slurm", [
      `mode = "slurm"`,
      `slurm-program = "${program}"`,
      `grace = "10m"`,
      `sweep = "0.5s"`,
      `heartbeat = "1s"`,
      `start-timeout = "${START_TIMEOUT_S}s"`,
      `stop-timeout = "3s"`,
      `gpu-limit = 2`,
      `slurm-time = "10m"`,
      `slurm-timeout = "2s"`,
    ]);
  });
  afterAll(async () => {
    await m?.close();
    if (hold) rmSync(join(hold, ".."), { recursive: true, force: true });
  });

  test("a job that never reports back: failed at the start timeout, job cancelled, its GPU free for the next job", async () => {
    writeFileSync(hold, "");
    const t0 = performance.now();
    const victim = await m.rv.start({ shape: [16], dtype: "uint8", name: "never-reports" });
    const job = victim.job!.id;
    await until("the job to run its script", async () => (existsSync(join(marks, job)) ? true : undefined), 30_000);
    rmSync(hold);

    // A bystander job takes the node's other GPU; the user's limit (2) is now reached.
    const other = await running((await m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "bystander" })).id);
    const old = volume(3);
    await show(other.url!, old);
    await expect(m.rv.start({ shape: [16], dtype: "uint8" })).rejects.toMatchObject({ status: 409, code: "gpu_limit" });

    const failed = await until("the held job's instance to fail", async () => {
      const i = await m.rv.status(victim.id);
      return i.state === "failed" || i.state === "stopped" ? i : undefined;
    }, (START_TIMEOUT_S + 15) * 1000);
    const timeToError = since(t0);
    expect(failed.state).toBe("failed");
    expect(failed.reason).toContain(`did not report in within ${START_TIMEOUT_S}s (start timeout)`);
    await until("slurm to end the job", async () => (["CANCELLED", "COMPLETED", ""].includes(squeueState(job)) ? true : undefined), 15_000);
    const sleeper = sh(["pgrep", "-f", `sleep 3600`]).out.trim();
    expect(sleeper).toBe("");

    // Its GPU is free: a third job gets it (the bystander holds the other one) and runs.
    const next = await running((await m.rv.start({ shape: [16, 16, 16], dtype: "uint8", name: "after" })).id);
    const dataLost = await lostAfterFault(other, old, next, 4);
    record({ fault: "start timeout (slurm job script hangs)", injected: true, data_lost: dataLost, time_to_error_s: timeToError, checked: "failed with the reason, job cancelled, GPU free for the next job; bystander volume checksum" });
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(START_TIMEOUT_S + 10);
    await m.rv.stop(next.id);
    await m.rv.stop(other.id);
  }, 90_000);

  test("slurmctld stopped and restarted during queries: answered throughout, volumes kept, clear 503 for new starts", async () => {
    const keep = await running((await m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "keep" })).id);
    const old = volume(5);
    await show(keep.url!, old);

    // Status queries all the while from 4 clients, each as soon as its last one was answered
    // (one takes the slurm timeout while the controller is down): each must be answered.
    let queries = 0;
    const failures: string[] = [];
    let querying = true;
    const poller = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (querying) {
          queries++;
          await m.rv.status(keep.id).catch((e: unknown) => failures.push(String(e)));
          await Bun.sleep(50);
        }
      }),
    );

    const pid = Number(readFileSync("/run/slurm/slurmctld.pid", "utf8").trim());
    process.kill(pid, "SIGTERM");
    await until("slurmctld to exit", async () => (procAlive(pid, null) ? undefined : true), 10_000, 50);
    let during: Instance;
    let timeToError = 0;
    let shownDuring: string | undefined;
    try {
      const t0 = performance.now();
      await expect(m.rv.start({ shape: [16], dtype: "uint8" })).rejects.toMatchObject({ status: 503, code: "scheduler_unavailable" });
      timeToError = since(t0);
      during = await m.rv.status(keep.id);
      shownDuring = await shownSum(keep.url!);
      await Bun.sleep(1500); // sweeps meanwhile must end nothing
    } finally {
      expect(sh(["/usr/sbin/slurmctld"]).code).toBe(0); // keeps its saved state (no -c)
    }
    expect(during.state).toBe("running");
    expect(during.job?.state).toBe("unknown");
    const back = await until("slurmctld to answer again", async () => {
      const i = await m.rv.status(keep.id);
      return i.job?.state === "running" ? i : undefined;
    }, 30_000, 200);
    querying = false;
    await poller;
    expect(back.state).toBe("running");
    const dataLost = lost([
      [old.sum, shownDuring],
      [old.sum, await shownSum(keep.url!)],
    ]);
    record({ fault: "slurmctld stopped and restarted", injected: true, data_lost: dataLost, time_to_error_s: timeToError, checked: `${queries} status queries all answered; volume checksum during and after; 503 for new starts` });
    expect(failures).toEqual([]);
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(10);
    await m.rv.stop(keep.id);
  }, 90_000);
});
