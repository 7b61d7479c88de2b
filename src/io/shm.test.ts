/**
 * A shared segment of several files is one contiguous mapping whose bytes are the files' bytes
 * in order, seen the same by another process that maps the inherited descriptors.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { MAX_PARTS, PART_ALIGN, SharedSegment } from "./shm.ts";

const MiB = 2 ** 20;

test("parts: split at the given offsets (rounded down to 2 MiB), one mapping over all", () => {
  using seg = SharedSegment.create(9 * MiB + 123, "t", { splitAt: [0, 3 * MiB, 4 * MiB + 5, 9 * MiB] });
  expect(seg.parts.map((p) => [p.start, p.size])).toEqual([
    [0, 2 * MiB],
    [2 * MiB, 2 * MiB],
    [4 * MiB, 4 * MiB],
    [8 * MiB, MiB + 123],
  ]);
  for (let i = 0; i < seg.size; i += 4096) seg.bytes[i] = (i / 4096) & 255;
  seg.bytes[seg.size - 1] = 77;
  // each file holds its own range of the mapping
  for (const p of seg.parts) {
    const file = new Uint8Array(readFileSync(`/proc/self/fd/${p.fd}`));
    expect(file.byteLength).toBe(p.size);
    expect(Buffer.from(file).equals(Buffer.from(seg.bytes.subarray(p.start, p.start + p.size)))).toBe(true);
  }
  expect(seg.bytes[seg.size - 1]).toBe(77);
});

test("another process maps the inherited parts in the same order", async () => {
  using seg = SharedSegment.create(5 * MiB, "t", { splitAt: [2 * MiB, 4 * MiB] });
  expect(seg.parts.length).toBe(3);
  const src = `import { mapInherited } from ${JSON.stringify(new URL("./shm.ts", import.meta.url).pathname)};
const { bytes, parts } = mapInherited(3);
bytes[2 * 2 ** 20 - 1] = 1; bytes[2 * 2 ** 20] = 2; bytes[5 * 2 ** 20 - 1] = 3;
console.log(JSON.stringify(parts.map((p) => p.size)));`;
  const p = Bun.spawn([process.execPath, "-e", src], { stdio: ["ignore", "pipe", "inherit", ...seg.parts.map((x) => x.fd)] });
  expect((await new Response(p.stdout).text()).trim()).toBe(JSON.stringify([2 * MiB, 2 * MiB, MiB]));
  expect(await p.exited).toBe(0);
  expect([seg.bytes[2 * MiB - 1], seg.bytes[2 * MiB], seg.bytes[5 * MiB - 1]]).toEqual([1, 2, 3]);
});

test("at most MAX_PARTS files; no split points, one file", () => {
  using many = SharedSegment.create(300 * PART_ALIGN, "t", { splitAt: Array.from({ length: 300 }, (_, i) => i * PART_ALIGN) });
  expect(many.parts.length).toBeLessThanOrEqual(MAX_PARTS);
  expect(many.parts.reduce((a, p) => a + p.size, 0)).toBe(300 * PART_ALIGN);
  using one = SharedSegment.create(3 * MiB);
  expect(one.parts.length).toBe(1);
});
