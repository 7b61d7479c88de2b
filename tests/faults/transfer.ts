/**
 * Faults in the middle of a 1 GiB render_volume, against instances started by a real
 * middleware (local mode, as rvtest_a, SSC-RDMA over TCP):
 *  - the sender (a separate client process) killed with SIGKILL: the instance reports the
 *    transfer failed within 10 s, still shows and returns its old volume (checksum), and takes
 *    the next volume.
 *  - the receiver (the instance process) killed with SIGKILL: the sender's render_volume fails
 *    within 10 s with a clear error, the middleware marks that instance failed with the reason,
 *    another instance keeps its volume (checksum), and new instances start.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { InstanceClient } from "../../src/client/instance.ts";
import { RemoteVisError } from "../../src/errors.ts";
import { cli, REPO } from "../../src/testing/cli.ts";
import { lost, record, since } from "./report.ts";
import { faultMiddleware, isRoot, LOCAL_SETTINGS, lostAfterFault, pidOf, show, shownSum, until, volume, type FaultMiddleware } from "./setup.ts";

const GiB = 2 ** 30;

describe.skipIf(!isRoot)("transfer faults: sender or receiver killed mid-transfer", () => {
  let m: FaultMiddleware;

  beforeAll(async () => {
    m = await faultMiddleware("transfer", LOCAL_SETTINGS);
  });
  afterAll(async () => {
    await m?.close();
  });

  test("sender killed: the transfer fails within 10 s, the old volume is still shown and returned, the next one arrives", async () => {
    const inst = await m.rv.start({ shape: [1024, 1024, 1024], dtype: "uint8", name: "receiver" });
    const old = volume(6);
    await show(inst.url!, old);
    const watch = await InstanceClient.connect(inst.url!);
    const events: Record<string, unknown>[] = [];
    const off = watch.on((e) => events.push(e));

    // The sender: its own process, sending 1 GiB through the client library.
    const script = join(m.dir, "sender.ts");
    writeFileSync(
      script,
      `import { InstanceClient } from "${REPO}src/client/instance.ts";
       const c = await InstanceClient.connect(process.env.URL);
       await c.renderVolume(new Uint8Array(${GiB}).fill(7), { shape: [1024, 1024, 1024], name: "killed" });`,
    );
    const sender = cli([], { URL: inst.url!, UCX_TLS: "tcp" }, [process.execPath, script]);
    await until("bytes to arrive", async () => (events.some((e) => e.event === "transfer" && Number(e.done) > 0) ? true : undefined), 30_000, 10);
    const arrivedBeforeKill = events.some((e) => e.event === "transfer" && e.state === "done");
    sender.proc.kill("SIGKILL");
    const t0 = performance.now();
    await until("the transfer to fail", async () => (events.some((e) => e.event === "transfer" && e.state === "failed") ? true : undefined), 15_000, 10);
    const timeToError = since(t0);
    off();

    const state = await watch.state();
    const shown = await shownSum(inst.url!);
    const next = volume(7);
    await watch.renderVolume(next.data, { shape: next.shape, name: "next" });
    const after = await shownSum(inst.url!);
    watch.close();
    const dataLost = lost([
      [old.sum, shown],
      [next.sum, after],
    ]);
    record({ fault: "sender killed mid-transfer (1 GiB)", injected: !arrivedBeforeKill, data_lost: dataLost, time_to_error_s: timeToError, checked: "old volume shown and returned (checksum), next volume byte-exact" });
    expect(arrivedBeforeKill).toBe(false);
    expect((state.volume as { name?: string } | undefined)?.name).toBe("old");
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(10);
    await m.rv.stop(inst.id);
  }, 90_000);

  test("receiver killed: the sender fails within 10 s, the middleware marks it failed, another instance keeps its volume", async () => {
    const [victim, other] = await Promise.all([
      m.rv.start({ shape: [1024, 1024, 1024], dtype: "uint8", name: "victim" }),
      m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "bystander" }),
    ]);
    const old = volume(8);
    await show(other.url!, old);
    const pid = await pidOf(victim.url!);
    const c = await InstanceClient.connect(victim.url!);
    const payload = new Uint8Array(GiB).fill(9);
    let sent = 0;
    let t0 = 0;
    const sending = c.renderVolume(payload, { shape: [1024, 1024, 1024], name: "lost", onProgress: (n) => void (sent = n) }).then(
      () => null,
      (e: unknown) => e,
    );
    await until("bytes to leave", async () => (sent > 0 ? true : undefined), 30_000, 5);
    const midway = sent < GiB;
    process.kill(pid, "SIGKILL");
    t0 = performance.now();
    const err = await sending;
    const timeToError = since(t0);
    c.close();
    expect(err).toBeInstanceOf(RemoteVisError);

    const failed = await until("the middleware to notice", async () => {
      const s = await m.rv.status(victim.id);
      return s.state === "failed" ? s : undefined;
    }, 10_000);
    expect(failed.reason).toContain("killed by SIGKILL");
    const next = await m.rv.start({ shape: [16, 16, 16], dtype: "uint8", name: "after" });
    const dataLost = await lostAfterFault(other, old, next, 10);
    record({ fault: "receiver (instance) killed mid-transfer (1 GiB)", injected: midway, data_lost: dataLost, time_to_error_s: timeToError, checked: `sender error (${(err as RemoteVisError).code}); instance failed in status; bystander volume checksum; new instance starts` });
    expect(midway).toBe(true);
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(10);
    await m.rv.stop(next.id);
    await m.rv.stop(other.id);
  }, 90_000);
});
