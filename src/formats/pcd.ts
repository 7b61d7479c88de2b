/**
 * Point Cloud Library .pcd files, DATA ascii, binary (points one after the other) and
 * binary_compressed (LZF over the fields one after the other). Fields x, y, z (any numeric
 * type) become `xyz`; `values` is intensity if present, else the luminance of rgb/rgba (whose
 * colours also go to `rgb`), else the first other field, else 1. Points with NaN coordinates
 * (organized clouds) are kept unless `dropNonFinite` is set.
 */
import { readWhole } from "./io.ts";
import { type PointCloud, type ReadLimits, baseName, corrupt, defaultMaxBytes, fail } from "./types.ts";

export interface PcdField {
  name: string;
  size: number;
  type: "F" | "I" | "U";
  count: number;
  /** Byte offset inside one point (binary / ascii column for ascii). */
  offset: number;
  column: number;
}

export interface PcdHeader {
  fields: PcdField[];
  points: number;
  width: number;
  height: number;
  data: "ascii" | "binary" | "binary_compressed";
  pointSize: number;
  dataOffset: number;
  version: string;
}

export interface PointOptions extends ReadLimits {
  dropNonFinite?: boolean;
}

const MAX_POINTS = 2 ** 31 - 1;

export function isPcd(head: Uint8Array): boolean {
  const t = new TextDecoder("latin1").decode(head.subarray(0, 64));
  return /^(#[^\n]*\n)*\s*(VERSION|FIELDS)\b/.test(t);
}

export function parsePcdHeader(name: string, bytes: Uint8Array): PcdHeader {
  const limit = Math.min(bytes.length, 1 << 16);
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, limit));
  const kv = new Map<string, string[]>();
  let dataOffset = -1;
  let pos = 0;
  while (pos < text.length) {
    const nl = text.indexOf("\n", pos);
    if (nl < 0) break;
    const line = text.slice(pos, nl).replace(/\r$/, "").trim();
    pos = nl + 1;
    if (line === "" || line.startsWith("#")) continue;
    const [key, ...rest] = line.split(/\s+/);
    kv.set(key!.toUpperCase(), rest);
    if (key!.toUpperCase() === "DATA") {
      dataOffset = pos;
      break;
    }
  }
  if (dataOffset < 0) corrupt(name, "no 'DATA' line in the PCD header (not a PCD file, or the header is truncated)");
  const names = kv.get("FIELDS");
  if (!names || names.length === 0) corrupt(name, "the PCD header has no FIELDS");
  if (names.length > 256) corrupt(name, "the PCD header has more than 256 fields");
  const sizes = kv.get("SIZE") ?? [];
  const types = kv.get("TYPE") ?? [];
  const counts = kv.get("COUNT") ?? names.map(() => "1");
  if (sizes.length !== names.length || types.length !== names.length || counts.length !== names.length) {
    corrupt(name, `FIELDS, SIZE, TYPE and COUNT disagree in length (${names.length}, ${sizes.length}, ${types.length}, ${counts.length})`);
  }
  let offset = 0;
  let column = 0;
  const fields = names.map((n, i) => {
    const size = Number(sizes[i]);
    const type = types[i]!.toUpperCase() as PcdField["type"];
    const count = Number(counts[i]);
    if (![1, 2, 4, 8].includes(size)) corrupt(name, `field ${n.slice(0, 32)} has SIZE ${sizes[i]!.slice(0, 16)}`);
    if (!["F", "I", "U"].includes(type) || (type === "F" && size < 4)) corrupt(name, `field ${n.slice(0, 32)} has TYPE ${types[i]!.slice(0, 16)} of size ${size}`);
    if (!Number.isInteger(count) || count < 1 || count > 1 << 16) corrupt(name, `field ${n.slice(0, 32)} has COUNT ${counts[i]!.slice(0, 16)}`);
    const f: PcdField = { name: n, size, type, count, offset, column };
    offset += size * count;
    column += count;
    return f;
  });
  for (const axis of ["x", "y", "z"]) if (!fields.some((f) => f.name === axis)) corrupt(name, `the PCD has no '${axis}' field`);
  const width = Number(kv.get("WIDTH")?.[0] ?? NaN);
  const height = Number(kv.get("HEIGHT")?.[0] ?? 1);
  const points = Number(kv.get("POINTS")?.[0] ?? width * height);
  if (!Number.isSafeInteger(points) || points < 0) corrupt(name, `POINTS is not a count (${String(kv.get("POINTS")?.[0]).slice(0, 20)})`);
  if (points > MAX_POINTS) corrupt(name, `POINTS ${points} is absurd`);
  const data = kv.get("DATA")![0]?.toLowerCase();
  if (data !== "ascii" && data !== "binary" && data !== "binary_compressed") corrupt(name, `unknown DATA kind '${String(data).slice(0, 32)}'`);
  return { fields, points, width, height, data, pointSize: offset, dataOffset, version: kv.get("VERSION")?.[0] ?? "" };
}

