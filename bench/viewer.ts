/**
 * `remotevis bench viewer`: the web viewer as a user feels it, on the CPU renderer with the
 * real CT (scripts/testdata.sh).
 *
 * 1. JPEG encode time of one 1280x720 frame (the instance's own render of the CT, fetched as
 *    RGBA), libturbojpeg at the viewer's full quality (q85) and preview quality (q60), on one
 *    core (this thread). Target: <= 3 ms.
 * 2. Input-to-display latency measured in the page: Debian chromium (playwright-core) drags
 *    the view with pointer events at ~60 Hz; the page notes each pointer event's time stamp and
 *    the moment the first frame that includes it is drawn (the instance stamps every frame with
 *    the newest input it had). Median and p95 over all inputs made while dragging. Target:
 *    p50 <= 150 ms.
 * Both baselines are the targets themselves ("baseline":"target").
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { encodeJpeg } from "../src/render/jpeg.ts";
import { CT, launchChromium, percentile, sendCt, startInstance } from "../src/testing/viewer.ts";
import { print, result } from "./report.ts";

// The page's global, as the functions given to page.evaluate see it (no DOM types here).
declare const window: unknown;

export interface ViewerBenchOpts {
  drags: number;
  /** Viewport of the browser window. */
  width: number;
  height: number;
  ct?: string;
  /** Also write the 1280x720 RGBA frame (for bench/jpeg-one-core.c on other machines). */
  frameOut?: string;
}

async function jpegCase(base: string, secret: string, frameOut?: string): Promise<void> {
  const res = await fetch(`${base}/api/screenshot?format=rgba`, { method: "POST", headers: { authorization: `Instance ${secret}` }, body: JSON.stringify({ width: 1280, height: 720 }) });
  if (!res.ok) throw new Error(`screenshot failed: ${res.status} ${await res.text()}`);
  const rgba = new Uint8Array(await res.arrayBuffer());
  if (frameOut) await Bun.write(frameOut, rgba);
  for (const q of [60, 85]) {
    for (let i = 0; i < 10; i++) encodeJpeg(rgba, 1280, 720, q);
    const ms: number[] = [];
    let bytes = 0;
    const n = 200;
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      bytes = encodeJpeg(rgba, 1280, 720, q).byteLength;
      ms.push(performance.now() - t0);
    }
    const cpu = process.cpuUsage(cpu0);
    // CPU time of this (single) thread per frame: what one core spends, also on a busy machine
    // where wall time includes waiting for the core.
    const cpuMs = (cpu.user + cpu.system) / 1000 / n;
    print(
      result(
        { bench: "viewer", case: `jpeg-1280x720-q${q}`, value: cpuMs, unit: "ms", baseline: "target", baseline_value: 3, higher_is_better: false },
        { measure: "cpu time per frame, one thread", wall_p50_ms: +percentile(ms, 50).toFixed(3), wall_p95_ms: +percentile(ms, 95).toFixed(3), kbytes: +(bytes / 1024).toFixed(1), frames: n },
      ),
    );
  }
}

export async function viewerBench(o: ViewerBenchOpts): Promise<void> {
  const ct = o.ct ?? (existsSync(CT) ? CT : resolve("data/ct/cranium.raw"));
  if (!existsSync(ct)) throw new Error(`no CT at ${ct}: run scripts/testdata.sh first (or pass --ct)`);
  await using inst = await startInstance();
  await sendCt(inst.url, ct);
  await jpegCase(inst.base, inst.secret, o.frameOut);

  await using browser = await launchChromium();
  const page = await browser.context.newPage();
  await page.setViewportSize({ width: o.width, height: o.height });
  await page.goto(inst.url);
  const settled = () =>
    page.waitForFunction(() => (window as unknown as { remotevis: { settled: () => boolean; lastFrame?: unknown } }).remotevis.lastFrame && (window as unknown as { remotevis: { settled: () => boolean } }).remotevis.settled(), null, { timeout: 30_000 });
  await settled();
  const box = (await page.locator("#overlay").boundingBox())!;
  const cx = box.x + box.width / 2;
  const cy = box.y + box.height / 2;
  const t0 = Date.now();
  for (let d = 0; d < o.drags; d++) {
    await page.mouse.move(cx, cy);
    await page.mouse.down();
    // 2 s of dragging at ~60 pointer events per second, a circle of 200 px.
    for (let i = 1; i <= 120; i++) {
      const a = (i / 120) * Math.PI * 2;
      await page.mouse.move(cx + Math.sin(a) * 100, cy + (1 - Math.cos(a)) * 60);
      await Bun.sleep(16);
    }
    await page.mouse.up();
    await settled();
  }
  const r = (await page.evaluate(() => {
    const v = (window as unknown as { remotevis: { latencies: number[]; frames: number; lastFrame: { width: number; height: number; renderMs: number } } }).remotevis;
    return { latencies: v.latencies, frames: v.frames, size: [v.lastFrame.width, v.lastFrame.height], fullRenderMs: v.lastFrame.renderMs };
  })) as { latencies: number[]; frames: number; size: number[]; fullRenderMs: number };
  const seconds = (Date.now() - t0) / 1000;
  const extra = {
    p95_ms: +percentile(r.latencies, 95).toFixed(1),
    inputs: r.latencies.length,
    frames: r.frames,
    fps: +(r.frames / seconds).toFixed(1),
    frame: `${r.size[0]}x${r.size[1]}`,
    full_render_ms: +r.fullRenderMs.toFixed(1),
    renderer: "cpu",
  };
  print(result({ bench: "viewer", case: "drag-input-to-display-p50", value: percentile(r.latencies, 50), unit: "ms", baseline: "target", baseline_value: 150, higher_is_better: false }, extra));
}
