/**
 * The web viewer in a real browser (Debian chromium through playwright-core) against a real
 * instance (CPU renderer) holding the real CT of scripts/testdata.sh.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { Page } from "playwright-core";
import { selfArgv } from "../cli/self.ts";
import { ensureTestData } from "../formats/testdata.ts";
import { loadModelFile } from "../client/model.ts";
import { ensureModels, MODELS } from "../testing/models.ts";
import { join } from "node:path";
import { InstanceClient } from "../client/instance.ts";
import { CHROMIUM, CT, launchChromium, sendCt, startInstance, type RunningInstance } from "../testing/viewer.ts";

// The page's globals as the functions given to page.evaluate see them (this file has no DOM types).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Any = any;
declare const window: Any;
declare const document: Any;
type HTMLCanvasElement = Any;
type HTMLOptionElement = Any;
type HTMLElement = Any;
declare const MutationObserver: Any;
declare const location: Any;

// The CT comes from scripts/testdata.sh; a fresh clone makes it here (CI has no data/ yet).
await ensureTestData();
const ready = existsSync(CHROMIUM) && existsSync(CT);
if (!ready) console.warn(`SKIPPING viewer browser tests: ${existsSync(CHROMIUM) ? "no CT (scripts/testdata.sh failed)" : "no /usr/bin/chromium (Debian package chromium)"}`);
const T = 30_000;

type Stats = { mean: number; std: number; lit: number; gray: number[]; w: number; h: number };

/** Pixel statistics of the 3D view's canvas and a half-resolution grey copy for differences. */
function canvasStats(page: Page): Promise<Stats> {
  return page.evaluate(() => {
    const c = document.querySelector("#view") as HTMLCanvasElement;
    const d = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
    let sum = 0;
    let sq = 0;
    let lit = 0;
    const gray: number[] = [];
    const n = c.width * c.height;
    for (let i = 0; i < n; i++) {
      const g = (d[i * 4]! + d[i * 4 + 1]! + d[i * 4 + 2]!) / 3;
      sum += g;
      sq += g * g;
      if (g > 60) lit++;
    }
    for (let y = 0; y < c.height; y += 2) for (let x = 0; x < c.width; x += 2) gray.push(d[(y * c.width + x) * 4]!);
    const mean = sum / n;
    return { mean, std: Math.sqrt(sq / n - mean * mean), lit: lit / n, gray, w: c.width, h: c.height };
  });
}

const meanAbsDiff = (a: number[], b: number[]) => a.reduce((s, x, i) => s + Math.abs(x - (b[i] ?? 0)), 0) / a.length;

const frameSeq = (page: Page) => page.evaluate(() => (window as unknown as { remotevis: { lastFrame?: { seq: number } } }).remotevis.lastFrame?.seq ?? 0);

/** Waits for a full-quality frame newer than `after` that shows every camera change made so far. */
async function fullFrame(page: Page, after = 0): Promise<void> {
  await page.waitForFunction((after) => {
    const r = (window as unknown as { remotevis: { lastFrame?: { seq: number }; settled: () => boolean } }).remotevis;
    return !!r.lastFrame && r.lastFrame.seq > after && r.settled();
  }, after, { timeout: 20_000 });
  await Bun.sleep(250);
}

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

