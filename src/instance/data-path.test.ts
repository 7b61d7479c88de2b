/**
 * An instance's data path against a real instance process over real UCX: every dtype and
 * order round-trips (render_volume, then retrieve_volume byte-exact), boxes with steps, points,
 * and every kind of bad input gets a clear error while the instance keeps its old volume.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { InstanceClient, type VolumeArray } from "../client/instance.ts";
import { RemoteVisError } from "../errors.ts";
import { VOLUME_DTYPES, type VolumeDtype } from "../protocol/control.ts";
import { cli, REPO } from "../testing/cli.ts";
import { startInstance, type TestInstance } from "../testing/instance.ts";
import { encodeHeader } from "../transfer/header.ts";
import { Connection } from "../transfer/transfer.ts";

process.env.UCX_LOG_LEVEL ??= "error";
const LIMIT = 1.5 * 2 ** 30;
let inst: TestInstance;
let c: InstanceClient;

beforeAll(async () => {
  inst = await startInstance({ maxBytes: LIMIT, env: { UCX_TLS: "tcp" } });
  c = await InstanceClient.connect(inst.url);
});
afterAll(async () => {
  c?.close();
  await inst?.stop();
});

const CTORS: Record<VolumeDtype, new (n: number) => VolumeArray> = {
  uint8: Uint8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

function randomVolume(dtype: VolumeDtype, n: number): VolumeArray {
  const a = new CTORS[dtype](n);
  for (let i = 0; i < n; i++) a[i] = dtype.startsWith("float") ? Math.sin(i) * 1000 : (i * 7919) % (dtype === "uint8" ? 256 : 30000);
  return a;
}

const bytesOf = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return e instanceof RemoteVisError ? e.code : `other: ${e}`;
  }
}

describe("render_volume + retrieve_volume", () => {
  for (const dtype of VOLUME_DTYPES)
    for (const order of ["C", "F"] as const)
      test(`${dtype} order ${order} round-trips byte-exact`, async () => {
        const shape = [5, 6, 7];
        const vol = randomVolume(dtype, 5 * 6 * 7);
        const ready = await c.renderVolume(vol, { shape, order, name: `${dtype}-${order}` });
        expect(ready.bytes).toBe(vol.byteLength);
        const back = await c.retrieveVolume();
        expect(back.shape).toEqual([5, 6, 7]);
        expect(back.dtype).toBe(dtype);
        expect(back.order).toBe(order);
        expect(Buffer.compare(back.data, bytesOf(vol))).toBe(0);
      });

  test("boxes with steps, including edge boxes, equal the same box cut in JS", async () => {
    const [Z, Y, X] = [9, 10, 11];
    const vol = randomVolume("uint16", Z * Y * X) as Uint16Array;
    await c.renderVolume(vol, { shape: [Z, Y, X], spacing: [2, 1, 0.5] });
    for (const [lo, hi, step] of [
      [[0, 0, 0], [9, 10, 11], [2, 3, 4]],
      [[8, 9, 10], [9, 10, 11], [1, 1, 1]],
      [[1, 2, 3], [9, 10, 11], [3, 1, 5]],
    ] as number[][][]) {
      const r = await c.retrieveVolume({ box: { lo: lo!, hi: hi! }, step: step! });
      const got = new Uint16Array(r.data.buffer, r.data.byteOffset, r.data.byteLength / 2);
      const want: number[] = [];
      for (let z = lo![0]!; z < hi![0]!; z += step![0]!) for (let y = lo![1]!; y < hi![1]!; y += step![1]!) for (let x = lo![2]!; x < hi![2]!; x += step![2]!) want.push(vol[(z * Y + y) * X + x]!);
      expect(Array.from(got)).toEqual(want);
      expect(r.spacing).toEqual([2 * step![0]!, step![1]!, 0.5 * step![2]!]);
    }
  });

  test("a 256 MiB volume arrives and is shown, with progress events", async () => {
    const n = 256 * 2 ** 20;
    const vol = new Uint8Array(n);
    for (let i = 0; i < n; i += 4096) vol[i] = i >> 12;
    const seen: number[] = [];
    const ready = await c.renderVolume(vol, { shape: [256, 1024, 1024], onProgress: (d) => seen.push(d) });
    expect(ready.bytes).toBe(n);
    expect(seen.at(-1)).toBe(n);
    const s = await c.screenshot({ width: 64, height: 48 });
    expect(s.rgba.byteLength).toBe(64 * 48 * 4);
  });
});

describe("bad input gets a clear error and the old volume stays", () => {
  test("wrong byte count, unknown dtype, malformed shape, box outside, huge step", async () => {
    await c.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "keep-me" });
    expect(await code(c.request("prepare_volume", { bytes: 9, shape: [2, 2, 2], dtype: "uint8" }))).toBe("size_mismatch");
    expect(await code(c.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "int64" }))).toBe("invalid_request");
    expect(await code(c.request("prepare_volume", { bytes: 8, shape: [2, -2, 2], dtype: "uint8" }))).toBe("invalid_request");
    expect(await code(c.request("prepare_volume", { bytes: 8, shape: [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], dtype: "float64" }))).toBe("too_large");
    expect(await code(c.request("retrieve_volume", { box: { lo: [0, 0, 0], hi: [3, 2, 2] } }))).toBe("out_of_range");
    expect(await code(c.request("retrieve_volume", { box: { lo: [1, 0, 0], hi: [1, 2, 2] } }))).toBe("out_of_range");
    expect(await code(c.request("no_such_op", {}))).toBe("invalid_message");
    expect(await code(c.request("set_render", { mode: "sepia" }))).toBe("invalid_request");
    expect((await c.state()).volume).toMatchObject({ name: "keep-me" });
  });

  test("a transfer above the byte limit fixed at start is refused before any allocation", async () => {
    expect(await code(c.request("prepare_volume", { bytes: 2 ** 31, shape: [2, 1024, 2 ** 20], dtype: "uint8" }))).toBe("over_limit");
  });

  test("zero points are refused; NaN voxels render without NaN pixels", async () => {
    expect(await code(c.request("prepare_points", { count: 0 }))).toBe("invalid_request");
    const f = new Float32Array(4 * 4 * 4).fill(NaN);
    f[5] = 1;
    await c.renderVolume(f, { shape: [4, 4, 4], name: "nan" });
    const s = await c.screenshot({ width: 32, height: 32 });
    expect(s.rgba.every((b) => Number.isFinite(b))).toBe(true);
    expect(s.rgba[3]).toBe(255);
  });

  test("a second prepare while a volume transfer is pending is refused (busy)", async () => {
    const first = await c.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "uint8", name: "first" });
    expect(await code(c.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "uint8" }))).toBe("busy");
    // finish the first one so the instance is free again
    await using conn = await Connection.connect("127.0.0.1", Number(first.json.dataPort));
    await conn.send(encodeHeader({ secret: inst.secret, transfer: first.json.transfer, part: "volume" }), new Uint8Array(8).fill(3));
    expect((await c.request("wait_transfer", { transfer: first.json.transfer })).json).toMatchObject({ name: "first" });
  });

  test("the data port refuses a wrong secret, an unknown transfer and a wrong size, and keeps serving", async () => {
    await c.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "keep-me" });
    const t = (await c.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "uint8", name: "never" })).json;
    const port = Number(t.dataPort);
    const attempt = async (header: Record<string, unknown>, size = 8) => {
      await using conn = await Connection.connect("127.0.0.1", port);
      return await code(conn.send(encodeHeader(header), new Uint8Array(size)));
    };
    expect(await attempt({ secret: "guess", transfer: t.transfer, part: "volume" })).toBe("transfer_rejected");
    expect(await attempt({ secret: inst.secret, transfer: "made-up", part: "volume" })).toBe("transfer_rejected");
    expect(await attempt({ hello: "world" })).toBe("transfer_protocol");
    expect(await attempt({ secret: inst.secret, transfer: t.transfer, part: "volume" }, 9)).toBe("transfer_size");
    expect(await code(c.request("wait_transfer", { transfer: t.transfer }))).toBe("size_mismatch");
    expect((await c.state()).volume).toMatchObject({ name: "keep-me" });
    // still serving
    expect((await c.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "after" })).name).toBe("after");
  });

  test("a sender killed mid-transfer: failed within 10 s, the old volume is still shown", async () => {
    await c.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "old" });
    const bytes = 2 ** 30;
    const t = (await c.request("prepare_volume", { bytes, shape: [1024, 1024, 1024], dtype: "uint8", name: "killed" })).json;
    const events: Record<string, unknown>[] = [];
    const off = c.on((e) => events.push(e));
    const script = `${REPO}build/test-sender.ts`;
    await Bun.write(
      script,
      `import { Connection } from "${REPO}src/transfer/transfer.ts"; import { encodeHeader } from "${REPO}src/transfer/header.ts";
       const c = await Connection.connect("127.0.0.1", ${Number(t.dataPort)});
       await c.send(encodeHeader({ secret: process.env.S, transfer: "${t.transfer}", part: "volume" }), new Uint8Array(${bytes}).fill(1));`,
    );
    const sender = cli([], { S: inst.secret, UCX_TLS: "tcp" }, [process.execPath, script]);
    for (let i = 0; i < 300 && !events.some((e) => e.event === "transfer" && e.state !== "started" && Number(e.done) > 0); i++) await Bun.sleep(20);
    sender.proc.kill("SIGKILL");
    const t0 = Date.now();
    expect(await code(c.request("wait_transfer", { transfer: t.transfer, timeoutMs: 10_000 }))).not.toBe("ok");
    expect(Date.now() - t0).toBeLessThan(10_000);
    off();
    expect(events.some((e) => e.event === "transfer" && e.state === "failed")).toBe(true);
    expect((await c.state()).volume).toMatchObject({ name: "old" });
  });
});

describe("kept data connections", () => {
  const accepted = async (client: InstanceClient) => ((await client.state()).data as { accepted: number }).accepted;

  test("a client's data connection, made ahead, carries its volumes, points and retrieves", async () => {
    const before = await accepted(c);
    const c2 = await InstanceClient.connect(inst.url);
    try {
      for (let i = 0; i < 3; i++) await c2.renderVolume(new Uint8Array(64).fill(i), { shape: [4, 4, 4], name: `v${i}` });
      await c2.renderPoints(new Float32Array(6), new Float32Array(2));
      await c2.renderVolume(new Uint8Array(64).fill(5), { shape: [4, 4, 4], name: "last" });
      expect(Array.from((await c2.retrieveVolume()).data as Uint8Array)).toEqual(new Array(64).fill(5));
      expect(await accepted(c2)).toBe(before + 1);
    } finally {
      c2.close();
    }
  });

  test("a transfer that fails on a kept connection drops it; the next one connects anew", async () => {
    const c2 = await InstanceClient.connect(inst.url);
    try {
      await c2.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "kept-ok" });
      const t = (await c2.request("prepare_volume", { bytes: 8, shape: [2, 2, 2], dtype: "uint8", name: "short" })).json;
      // the instance refuses 9 bytes for 8 (wrong size) on the kept connection
      const push = (c2 as unknown as { push(t: unknown, parts: unknown[], o: unknown): Promise<void> }).push.bind(c2);
      expect(await code(push(t, [["volume", new Uint8Array(9)]], {}))).toBe("size_mismatch");
      const n = await accepted(c2);
      expect((await c2.renderVolume(new Uint8Array(8), { shape: [2, 2, 2], name: "after-failure" })).name).toBe("after-failure");
      expect(await accepted(c2)).toBe(n + 1);
      expect((await c2.state()).volume).toMatchObject({ name: "after-failure" });
    } finally {
      c2.close();
    }
  });

  test("a kept connection the instance closed as idle is replaced at the next volume", async () => {
    const idle = await startInstance({ env: { UCX_TLS: "tcp", REMOTEVIS_DATA_IDLE_MS: "300" } });
    const c3 = await InstanceClient.connect(idle.url);
    try {
      await c3.renderVolume(new Uint8Array(8).fill(1), { shape: [2, 2, 2], name: "one" });
      for (let i = 0; i < 100 && ((await c3.state()).data as { open: number }).open > 0; i++) await Bun.sleep(50);
      expect(((await c3.state()).data as { open: number }).open).toBe(0);
      expect((await c3.renderVolume(new Uint8Array(8).fill(2), { shape: [2, 2, 2], name: "two" })).name).toBe("two");
      expect(await accepted(c3)).toBe(2);
    } finally {
      c3.close();
      await idle.stop();
    }
  });
});

describe("points and watchers", () => {
  test("points arrive, the count and value range are reported", async () => {
    const n = 1000;
    const xyz = new Float32Array(n * 3).map((_, i) => (i * 37) % 100);
    const values = new Float32Array(n).map((_, i) => i / 10);
    const r = await c.renderPoints(xyz, values, { name: "cloud" });
    expect(r).toMatchObject({ count: n, min: 0, name: "cloud" });
    expect(r.max as number).toBeCloseTo(99.9, 4);
    expect(await code(c.renderPoints(new Float32Array(5), new Float32Array(2)))).toBe("invalid_points");
  });

  test("a second client sees a new volume replace the old one without a restart", async () => {
    const watcher = await InstanceClient.connect(inst.url);
    const seen: string[] = [];
    watcher.on((e) => e.event === "volume" && seen.push(String((e.volume as { name: string }).name)));
    await c.renderVolume(new Uint8Array(27).fill(9), { shape: [3, 3, 3], name: "replacement" });
    for (let i = 0; i < 50 && !seen.length; i++) await Bun.sleep(20);
    expect(seen).toContain("replacement");
    watcher.close();
  });

  test("the wrong token cannot open the control socket or the REST operations", async () => {
    const bad = new URL(inst.url);
    bad.searchParams.set("token", "nope");
    expect(await code(InstanceClient.connect(bad.href))).toBe("unreachable");
    const r = await fetch(`http://127.0.0.1:${inst.port}/api/get_state?token=nope`, { method: "POST" });
    expect(r.status).toBe(401);
    const ok = await fetch(`http://127.0.0.1:${inst.port}/api/get_state`, { method: "POST", headers: { authorization: `Instance ${inst.secret}` } });
    expect(ok.status).toBe(200);
    const malformed = await fetch(`http://127.0.0.1:${inst.port}/api/set_view`, { method: "POST", headers: { authorization: `Instance ${inst.secret}` }, body: "{nope" });
    expect(malformed.status).toBe(400);
    expect(await malformed.json()).toMatchObject({ error: { code: "invalid_json" } });
  });
});
