/**
 * A screenshot of the real CT (invesalius-examples) through a real instance: neither blank nor
 * saturated, and equal to a small stored reference within a stated tolerance (mean absolute
 * difference <= 2 levels, 99 % of channel values within 16), so a change of the renderer that
 * changes the picture is seen. Regenerate on purpose with REMOTEVIS_UPDATE_REFERENCE=1.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { InstanceClient } from "../client/instance.ts";
import { forInstance } from "../client/volume-data.ts";
import { ensureTestData } from "../formats/testdata.ts";
import { readVolume } from "../formats/index.ts";
import { startInstance, type TestInstance } from "../testing/instance.ts";

const REF = new URL("./testdata/ct-bone-96x64.rgba.gz", import.meta.url).pathname;
const W = 96;
const H = 64;
const DATA = await ensureTestData();

describe.skipIf(!DATA)("screenshot of the real CT", () => {
  let inst: TestInstance;
  let c: InstanceClient;
  beforeAll(async () => {
    inst = await startInstance({ env: { UCX_TLS: "tcp" } });
    c = await InstanceClient.connect(inst.url);
  });
  afterAll(async () => {
    c?.close();
    await inst?.stop();
  });

  test("is neither blank nor saturated and matches the stored reference", async () => {
    const v = await readVolume(`${DATA}/ct/cranium.raw`);
    const { data, dtype } = forInstance(v);
    await c.renderVolume(data, { shape: v.shape, dtype, spacing: v.spacing, name: "cranium" });
    await c.setRender({ tf: { preset: "ct-bone" }, shading: "S1" });
    const s = await c.screenshot({ width: W, height: H, view: { azimuth: 200, elevation: 20, distance: 2 } });
    const px = s.rgba;
    let lit = 0;
    let white = 0;
    for (let i = 0; i < px.length; i += 4) {
      const g = (px[i]! + px[i + 1]! + px[i + 2]!) / 3;
      if (g > 60) lit++;
      if (g > 250) white++;
    }
    const n = W * H;
    expect(lit / n).toBeGreaterThan(0.05); // the skull is there
    expect(white / n).toBeLessThan(0.05); // and not burnt out
    if (process.env.REMOTEVIS_UPDATE_REFERENCE || !existsSync(REF)) {
      if (!process.env.REMOTEVIS_UPDATE_REFERENCE) throw new Error(`no reference image ${REF}: run once with REMOTEVIS_UPDATE_REFERENCE=1 and commit it`);
      await Bun.write(REF, Bun.gzipSync(px as Uint8Array<ArrayBuffer>));
    }
    const ref = Bun.gunzipSync(new Uint8Array(await Bun.file(REF).arrayBuffer()));
    expect(ref.length).toBe(px.length);
    let sum = 0;
    let far = 0;
    for (let i = 0; i < px.length; i++) {
      const d = Math.abs(px[i]! - ref[i]!);
      sum += d;
      if (d > 16) far++;
    }
    expect(sum / px.length).toBeLessThanOrEqual(2);
    expect(far / px.length).toBeLessThanOrEqual(0.01);
  });
});
