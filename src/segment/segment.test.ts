/**
 * Segmentation through a real instance (issue 11): the U-Net of scripts/train-segmentation.sh
 * (trained once, cached in data/models) travels over SSC-RDMA, the instance checks it, segments
 * the real CT off its event loop, shows the labels, hands them back and writes them to HDF5.
 * Broken models get clear errors and the instance keeps its volume.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InstanceClient } from "../client/instance.ts";
import { loadModelFile } from "../client/model.ts";
import { RemoteVisError } from "../errors.ts";
import { readHdf5 } from "../formats/hdf5.ts";
import { ensureTestData, REPO } from "../formats/testdata.ts";
import { cli } from "../testing/cli.ts";
import { startInstance, type TestInstance } from "../testing/instance.ts";
import { ensureModels, MODELS } from "../testing/models.ts";
import { ptr } from "bun:ffi";
import { checkModel, segmentVolume, type ModelSpec, type Norm, type Region, type Vec3 } from "./infer.ts";
import { OrtSession } from "./ort.ts";
import { PrepThread, segmentPipelined } from "./pipeline.ts";
import { countLabels } from "./plan.ts";

const SHAPE: Vec3 = [108, 256, 256];
const LIMIT = 32 << 20;

const ready = await ensureModels();
const maybe = ready ? describe : describe.skip;

function dice(pred: Uint8Array, ref: Uint8Array, k: number): number {
  let a = 0;
  let b = 0;
  let both = 0;
  for (let i = 0; i < ref.length; i++) {
    const p = pred[i] === k;
    const r = ref[i] === k;
    if (p) a++;
    if (r) b++;
    if (p && r) both++;
  }
  return (2 * both) / Math.max(1, a + b);
}

/** The CT as int16 and the thresholds the 3D test model implements. */
function ct(): Int16Array {
  return new Int16Array(readFileSync(join(REPO, "data/ct/cranium.raw")).buffer.slice(0));
}
const threshold = (hu: number) => (hu < -400 ? 0 : hu < 226 ? 1 : 2);
/** Values exactly at a threshold tie in the 3D model's logits (either class is right). */
const tie = (hu: number) => hu === -400 || hu === 226;