/** LZF decompression (liblzf format, as PCL writes it) into exactly `out.length` bytes. */
export function lzfDecompress(name: string, src: Uint8Array, out: Uint8Array): void {
  let ip = 0;
  let op = 0;
  const n = src.length;
  const end = out.length;
  while (ip < n) {
    const ctrl = src[ip++]!;
    if (ctrl < 32) {
      const len = ctrl + 1;
      if (op + len > end) corrupt(name, "LZF data expands beyond its stated size");
      if (ip + len > n) corrupt(name, "LZF data is truncated");
      out.set(src.subarray(ip, ip + len), op);
      ip += len;
      op += len;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (len === 7) {
        if (ip >= n) corrupt(name, "LZF data is truncated");
        len += src[ip++]!;
      }
      if (ip >= n) corrupt(name, "LZF data is truncated");
      ref -= src[ip++]!;
      len += 2;
      if (op + len > end) corrupt(name, "LZF data expands beyond its stated size");
      if (ref < 0) corrupt(name, "LZF data refers before its start");
      if (ref + len <= op) out.copyWithin(op, ref, ref + len);
      else for (let k = 0; k < len; k++) out[op + k] = out[ref + k]!;
      op += len;
    }
  }
  if (op !== end) corrupt(name, `LZF data holds ${op} bytes, ${end} expected`);
}

type Getter = (point: number) => number;

function getter(dv: DataView, f: PcdField, base: (i: number) => number): Getter {
  const le = true;
  const k = `${f.type}${f.size}`;
  switch (k) {
    case "F4":
      return (i) => dv.getFloat32(base(i), le);
    case "F8":
      return (i) => dv.getFloat64(base(i), le);
    case "U1":
      return (i) => dv.getUint8(base(i));
    case "I1":
      return (i) => dv.getInt8(base(i));
    case "U2":
      return (i) => dv.getUint16(base(i), le);
    case "I2":
      return (i) => dv.getInt16(base(i), le);
    case "U4":
      return (i) => dv.getUint32(base(i), le);
    case "I4":
      return (i) => dv.getInt32(base(i), le);
    case "U8":
      return (i) => Number(dv.getBigUint64(base(i), le));
    default:
      return (i) => Number(dv.getBigInt64(base(i), le));
  }
}

/** Reads the packed rgb bits of a float or integer rgb/rgba field as an unsigned 32-bit value. */
function rgbGetter(dv: DataView, f: PcdField, base: (i: number) => number): Getter {
  return (i) => dv.getUint32(base(i), true);
}

function pickValueField(fields: PcdField[]): PcdField | undefined {
  const others = fields.filter((f) => !["x", "y", "z"].includes(f.name) && f.name !== "_");
  return (
    others.find((f) => f.name.toLowerCase() === "intensity") ??
    others.find((f) => ["rgb", "rgba"].includes(f.name.toLowerCase()) && f.size === 4) ??
    others.find((f) => f.count === 1)
  );
}

export function readPcd(path: string, opts: PointOptions = {}): PointCloud {
  const name = baseName(path);
  const bytes = readWhole(path, opts.maxBytes ?? defaultMaxBytes());
  const h = parsePcdHeader(name, bytes);
  const n = h.points;
  const byName = (s: string) => h.fields.find((f) => f.name === s)!;
  const vf = pickValueField(h.fields);
  const isRgb = !!vf && ["rgb", "rgba"].includes(vf.name.toLowerCase());
  // every size check before any allocation: a lying header must not make us allocate
  const need = n * h.pointSize;
  const avail = bytes.length - h.dataOffset;
  let dv: DataView | undefined;
  let base: (f: PcdField) => (i: number) => number = () => () => 0;
  let packed: { csize: number; usize: number } | undefined;
  if (h.data === "ascii") {
    const columns = h.fields.reduce((a, f) => a + f.count, 0);
    if (n * columns * 2 - 1 > avail) corrupt(name, `file is truncated: the header says ${n} points, the data is too short to hold them`);
  } else if (h.data === "binary") {
    if (avail < need) corrupt(name, `file is truncated: the header says ${n} points (${need} bytes), the file holds ${avail} bytes of data`);
    dv = new DataView(bytes.buffer, bytes.byteOffset + h.dataOffset, need);
    base = (f) => (i) => i * h.pointSize + f.offset;
  } else {
    if (avail < 8) corrupt(name, "file is truncated before the compressed data");
    const hdv = new DataView(bytes.buffer, bytes.byteOffset + h.dataOffset, 8);
    const csize = hdv.getUint32(0, true);
    const usize = hdv.getUint32(4, true);
    if (usize !== need) corrupt(name, `compressed data unpacks to ${usize} bytes but ${n} points need ${need}`);
    if (csize > avail - 8) corrupt(name, `file is truncated: compressed data of ${csize} bytes, the file holds ${avail - 8}`);
    if (usize > csize * 100 + 1024) corrupt(name, `${csize} compressed bytes cannot unpack to ${usize}`);
    packed = { csize, usize };
  }
  const xyz = new Float32Array(n * 3);
  const values = new Float32Array(n);
  const rgb = isRgb ? new Uint8Array(n * 3) : undefined;
  if (h.data === "ascii") {
    readAscii(name, bytes, h, xyz, values, rgb, vf);
  } else {
    if (packed) {
      const out = new Uint8Array(packed.usize);
      if (packed.usize > 0) lzfDecompress(name, bytes.subarray(h.dataOffset + 8, h.dataOffset + 8 + packed.csize), out);
      dv = new DataView(out.buffer);
      // fields one after the other: field f's values start at n * (its offset within a point)
      base = (f) => (i) => n * f.offset + i * f.size * f.count;
    }
    dv = dv!;
    const gx = getter(dv, byName("x"), base(byName("x")));
    const gy = getter(dv, byName("y"), base(byName("y")));
    const gz = getter(dv, byName("z"), base(byName("z")));
    for (let i = 0; i < n; i++) {
      xyz[3 * i] = gx(i);
      xyz[3 * i + 1] = gy(i);
      xyz[3 * i + 2] = gz(i);
    }
    if (vf && rgb) {
      const g = rgbGetter(dv, vf, base(vf));
      for (let i = 0; i < n; i++) setRgb(g(i), i, values, rgb);
    } else if (vf) {
      const g = getter(dv, vf, base(vf));
      for (let i = 0; i < n; i++) values[i] = g(i);
    } else values.fill(1);
  }
  return finish({ kind: "points", xyz, values, ...(rgb ? { rgb } : {}), count: n, valueField: vf?.name ?? "", name, format: "pcd", meta: { data: h.data, fields: h.fields.map((f) => f.name), width: h.width, height: h.height } }, opts);
}

