/**
 * `remotevis receive` and `remotevis client send` as separate processes over real UCX: TCP,
 * shared memory, two namespaces joined by veth, failures of either side, and the compiled
 * executable copied alone into a temp folder.
 */
import { describe, expect, test } from "bun:test";
import { copyFileSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { cli, events, REPO } from "../testing/cli.ts";

const GiB = 2 ** 30;
const isRoot = process.getuid?.() === 0;

async function listening(rx: ReturnType<typeof cli>): Promise<string> {
  return (await rx.waitFor(/"port":(\d+)/))[1]!;
}

async function transfer(size: number, env: Record<string, string>, exe?: string[]) {
  const rx = cli(["receive", "--port", "0", "--out", "-", "--json", "-q"], env, exe);
  const port = await listening(rx);
  const tx = await cli(["client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", String(size), "--json", "-q"], env, exe).done();
  const r = await rx.done();
  return { tx, rx: r };
}

describe("transfer between two processes", () => {
  for (const [name, tls] of [
    ["tcp", "tcp"],
    ["shared memory", "sm,tcp"],
  ] as const) {
    test(`1 GiB + 7 B over ${name} arrives byte-exact`, async () => {
      const { tx, rx } = await transfer(GiB + 7, { UCX_TLS: tls });
      expect(tx.code).toBe(0);
      expect(rx.code).toBe(0);
      const got = events(rx.out).find((e) => e.event === "received")!;
      expect(got.bytes).toBe(GiB + 7);
      expect(got.verified).toBe(true);
    });
  }

  // Lanes (ssc_rdma.h, SSC_LANES): chunks on extra UCX workers, each a thread on both sides.
  // The 2-core CI defaults to one lane; asked for here, over shared memory, with a pattern
  // the receiver checks byte by byte.
  test("300 MiB + 3 B on 2 lanes over shared memory arrives byte-exact", async () => {
    const { tx, rx } = await transfer(300 * 2 ** 20 + 3, { UCX_TLS: "sm,tcp", SSC_UCX_ERR_MODE: "none", SSC_LANES: "2", SSC_CHUNK_BYTES: "16M" });
    expect(tx.code).toBe(0);
    expect(rx.code).toBe(0);
    expect(events(rx.out).find((e) => e.event === "received")?.verified).toBe(true);
  });

  test("two transfers at once", async () => {
    const env = { UCX_TLS: "tcp" };
    const [a, b] = await Promise.all([transfer(128 * 2 ** 20, env), transfer(96 * 2 ** 20 + 1, env)]);
    for (const r of [a, b]) {
      expect(r.tx.code).toBe(0);
      expect(events(r.rx.out).find((e) => e.event === "received")?.verified).toBe(true);
    }
  });

  test("a size other than the agreed one is refused on both sides and the file is not written", async () => {
    const out = `${mkdtempSync(`${tmpdir()}/rv-`)}/never.raw`;
    const rx = cli(["receive", "--port", "0", "--out", out, "--size", "100", "--json"], { UCX_TLS: "tcp" });
    const port = await listening(rx);
    const tx = await cli(["client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", "200"], { UCX_TLS: "tcp" }).done();
    expect(tx.code).toBe(1);
    expect(tx.err).toContain("size");
    const r = await rx.done();
    expect(r.code).toBe(1);
    expect(events(r.out).find((e) => e.event === "failed")?.code).toBe("size_mismatch");
    expect(existsSync(out)).toBe(false);
  });

  test("connecting to a port where nobody listens is a clear error", async () => {
    const r = await cli(["client", "send", "--to", "127.0.0.1:9", "-", "--size", "10", "--timeout", "3"], { UCX_TLS: "tcp" }).done();
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^remotevis: connect to 127\.0\.0\.1:9: /);
  });

  test("sender killed mid-transfer: the receiver reports it within 10 s and takes the next transfer", async () => {
    const env = { UCX_TLS: "tcp" };
    const rx = cli(["receive", "--port", "0", "--out", "-", "--json", "--count", "2", "--timeout", "5"], env);
    const port = await listening(rx);
    const victim = cli(["client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", String(2 * GiB), "-q"], env);
    await rx.waitFor(/"event":"receiving"/, 30_000);
    victim.proc.kill("SIGKILL");
    const t0 = Date.now();
    await rx.waitFor(/"event":"failed"/, 10_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const ok = await cli(["client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", "1000003", "-q"], env).done();
    expect(ok.code).toBe(0);
    const r = await rx.done();
    expect(events(r.out).filter((e) => e.event === "received").length).toBe(1);
  });

  test("receiver killed mid-transfer: the sender fails within 10 s", async () => {
    const env = { UCX_TLS: "tcp" };
    const rx = cli(["receive", "--port", "0", "--out", "-", "--json"], env);
    const port = await listening(rx);
    const tx = cli(["client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", String(2 * GiB), "-q", "--timeout", "5"], env);
    await rx.waitFor(/"event":"receiving"/, 30_000);
    rx.proc.kill("SIGKILL");
    const t0 = Date.now();
    const r = await tx.done(15_000);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^remotevis: send: /);
  });

  test.skipIf(!isRoot)("between two network namespaces joined by veth (UCX_TLS=tcp, 2 lanes)", async () => {
    const ns = { RV_NETNS_A: "rvtA", RV_NETNS_B: "rvtB" };
    const netns = (cmd: string) => Bun.spawnSync(["bash", `${REPO}scripts/netns.sh`, cmd], { env: { ...process.env, ...ns } });
    expect(netns("up").exitCode).toBe(0);
    try {
      // On 2 lanes: each lane's endpoint is made from the receiver's UCX worker address, which
      // must lead to the veth address here, not to a loopback of the other namespace.
      const env = { UCX_TLS: "tcp", SSC_LANES: "2" };
      const rx = cli(["receive", "--port", "0", "--out", "-", "--json", "-q"], env, undefined, ["ip", "netns", "exec", "rvtA"]);
      const port = await listening(rx);
      const tx = await cli(["client", "send", "--to", `10.203.77.1:${port}`, "-", "--size", String(256 * 2 ** 20 + 5), "-q"], env, undefined, [
        "ip", "netns", "exec", "rvtB",
      ]).done();
      expect(tx.code).toBe(0);
      const r = await rx.done();
      expect(events(r.out).find((e) => e.event === "received")?.verified).toBe(true);
      // The namespaces really separate the hosts: the receiver's address is not reachable from the root namespace.
      const outside = await cli(["client", "send", "--to", `10.203.77.1:${port}`, "-", "--size", "10", "--timeout", "2"], env).done();
      expect(outside.code).not.toBe(0);
    } finally {
      netns("down");
    }
  });
});

