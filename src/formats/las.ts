/**
 * ASPRS LAS 1.0 to 1.4, point data record formats 0 to 10 (x, y, z and intensity lie at the
 * same place in all of them). Coordinates are X * scale + offset, stored as float32 (large
 * georeferenced coordinates lose precision below a few cm; `meta.offset` gives the file's
 * offset). `values` = intensity. LAZ (compressed) is refused.
 */
import { FileReader } from "./io.ts";
import { finish, type PointOptions } from "./pcd.ts";
import { type PointCloud, corrupt, defaultMaxBytes, fail } from "./types.ts";

/** Smallest record length of each point data record format. */
const RECORD_MIN = [20, 28, 26, 34, 57, 63, 30, 36, 38, 59, 67];
const POINTS_PER_READ = 1 << 20;

export function isLas(head: Uint8Array): boolean {
  return head[0] === 0x4c && head[1] === 0x41 && head[2] === 0x53 && head[3] === 0x46; // LASF
}

export interface LasHeader {
  version: string;
  format: number;
  recordLength: number;
  count: number;
  pointOffset: number;
  scale: [number, number, number];
  offset: [number, number, number];
  min: [number, number, number];
  max: [number, number, number];
}

export function parseLasHeader(name: string, h: Uint8Array, fileSize: number): LasHeader {
  if (h.length < 227) corrupt(name, `file is truncated inside the LAS header (${h.length} of 227 bytes)`);
  if (!isLas(h)) corrupt(name, "not a LAS file (no LASF signature)");
  const dv = new DataView(h.buffer, h.byteOffset, h.byteLength);
  const major = h[24]!;
  const minor = h[25]!;
  if (major !== 1 || minor > 4) fail("unsupported_format", `${name}: LAS version ${major}.${minor} is not supported (1.0 to 1.4)`);
  const headerSize = dv.getUint16(94, true);
  const pointOffset = dv.getUint32(96, true);
  const rawFormat = h[104]!;
  const recordLength = dv.getUint16(105, true);
  let count = dv.getUint32(107, true);
  if (rawFormat & 0xc0) fail("unsupported_format", `${name}: is LAZ-compressed (point format ${rawFormat}); decompress it to LAS first`);
  const format = rawFormat;
  if (format > 10) corrupt(name, `unknown point data record format ${format}`);
  if (headerSize < 227 || headerSize > pointOffset) corrupt(name, `header size ${headerSize} and point data offset ${pointOffset} do not fit`);
  if (recordLength < RECORD_MIN[format]!) corrupt(name, `point record length ${recordLength} is shorter than format ${format} needs (${RECORD_MIN[format]})`);
  if (minor >= 4 && headerSize >= 375 && h.length >= 255) {
    const big = Number(dv.getBigUint64(247, true));
    if (count === 0 || format >= 6) count = big;
  }
  if (!Number.isSafeInteger(count) || count < 0) corrupt(name, `point count ${count} is absurd`);
  const d = (o: number) => dv.getFloat64(o, true);
  const scale: [number, number, number] = [d(131), d(139), d(147)];
  const offset: [number, number, number] = [d(155), d(163), d(171)];
  if (!scale.every((s) => Number.isFinite(s) && s !== 0)) corrupt(name, "a scale factor is zero or not a number");
  if (!offset.every(Number.isFinite)) corrupt(name, "an offset is not a number");
  const needed = pointOffset + count * recordLength;
  if (needed > fileSize) {
    corrupt(name, `file is truncated: the header says ${count} points of ${recordLength} bytes from byte ${pointOffset}, the file has ${fileSize} bytes`);
  }
  return {
    version: `${major}.${minor}`,
    format,
    recordLength,
    count,
    pointOffset,
    scale,
    offset,
    max: [d(179), d(195), d(211)],
    min: [d(187), d(203), d(219)],
  };
}

export function readLas(path: string, opts: PointOptions = {}): PointCloud {
  using f = FileReader.open(path);
  const name = f.name;
  const h = parseLasHeader(name, f.read(0, 375), f.size);
  const n = h.count;
  const max = opts.maxBytes ?? defaultMaxBytes();
  if (n * 16 > max) fail("too_large", `${name}: ${n} points need ${n * 16} bytes, more than the limit of ${max}`);
  const xyz = new Float32Array(n * 3);
  const values = new Float32Array(n);
  const [sx, sy, sz] = h.scale;
  const [ox, oy, oz] = h.offset;
  const r = h.recordLength;
  for (let first = 0; first < n; first += POINTS_PER_READ) {
    const k = Math.min(POINTS_PER_READ, n - first);
    const buf = new Uint8Array(k * r);
    f.readInto(h.pointOffset + first * r, buf, "point records");
    const dv = new DataView(buf.buffer);
    for (let j = 0; j < k; j++) {
      const o = j * r;
      const i = first + j;
      xyz[3 * i] = dv.getInt32(o, true) * sx + ox;
      xyz[3 * i + 1] = dv.getInt32(o + 4, true) * sy + oy;
      xyz[3 * i + 2] = dv.getInt32(o + 8, true) * sz + oz;
      values[i] = dv.getUint16(o + 12, true);
    }
  }
  return finish(
    {
      kind: "points",
      xyz,
      values,
      count: n,
      valueField: "intensity",
      name,
      format: "las",
      meta: { version: h.version, pointFormat: h.format, offset: h.offset, scale: h.scale, min: h.min, max: h.max },
    },
    opts,
  );
}
