/**
 * Property/fuzz tests of the TS file readers (npy, NIfTI, PCD, TIFF, MRC, LAS, XYZ, raw), the
 * protocol schemas and the SSC-RDMA application header: each target runs in a child process
 * (tests/fuzz/lib/child.ts) for FUZZ_SECONDS (make fuzz: 600) or a 3 s smoke in make test.
 * FUZZ_SEED replays a run, FUZZ_CASE one case of it; FUZZ_TARGETS=npy,pcd picks targets.
 * Each prints one line: cases, seconds, seed, failures and the outcome counts.
 */
import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureTestData } from "../../src/formats/testdata.ts";
import { HANG_SECONDS, fuzzSeconds, runChild, summary } from "./lib/child.ts";
import { seedFromEnv } from "./lib/prng.ts";
import { TARGETS } from "./targets/index.ts";

const seed = seedFromEnv();
const only = process.env.FUZZ_CASE !== undefined ? Number(process.env.FUZZ_CASE) : undefined;
const seconds = fuzzSeconds();
const chosen = process.env.FUZZ_TARGETS ? process.env.FUZZ_TARGETS.split(",") : TARGETS;
const data = await ensureTestData();

/** Targets whose only seeds are real files that may be missing. */
const NEEDS: Record<string, string> = { mrc: "ccp4/1jzv.ccp4", las: "points/table_scene_lms400.las", xyz: "points/table_scene_lms400.xyz" };

describe(`fuzz (seed ${seed}, ${seconds} s per target)`, () => {
  for (const t of TARGETS.filter((t) => chosen.includes(t))) {
    const missing = NEEDS[t] && !(data && existsSync(join(data, NEEDS[t])));
    if (missing) console.warn(`SKIPPING fuzz ${t}: its seeds come from data/${NEEDS[t]}, which scripts/testdata.sh could not make here`);
    test.skipIf(!!missing)(
      `${t}: every input gives a valid result or a clear error (no crash, hang, other error or absurd allocation)`,
      async () => {
        const r = await runChild(t, seconds, seed, only);
        console.log(summary(r));
        if (r.note) console.log(`  seeds: ${r.note.slice(0, 400)}`);
        for (const f of r.failures) console.log(`  FAILED case ${f.case}: ${f.why}\n    input saved as ${f.saved}; replay: FUZZ_SEED=${seed} FUZZ_CASE=${f.case} FUZZ_TARGETS=${t}`);
        expect(r.abnormal).toBeUndefined();
        expect(r.failures.map((f) => f.why)).toEqual([]);
        expect(r.cases).toBeGreaterThan(0);
      },
      (seconds + HANG_SECONDS + 60) * 1000,
    );
  }
});