maybe("segmentation in an instance", () => {
  let inst: TestInstance;
  let c: InstanceClient;
  let root: string;
  let unet = "";
  const volume = ct();

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), "rv-seg-"));
    inst = await startInstance({ maxBytes: LIMIT, env: { UCX_TLS: "tcp" }, args: ["--storage-root", root] });
    c = await InstanceClient.connect(inst.url);
    await c.renderVolume(volume, { shape: SHAPE, spacing: [1.5, 0.957, 0.957], name: "cranium" });
    await c.setRender({ tf: { preset: "ct-bone" }, window: [-1024, 2986] });
  });
  afterAll(async () => {
    c?.close();
    await inst?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  const stillShowing = async () => {
    const s = await c.state();
    expect((s.volume as { name: string }).name).toBe("cranium");
    const shot = await c.screenshot({ width: 64, height: 48 });
    expect(shot.rgba.byteLength).toBe(64 * 48 * 4);
  };

  test("the U-Net segments the CT with Dice >= 0.9 per class, off the event loop", async () => {
    const { bytes, description } = loadModelFile(join(MODELS, "ct-unet.onnx"));
    const m = await c.sendModel(bytes, description);
    unet = m.model;
    expect(m).toMatchObject({ classes: 3, inputLayout: "NCHW", input: { shape: ["n", 1, "h", "w"] } });
    let progress = 0;
    const run = c.segment({ onProgress: (d) => (progress = Math.max(progress, d)) });
    // The instance keeps answering while the network runs (these are served meanwhile).
    const t0 = performance.now();
    const s = await c.state();
    const shot = await c.screenshot({ width: 96, height: 64 });
    const answerMs = performance.now() - t0;
    const r = await run;
    expect((s.segmentation as { running: unknown }).running).not.toBeNull();
    expect(shot.width).toBe(96);
    expect(answerMs).toBeLessThan(r.ms);
    expect(r).toMatchObject({ units: 108, unit: "slices", names: ["air", "soft tissue", "bone"] });
    expect(progress).toBe(108);
    const labels = await c.retrieveVolume({ labels: true });
    expect(labels).toMatchObject({ shape: SHAPE, dtype: "uint8", order: "C" });
    const targets = new Uint8Array(readFileSync(join(MODELS, "ct-targets.raw")));
    const d = [0, 1, 2].map((k) => dice(labels.data, targets, k));
    console.log(`segment: ${r.units} slices in ${(r.ms / 1000).toFixed(1)} s (${r.perSecond.toFixed(1)}/s); Dice air ${d[0]!.toFixed(3)}, soft tissue ${d[1]!.toFixed(3)}, bone ${d[2]!.toFixed(3)}`);
    for (const x of d) expect(x).toBeGreaterThanOrEqual(0.9);
    // Against InVesalius' own bone segmentation of this CT (mask_0.dat, one voxel of border).
    const maskPath = join(REPO, "data/ct/cranium_bone_mask.raw");
    if (existsSync(maskPath)) {
      const mask = new Uint8Array(readFileSync(maskPath));
      const bone = new Uint8Array(labels.data.length);
      for (let z = 0; z < 108; z++) for (let y = 0; y < 256; y++) for (let x = 0; x < 256; x++) bone[(z * 256 + y) * 256 + x] = mask[((z + 1) * 257 + y + 1) * 257 + x + 1]! >= 128 ? 2 : 0;
      const db = dice(labels.data, bone, 2);
      console.log(`segment: Dice of bone against InVesalius' mask_0: ${db.toFixed(3)}`);
      expect(db).toBeGreaterThan(0.75);
    }
    // A box of the labels comes back as the same box of the whole.
    const box = await c.retrieveVolume({ labels: true, box: { lo: [50, 100, 100], hi: [52, 104, 103] } });
    expect(box.shape).toEqual([2, 4, 3]);
    expect(box.data[0]).toBe(labels.data[(50 * 256 + 100) * 256 + 100]);
  }, 120_000);

  test("the labels change the rendering where bone is, and the slices where its labels are", async () => {
    const labels = await c.retrieveVolume({ labels: true });
    const state = (await c.state()).segmentation as { labels: { show: boolean } };
    expect(state.labels.show).toBe(true);
    // Only bone, in pure green; then the same views without labels.
    const on = await c.setLabels({ visible: [false, false, true], colors: [[0, 0, 0, 0], [1, 0, 0, 1], [0, 1, 0, 1]], outline: false });
    expect(on.rendered).toBe(true);
    const view = { azimuth: 30, elevation: 20 };
    const shotOn = await c.screenshot({ width: 160, height: 120, view });
    const layer = 60;
    const sliceOn = await c.request("slice", { axis: 0, index: layer }, true);
    await c.setLabels({ show: false });
    const shotOff = await c.screenshot({ width: 160, height: 120, view });
    const sliceOff = await c.request("slice", { axis: 0, index: layer }, true);
    // 3D: pixels changed, and they turned green (bone is what the ct-bone TF shows).
    let changed = 0;
    let greener = 0;
    let drawn = 0;
    for (let i = 0; i < 160 * 120; i++) {
      const a = shotOn.rgba.subarray(i * 4, i * 4 + 4);
      const b = shotOff.rgba.subarray(i * 4, i * 4 + 4);
      if (b[0]! + b[1]! + b[2]! > 30) drawn++;
      if (Math.abs(a[0]! - b[0]!) + Math.abs(a[1]! - b[1]!) + Math.abs(a[2]! - b[2]!) > 6) {
        changed++;
        if (a[1]! - b[1]! > a[0]! - b[0]! && a[1]! - b[1]! > a[2]! - b[2]!) greener++;
      }
    }
    expect(changed).toBeGreaterThan(0.02 * 160 * 120);
    expect(changed).toBeLessThanOrEqual(drawn);
    expect(greener / changed).toBeGreaterThan(0.95);
    // Slice (one pixel per voxel, filled labels): a pixel changed exactly where the label is bone.
    const on8 = sliceOn.bytes!;
    const off8 = sliceOff.bytes!;
    let wrong = 0;
    let bone = 0;
    for (let y = 0; y < 256; y++)
      for (let x = 0; x < 256; x++) {
        const p = (y * 256 + x) * 4;
        const isBone = labels.data[(layer * 256 + y) * 256 + x] === 2;
        const moved = on8[p] !== off8[p] || on8[p + 1] !== off8[p + 1] || on8[p + 2] !== off8[p + 2];
        if (isBone) bone++;
        if (isBone !== moved) wrong++;
      }
    expect(bone).toBeGreaterThan(500);
    expect(wrong).toBe(0);
    await c.setLabels({ show: true, outline: true });
  });

  test("labels are written to HDF5 under a storage root, and only there", async () => {
    const path = join(root, "cranium-labels.h5");
    const r = await c.saveLabels(path);
    expect(r).toMatchObject({ dataset: "/labels", shape: SHAPE });
    const back = readHdf5(path, { dataset: "/labels" });
    const labels = await c.retrieveVolume({ labels: true });
    expect(back.shape).toEqual(SHAPE);
    expect(Buffer.compare(Buffer.from(back.data as Uint8Array), Buffer.from(labels.data))).toBe(0);
    await expect(c.saveLabels(path)).rejects.toThrow(/exists/);
    await expect(c.saveLabels("/etc/remotevis-labels.h5")).rejects.toThrow(/outside the storage roots/);
    // a replacing write that fails leaves the earlier file whole, and no staging file behind
    const before = readFileSync(path);
    await expect(c.saveLabels(path, { overwrite: true, dataset: "/." })).rejects.toThrow();
    expect(Buffer.compare(readFileSync(path), before)).toBe(0);
    expect(readdirSync(root).filter((n) => n.includes(".writing-"))).toEqual([]);
  });

  test("set_labels changes colours and visibility; the state says so", async () => {
    const r = await c.setLabels({ visible: [false, false, true], opacity: 0.8, colors: [[0, 0, 0], [1, 0, 0], [0, 1, 0]] });
    expect((r.labels as { visible: boolean[] }).visible).toEqual([false, false, true]);
    await expect(c.setLabels({ visible: [true] })).rejects.toThrow(/one entry per class/);
    const s = (await c.state()).segmentation as { labels: { counts: number[] } };
    expect(s.labels.counts.reduce((a, b) => a + b, 0)).toBe(108 * 256 * 256);
  });

  test("a 3D network runs on overlapping patches; a clip region segments only the box", async () => {
    const { bytes, description } = loadModelFile(join(MODELS, "ct-threshold3d.onnx"));
    const m = await c.sendModel(bytes, description);
    const r = await c.segment({ model: m.model });
    expect(r.unit).toBe("patches");
    const labels = await c.retrieveVolume({ labels: true });
    let wrong = 0;
    for (let i = 0; i < volume.length; i++) if (labels.data[i] !== threshold(volume[i]!) && !tie(volume[i]!)) wrong++;
    expect(wrong).toBe(0);
    // Clip box: only the slices inside are segmented again (by the U-Net); the rest stays.
    const sp = [1.5, 0.957, 0.957];
    await c.setRender({ clip: { min: [0, 0, 40 * sp[0]!], max: [256 * sp[2]!, 256 * sp[1]!, 44 * sp[0]!] } });
    try {
      const rc = await c.segment({ model: unet, region: "clip" });
      expect(rc).toMatchObject({ units: 4, region: { lo: [40, 0, 0], hi: [44, 256, 256] } });
    } finally {
      await c.setRender({ clip: null });
    }
    const after = await c.retrieveVolume({ labels: true });
    let outside = 0;
    let inside = 0;
    for (let i = 0; i < volume.length; i++) {
      const z = Math.floor(i / 65536);
      if (z >= 40 && z < 44) inside += after.data[i] !== labels.data[i] ? 1 : 0;
      else outside += after.data[i] !== labels.data[i] ? 1 : 0;
    }
    expect(outside).toBe(0);
    expect(inside).toBeGreaterThan(0);
  }, 60_000);

  test("wrong input shape, truncated file, random bytes and a too large model: clear errors, the volume stays", async () => {
    const wrong = readFileSync(join(MODELS, "wrong-input.onnx"));
    const good = readFileSync(join(MODELS, "ct-unet.onnx"));
    const cases: [string, Uint8Array, RegExp, string][] = [
      ["wrong input shape", wrong, /input 'image' has shape \[n, 3, h, w\]; inputLayout NCHW needs \[N, 1, H, W\]/, "wrong_input_shape"],
      ["truncated", good.subarray(0, good.length >> 1), /ONNX Runtime cannot load the model/, "invalid_model"],
      ["random bytes", crypto.getRandomValues(new Uint8Array(50_000)), /ONNX Runtime cannot load the model/, "invalid_model"],
      ["too large", new Uint8Array(LIMIT + 1), /more than the \d+ bytes this instance was started for/, "over_limit"],
    ];
    for (const [what, bytes, message, code] of cases) {
      const err = await c.sendModel(bytes, { inputLayout: "NCHW", classes: 3 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, what).toBeInstanceOf(RemoteVisError);
      expect((err as RemoteVisError).message, what).toMatch(message);
      expect((err as RemoteVisError).code, what).toBe(code);
      await stillShowing();
    }
    // A description that does not fit the model: 4 classes for a 3-class output.
    await expect(c.sendModel(good, { inputLayout: "NCHW", classes: 4 })).rejects.toThrow(/output 'logits' has shape \[n, 3, h, w\]; 4 classes/);
    // A 2D model described as 3D.
    await expect(c.sendModel(good, { inputLayout: "NCDHW", classes: 3 })).rejects.toThrow(/needs \[N, 1, D, H, W\]/);
    const s = (await c.state()).segmentation as { labels: unknown; models: unknown[] };
    expect(s.labels).not.toBeNull();
    await stillShowing();
  }, 60_000);

  test("cancel_segment stops a run; the old labels stay", async () => {
    const before = await c.retrieveVolume({ labels: true });
    const run = c.request("segment", { model: unet, wait: false });
    expect((await run).json).toMatchObject({ started: true });
    await Bun.sleep(200);
    await expect(c.segment({ model: unet })).rejects.toThrow(/a segmentation is running/);
    expect(await c.cancelSegment()).toEqual({ cancelled: true });
    const after = await c.retrieveVolume({ labels: true });
    expect(Buffer.compare(Buffer.from(before.data), Buffer.from(after.data))).toBe(0);
    expect(await c.cancelSegment()).toEqual({ cancelled: false });
  }, 60_000);

  test("remotevis client model FILE --segment --save", async () => {
    const p = cli(["client", "model", join(MODELS, "ct-threshold3d.onnx"), "--instance", inst.url, "--segment", "--save", "cli-labels.h5", "--json"], { UCX_TLS: "tcp" });
    const { code, out, err } = await p.done(60_000);
    expect(code, err).toBe(0);
    const events = out.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.map((e) => e.event)).toEqual(["model", "segmented", "saved"]);
    expect(events[1]).toMatchObject({ unit: "patches" });
    expect(existsSync(join(root, "cli-labels.h5"))).toBe(true);
  }, 60_000);
});

