/**
 * Fault: the middleware killed with SIGKILL while instances run, and started again on the same
 * port and database. Meanwhile the user's API calls fail at once with a clear error (not a
 * hang), the instances keep serving their volumes (checksums), and the restarted middleware
 * knows them as running with the same URLs, keeps getting their heartbeats, and starts new ones.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RemoteVisError } from "../../src/errors.ts";
import { lost, record, since } from "./report.ts";
import { faultMiddleware, isRoot, LOCAL_SETTINGS, show, shownSum, volume, type FaultMiddleware } from "./setup.ts";

describe.skipIf(!isRoot)("middleware killed with instances running, and restarted", () => {
  let m: FaultMiddleware;

  beforeAll(async () => {
    m = await faultMiddleware("middleware", LOCAL_SETTINGS);
  });
  afterAll(async () => {
    await m?.close();
  });

  test("calls fail at once while it is down; the instances keep their volumes; after the restart all is as before", async () => {
    const [x, y] = await Promise.all([m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "x" }), m.rv.start({ shape: [32, 32, 32], dtype: "uint8", name: "y" })]);
    const vx = volume(11);
    const vy = volume(12);
    await Promise.all([show(x.url!, vx), show(y.url!, vy)]);

    m.proc.kill("SIGKILL");
    await m.proc.exited;
    const t0 = performance.now();
    const down = await m.rv.list().then(
      () => null,
      (e: unknown) => e,
    );
    const timeToError = since(t0);
    expect(down).toBeInstanceOf(RemoteVisError);
    expect((down as RemoteVisError).code).toBe("unreachable");
    const during = [await shownSum(x.url!), await shownSum(y.url!)];

    await m.restart();
    const [sx, sy] = [await m.rv.status(x.id), await m.rv.status(y.id)];
    expect(sx).toMatchObject({ state: "running", url: x.url });
    expect(sy).toMatchObject({ state: "running", url: y.url });
    await Bun.sleep(2500); // heartbeats reach the new process; sweeps end nothing
    expect((await m.rv.status(x.id)).state).toBe("running");
    const z = await m.rv.start({ shape: [16, 16, 16], dtype: "uint8", name: "z" });
    const vz = volume(13, [16, 16, 16]);
    await show(z.url!, vz, "z");
    const dataLost = lost([
      [vx.sum, during[0]],
      [vy.sum, during[1]],
      [vx.sum, await shownSum(x.url!)],
      [vy.sum, await shownSum(y.url!)],
      [vz.sum, await shownSum(z.url!)],
    ]);
    record({ fault: "middleware SIGKILLed and restarted", injected: true, data_lost: dataLost, time_to_error_s: timeToError, checked: "API unreachable at once; 2 volumes checksummed while down and after; same URLs; new instance" });
    expect(dataLost).toBe(0);
    expect(timeToError).toBeLessThan(10);
    for (const i of [x, y, z]) expect((await m.rv.stop(i.id)).state).toBe("stopped");
  }, 90_000);
});
