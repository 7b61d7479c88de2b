/**
 * `remotevis bench segment`: segmentation throughput through an instance against the same
 * network run directly with ONNX Runtime (onnxruntime-node's addon) on the same slices, in the
 * same run, on the same machine. Target: the instance's overhead (normalizing the volume's
 * values, the argmax into labels, the segmentation thread, progress) <= 10% of slices/s.
 *
 * The instance (CPU renderer, a child process) gets the CT of scripts/testdata.sh over
 * SSC-RDMA and the U-Net of scripts/train-segmentation.sh, then segments all 108 axial slices
 * (256 x 256) --reps times; the best run counts (the first also warms ONNX Runtime up). The
 * baseline loads the same model bytes in this process, builds the same normalized batches
 * beforehand (not timed) and times only the inference calls, best of --reps as well. Both use
 * ONNX Runtime's default thread pool (all cores) and the same batch. The instance is idle
 * otherwise; the baseline runs while the instance is idle too.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { InstanceClient } from "../src/client/instance.ts";
import { loadModelFile } from "../src/client/model.ts";
import { RemoteVisError } from "../src/errors.ts";
import { OrtSession } from "../src/segment/ort.ts";
import { roundUp } from "../src/segment/infer.ts";
import { startInstance } from "../src/testing/viewer.ts";
import { print, result } from "./report.ts";

export interface SegmentBenchOpts {
  model: string;
  ct: string;
  batch: number;
  reps: number;
}

export async function segmentBench(o: SegmentBenchOpts): Promise<void> {
  const model = resolve(o.model);
  const ct = resolve(o.ct);
  for (const [what, p, how] of [
    ["model", model, "scripts/train-segmentation.sh"],
    ["CT", ct, "scripts/testdata.sh"],
  ])
    if (!existsSync(p!)) throw new RemoteVisError("not_found", `bench segment needs the ${what} ${p} (make it with ${how})`, 404);
  const meta = JSON.parse(readFileSync(ct.replace(/\.raw$/, ".json"), "utf8")) as { shape: [number, number, number]; spacing: [number, number, number] };
  const [Z, H, W] = meta.shape;
  const volume = new Int16Array(readFileSync(ct).buffer.slice(0));
  const { bytes, description } = loadModelFile(model);
  const win = typeof description.normalize === "object" && "window" in description.normalize ? description.normalize.window : [-1024, 1024];

  // ---- through the instance ----
  await using inst = await startInstance();
  const c = await InstanceClient.connect(inst.url);
  let best = { perSecond: 0, inferMs: 0, ms: 0 };
  try {
    await c.renderVolume(volume, { shape: meta.shape, spacing: meta.spacing, name: "cranium" });
    const m = await c.sendModel(bytes, description);
    for (let i = 0; i < o.reps; i++) {
      const r = await c.segment({ model: m.model, batch: o.batch });
      const perSecond = r.units / (r.ms / 1000);
      process.stderr.write(`bench segment: instance run ${i + 1}: ${r.units} slices in ${r.ms.toFixed(0)} ms (${perSecond.toFixed(1)}/s, inference ${r.inferMs.toFixed(0)} ms${r.pipelined ? ", pipelined" : ""})\n`);
      if (perSecond > best.perSecond) best = { perSecond, inferMs: r.inferMs, ms: r.ms };
    }
  } finally {
    c.close();
  }

  // ---- directly: the same model and slices, inference calls only ----
  const s = OrtSession.load(bytes);
  const PH = roundUp(H, description.multiple ?? 8);
  const PW = roundUp(W, description.multiple ?? 8);
  const batches: { input: Float32Array; n: number }[] = [];
  for (let z0 = 0; z0 < Z; z0 += o.batch) {
    const n = Math.min(o.batch, Z - z0);
    const input = new Float32Array(n * PH * PW);
    for (let b = 0; b < n; b++)
      for (let y = 0; y < H; y++)
        for (let x = 0; x < W; x++) input[(b * PH + y) * PW + x] = Math.min(1, Math.max(0, (volume[((z0 + b) * H + y) * W + x]! - win[0]!) / (win[1]! - win[0]!)));
    batches.push({ input, n });
  }
  let direct = 0;
  for (let i = 0; i < o.reps; i++) {
    const t0 = performance.now();
    for (const b of batches) s.run(b.input, [b.n, 1, PH, PW]);
    const ms = performance.now() - t0;
    process.stderr.write(`bench segment: direct run ${i + 1}: ${Z} slices in ${ms.toFixed(0)} ms (${(Z / (ms / 1000)).toFixed(1)}/s)\n`);
    direct = Math.max(direct, Z / (ms / 1000));
  }
  s.dispose();
  print(
    result(
      { bench: "segment", case: `ct-unet-${H}x${W}-batch${o.batch}`, value: best.perSecond, unit: "slices/s", baseline: "onnxruntime-node direct, same model and slices", baseline_value: direct, higher_is_better: true },
      { overhead: Math.round((1 - best.perSecond / direct) * 1000) / 1000, target_overhead: 0.1, instance_ms: Math.round(best.ms), instance_infer_ms: Math.round(best.inferMs), slices: Z, cores: availableParallelism(), reps: o.reps },
    ),
  );
}
