/**
 * Fault: an instance that starts but never reports back (local mode). The instances report to
 * the middleware through a relay made here (the middleware's public-url): it forwards
 * everything, except that it never answers the ready report of the instance it is told to
 * hold. That instance is the real program, running as the user, listening on its port, but
 * the middleware never hears from it. Within the start timeout (5 s here) the middleware must
 * fail it with a clear reason, answer the waiting create request with that error, kill the
 * process (its port closes), give its GPUs back, and keep serving the others.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { procAlive } from "../../src/middleware/backends/procfs.ts";
import { freePort } from "../../src/testing/users.ts";
import { record, since } from "./report.ts";
import { faultMiddleware, isRoot, lostAfterFault, pidOf, show, until, volume, type FaultMiddleware } from "./setup.ts";

const START_TIMEOUT_S = 5;

/** The relay: forwards to the middleware; holds (never answers) the ready report of one instance. */
function reportRelay(port: number, target: () => string) {
  const held = new Map<string, { url: string; ports: { host: string; port: number } }>();
  let holdNext = false;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port,
    idleTimeout: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const m = /^\/api\/v1\/instances\/(i-[0-9a-f]{16})\/ready$/.exec(u.pathname);
      if (m && (holdNext || held.has(m[1]!))) {
        holdNext = false;
        const body = (await req.json()) as { host: string; port: number };
        const secret = (req.headers.get("authorization") ?? "").replace(/^Instance /, "");
        held.set(m[1]!, { url: `http://${body.host}:${body.port}/?token=${secret}`, ports: body });
        return new Promise<Response>(() => {}); // never answered: the instance's report times out
      }
      return fetch(`${target()}${u.pathname}${u.search}`, { method: req.method, headers: req.headers, body: req.body });
    },
  });
  return { server, held, holdNext: () => void (holdNext = true) };
}

const closed = async (host: string, port: number) => fetch(`http://${host}:${port}/`, { signal: AbortSignal.timeout(2000) }).then(() => false, () => true);

describe.skipIf(!isRoot)("start timeout, local mode: an instance that never reports back", () => {
  let m: FaultMiddleware;
  let relay: ReturnType<typeof reportRelay>;

  beforeAll(async () => {
    const relayPort = await freePort();
    relay = reportRelay(relayPort, () => m.url);
    m = await faultMiddleware("start-local", [
      `public-url = "http://127.0.0.1:${relayPort}"`,
      `grace = "10m"`,
      `sweep = "0.5s"`,
      `heartbeat = "1s"`,
      `start-timeout = "${START_TIMEOUT_S}s"`,
      `stop-timeout = "2s"`,
      `gpu-limit = 2`,
    ]);
  });
  afterAll(async () => {
    await m?.close();
    relay?.server.stop(true);
  });

  test("a waiting create gets a clear error at the start timeout; process killed, port closed, GPUs given back; others keep serving", async () => {
    // A bystander with a volume, running before the fault.
    const other = await m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "bystander" });
    const old = volume(1);
    await show(other.url!, old);

    relay.holdNext();
    const t0 = performance.now();
    const creating = m.rv.start({ shape: [16], dtype: "uint8", gpus: 1, name: "never-reports" }).then(
      () => null,
      (e: unknown) => e as { code?: string; message?: string; details?: { id?: string } },
    );
    const victim = await until("the held ready report", async () => [...relay.held.values()][0], 30_000);
    const pid = await pidOf(victim.url); // it runs, as a process of its own, and listens
    // Its GPU is taken while it starts: with the bystander's, the user's limit (2) is reached.
    await expect(m.rv.start({ shape: [16], dtype: "uint8", gpus: 1 }, { wait: false })).rejects.toMatchObject({ status: 409, code: "gpu_limit" });

    const err = await creating;
    const timeToError = since(t0);
    expect(err).toMatchObject({ code: "start_failed" });
    expect(err!.message).toContain("start timeout");
    const id = err!.details!.id!;
    const row = await m.rv.status(id);
    expect(row.state).toBe("failed");
    expect(row.reason).toContain("did not report in within");
    await until("the held instance's process to end", async () => (procAlive(pid, null) ? undefined : true), 5000);
    expect(await closed(victim.ports.host, victim.ports.port)).toBe(true);

    // Its GPU given back: one more may start now; the middleware and the bystander keep serving.
    const next = await m.rv.start({ shape: [16, 16, 16], dtype: "uint8", gpus: 1, name: "after" });
    expect(next.state).toBe("running");
    const dataLost = await lostAfterFault(other, old, next, 2);
    record({ fault: "start timeout (local, create waits)", injected: true, data_lost: dataLost, time_to_error_s: timeToError, checked: "502 start_failed at the timeout; process gone, port closed, GPUs free; bystander volume checksum" });
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(START_TIMEOUT_S + 10);
    await m.rv.stop(next.id);
    await m.rv.stop(other.id);
  }, 60_000);

  test("a create that does not wait: the sweep fails it at the start timeout, with the reason in its status", async () => {
    relay.holdNext();
    const t0 = performance.now();
    const created = await m.rv.start({ shape: [16], dtype: "uint8", name: "never-reports-2" }, { wait: false });
    expect(created.state).toBe("starting");
    const held = await until("the held ready report", async () => relay.held.get(created.id), 30_000);
    const pid = await pidOf(held.url);
    const failed = await until("the instance to fail", async () => {
      const s = await m.rv.status(created.id);
      return s.state === "failed" || s.state === "stopped" ? s : undefined;
    }, (START_TIMEOUT_S + 10) * 1000, 100);
    const timeToError = since(t0);
    expect(failed.state).toBe("failed");
    expect(failed.reason).toContain(`did not report in within ${START_TIMEOUT_S}s (start timeout)`);
    await until("the held instance's process to end", async () => (procAlive(pid, null) ? undefined : true), 5000);
    expect(await closed(held.ports.host, held.ports.port)).toBe(true);
    record({ fault: "start timeout (local, create answered at once)", injected: true, data_lost: 0, time_to_error_s: timeToError, checked: "state failed with the reason; process gone, port closed" });
    expect(timeToError).toBeLessThan(START_TIMEOUT_S + 10);
  }, 60_000);
});