describe.skipIf(!ready)("web viewer in chromium", () => {
  let inst: RunningInstance;
  let vol: Awaited<ReturnType<typeof sendCt>>;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  let page: Page;

  beforeAll(async () => {
    inst = await startInstance();
    vol = await sendCt(inst.url);
    browser = await launchChromium();
    page = await browser.context.newPage();
  }, 60_000);

  afterAll(async () => {
    await browser?.[Symbol.asyncDispose]();
    await inst?.[Symbol.asyncDispose]();
  });

  test("a wrong or missing token gets the 403 page; the right one becomes an HttpOnly cookie", async () => {
    expect((await fetch(`${inst.base}/`)).status).toBe(403);
    const wrong = await page.goto(`${inst.base}/?token=not-the-secret-at-all`);
    expect(wrong?.status()).toBe(403);
    expect(await page.textContent("h1")).toContain("403");
    expect((await fetch(`${inst.base}/web/viewer.js`)).status).toBe(403);
    expect((await fetch(`${inst.base}/viewer`, { headers: { upgrade: "websocket", connection: "upgrade", "sec-websocket-version": "13", "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==" } })).status).toBe(401);

    await page.goto(inst.url);
    await page.waitForURL((u) => !u.searchParams.has("token"));
    const cookie = (await browser.context.cookies()).find((c) => c.name.startsWith("remotevis_"));
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict", value: inst.secret });
    expect(page.url()).not.toContain(inst.secret);
    // The cookie works from the instance's own origin only (another page on this host cannot use it).
    const sent = { cookie: `${cookie!.name}=${cookie!.value}` };
    expect((await fetch(`${inst.base}/api/get_state`, { method: "POST", headers: { ...sent, origin: inst.base } })).status).toBe(200);
    expect((await fetch(`${inst.base}/api/get_state`, { method: "POST", headers: { ...sent, origin: "http://127.0.0.1:1" } })).status).toBe(401);
  }, T);

  test("embedded in another site's page (Jupyter's inline viewer) it shows the volume; a wrong token gets 403", async () => {
    expect((await fetch(`${inst.base}/embed?token=wrong`)).status).toBe(403);
    const token = new URL(inst.url).searchParams.get("token")!;
    // A page on another origin (another port is another site for cookies) with the iframe.
    const host = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response(`<!doctype html><iframe id="f" width="640" height="400" src="${inst.base}/embed?token=${token}"></iframe>`, { headers: { "content-type": "text/html" } }) });
    const outer = await browser.context.newPage();
    try {
      await outer.goto(`http://localhost:${host.port}/`);
      const frame = await (await outer.waitForSelector("#f")).contentFrame();
      await frame!.waitForFunction(() => !!(window as Any).remotevis?.lastFrame, undefined, { timeout: 20_000 });
      const std = await frame!.evaluate(() => {
        const c = document.querySelector("#view");
        const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
        let sum = 0;
        let sq = 0;
        for (let i = 0; i < d.length; i += 4) (sum += d[i]), (sq += d[i] * d[i]);
        const n = d.length / 4;
        return Math.sqrt(sq / n - (sum / n) ** 2);
      });
      expect(std).toBeGreaterThan(10);
    } finally {
      await outer.close();
      await host.stop(true);
    }
  }, T);

  test("the canvas shows a non-blank image within a few seconds", async () => {
    const t0 = Date.now();
    await fullFrame(page);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const s = await canvasStats(page);
    expect(s.std).toBeGreaterThan(10);
    expect(s.lit).toBeGreaterThan(0.02);
    expect(await page.textContent("#volname")).toContain("108×256×256");
  }, T);

  test("a drag changes the image and the camera in the URL hash; reloading with the hash restores the image", async () => {
    const before = await canvasStats(page);
    const hashBefore = new URL(page.url()).hash;
    const seq = await frameSeq(page);
    const box = (await page.locator("#overlay").boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    for (let i = 1; i <= 10; i++) await page.mouse.move(box.x + box.width / 2 + i * 12, box.y + box.height / 2 + i * 3, { steps: 2 });
    await page.mouse.up();
    await fullFrame(page, seq);
    const after = await canvasStats(page);
    const hashAfter = new URL(page.url()).hash;
    expect(hashAfter).not.toBe(hashBefore);
    expect(/v=([-\d.]+)/.exec(hashAfter)![1]).not.toBe(/v=([-\d.]+)/.exec(hashBefore)![1]);
    expect(meanAbsDiff(before.gray, after.gray)).toBeGreaterThan(2);

    // Same hash, fresh page: the same picture. Bound: mean absolute difference below 1 grey level.
    await page.reload();
    await fullFrame(page);
    expect(new URL(page.url()).hash.split("&")[0]).toBe(hashAfter.split("&")[0]);
    const again = await canvasStats(page);
    expect([again.w, again.h]).toEqual([after.w, after.h]);
    expect(meanAbsDiff(after.gray, again.gray)).toBeLessThan(1);
  }, 45_000);

  test("a transfer function preset changes the pixel statistics", async () => {
    const before = await canvasStats(page);
    const seq = await frameSeq(page);
    await page.selectOption("#preset", "ct-soft-tissue");
    await fullFrame(page, seq);
    const after = await canvasStats(page);
    expect(Math.abs(after.mean - before.mean) + Math.abs(after.lit - before.lit) * 100).toBeGreaterThan(2);
    expect(new URL(page.url()).hash).toContain("tf=ct-soft-tissue");
    // The TF editor shows the log histogram of the whole range.
    const h = (await page.evaluate(() => (window as unknown as { remotevis: { histogram: { counts: number[]; range: number[] } } }).remotevis.histogram))!;
    expect(h.counts.length).toBe(256);
    expect(h.range).toEqual([-1024, 2986]);
  }, T);

  test("the probe's value equals the volume's voxel and the slices move to the probe position", async () => {
    const [nz, ny, nx] = vol.shape;
    const voxelOf = (z: number, y: number, x: number) => (vol.data as Int16Array)[(z * ny + y) * nx + x]!;
    // Click in the axial panel: x and y from the click, z from its slider.
    const axial = page.locator('.slice[data-kind="0"] canvas');
    const b = (await axial.boundingBox())!;
    await axial.click({ position: { x: b.width * 0.55, y: b.height * 0.4 } });
    await page.waitForFunction(() => !!(window as unknown as { remotevis: { probe: () => unknown } }).remotevis.probe());
    const p = (await page.evaluate(() => (window as unknown as { remotevis: { probe: () => unknown } }).remotevis.probe())) as { voxel: number[]; value: number; world: number[] };
    const [z, y, x] = p.voxel as [number, number, number];
    expect(z).toBe(Math.floor(nz / 2));
    expect(p.value).toBe(voxelOf(z, y, x));
    expect(p.world[0]).toBeCloseTo((x + 0.5) * vol.spacing[2], 3);
    expect(await page.textContent("#probe")).toContain(`value  ${voxelOf(z, y, x)}`);
    await page.waitForFunction(
      (v) => {
        const s = (window as unknown as { remotevis: { sliceInfo: Record<string, { index: number }> } }).remotevis.sliceInfo;
        return s["1"]?.index === v[1] && s["2"]?.index === v[2] && s["0"]?.index === v[0];
      },
      p.voxel,
      { timeout: 10_000 },
    );
    // The slice the coronal panel shows has, at the probe position, the voxel's value through the window.
    const res = await fetch(`${inst.base}/api/slice?format=rgba`, { method: "POST", headers: { authorization: `Instance ${inst.secret}` }, body: JSON.stringify({ axis: 1, index: y }) });
    const w = Number(res.headers.get("x-width"));
    const rgba = new Uint8Array(await res.arrayBuffer());
    const [lo, hi] = [-1024, 2986];
    const expected = Math.round(255 * Math.min(1, Math.max(0, (voxelOf(z, y, x) - lo) / (hi - lo))));
    expect(Math.abs(rgba[(z * w + x) * 4]! - expected)).toBeLessThanOrEqual(1);

    // A click in the 3D view picks the visible voxel; its value is the volume's too.
    const seq = await frameSeq(page);
    await page.selectOption("#preset", "ct-bone");
    await fullFrame(page, seq);
    const v = (await page.locator("#overlay").boundingBox())!;
    await page.mouse.click(v.x + v.width / 2, v.y + v.height / 2);
    await page.waitForFunction((old) => JSON.stringify((window as unknown as { remotevis: { probe: () => { voxel: number[] } } }).remotevis.probe().voxel) !== old, JSON.stringify(p.voxel), { timeout: 10_000 });
    const q = (await page.evaluate(() => (window as unknown as { remotevis: { probe: () => unknown } }).remotevis.probe())) as { voxel: number[]; value: number };
    expect(q.value).toBe(voxelOf(q.voxel[0]!, q.voxel[1]!, q.voxel[2]!));
    expect(q.value).toBeGreaterThan(0); // bone (the CT bone preset shows nothing softer), not air
  }, T);

  test("the screenshot button downloads a PNG of the asked size", async () => {
    await page.click("details:has(#shot) > summary");
    await page.fill("#shot-w", "320");
    await page.fill("#shot-h", "200");
    const [download] = await Promise.all([page.waitForEvent("download", { timeout: 20_000 }), page.click("#shot")]);
    const png = new Uint8Array(readFileSync((await download.path())!));
    expect([...png.subarray(1, 4)]).toEqual([80, 78, 71]);
    const dv = new DataView(png.buffer, png.byteOffset);
    expect([dv.getUint32(16), dv.getUint32(20)]).toEqual([320, 200]);
    expect(download.suggestedFilename()).toMatch(/320x200\.png$/);
  }, T);

  test("a second viewer has its own camera and can follow the first", async () => {
    const second = await browser.context.newPage();
    try {
      await second.goto(`${inst.base}/`);
      await fullFrame(second);
      await page.waitForFunction(() => document.querySelectorAll("#follow option").length === 2);
      const firstId = await page.evaluate(() => (document.querySelector("#follow option:nth-child(2)") as HTMLOptionElement).value);
      const secondView = await second.evaluate(() => (window as unknown as { remotevis: { view: () => { azimuth: number } } }).remotevis.view());
      const otherId = await second.evaluate(() => (document.querySelector("#follow option:nth-child(2)") as HTMLOptionElement).value);
      expect(otherId).not.toBe(firstId);
      await second.selectOption("#follow", otherId);
      await page.keyboard.press("2"); // the first viewer: back view
      await second.waitForFunction(() => (window as unknown as { remotevis: { lastFrame: { view: { azimuth: number }; lod: number } } }).remotevis.lastFrame.view.azimuth === 180, null, { timeout: 15_000 });
      expect(secondView.azimuth).not.toBe(180);
    } finally {
      await second.close();
    }
  }, T);

  test("a volume arriving shows a progress bar", async () => {
    await page.evaluate(() => {
      const w = window as unknown as { sawProgress: boolean };
      w.sawProgress = false;
      new MutationObserver(() => {
        if (!(document.querySelector("#progress") as HTMLElement).hidden) w.sawProgress = true;
      }).observe(document.querySelector("#progress")!, { attributes: true });
    });
    await sendCt(inst.url);
    await page.waitForFunction(() => (window as unknown as { sawProgress: boolean }).sawProgress, null, { timeout: 10_000 });
  }, T);

  test("points: the colormap and the value range filter reach the instance", async () => {
    const n = 2000;
    const xyz = new Float32Array(n * 3).map((_, i) => 20 + ((i * 7919) % 997) / 997 * 200);
    const values = new Float32Array(n).map((_, i) => i / n);
    const c = await InstanceClient.connect(inst.url);
    try {
      await c.renderPoints(xyz, values, { name: "test points" });
    } finally {
      c.close();
    }
    if (!page.url().startsWith(inst.base)) await page.goto(inst.url);
    await page.waitForSelector("#points-panel:not([hidden])", { timeout: 10_000 });
    await page.click("#points-panel > summary");
    await page.selectOption("#pcmap", "hot");
    await page.fill("#pfilter-lo", "0.25");
    await page.fill("#pfilter-hi", "0.5");
    // Let the fields' change events (filter still off) make their round trip first: their
    // answer re-syncs the checkbox, and a click racing it would be undone.
    await page.press("#pfilter-hi", "Tab");
    await Bun.sleep(500);
    await page.check("#pfilter-on");
    await page.waitForFunction(() => /pcm=hot/.test(location.hash) && /pf=0\.25,0\.5/.test(location.hash), null, { timeout: 10_000 });
    const state = (await (await fetch(`${inst.base}/api/get_state`, { method: "POST", headers: { authorization: `Instance ${inst.secret}` } })).json()) as { render: { pointFilter: number[]; pointColormap: string } };
    expect(state.render).toMatchObject({ pointFilter: [0.25, 0.5], pointColormap: "hot" });
    await fetch(`${inst.base}/api/clear_points`, { method: "POST", headers: { authorization: `Instance ${inst.secret}` } });
  }, T);

  test("after a segmentation the Labels panel lists the classes; hiding one changes the picture and the state", async () => {
    if (!(await ensureModels())) return console.warn("SKIPPING the labels panel test: no test networks");
    const c = await InstanceClient.connect(inst.url);
    try {
      const { bytes, description } = loadModelFile(join(MODELS, "ct-threshold3d.onnx"));
      const m = await c.sendModel(bytes, description);
      await c.segment({ model: m.model });
      await page.waitForSelector("#labels-panel:not([hidden]) .label-class", { timeout: 10_000 });
      const names = await page.$$eval(".label-class span", (els) => els.map((e) => e.textContent ?? ""));
      expect(names.length).toBe(description.classes);
      await fullFrame(page);
      const before = await canvasStats(page);
      const seq = await frameSeq(page);
      const last = names.length - 1;
      await page.click(`.label-class[data-k="${last}"] input[type=checkbox]`);
      for (let i = 0; i < 50; i++) {
        const s = (await c.state()).segmentation as { labels: { visible: boolean[] } };
        if (s.labels.visible[last] === false) break;
        await Bun.sleep(100);
      }
      expect(((await c.state()).segmentation as { labels: { visible: boolean[] } }).labels.visible[last]).toBe(false);
      await fullFrame(page, seq);
      const after = await canvasStats(page);
      expect(meanAbsDiff(before.gray, after.gray)).toBeGreaterThan(0.5);
    } finally {
      c.close();
    }
  }, 120_000);

  test("shortcuts are listed under ?, and a narrow window keeps the view with the controls behind a button", async () => {
    await page.locator("#overlay").focus();
    await page.keyboard.press("?");
    expect(await page.isVisible("#help")).toBe(true);
    await page.keyboard.press("Escape");
    await page.setViewportSize({ width: 390, height: 760 });
    await Bun.sleep(300);
    expect(await page.isVisible("#panel")).toBe(false);
    const stage = (await page.locator("#stage").boundingBox())!;
    expect(stage.width).toBeGreaterThan(380);
    await page.click("#btn-panel");
    expect(await page.isVisible("#panel")).toBe(true);
    await page.click("#btn-panel");
    await page.setViewportSize({ width: 1280, height: 800 });
  }, T);

  test("a viewer that stops acknowledging gets one frame and does not grow the instance's memory", async () => {
    const ws = new WebSocket(`${inst.base.replace("http", "ws")}/viewer`, { headers: { authorization: `Instance ${inst.secret}` } } as unknown as string[]);
    ws.binaryType = "arraybuffer";
    let frames = 0;
    let lastHeader: { seq: number; view: { azimuth: number } } | undefined;
    ws.onmessage = (e) => {
      if (typeof e.data === "string") return;
      frames++;
      const buf = e.data as ArrayBuffer;
      const n = new DataView(buf).getUint32(0, true);
      lastHeader = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n)));
    };
    await new Promise((r, j) => ((ws.onopen = r), (ws.onerror = j)));
    ws.send(JSON.stringify({ type: "size", width: 320, height: 200 }));
    await Bun.sleep(1500);
    const rss0 = rssBytes(inst.pid);
    for (let i = 0; i < 400; i++) {
      ws.send(JSON.stringify({ type: "view", view: { azimuth: i, elevation: 10, distance: 2, roll: 0, fov: 30, projection: "perspective" }, moving: i < 399, input: i }));
      if (i % 50 === 0) await Bun.sleep(20);
    }
    await Bun.sleep(2000);
    expect(frames).toBe(1);
    const rss1 = rssBytes(inst.pid);
    expect(rss1 - rss0).toBeLessThan(32 * 2 ** 20);
    // Acknowledging brings exactly the newest view, not the backlog.
    ws.send(JSON.stringify({ type: "ack", frame: lastHeader!.seq }));
    const t0 = Date.now();
    while (frames < 2 && Date.now() - t0 < 10_000) await Bun.sleep(50);
    await Bun.sleep(300);
    expect(frames).toBe(2);
    expect(lastHeader!.view.azimuth).toBe(399);
    ws.close();
  }, T);
});

