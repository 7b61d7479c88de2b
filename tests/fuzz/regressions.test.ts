/**
 * Inputs the fuzzers once broke the code with (tests/fuzz/regressions/TARGET/): each is
 * replayed through its target's checks, in a child process like the fuzz runs, and must now
 * pass. A file target's regression carries its extension (.tif, .nii.gz, ...); a raw one is
 * packed with its sidecar (files.ts packRaw); a protocol one is {"schema", "text"}.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { REPO, runChild, summary } from "./lib/child.ts";

const DIR = join(REPO, "tests/fuzz/regressions");

describe("fuzz regressions", () => {
  for (const target of readdirSync(DIR).sort()) {
    const files = readdirSync(join(DIR, target)).filter((f) => !f.startsWith("."));
    if (files.length === 0) continue;
    test(`${target}: ${files.length} saved inputs pass (${files.join(", ")})`, async () => {
      const r = await runChild(target, 0, 0, undefined, files.map((f) => join(DIR, target, f)));
      console.log(summary(r));
      expect(r.abnormal).toBeUndefined();
      expect(r.failures.map((f) => f.why)).toEqual([]);
      expect(r.cases).toBe(files.length);
    });
  }
});
