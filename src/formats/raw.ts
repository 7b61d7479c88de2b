/**
 * Raw voxels: a headerless file plus its description, given explicitly or in a JSON sidecar
 * next to it (`vol.raw` -> `vol.json` or `vol.raw.json`):
 *   {"shape": [z, y, x], "dtype": "i16", "order": "C", "spacing": [z, y, x], "unit": "mm",
 *    "endian": "little", "offset": 0, ...anything else is kept in meta}
 * The file's size must be exactly offset + z*y*x*itemsize; anything else is refused.
 */
import { existsSync, readFileSync } from "node:fs";
import { FileReader } from "./io.ts";
import {
  type Dtype,
  DTYPE_SIZE,
  DTYPES,
  type Order,
  type ReadLimits,
  type Vec3,
  type Volume,
  allocate,
  baseName,
  byteSwap,
  checkedBytes,
  corrupt,
  fail,
  formatShape,
  parseDtype,
  typedView,
} from "./types.ts";

export interface RawLayout {
  shape: number[];
  dtype: Dtype | string;
  order?: Order;
  spacing?: number[];
  unit?: string;
  endian?: "little" | "big";
  /** Bytes to skip at the start of the file. */
  offset?: number;
}

export interface RawOptions extends ReadLimits, Partial<RawLayout> {
  /** Sidecar path; default: look next to the file. */
  sidecar?: string;
}

/** The sidecar next to a raw file, if there is one. */
export function findSidecar(path: string): string | undefined {
  const candidates = [`${path}.json`, path.replace(/\.[^./]*$/, "") + ".json"];
  return candidates.find((c) => c !== path && existsSync(c));
}

export function readSidecar(path: string): RawLayout & { meta: Record<string, unknown> } {
  const name = baseName(path);
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    fail("not_found", `${name}: cannot read the sidecar`);
  }
  if (text.length > 1 << 20) corrupt(name, "sidecar is larger than 1 MiB; not a sidecar");
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch {
    corrupt(name, "sidecar is not valid JSON");
  }
  if (typeof j !== "object" || j === null || Array.isArray(j)) corrupt(name, "sidecar must be a JSON object");
  const o = j as Record<string, unknown>;
  const { shape, dtype, order, spacing, unit, endian, offset, ...meta } = o;
  return {
    shape: shape as number[],
    dtype: dtype as string,
    order: order as Order,
    spacing: spacing as number[],
    unit: unit as string,
    endian: endian as "little",
    offset: offset as number,
    meta,
  };
}

/** Validates a layout (from a sidecar or options) into concrete values. */
export function checkLayout(name: string, l: Partial<RawLayout>): Required<Omit<RawLayout, "dtype">> & { dtype: Dtype } {
  if (!Array.isArray(l.shape) || l.shape.length < 1 || l.shape.length > 3 || !l.shape.every((d) => typeof d === "number")) {
    fail("bad_layout", `${name}: shape must be 1 to 3 numbers [z, y, x]`);
  }
  const shape = [...l.shape];
  while (shape.length < 3) shape.unshift(1);
  const dtype = parseDtype(l.dtype);
  if (!dtype) fail("bad_layout", `${name}: dtype must be one of ${DTYPES.join(", ")}`);
  const order = l.order ?? "C";
  if (order !== "C" && order !== "F") fail("bad_layout", `${name}: order must be "C" or "F"`);
  const spacing = l.spacing ?? [1, 1, 1];
  if (!Array.isArray(spacing) || spacing.length !== 3 || !spacing.every((s) => typeof s === "number" && Number.isFinite(s) && s > 0)) {
    fail("bad_layout", `${name}: spacing must be three positive numbers [z, y, x]`);
  }
  const endian = l.endian ?? "little";
  if (endian !== "little" && endian !== "big") fail("bad_layout", `${name}: endian must be "little" or "big"`);
  const offset = l.offset ?? 0;
  if (!Number.isSafeInteger(offset) || offset < 0) fail("bad_layout", `${name}: offset must be a whole number of bytes >= 0`);
  const unit = typeof l.unit === "string" && l.unit.length <= 16 ? l.unit : "mm";
  return { shape, dtype, order, spacing, unit, endian, offset };
}

export function readRaw(path: string, opts: RawOptions = {}): Volume {
  const name = baseName(path);
  let meta: Record<string, unknown> = {};
  let layout: Partial<RawLayout> = opts;
  if (opts.shape === undefined || opts.dtype === undefined) {
    const sc = opts.sidecar ?? findSidecar(path);
    if (!sc) {
      fail("no_layout", `${name}: a raw file needs its shape and dtype: a JSON sidecar (${name.replace(/\.[^.]*$/, "")}.json) or explicit shape and dtype`);
    }
    const s = readSidecar(sc);
    meta = s.meta;
    layout = { ...s, ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) };
  }
  const l = checkLayout(name, layout);
  const size = DTYPE_SIZE[l.dtype];
  const bytes = checkedBytes(name, l.shape, size, opts);
  using f = FileReader.open(path);
  if (f.size !== l.offset + bytes) {
    corrupt(
      name,
      `file has ${f.size} bytes but shape ${formatShape(l.shape)} of ${l.dtype}${l.offset ? ` after ${l.offset} header bytes` : ""} needs ${l.offset + bytes}`,
    );
  }
  const buf = allocate(name, bytes);
  f.readInto(l.offset, buf, "voxels");
  if (l.endian === "big") byteSwap(buf, size);
  return {
    kind: "volume",
    data: typedView(l.dtype, buf),
    shape: l.shape as Vec3,
    dtype: l.dtype,
    order: l.order,
    spacing: l.spacing as Vec3,
    unit: l.unit,
    name,
    format: "raw",
    ...(Object.keys(meta).length ? { meta } : {}),
  };
}
