/**
 * The segmentation thread of an instance: loads models with ONNX Runtime and runs them over the
 * volume, so that the event loop (viewers, control) keeps going; ONNX Runtime uses its own
 * thread pool inside each run, and the prep thread (pipeline.ts) prepares and scatters the
 * batches meanwhile. The volume and the labels are read and written in place through their
 * addresses (the main thread keeps both alive until the reply); progress and the cancel
 * request travel through a SharedArrayBuffer, as the run is one blocking call.
 *
 * REMOTEVIS_SEGMENT_PIPELINE=0 runs the batches serially on this thread (for comparison).
 */
import { toArrayBuffer } from "bun:ffi";
import { RemoteVisError } from "../errors.ts";
import { OpFailed, serveOps } from "../process/worker-rpc.ts";
import type { VolumeDtype } from "../protocol/control.ts";
import { VOLUME_DTYPE_BYTES } from "../protocol/control.ts";
import { checkModel, segmentVolume, type ModelSpec, type Norm, type Region, type Vec3 } from "./infer.ts";
import { OrtSession } from "./ort.ts";
import { PrepThread, segmentPipelined } from "./pipeline.ts";
import { countLabels } from "./plan.ts";

const sessions = new Map<string, { session: OrtSession; spec: ModelSpec }>();
const pipelined = process.env.REMOTEVIS_SEGMENT_PIPELINE !== "0";
const prep = new PrepThread();

/** Errors cross the thread as code -1 plus a JSON message that the main side turns back. */
function fail(err: unknown): never {
  const e = err instanceof RemoteVisError ? err : new RemoteVisError("segment_failed", err instanceof Error ? err.message : String(err), 500);
  throw new OpFailed(-1, JSON.stringify(e.toJSON().error));
}

serveOps({
  load(id: string, bytes: Uint8Array, desc: Parameters<typeof checkModel>[1], threads: number) {
    try {
      const session = OrtSession.load(bytes, { threads });
      try {
        const spec = checkModel(session, desc);
        sessions.get(id)?.session.dispose();
        sessions.set(id, { session, spec });
        if (pipelined) prep.start();
        return { spec, inputs: session.inputs, outputs: session.outputs, providers: session.providers };
      } catch (err) {
        session.dispose();
        throw err;
      }
    } catch (err) {
      fail(err);
    }
  },
  drop(id: string) {
    sessions.get(id)?.session.dispose();
    sessions.delete(id);
  },
  segment(job: {
    model: string;
    volume: { addr: number; bytes: number; shape: Vec3; dtype: VolumeDtype; order: "C" | "F" };
    labels: number;
    region: Region;
    batch: number;
    norm: Norm;
    cells: Int32Array;
  }) {
    try {
      const m = sessions.get(job.model);
      if (!m) throw new RemoteVisError("not_found", `no model ${job.model} on this instance`, 404);
      const n = job.volume.shape[0] * job.volume.shape[1] * job.volume.shape[2];
      if (job.volume.bytes !== n * VOLUME_DTYPE_BYTES[job.volume.dtype]) throw new RemoteVisError("internal", "volume size does not match its shape", 500);
      const data = new Uint8Array(toArrayBuffer(job.volume.addr as never, 0, job.volume.bytes));
      const labels = new Uint8Array(toArrayBuffer(job.labels as never, 0, n));
      const t0 = performance.now();
      let inferMs = 0;
      const onBatch = (_n: number, ms: number) => (inferMs += ms);
      const volume = { data, shape: job.volume.shape, dtype: job.volume.dtype, order: job.volume.order };
      const progress = { cells: job.cells };
      const regionCounts = new Float64Array(m.spec.classes);
      let units = pipelined
        ? segmentPipelined(prep, m.session, m.spec, { vol: { ...volume, addr: job.volume.addr }, labels, labelsAddr: job.labels, region: job.region, batch: job.batch, norm: job.norm, progress, counts: regionCounts, onBatch })
        : undefined;
      const usedPipeline = units !== undefined;
      units ??= segmentVolume(m.session, m.spec, volume, labels, job.region, { batch: job.batch, norm: job.norm, progress, counts: regionCounts, onBatch });
      // The argmax counted the region; a smaller region keeps the earlier labels around it.
      const whole = job.region.lo.every((l) => l === 0) && job.region.hi.every((h, k) => h === job.volume.shape[k]);
      const counts = units < 0 ? [] : whole ? Array.from(regionCounts) : countLabels(labels, m.spec.classes);
      return { units, cancelled: units < 0, ms: performance.now() - t0, inferMs, counts, pipelined: usedPipeline };
    } catch (err) {
      fail(err);
    }
  },
});