describe("segmentation arithmetic (no instance)", () => {
  const t = ready ? test : test.skip;
  t("2D slices along any axis and 3D patches give the same labels in C and F order", () => {
    const s3 = OrtSession.load(readFileSync(join(MODELS, "ct-threshold3d.onnx")), { threads: 1 });
    const spec = checkModel(s3, { inputLayout: "NCDHW", classes: 3, patch: [8, 16, 16], overlap: 3 });
    const shape: Vec3 = [13, 21, 34];
    const n = shape[0] * shape[1] * shape[2];
    const c = new Int16Array(n);
    for (let i = 0; i < n; i++) c[i] = ((i * 7919) % 3000) - 1024;
    const f = new Int16Array(n);
    for (let z = 0; z < shape[0]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[2]; x++) f[z + shape[0] * (y + shape[1] * x)] = c[(z * shape[1] + y) * shape[2] + x]!;
    const norm = { offset: -1024, scale: 1 / 2048, clamp: true };
    const all = { lo: [0, 0, 0] as Vec3, hi: shape };
    const lc = new Uint8Array(n);
    const lf = new Uint8Array(n);
    expect(segmentVolume(s3, spec, { data: c, shape, dtype: "int16", order: "C" }, lc, all, { batch: 3, norm })).toBeGreaterThan(1);
    segmentVolume(s3, spec, { data: f, shape, dtype: "int16", order: "F" }, lf, all, { batch: 2, norm });
    let wrong = 0;
    for (let i = 0; i < n; i++) if (lc[i] !== threshold(c[i]!) && !tie(c[i]!)) wrong++;
    expect(wrong).toBe(0);
    let differ = 0;
    for (let z = 0; z < shape[0]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[2]; x++) if (lf[z + shape[0] * (y + shape[1] * x)] !== lc[(z * shape[1] + y) * shape[2] + x]) differ++;
    expect(differ).toBe(0);
    s3.dispose();
    // The U-Net along y (axis 1): slices [z, x] of 108 x 256 padded to a multiple of 8.
    const s2 = OrtSession.load(readFileSync(join(MODELS, "ct-unet.onnx")), { threads: 2 });
    const spec2 = checkModel(s2, { inputLayout: "NCHW", classes: 3, axis: 1, multiple: 8 });
    const vol = ct();
    const lab = new Uint8Array(vol.length);
    const units = segmentVolume(s2, spec2, { data: vol, shape: SHAPE, dtype: "int16", order: "C" }, lab, { lo: [0, 120, 0], hi: [108, 124, 256] }, { batch: 4, norm: { offset: -1024, scale: 1 / 2048, clamp: true } });
    expect(units).toBe(4);
    let agree = 0;
    let total = 0;
    for (let z = 0; z < 108; z++)
      for (let y = 120; y < 124; y++)
        for (let x = 0; x < 256; x++) {
          const i = (z * 256 + y) * 256 + x;
          total++;
          if (lab[i] === threshold(vol[i]!)) agree++;
        }
    expect(agree / total).toBeGreaterThan(0.9);
    s2.dispose();
  }, 60_000);
});

