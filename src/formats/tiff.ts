/**
 * TIFF stacks: one multi-page file (each page one z slice) or a folder of single- or
 * multi-page files (sorted by name, numbers compared as numbers). Classic TIFF and BigTIFF,
 * little and big endian; strips (not tiles); one sample per pixel; 8/16/32-bit integers,
 * 32/64-bit floats; uncompressed, PackBits, Deflate (with or without horizontal predictor).
 * All pages must agree in width, height and type. Reduced-resolution pages (thumbnails) are
 * skipped. Spacing comes from ImageJ's description (spacing=, unit=) and X/YResolution.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { inflateSync } from "node:zlib";
import { FileReader, statFile } from "./io.ts";
import {
  type Dtype,
  DTYPE_SIZE,
  type ReadLimits,
  type Vec3,
  type Volume,
  allocate,
  baseName,
  byteSwap,
  checkedBytes,
  corrupt,
  fail,
  typedView,
} from "./types.ts";

const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8 };
const MAX_PAGES = 1_000_000;
const MAX_IFD_ENTRIES = 4096;

export function isTiff(head: Uint8Array): boolean {
  const ii = head[0] === 0x49 && head[1] === 0x49 && (head[2] === 42 || head[2] === 43) && head[3] === 0;
  const mm = head[0] === 0x4d && head[1] === 0x4d && head[2] === 0 && (head[3] === 42 || head[3] === 43);
  return ii || mm;
}

interface Page {
  width: number;
  height: number;
  dtype: Dtype;
  compression: number;
  predictor: number;
  rowsPerStrip: number;
  offsets: number[];
  counts: number[];
  littleEndian: boolean;
}

interface Entry {
  tag: number;
  type: number;
  count: number;
  /** File offset of the values (inline values point into the entry itself). */
  at: number;
}

class TiffFile {
  readonly le: boolean;
  readonly big: boolean;
  readonly firstIfd: number;
  readonly description: string = "";
  readonly xres?: number;
  readonly yres?: number;
  readonly resUnit: number = 2;
  /** The fewest stored bytes the strips seen so far need; more than the file holds means strips overlap or lie. */
  private minStored = 0;

  constructor(readonly f: FileReader) {
    const head = f.read(0, 16);
    if (head.length < 8 || !isTiff(head)) corrupt(f.name, "not a TIFF file (wrong magic)");
    this.le = head[0] === 0x49;
    const dv = new DataView(head.buffer);
    this.big = dv.getUint16(2, this.le) === 43;
    if (this.big) {
      if (head.length < 16) corrupt(f.name, "file is truncated inside the BigTIFF header");
      if (dv.getUint16(4, this.le) !== 8) corrupt(f.name, "BigTIFF offset size is not 8");
      this.firstIfd = Number(dv.getBigUint64(8, this.le));
    } else {
      this.firstIfd = dv.getUint32(4, this.le);
    }
  }

  private num(bytes: Uint8Array, o: number, type: number): number {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    switch (type) {
      case 1:
      case 2:
      case 7:
        return dv.getUint8(o);
      case 6:
        return dv.getInt8(o);
      case 3:
        return dv.getUint16(o, this.le);
      case 8:
        return dv.getInt16(o, this.le);
      case 4:
      case 13:
        return dv.getUint32(o, this.le);
      case 9:
        return dv.getInt32(o, this.le);
      case 11:
        return dv.getFloat32(o, this.le);
      case 12:
        return dv.getFloat64(o, this.le);
      case 5:
        return dv.getUint32(o, this.le) / dv.getUint32(o + 4, this.le);
      case 10:
        return dv.getInt32(o, this.le) / dv.getInt32(o + 4, this.le);
      case 16:
      case 18:
        return Number(dv.getBigUint64(o, this.le));
      case 17:
        return Number(dv.getBigInt64(o, this.le));
      default:
        return NaN;
    }
  }

