/**
 * `remotevis instance --ranks 2` end to end: the real CT arrives over SSC-RDMA into the ranks'
 * shared memory, two MPI ranks render their slabs and composite, and the screenshot equals the
 * single-rank instance's within the tolerance of the distributed tests (mean difference <= 1
 * level, <= 1 % of channel values off by more than 8).
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { InstanceClient } from "../client/instance.ts";
import { forInstance } from "../client/volume-data.ts";
import { readVolume } from "../formats/index.ts";
import { ensureTestData, REPO } from "../formats/testdata.ts";
import { startInstance } from "../testing/instance.ts";

const DATA = await ensureTestData();
const hasMpi = Bun.which("mpirun") !== null && existsSync(`${REPO}ffi/rvrmpi/build/rvr_ranks`);
if (!hasMpi) console.warn("SKIPPING the distributed instance test: no mpirun or ffi/rvrmpi/build/rvr_ranks (Debian openmpi-bin, make)");

describe.skipIf(!DATA || !hasMpi)("an instance with 2 ranks", () => {
  test("renders the real CT like a single-rank instance", async () => {
    const v = await readVolume(`${DATA}/ct/cranium.raw`);
    const { data, dtype } = forInstance(v);
    const shots: Uint8Array[] = [];
    for (const args of [[], ["--ranks", "2"]]) {
      const inst = await startInstance({ env: { UCX_TLS: "tcp" }, args });
      try {
        const c = await InstanceClient.connect(inst.url);
        const ready = await c.renderVolume(data, { shape: v.shape, dtype, spacing: v.spacing });
        expect(ready.bytes).toBe(v.data.byteLength);
        await c.setRender({ tf: { preset: "ct-bone" } });
        shots.push((await c.screenshot({ width: 320, height: 200, view: { azimuth: 200, elevation: 20 } })).rgba);
        c.close();
      } finally {
        await inst.stop();
      }
    }
    const [one, two] = shots as [Uint8Array, Uint8Array];
    let sum = 0;
    let far = 0;
    for (let i = 0; i < one.length; i++) {
      const d = Math.abs(one[i]! - two[i]!);
      sum += d;
      if (d > 8) far++;
    }
    expect(sum / one.length).toBeLessThanOrEqual(1);
    expect(far / one.length).toBeLessThanOrEqual(0.01);
  }, 120_000);
});
