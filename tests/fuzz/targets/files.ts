/**
 * Fuzz targets for the file readers of src/formats (npy, NIfTI, PCD, TIFF, MRC, LAS, XYZ/CSV, raw): a seed (cut from the real test data) is
 * mutated, written to a scratch file with the format's extension and read the way an instance
 * reads a file for load_file (`read(path)`: the format by magic bytes, then extension). Every
 * case must end in a valid volume / point cloud, or in a RemoteVisError with one of the codes a
 * reader may give, whose message names the file by its base name only; and no case may ask
 * for an allocation out of proportion to the file (tests/fuzz/lib/alloc-watch.ts).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { RemoteVisError } from "../../../src/errors.ts";
import { DTYPE_SIZE, DTYPES, type PointCloud, type Volume, read } from "../../../src/formats/index.ts";
import { ensureTestData } from "../../../src/formats/testdata.ts";
import { takeLargestAllocation } from "../lib/alloc-watch.ts";
import { mutate } from "../lib/mutate.ts";
import type { Rng } from "../lib/prng.ts";
import { type Target, broken, outcomeOf } from "../lib/target.ts";
import { RAW_SIDECAR, type Seed, seedsFor } from "../seeds.ts";

/** Codes a reader may answer a bad file with; anything else (out_of_memory, internal, ...) is a finding. */
export const READER_CODES = new Set([
  "corrupt_file",
  "unsupported_format",
  "unsupported_dtype",
  "unsupported_shape",
  "unsupported_tiff",
  "too_large",
  "empty",
  "bad_layout",
  "no_layout",
  "not_found",
  "hdf5_unavailable",
]);

/** deflate expands at most ~1032:1; no reader may ask for more than this per byte of input. */
export const ALLOC_RATIO = 2000;
export const ALLOC_SLACK = 4 << 20;

interface Spec {
  ext: string;
  /** where the readers take their decisions: most mutations land here */
  headerBytes: number;
  /** .nii.gz: mutate the decompressed bytes (then gzip again) half of the time */
  gzip?: boolean;
}

const SPECS: Record<string, Spec> = {
  npy: { ext: "npy", headerBytes: 256 },
  nifti: { ext: "nii", headerBytes: 600 },
  pcd: { ext: "pcd", headerBytes: 400 },
  tiff: { ext: "tif", headerBytes: 1 << 20 },
  mrc: { ext: "ccp4", headerBytes: 1100 },
  las: { ext: "las", headerBytes: 400 },
  xyz: { ext: "xyz", headerBytes: 4096 },
  raw: { ext: "raw", headerBytes: 64 },
};

interface Ctx {
  dir: string;
  seeds: Seed[];
}

interface Input {
  seed: Seed;
  bytes: Uint8Array;
  sidecar?: string;
}

function checkVolume(v: Volume): void {
  if (!Array.isArray(v.shape) || v.shape.length !== 3 || !v.shape.every((d) => Number.isSafeInteger(d) && d >= 1)) broken(`volume with shape ${JSON.stringify(v.shape)}`);
  if (!DTYPES.includes(v.dtype)) broken(`volume with dtype ${v.dtype}`);
  const n = v.shape[0] * v.shape[1] * v.shape[2];
  if (v.data.length !== n || v.data.BYTES_PER_ELEMENT !== DTYPE_SIZE[v.dtype]) broken(`volume ${v.shape.join("x")} ${v.dtype} with ${v.data.length} elements of ${v.data.BYTES_PER_ELEMENT} bytes`);
  if (v.order !== "C" && v.order !== "F") broken(`volume order ${v.order}`);
  if (!v.spacing.every((s) => Number.isFinite(s) && s > 0)) broken(`volume spacing ${JSON.stringify(v.spacing)}`);
}

function checkPoints(p: PointCloud): void {
  if (!Number.isSafeInteger(p.count) || p.count < 0) broken(`point cloud of ${p.count} points`);
  if (p.xyz.length !== 3 * p.count || p.values.length !== p.count) broken(`point cloud of ${p.count} points with ${p.xyz.length} coordinates and ${p.values.length} values`);
  if (p.rgb && p.rgb.length !== 3 * p.count) broken(`point cloud of ${p.count} points with ${p.rgb.length} colour bytes`);
}