  values(e: Entry, max: number): number[] {
    const size = TYPE_SIZE[e.type];
    if (!size) corrupt(this.f.name, `tag ${e.tag} has unknown type ${e.type}`);
    if (e.count > max) corrupt(this.f.name, `tag ${e.tag} has ${e.count} values; at most ${max} make sense here`);
    const bytes = this.f.read(e.at, e.count * size);
    if (bytes.length < e.count * size) corrupt(this.f.name, `file is truncated: values of tag ${e.tag} lie past its end`);
    return Array.from({ length: e.count }, (_, i) => this.num(bytes, i * size, e.type));
  }

  ascii(e: Entry): string {
    const n = Math.min(e.count, 1 << 16);
    return new TextDecoder("latin1").decode(this.f.read(e.at, n)).replace(/\0.*$/s, "");
  }

  /** The entries of the IFD at `offset` and the offset of the next IFD (0 = none). */
  ifd(offset: number): { entries: Map<number, Entry>; next: number } {
    const name = this.f.name;
    const cw = this.big ? 8 : 2;
    const ew = this.big ? 20 : 12;
    const ow = this.big ? 8 : 4;
    if (offset < 8 || offset + cw > this.f.size) corrupt(name, `IFD offset ${offset} lies outside the file (${this.f.size} bytes)`);
    const cb = this.f.read(offset, cw);
    const cdv = new DataView(cb.buffer);
    const n = this.big ? Number(cdv.getBigUint64(0, this.le)) : cdv.getUint16(0, this.le);
    if (n === 0 || n > MAX_IFD_ENTRIES) corrupt(name, `IFD at ${offset} has ${n} entries`);
    const body = this.f.read(offset + cw, n * ew + ow);
    if (body.length < n * ew + ow) corrupt(name, `file is truncated inside the IFD at ${offset}`);
    const dv = new DataView(body.buffer);
    const entries = new Map<number, Entry>();
    for (let i = 0; i < n; i++) {
      const o = i * ew;
      const tag = dv.getUint16(o, this.le);
      const type = dv.getUint16(o + 2, this.le);
      const count = this.big ? Number(dv.getBigUint64(o + 4, this.le)) : dv.getUint32(o + 4, this.le);
      const size = (TYPE_SIZE[type] ?? 1) * count;
      const valueAt = o + (this.big ? 12 : 8);
      const inline = size <= ow;
      const at = inline ? offset + cw + valueAt : this.big ? Number(dv.getBigUint64(valueAt, this.le)) : dv.getUint32(valueAt, this.le);
      entries.set(tag, { tag, type, count, at });
    }
    const next = this.big ? Number(dv.getBigUint64(n * ew, this.le)) : dv.getUint32(n * ew, this.le);
    return { entries, next };
  }