describe("the compiled executable", () => {
  test("runs alone from another folder: --version, --help and a loopback transfer", async () => {
    const built = `${REPO}dist/remotevis`;
    expect(existsSync(built)).toBe(true); // `make test` builds it first
    const dir = mkdtempSync(`${tmpdir()}/rv-exe-`);
    try {
      copyFileSync(built, `${dir}/remotevis`);
      Bun.spawnSync(["chmod", "+x", `${dir}/remotevis`]);
      const exe = [`${dir}/remotevis`];
      const v = await cli(["--version"], {}, exe).done();
      expect(v.out).toMatch(/^remotevis \d+\.\d+\.\d+/);
      const h = await cli(["client", "send", "--help"], {}, exe).done();
      expect(h.out).toContain("--to HOST:PORT");
      const { tx, rx } = await transfer(64 * 2 ** 20 + 1, { UCX_TLS: "sm,tcp" }, exe);
      expect(tx.code).toBe(0);
      expect(events(rx.out).find((e) => e.event === "received")?.verified).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("unknown commands and flags exit 2 with a hint", async () => {
    const a = await cli(["frobnicate"]).done();
    expect(a.code).toBe(2);
    expect(a.err).toContain("unknown command");
    const b = await cli(["receive", "--bogus"]).done();
    expect(b.code).toBe(2);
    expect(b.err).toContain("--help");
  });
});