/** The checks every reader target shares: outcome, error shape, no path in messages, allocation bound. */
export async function checkRead(path: string, dir: string, inputBytes: number): Promise<string> {
  takeLargestAllocation();
  let outcome: string;
  try {
    const r = await read(path);
    if (r.kind === "volume") checkVolume(r);
    else if (r.kind === "points") checkPoints(r);
    else broken(`read returned kind ${(r as { kind: string }).kind}`);
    outcome = "ok";
  } catch (err) {
    outcome = outcomeOf(err);
    const e = err as RemoteVisError;
    if (!READER_CODES.has(e.code)) broken(`error code ${e.code} (${e.message.slice(0, 200)})`);
    if (e.status < 400 || e.status >= 500) broken(`status ${e.status} for ${e.code}`);
    if (e.message.includes(dir)) broken(`the message repeats the file's full path: ${e.message.slice(0, 200)}`);
  }
  const largest = takeLargestAllocation();
  if (largest > inputBytes * ALLOC_RATIO + ALLOC_SLACK) broken(`asked for ${largest} bytes at once for a file of ${inputBytes} bytes (outcome ${outcome})`);
  return outcome;
}

export function fileTarget(format: keyof typeof SPECS): Target<Ctx, Input> {
  const spec = SPECS[format]!;
  return {
    name: format,
    async prepare() {
      const data = await ensureTestData();
      const seeds = seedsFor(format, data);
      const base = process.platform === "linux" ? "/dev/shm" : tmpdir();
      const dir = mkdtempSync(join(base, `rv-fuzz-${format}-`));
      const note = `${seeds.length} seeds (${data ? "cut from the real test data" : "synthetic: the real test data is missing"}): ${seeds.map((s) => `${s.name} ${s.bytes.length} B`).join(", ")}`;
      return { ctx: { dir, seeds }, note };
    },
    input(rng: Rng, ctx: Ctx): Input {
      if (ctx.seeds.length === 0) throw new Error(`no seeds for ${format}: the real test data is missing (scripts/testdata.sh)`);
      const seed = rng.pick(ctx.seeds);
      if (format === "raw" && rng.chance(0.5)) {
        const text = new TextEncoder().encode(RAW_SIDECAR);
        return { seed, bytes: seed.bytes, sidecar: new TextDecoder().decode(mutate(rng, text, text.length)) };
      }
      if (seed.name.endsWith(".gz") && rng.chance(0.5)) {
        const inner = mutate(rng, new Uint8Array(gunzipSync(seed.bytes)), spec.headerBytes);
        return { seed, bytes: new Uint8Array(gzipSync(inner)), sidecar: format === "raw" ? RAW_SIDECAR : undefined };
      }
      return { seed, bytes: mutate(rng, seed.bytes, spec.headerBytes), sidecar: format === "raw" ? RAW_SIDECAR : undefined };
    },
    async check(input: Input, ctx: Ctx): Promise<string> {
      // the seed's own extension (nii.gz, csv, ...): detection falls back to it
      const dot = input.seed.name.indexOf(".");
      const ext = dot > 0 ? input.seed.name.slice(dot + 1) : spec.ext;
      const path = join(ctx.dir, `case.${ext}`);
      writeFileSync(path, input.bytes);
      if (input.sidecar !== undefined) writeFileSync(join(ctx.dir, "case.json"), input.sidecar);
      return checkRead(path, ctx.dir, input.bytes.length + (input.sidecar?.length ?? 0));
    },
    bytes(input: Input): Uint8Array {
      if (input.sidecar === undefined) return input.bytes;
      return packRaw(input.sidecar, input.bytes);
    },
    fromBytes(bytes: Uint8Array, fileName: string): Input {
      if (format === "raw") {
        const { sidecar, voxels } = unpackRaw(bytes);
        return { seed: { name: "case.raw", bytes: voxels }, bytes: voxels, sidecar };
      }
      return { seed: { name: fileName, bytes }, bytes };
    },
    cleanup(ctx: Ctx) {
      rmSync(ctx.dir, { recursive: true, force: true });
    },
  };
}

export const FILE_FORMATS = Object.keys(SPECS);

/** A raw case as one file: uint32 LE length of the sidecar, the sidecar, the voxels. */
export function packRaw(sidecar: string, voxels: Uint8Array): Uint8Array {
  const s = new TextEncoder().encode(sidecar);
  const out = new Uint8Array(4 + s.length + voxels.length);
  new DataView(out.buffer).setUint32(0, s.length, true);
  out.set(s, 4);
  out.set(voxels, 4 + s.length);
  return out;
}

export function unpackRaw(b: Uint8Array): { sidecar: string; voxels: Uint8Array } {
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true);
  return { sidecar: new TextDecoder().decode(b.subarray(4, 4 + n)), voxels: b.subarray(4 + n) };
}