function setRgb(v: number, i: number, values: Float32Array, rgb: Uint8Array): void {
  const r = (v >>> 16) & 255;
  const g = (v >>> 8) & 255;
  const b = v & 255;
  rgb[3 * i] = r;
  rgb[3 * i + 1] = g;
  rgb[3 * i + 2] = b;
  values[i] = 0.299 * r + 0.587 * g + 0.114 * b;
}

function readAscii(name: string, bytes: Uint8Array, h: PcdHeader, xyz: Float32Array, values: Float32Array, rgb: Uint8Array | undefined, vf: PcdField | undefined): void {
  const text = new TextDecoder("latin1").decode(bytes.subarray(h.dataOffset));
  const col = (s: string) => h.fields.find((f) => f.name === s)!.column;
  const cx = col("x");
  const cy = col("y");
  const cz = col("z");
  const cv = vf?.column ?? -1;
  const columns = h.fields.reduce((a, f) => a + f.count, 0);
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  let i = 0;
  let pos = 0;
  while (i < h.points && pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl).trim();
    pos = nl + 1;
    if (line === "") continue;
    const t = line.split(/\s+/);
    if (t.length < columns) corrupt(name, `line ${i + 1} of the data has ${t.length} values, ${columns} expected`);
    const num = (c: number) => {
      const v = Number(t[c]);
      if (Number.isNaN(v) && !/^[-+]?nan$/i.test(t[c]!)) corrupt(name, `line ${i + 1} of the data: '${t[c]!.slice(0, 20)}' is not a number`);
      return v;
    };
    xyz[3 * i] = num(cx);
    xyz[3 * i + 1] = num(cy);
    xyz[3 * i + 2] = num(cz);
    if (vf && rgb) {
      let packed: number;
      if (vf.type === "F") {
        f32[0] = num(cv);
        packed = u32[0]!;
      } else packed = num(cv) >>> 0;
      setRgb(packed, i, values, rgb);
    } else values[i] = vf ? num(cv) : 1;
    i++;
  }
  if (i < h.points) corrupt(name, `file is truncated: the header says ${h.points} points, the data has ${i}`);
}

/** Drops points whose coordinates are not finite, when asked. */
export function finish(pc: PointCloud, opts: PointOptions): PointCloud {
  if (!opts.dropNonFinite) return pc;
  const { xyz, values, rgb } = pc;
  let k = 0;
  for (let i = 0; i < pc.count; i++) {
    const x = xyz[3 * i]!;
    const y = xyz[3 * i + 1]!;
    const z = xyz[3 * i + 2]!;
    if (!Number.isFinite(x) || !Number.isFinite(y) || !Number.isFinite(z)) continue;
    xyz[3 * k] = x;
    xyz[3 * k + 1] = y;
    xyz[3 * k + 2] = z;
    values[k] = values[i]!;
    if (rgb) for (let c = 0; c < 3; c++) rgb[3 * k + c] = rgb[3 * i + c]!;
    k++;
  }
  if (k === pc.count) return pc;
  return {
    ...pc,
    xyz: xyz.slice(0, 3 * k),
    values: values.slice(0, k),
    ...(rgb ? { rgb: rgb.slice(0, 3 * k) } : {}),
    count: k,
    meta: { ...pc.meta, dropped: pc.count - k },
  };
}

export function checkPointCount(name: string, n: number): void {
  if (n > MAX_POINTS) fail("too_large", `${name}: ${n} points are more than ${MAX_POINTS}`);
}