  /** Every full-resolution page, in file order. */
  pages(): Page[] {
    const name = this.f.name;
    const pages: Page[] = [];
    const seen = new Set<number>();
    let at = this.firstIfd;
    while (at !== 0) {
      if (seen.has(at)) corrupt(name, "IFD chain loops back on itself");
      if (seen.size >= MAX_PAGES) corrupt(name, `more than ${MAX_PAGES} pages`);
      seen.add(at);
      const { entries, next } = this.ifd(at);
      const one = (tag: number, def?: number): number => {
        const e = entries.get(tag);
        if (!e) {
          if (def === undefined) corrupt(name, `page ${pages.length} lacks required tag ${tag}`);
          return def;
        }
        return this.values(e, 16)[0]!;
      };
      if ((one(254, 0) & 1) !== 0) {
        at = next; // reduced-resolution image (thumbnail)
        continue;
      }
      if (pages.length === 0) {
        const d = entries.get(270);
        if (d) (this as { description: string }).description = this.ascii(d);
        const xr = entries.get(282);
        const yr = entries.get(283);
        if (xr) (this as { xres?: number }).xres = this.values(xr, 1)[0];
        if (yr) (this as { yres?: number }).yres = this.values(yr, 1)[0];
        (this as { resUnit: number }).resUnit = one(296, 2);
      }
      const width = one(256);
      const height = one(257);
      const spp = one(277, 1);
      if (spp !== 1) fail("unsupported_tiff", `${name}: page ${pages.length} has ${spp} samples per pixel (colour); only one-channel (grey) TIFF is supported`);
      if (entries.has(322) || entries.has(324)) fail("unsupported_tiff", `${name}: tiled TIFF is not supported, only strips`);
      const bits = one(258, 1);
      const format = one(339, 1);
      const dtype = (
        { "8:1": "u8", "8:2": "i8", "16:1": "u16", "16:2": "i16", "32:1": "u32", "32:2": "i32", "32:3": "f32", "64:3": "f64" } as Record<string, Dtype>
      )[`${bits}:${format}`];
      if (!dtype) fail("unsupported_tiff", `${name}: ${bits}-bit samples of format ${format} are not supported (8/16/32-bit integers, 32/64-bit floats)`);
      const compression = one(259, 1);
      if (![1, 8, 32946, 32773].includes(compression)) {
        const known: Record<number, string> = { 5: "LZW", 6: "old JPEG", 7: "JPEG", 2: "CCITT", 34712: "JPEG 2000", 50000: "Zstandard" };
        fail("unsupported_tiff", `${name}: compression ${compression}${known[compression] ? ` (${known[compression]})` : ""} is not supported (none, PackBits, Deflate)`);
      }
      const predictor = one(317, 1);
      if (predictor !== 1 && !(predictor === 2 && format !== 3)) fail("unsupported_tiff", `${name}: predictor ${predictor} is not supported`);
      const rowsPerStrip = Math.min(one(278, height), height);
      // a tag of a float or rational type can hold a fraction: sizes and offsets must be whole
      // numbers before they become lengths and file positions (found by tests/fuzz)
      const whole = (x: number) => Number.isSafeInteger(x);
      if (!whole(width) || !whole(height) || width < 1 || height < 1 || width > 2 ** 31 - 1 || height > 2 ** 31 - 1) corrupt(name, `page ${pages.length} has size ${width}x${height}`);
      if (!whole(rowsPerStrip) || rowsPerStrip < 1) corrupt(name, `RowsPerStrip is ${rowsPerStrip}`);
      const strips = Math.ceil(height / rowsPerStrip);
      const oe = entries.get(273);
      const ce = entries.get(279);
      if (!oe || !ce) corrupt(name, `page ${pages.length} has no strip offsets or byte counts`);
      const offsets = this.values(oe, Math.max(strips, 1) * 4);
      const counts = this.values(ce, Math.max(strips, 1) * 4);
      if (offsets.length < strips || counts.length < strips) corrupt(name, `page ${pages.length} has ${offsets.length} strips, ${strips} needed`);
      if (!offsets.every(whole) || !counts.every(whole)) corrupt(name, `page ${pages.length}: a strip offset or byte count is not a whole number`);
      // before anything is allocated: every strip must lie inside the file and be able to hold its rows
      const rowBytes = width * DTYPE_SIZE[dtype];
      const ratio = compression === 1 ? 1 : compression === 32773 ? 64 : 1100;
      for (let s = 0; s < strips; s++) {
        const need = Math.min(rowsPerStrip, height - s * rowsPerStrip) * rowBytes;
        const stored = compression === 1 ? need : counts[s]!;
        if (!(offsets[s]! >= 0 && offsets[s]! + stored <= this.f.size)) {
          corrupt(name, `file is truncated or lying: strip ${s} of page ${pages.length} (${stored} bytes at ${offsets[s]}) lies past its end (${this.f.size} bytes)`);
        }
        if (stored * ratio + 1024 < need) corrupt(name, `strip ${s} of page ${pages.length} has ${stored} bytes, too few to hold ${need}`);
        this.minStored += compression === 1 ? need : Math.max(0, need - 1024) / ratio;
      }
      // strips that all point at the same few bytes would otherwise let a small file claim
      // gigabytes (the allocation comes before the strips are read)
      if (this.minStored > this.f.size) corrupt(name, `the strips up to page ${pages.length} claim more data than the file's ${this.f.size} bytes can hold (they overlap or lie)`);
      pages.push({ width, height, dtype, compression, predictor, rowsPerStrip, offsets, counts, littleEndian: this.le });
      at = next;
    }
    if (pages.length === 0) corrupt(name, "has no pages");
    return pages;
  }
}

