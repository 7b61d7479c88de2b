/**
 * Fault: the network between two hosts (network namespaces joined by veth) is cut in the
 * middle of a 2 GiB transfer. Both sides must report an error within 10 s (no hang), the
 * receiver keeps serving, and once the link is back a new transfer arrives byte-exact (the
 * receiver verifies the sender's test pattern: a checksum of every byte), and the cut one was
 * never reported as received.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cli, events, REPO } from "../../src/testing/cli.ts";
import { record } from "./report.ts";

const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("SKIPPING the network fault test: it needs root (ip netns)");
const NS = { RV_NETNS_A: "rvfA", RV_NETNS_B: "rvfB" };
const netns = (cmd: string) => Bun.spawnSync(["bash", `${REPO}scripts/netns.sh`, cmd], { env: { ...process.env, ...NS } }).exitCode;
const link = (state: "up" | "down") => Bun.spawnSync(["ip", "-n", "rvfA", "link", "set", "rvfA-veth", state]).exitCode;
const inA = ["ip", "netns", "exec", "rvfA"];
const inB = ["ip", "netns", "exec", "rvfB"];
const env = { UCX_TLS: "tcp" };

describe.skipIf(!isRoot)("network cut between two hosts mid-transfer", () => {
  beforeAll(() => expect(netns("up")).toBe(0));
  afterAll(() => netns("down"));

  test("both sides fail within 10 s; after the link is back the next transfer is byte-exact", async () => {
    const rx = cli(["receive", "--port", "0", "--out", "-", "--json", "-q", "--count", "2", "--timeout", "5"], env, undefined, inA);
    const port = (await rx.waitFor(/"port":(\d+)/))[1]!;
    const tx = cli(["client", "send", "--to", `10.203.77.1:${port}`, "-", "--size", String(2 * 2 ** 30), "-q", "--timeout", "5"], env, undefined, inB);
    await rx.waitFor(/"event":"receiving"/, 60_000);
    expect(link("down")).toBe(0);
    const t0 = Date.now();
    const sent = await tx.done(20_000);
    const senderMs = Date.now() - t0;
    await rx.waitFor(/"event":"failed"/, 15_000);
    const receiverMs = Date.now() - t0;
    console.log(`network cut: sender error after ${senderMs} ms, receiver error after ${receiverMs} ms`);
    expect(sent.code).not.toBe(0);
    expect(senderMs).toBeLessThan(10_000);
    expect(receiverMs).toBeLessThan(10_000);

    expect(link("up")).toBe(0);
    const again = await cli(["client", "send", "--to", `10.203.77.1:${port}`, "-", "--size", String(64 * 2 ** 20 + 3), "-q"], env, undefined, inB).done(30_000);
    expect(again.code).toBe(0);
    const r = await rx.done(30_000);
    const got = events(r.out).filter((e) => e.event === "received");
    // Lost: the good transfer missing or not byte-exact, or the cut one taken as received.
    const dataLost = Math.abs(got.length - 1) + got.filter((e) => e.verified !== true).length;
    record({ fault: "network link cut mid-transfer (2 GiB, veth) and restored", injected: true, data_lost: dataLost, time_to_error_s: Math.max(senderMs, receiverMs) / 1000, checked: "both sides fail; cut transfer never received; next one byte-exact (pattern)" });
    expect(got.length).toBe(1);
    expect(got[0]!.verified).toBe(true);
  }, 120_000);
});
