/**
 * `remotevis bench e2e`: render_volume of a large volume, from the call to the first frame
 * rendered (a screenshot), against the bare SSC-RDMA transfer of the same bytes between two
 * processes on the same transport, measured in the same run (target <= 1.3x).
 */
import { InstanceClient } from "../src/client/instance.ts";
import { selfArgv } from "../src/cli/self.ts";
import { run, start } from "../src/process/child.ts";
import { setNativeEnv } from "../src/process/native-env.ts";
import { NativeBuffer } from "../src/transfer/native-buffer.ts";
import { print, result } from "./report.ts";

/** Every 61st element set to a slowly varying value (empty-space skipping still has work). */
function fillPattern(vol: NativeBuffer, dtype: "uint8" | "float32"): void {
  const part = 2 ** 30;
  for (let off = 0; off < vol.byteLength; off += part) {
    const v = vol.view(off, Math.min(part, vol.byteLength - off));
    const a = dtype === "float32" ? new Float32Array(v.buffer, v.byteOffset, v.byteLength / 4) : v;
    const first = off / (dtype === "float32" ? 4 : 1);
    for (let i = (61 - (first % 61)) % 61; i < a.length; i += 61) a[i] = ((first + i) >> 12) & 255;
  }
}

export async function e2eBench(o: { size: number; tls: string; renderer: string; dtype: "uint8" | "float32" }): Promise<void> {
  const env = {
    UCX_LOG_LEVEL: "error",
    UCX_TLS: o.tls,
    REMOTEVIS_INSTANCE_SECRET: `bench-${crypto.randomUUID()}`,
    // Shared memory needs libsscrdma's opt-in mode (see ssc_rdma.h): otherwise UCX takes TCP.
    ...(o.tls.split(",").includes("sm") ? { SSC_UCX_ERR_MODE: "none" } : {}),
  };
  // This process is the client of the instance: same transports and error mode as the
  // children (a PEER-mode client cannot wire up to a shared-memory-mode server). Set before
  // the first transfer creates the UCX context.
  for (const k of ["UCX_TLS", "SSC_UCX_ERR_MODE", "UCX_LOG_LEVEL"] as const) if (k in env) setNativeEnv(k, (env as Record<string, string>)[k]!);
  // Bare transfer: receive + send of the same size and transport.
  const rx = start([...selfArgv(), "receive", "--port", "0", "--out", "-", "--json", "-q", "--timeout", "60"], env);
  const port = (await rx.waitFor(/"port":(\d+)/))[1]!;
  const sent = JSON.parse((await run([...selfArgv(), "client", "send", "--to", `127.0.0.1:${port}`, "-", "--size", String(o.size), "--json", "-q", "--timeout", "60"], env)).trim().split("\n").pop()!);
  await rx.done(120_000);
  const bare = sent.seconds as number;

  // The same bytes as a volume to a real instance, until its first frame.
  const inst = start([...selfArgv(), "instance", "--renderer", o.renderer], env);
  try {
    const url = (await inst.waitFor(/url: (http\S+)/, 60_000))[1]!;
    const c = await InstanceClient.connect(url);
    const itemsize = o.dtype === "float32" ? 4 : 1;
    const n = Math.round(Math.cbrt(o.size / itemsize));
    // Native memory: volumes above 4 GiB do not fit one JavaScript buffer.
    const vol = await NativeBuffer.alloc(n * n * n * itemsize);
    fillPattern(vol, o.dtype);
    const t0 = performance.now();
    const ready = await c.renderVolume(vol, { shape: [n, n, n], dtype: o.dtype });
    const shown = (performance.now() - t0) / 1000;
    const first = await c.screenshot({ width: 1280, height: 720, lod: 4 });
    const preview = (performance.now() - t0) / 1000;
    const last = await c.screenshot({ width: 1280, height: 720 });
    const full = (performance.now() - t0) / 1000;
    c.close();
    const bareScaled = bare * (vol.byteLength / o.size); // the cube is a little off the asked size
    const what = `${n}^3-${o.dtype}-${o.tls}-${o.renderer}`;
    // where the time went: the call returned (volume shown) at ready_s; each frame's own render
    // time and whether it was drawn from the coarse copy of a volume still converting (level > 1)
    const extra = {
      alloc_s: (ready.allocMs ?? 0) / 1000, connect_s: (ready.connectMs ?? 0) / 1000, receive_s: ready.receiveMs / 1000, upload_s: ready.uploadMs / 1000, ready_s: shown, streamed_bytes: ready.streamedBytes, bytes: vol.byteLength,
      first_frame: { render_ms: first.renderMs, level: first.level }, full_frame: { render_ms: last.renderMs, level: last.level },
    };
    // The viewer's first frame is the preview (lod 4); the full-quality one follows it.
    print(result({ bench: "e2e", case: `render_volume-${what}-to-full-frame`, value: full, unit: "s", baseline: "bare ssc transfer", baseline_value: bareScaled, higher_is_better: false }, extra));
    print(result({ bench: "e2e", case: `render_volume-${what}-to-first-frame`, value: preview, unit: "s", baseline: "bare ssc transfer", baseline_value: bareScaled, higher_is_better: false }, extra));
  } finally {
    inst.proc.kill("SIGTERM");
    await inst.done(10_000).catch(() => {});
  }
}
