/**
 * NativeBuffer: memory addressed by pointer, the path of volumes above the 4 GiB that one JS
 * buffer holds. Here at small sizes with the native kind forced: windows, copies in parts,
 * free, transfers from and into it, and a whole instance (REMOTEVIS_NATIVE_ABOVE=0) receiving,
 * streaming to the renderer, rendering and handing back volumes held in native memory.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { InstanceClient } from "../client/instance.ts";
import { RemoteVisError } from "../errors.ts";
import { startInstance, type TestInstance } from "../testing/instance.ts";
import { encodeHeader } from "./header.ts";
import { asNative, NativeBuffer } from "./native-buffer.ts";
import { Connection, Listener } from "./transfer.ts";

process.env.UCX_LOG_LEVEL ??= "error";

function pattern(b: NativeBuffer, seed: number): void {
  const v = b.view();
  for (let i = 0; i < v.length; i++) v[i] = (i * 31 + seed) & 255;
}

describe("NativeBuffer", () => {
  test("views look into the same native bytes; set copies in parts; free ends it", async () => {
    const b = await NativeBuffer.alloc(3 << 20, { native: true });
    expect(b.ptr).toBeGreaterThan(0);
    expect(b.view(0, 4096).every((x) => x === 0)).toBe(true); // ssc_alloc zeroes
    b.view(1000, 10).fill(7);
    expect([...b.view(998, 14)]).toEqual([0, 0, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 0, 0]);
    const src = new Uint8Array(1 << 20).map((_, i) => i & 255);
    b.set(src, 5);
    expect(b.view(5, src.length)).toEqual(src);
    expect(b.array().byteLength).toBe(3 << 20);
    expect(() => b.view(3 << 20, 1)).toThrow(RemoteVisError);
    b.free();
    b.free(); // idempotent
    expect(() => b.view(0, 1)).toThrow(/freed/);
  });

  test("a JS array wraps in place, without a copy", () => {
    const a = new Float32Array([1, 2, 3]);
    const n = asNative(a);
    expect(n.byteLength).toBe(12);
    n.view(0, 4).set(new Uint8Array(new Float32Array([9]).buffer));
    expect(a[0]).toBe(9);
    expect(asNative(n)).toBe(n);
  });

  test("a transfer sends from and receives into native memory, byte-exact", async () => {
    await using l = await Listener.open({ port: 0 });
    const size = (5 << 20) + 3;
    const out = await NativeBuffer.alloc(size, { native: true });
    const into = await NativeBuffer.alloc(size, { native: true });
    pattern(out, 3);
    const landed: number[] = [];
    const rx = (async () => {
      await using c = await l.accept();
      const { size: n } = await c.receiveHeader();
      await c.receivePayload(n, { into, progressMs: 1, onProgress: (x) => landed.push(x) });
    })();
    await using s = await Connection.connect("127.0.0.1", l.port);
    await s.send(encodeHeader({ test: true }), out);
    await rx;
    expect(Buffer.compare(into.view(), out.view())).toBe(0);
    // progress on the receiving side only grows and ends at the size
    expect(landed.at(-1)).toBe(size);
    expect(landed.every((x, i) => i === 0 || x >= landed[i - 1]!)).toBe(true);
  });
});

describe("an instance holding volumes in native memory", () => {
  let inst: TestInstance;
  let c: InstanceClient;
  beforeAll(async () => {
    inst = await startInstance({ env: { UCX_TLS: "tcp", REMOTEVIS_NATIVE_ABOVE: "0" } });
    c = await InstanceClient.connect(inst.url);
  });
  afterAll(async () => {
    c?.close();
    await inst?.stop();
  });

  test("render_volume from a NativeBuffer streams, renders and retrieves byte-exact", async () => {
    const shape = [40, 50, 60];
    const vol = await NativeBuffer.alloc(shape[0]! * shape[1]! * shape[2]! * 4, { native: true });
    const f = new Float32Array(vol.view().buffer);
    for (let i = 0; i < f.length; i++) f[i] = Math.sin(i / 97) * 100;
    const ready = await c.renderVolume(vol, { shape, dtype: "float32" });
    expect(ready.bytes).toBe(vol.byteLength);
    expect(ready.streamedBytes).toBe(vol.byteLength); // taken by the renderer as it landed
    expect(ready.range[0]).toBeCloseTo(-100, 0);
    const shot = await c.screenshot({ width: 64, height: 48 });
    expect(shot.rgba.some((x, i) => i % 4 !== 3 && x > 0)).toBe(true);
    const back = await c.retrieveVolume({ box: { lo: [3, 4, 5], hi: [20, 30, 41] }, step: [1, 2, 3] });
    const want: number[] = [];
    for (let z = 3; z < 20; z++) for (let y = 4; y < 30; y += 2) for (let x = 5; x < 41; x += 3) want.push(f[(z * 50 + y) * 60 + x]!);
    expect(new Float32Array(back.data.buffer, back.data.byteOffset, back.data.byteLength / 4)).toEqual(Float32Array.from(want));
  });

  test("a wrong-sized native volume is refused and the old one stays", async () => {
    const before = await c.retrieveVolume({ box: { lo: [0, 0, 0], hi: [2, 2, 2] } });
    const bad = await NativeBuffer.alloc(1000, { native: true });
    await expect(c.renderVolume(bad, { shape: [10, 10, 11], dtype: "uint8" })).rejects.toThrow(RemoteVisError);
    const after = await c.retrieveVolume({ box: { lo: [0, 0, 0], hi: [2, 2, 2] } });
    expect(after.data).toEqual(before.data);
  });
});
