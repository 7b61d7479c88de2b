/**
 * The prep thread of a pipelined segmentation (see pipeline.ts): for each job, gathers the
 * batches' inputs ahead of the inference thread (at most SLOTS ahead) and scatters each
 * scored batch into the labels, then the class counts; progress (cells[0]) counts labelled
 * units. Started by the segmentation thread (worker.ts); one job at a time.
 */
import { toArrayBuffer } from "bun:ffi";
import { CTL, SLOTS, STATE, bump, type PrepJob } from "./pipeline.ts";
import { planSegmentation } from "./plan.ts";

function run(j: PrepJob): void {
  const ctl = j.ctl;
  if (Atomics.compareExchange(ctl, CTL.state, STATE.posted, STATE.running) !== STATE.posted) return;
  bump(ctl);
  try {
    const data = new Uint8Array(toArrayBuffer(j.volume.addr as never, 0, j.volume.bytes));
    const labels = new Uint8Array(toArrayBuffer(j.labels.addr as never, 0, j.labels.bytes));
    const plan = planSegmentation(j.spec, { data, shape: j.volume.shape, dtype: j.volume.dtype, order: j.volume.order }, labels, j.region, j.batch, j.norm);
    // The plan's contract: buffers start zeroed (they are kept from earlier jobs).
    for (const x of j.inputs) x.fill(0, 0, plan.inputLength);
    const B = plan.batches;
    let g = 0;
    let a = 0;
    let done = 0;
    while (a < B) {
      const seq = Atomics.load(ctl, CTL.seq);
      if (Atomics.load(ctl, CTL.stop)) break;
      // Keeping the inference thread fed comes first; a batch is scattered when its slot is needed.
      if (g < B && g - a < SLOTS) {
        plan.gather(g, j.inputs[g % SLOTS]!);
        Atomics.store(ctl, CTL.gathered, ++g);
        bump(ctl);
        continue;
      }
      if (Atomics.load(ctl, CTL.scored) > a) {
        plan.scatter(a, j.scores[a % SLOTS]!, j.counts);
        done += plan.count(a);
        Atomics.store(ctl, CTL.labelled, ++a);
        Atomics.store(j.cells, 0, done);
        continue;
      }
      Atomics.wait(ctl, CTL.seq, seq, 1000);
    }
    Atomics.store(ctl, CTL.state, STATE.done);
  } catch (err) {
    const n = new TextEncoder().encodeInto((err instanceof Error ? err.message : String(err)).slice(0, 300), j.error).written;
    Atomics.store(ctl, CTL.errorBytes, n);
    Atomics.store(ctl, CTL.state, STATE.failed);
  }
  bump(ctl);
}

(globalThis as unknown as Worker).onmessage = (e: MessageEvent<PrepJob>) => run(e.data);