describe.skipIf(!existsSync(CHROMIUM))("stop banner", () => {
  test("the viewer warns before the middleware's deadline, and 'Keep it' reports an access", async () => {
    const accesses: string[] = [];
    let deadlineAt = Date.now() + 4 * 60_000;
    // Opening the viewer reports accesses too; only those after the banner showed are "keep it".
    let armed = false;
    const fake = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      async fetch(req) {
        const what = new URL(req.url).pathname.split("/").pop();
        if (what === "access" && armed) {
          accesses.push(((await req.json()) as { kind: string }).kind);
          deadlineAt = Date.now() + 30 * 60_000;
        }
        if (what === "heartbeat") return Response.json({ action: "continue", deadline: { at: new Date(deadlineAt).toISOString(), why: "idle timeout" } });
        return Response.json({ ok: true });
      },
    });
    const secret = "b".repeat(32);
    const p = Bun.spawn([...selfArgv(), "instance", "--renderer", "cpu", "--middleware", `http://127.0.0.1:${fake.port}`, "--id", "i-00000000000000ab", "--heartbeat", "0.3"], {
      env: { ...process.env, REMOTEVIS_INSTANCE_SECRET: secret },
      stdout: "pipe",
      stderr: "pipe",
    });
    await using browser = await launchChromium();
    try {
      let out = "";
      const reader = p.stdout.getReader();
      while (!/http 127\.0\.0\.1:(\d+)/.test(out)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(out);
        out += new TextDecoder().decode(value);
      }
      const port = /http 127\.0\.0\.1:(\d+)/.exec(out)![1];
      const page = await browser.context.newPage();
      await page.goto(`http://127.0.0.1:${port}/?token=${secret}`);
      await page.waitForSelector("#banner:not([hidden])", { timeout: 10_000 });
      expect(await page.textContent("#banner-text")).toMatch(/stopped in [34] min .*idle timeout/);
      armed = true;
      await page.click("#keep");
      await page.waitForSelector("#banner", { state: "hidden", timeout: 10_000 });
      expect(accesses).toEqual(["viewer"]);
    } finally {
      p.kill("SIGTERM");
      await p.exited;
      fake.stop(true);
    }
  }, 30_000);
});