describe("pipelined segmentation (a prep thread beside the inference)", () => {
  const t = ready ? test : test.skip;
  const prep = new PrepThread();
  afterAll(() => prep.stop());

  /** Serial and pipelined over the same region: labels and counts must be the same bit for bit. */
  function both(s: OrtSession, spec: ModelSpec, data: Int16Array, shape: Vec3, order: "C" | "F", region: Region, batch: number, norm: Norm) {
    const vol = { data, shape, dtype: "int16" as const, order };
    const serial = new Uint8Array(data.length).fill(7);
    const serialCounts = new Float64Array(spec.classes);
    const units = segmentVolume(s, spec, vol, serial, region, { batch, norm, counts: serialCounts });
    const piped = new Uint8Array(data.length).fill(7);
    const cells = new Int32Array(new SharedArrayBuffer(12));
    const counts = new Float64Array(spec.classes);
    let batches = 0;
    const r = segmentPipelined(prep, s, spec, { vol: { ...vol, addr: ptr(data) }, labels: piped, labelsAddr: ptr(piped), region, batch, norm, progress: { cells }, counts, onBatch: () => batches++ });
    expect(r).toBe(units);
    expect(cells[0]).toBe(units);
    expect(batches).toBe(Math.ceil(units / batch));
    expect(Buffer.compare(Buffer.from(piped), Buffer.from(serial))).toBe(0);
    expect(Array.from(counts)).toEqual(Array.from(serialCounts));
    return { labels: piped, counts };
  }

  t("2D slices (padded, a partial last batch, more batches than buffers) and 3D patches that stick out: the serial loop's labels", () => {
    const norm = { offset: -1024, scale: 1 / 2048, clamp: true };
    const s2 = OrtSession.load(readFileSync(join(MODELS, "ct-unet.onnx")), { threads: 2 });
    const vol = ct();
    // Along z, the whole of 10 slices in batches of 3 (4 batches: the last has 1).
    const spec0 = checkModel(s2, { inputLayout: "NCHW", classes: 3, axis: 0, multiple: 8 });
    const z = both(s2, spec0, vol, SHAPE, "C", { lo: [30, 0, 0], hi: [40, 256, 256] }, 3, norm);
    expect(z.counts.reduce((a, b) => a + b, 0)).toBe(10 * 256 * 256);
    // Along y: slices of 108 x 200 padded to 112 x 200, 5 of them in batches of 2.
    const spec1 = checkModel(s2, { inputLayout: "NCHW", classes: 3, axis: 1, multiple: 8 });
    both(s2, spec1, vol, SHAPE, "C", { lo: [0, 120, 20], hi: [108, 125, 220] }, 2, norm);
    s2.dispose();
    // 3D: patches of 16 on a 13 x 21 x 34 volume (z sticks out: zeros there), one per batch.
    const s3 = OrtSession.load(readFileSync(join(MODELS, "ct-threshold3d.onnx")), { threads: 1 });
    const spec3 = checkModel(s3, { inputLayout: "NCDHW", classes: 3, patch: [16, 16, 16], overlap: 3 });
    const shape: Vec3 = [13, 21, 34];
    const n = shape[0] * shape[1] * shape[2];
    const c = new Int16Array(n);
    for (let i = 0; i < n; i++) c[i] = ((i * 7919) % 3000) - 1024;
    const all = { lo: [0, 0, 0] as Vec3, hi: shape };
    const p = both(s3, spec3, c, shape, "C", all, 1, norm);
    expect(Array.from(p.counts)).toEqual(countLabels(p.labels, 3));
    const f = new Int16Array(n);
    for (let z = 0; z < shape[0]; z++) for (let y = 0; y < shape[1]; y++) for (let x = 0; x < shape[2]; x++) f[z + shape[0] * (y + shape[1] * x)] = c[(z * shape[1] + y) * shape[2] + x]!;
    both(s3, spec3, f, shape, "F", all, 4, norm);
    s3.dispose();
  }, 120_000);

  t("cancel stops after the current batch; the next run works", () => {
    const s3 = OrtSession.load(readFileSync(join(MODELS, "ct-threshold3d.onnx")), { threads: 1 });
    const spec = checkModel(s3, { inputLayout: "NCDHW", classes: 3, patch: [8, 8, 8], overlap: 2 });
    const shape: Vec3 = [20, 20, 20];
    const data = new Int16Array(8000).map((_, i) => (i % 2000) - 1000);
    const labels = new Uint8Array(8000);
    const cells = new Int32Array(new SharedArrayBuffer(12));
    const norm = { offset: -1024, scale: 1 / 2048, clamp: true };
    const run = (onBatch?: () => void) =>
      segmentPipelined(prep, s3, spec, { vol: { data, shape, dtype: "int16", order: "C", addr: ptr(data) }, labels, labelsAddr: ptr(labels), region: { lo: [0, 0, 0], hi: shape }, batch: 1, norm, progress: { cells }, counts: new Float64Array(3), onBatch });
    let batches = 0;
    expect(run(() => ++batches === 2 && Atomics.store(cells, 2, 1))).toBe(-1);
    expect(batches).toBe(2);
    expect(cells[1]).toBeGreaterThan(2);
    expect(cells[0]).toBeLessThanOrEqual(2);
    Atomics.store(cells, 2, 0);
    expect(run()).toBe(cells[1]);
    expect(cells[0]).toBe(cells[1]);
    s3.dispose();
  }, 60_000);
});