function unpackBits(name: string, src: Uint8Array, dst: Uint8Array): number {
  let i = 0;
  let o = 0;
  while (i < src.length && o < dst.length) {
    const n = (src[i++]! << 24) >> 24;
    if (n >= 0) {
      const len = Math.min(n + 1, dst.length - o, src.length - i);
      dst.set(src.subarray(i, i + len), o);
      i += n + 1;
      o += len;
    } else if (n !== -128) {
      if (i >= src.length) corrupt(name, "PackBits data is truncated");
      const len = Math.min(1 - n, dst.length - o);
      dst.fill(src[i++]!, o, o + len);
      o += len;
    }
  }
  return o;
}

function readPage(file: FileReader, p: Page, dst: Uint8Array): void {
  const name = file.name;
  const size = DTYPE_SIZE[p.dtype];
  const row = p.width * size;
  for (let s = 0, y = 0; y < p.height; s++, y += p.rowsPerStrip) {
    const rows = Math.min(p.rowsPerStrip, p.height - y);
    const part = dst.subarray(y * row, (y + rows) * row);
    const off = p.offsets[s]!;
    const count = p.counts[s]!;
    if (p.compression === 1) {
      file.readInto(off, part, `strip ${s}`);
      continue;
    }
    if (off + count > file.size || count < 0) corrupt(name, `file is truncated: strip ${s} lies past its end`);
    const src = file.read(off, count);
    if (p.compression === 32773) {
      const got = unpackBits(name, src, part);
      if (got < part.length) corrupt(name, `PackBits strip ${s} holds ${got} of ${part.length} bytes`);
    } else {
      let out: Uint8Array;
      try {
        out = inflateSync(src, { maxOutputLength: Math.max(part.length, 1), finishFlush: 2 /* Z_SYNC_FLUSH */ });
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code === "ERR_BUFFER_TOO_LARGE") corrupt(name, `Deflate strip ${s} holds more than the ${part.length} bytes it should`);
        corrupt(name, `Deflate strip ${s} is corrupt`);
      }
      if (out.length < part.length) corrupt(name, `Deflate strip ${s} holds ${out.length} of ${part.length} bytes`);
      part.set(out.subarray(0, part.length));
    }
  }
  if (!p.littleEndian) byteSwap(dst, size);
  if (p.predictor === 2) {
    const v = typedView(p.dtype, dst);
    for (let y = 0; y < p.height; y++) for (let x = 1, o = y * p.width; x < p.width; x++) v[o + x] = v[o + x]! + v[o + x - 1]!;
  }
}

function spacingOf(t: TiffFile): { spacing: Vec3; unit: string } {
  let unit = "mm";
  let z = 1;
  let x = 1;
  let y = 1;
  const d = t.description;
  const ij = d.startsWith("ImageJ=");
  if (ij) {
    const sp = /(?:^|\n)spacing=([0-9.eE+-]+)/.exec(d);
    if (sp && Number(sp[1]) > 0) z = Number(sp[1]);
    const u = /(?:^|\n)unit=([^\n]+)/.exec(d)?.[1]?.trim();
    if (u) unit = { micron: "um", "\\u00B5m": "um", µm: "um" }[u] ?? u.slice(0, 16);
  }
  const res = (r?: number) => (r && Number.isFinite(r) && r > 0 ? 1 / r : undefined);
  if (ij || t.resUnit === 3) {
    const k = !ij && t.resUnit === 3 ? 10 : 1; // centimetre -> mm
    x = (res(t.xres) ?? 1 / k) * k;
    y = (res(t.yres) ?? 1 / k) * k;
  }
  return { spacing: [z, y, x], unit };
}

/** Natural order: "slice_2" before "slice_10". */
function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

export function listSlices(dir: string): string[] {
  const files = readdirSync(dir)
    .filter((n) => /\.tiff?$/i.test(n) && !n.startsWith("."))
    .sort(naturalCompare);
  if (files.length === 0) fail("not_found", `${baseName(dir)}: the folder has no .tif/.tiff files`);
  if (files.length > MAX_PAGES) fail("too_large", `${baseName(dir)}: more than ${MAX_PAGES} slices`);
  return files.map((n) => join(dir, n));
}

/** Reads a multi-page TIFF file, or every TIFF in a folder (one z slice per page). */
export function readTiff(path: string, opts: ReadLimits = {}): Volume {
  const isDir = statFile(path).isDirectory();
  const paths = isDir ? listSlices(path) : [path];
  const name = baseName(path);
  // first pass: headers only, one file open at a time (a folder may hold 100k slices)
  const perFile: Page[][] = [];
  let p0: Page | undefined;
  let count = 0;
  let info: { spacing: Vec3; unit: string; big: boolean; le: boolean } | undefined;
  for (const p of paths) {
    using f = FileReader.open(p);
    const t = new TiffFile(f);
    const pages = t.pages();
    info ??= { ...spacingOf(t), big: t.big, le: t.le };
    for (const page of pages) {
      p0 ??= page;
      if (page.width !== p0.width || page.height !== p0.height || page.dtype !== p0.dtype) {
        corrupt(
          name,
          `page ${count}${isDir ? ` (${f.name})` : ""} is ${page.width}x${page.height} ${page.dtype} but the first is ${p0.width}x${p0.height} ${p0.dtype}; all pages must agree`,
        );
      }
      count++;
    }
    if (count > MAX_PAGES) corrupt(name, `more than ${MAX_PAGES} pages`);
    perFile.push(pages);
  }
  if (!p0 || !info) corrupt(name, "has no pages");
  const shape: Vec3 = [count, p0.height, p0.width];
  const bytes = checkedBytes(name, shape, DTYPE_SIZE[p0.dtype], opts);
  const buf = allocate(name, bytes);
  const pageBytes = p0.width * p0.height * DTYPE_SIZE[p0.dtype];
  let z = 0;
  paths.forEach((p, i) => {
    using f = FileReader.open(p);
    for (const page of perFile[i]!) {
      readPage(f, page, buf.subarray(z * pageBytes, (z + 1) * pageBytes));
      z++;
    }
  });
  return {
    kind: "volume",
    data: typedView(p0.dtype, buf),
    shape,
    dtype: p0.dtype,
    order: "C",
    spacing: info.spacing,
    unit: info.unit,
    name,
    format: "tiff",
    meta: { files: paths.length, ...(info.big ? { bigtiff: true } : {}), ...(info.le ? {} : { swappedFrom: "big-endian" }) },
  };
}

/** Shape, type and page count without reading voxels (for `remotevis info` and file browsers). */
export function describeTiff(path: string): { shape: Vec3; dtype: Dtype; files: number } {
  const isDir = statFile(path).isDirectory();
  const paths = isDir ? listSlices(path) : [path];
  let count = 0;
  let p0: Page | undefined;
  for (const p of isDir ? paths.slice(0, 1) : paths) {
    using f = FileReader.open(p);
    const pages = new TiffFile(f).pages();
    p0 ??= pages[0];
    count += pages.length;
  }
  if (isDir) count *= paths.length; // assumes one page per slice file; reading checks it
  return { shape: [count, p0!.height, p0!.width], dtype: p0!.dtype, files: paths.length };
}
