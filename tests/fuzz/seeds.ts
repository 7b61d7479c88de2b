/**
 * Seed files for the format fuzzers: small files cut from the real test data of
 * scripts/testdata.sh (the CT as npy in three layouts, the CT and the MRI as NIfTI, the PCL
 * point clouds, the electron density map, the LAS scan and its XYZ/CSV text), keeping each real header and
 * patching only its extents down, so a case costs microseconds, not a 14 MB read. When the
 * real data cannot be had, synthetic files of the same kinds stand in (and the run says so).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { deflateSync, gunzipSync, gzipSync } from "node:zlib";
import { npyHeader } from "../../src/formats/npy-write.ts";
import { lzfDecompress, parsePcdHeader } from "../../src/formats/pcd.ts";
import { concat } from "../../src/formats/testdata.ts";

export interface Seed {
  name: string;
  bytes: Uint8Array;
}

const enc = (s: string) => new TextEncoder().encode(s);

/** The real .npy header with the shape (z, y, x) replaced, its length kept (numpy pads with spaces). */
function npyFromReal(path: string, shape: number[], itemsize: number, fortran: boolean): Uint8Array {
  const file = readFileSync(path);
  const h = new Uint8Array(file.subarray(0, 4096));
  const hlen = new DataView(h.buffer).getUint16(8, true);
  const text = new TextDecoder("latin1").decode(h.subarray(10, 10 + hlen));
  const patched = text.replace(/\(\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\)/, `(${shape.join(", ")})`);
  const padded = patched.replace(/ *\n$/, "").padEnd(hlen - 1, " ") + "\n";
  const out = h.slice(0, 10 + hlen);
  out.set(enc(padded), 10);
  const n = shape.reduce((a, b) => a * b, itemsize);
  // real voxels from the middle of the CT (where they are not all air), C order; F order from the start
  const from = 10 + hlen + (fortran ? 0 : 7_000_000);
  const data = file.subarray(from, from + n);
  return concat(out, new Uint8Array(data));
}

/** A NIfTI-1 file (header of a real .nii.gz, extents patched down) with real voxels. */
function niftiFromReal(path: string, shape: [number, number, number]): Uint8Array {
  const all = gunzipSync(readFileSync(path));
  const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const vox = dv.getFloat32(108, true);
  const bitpix = dv.getInt16(72, true);
  const h = all.slice(0, vox);
  const hv = new DataView(h.buffer);
  hv.setInt16(40, 3, true);
  hv.setInt16(42, shape[2], true);
  hv.setInt16(44, shape[1], true);
  hv.setInt16(46, shape[0], true);
  const n = (shape[0] * shape[1] * shape[2] * bitpix) / 8;
  const mid = Math.floor((all.length - vox) / 2);
  return concat(h, all.subarray(vox + mid, vox + mid + n));
}

/** The same volume as NIfTI-2 (540-byte header), for the second header layout. */
function nifti2From(n1: Uint8Array): Uint8Array {
  const v1 = new DataView(n1.buffer, n1.byteOffset, n1.byteLength);
  const vox1 = v1.getFloat32(108, true);
  const h = new Uint8Array(544);
  const v2 = new DataView(h.buffer);
  v2.setInt32(0, 540, true);
  h.set(enc("n+2\0\r\n\x1a\n"), 4);
  v2.setInt16(12, v1.getInt16(70, true), true); // datatype
  v2.setInt16(14, v1.getInt16(72, true), true); // bitpix
  for (let i = 0; i < 8; i++) v2.setBigInt64(16 + 8 * i, BigInt(v1.getInt16(40 + 2 * i, true)), true);
  for (let i = 0; i < 8; i++) v2.setFloat64(104 + 8 * i, v1.getFloat32(76 + 4 * i, true), true);
  v2.setBigInt64(168, 544n, true);
  v2.setFloat64(176, v1.getFloat32(112, true), true);
  v2.setFloat64(184, v1.getFloat32(116, true), true);
  v2.setInt32(500, n1[123]!, true);
  return concat(h, n1.subarray(vox1));
}

/** LZF with literal runs only: valid for PCL's reader, and easy to mutate into invalid. */
function lzfLiteral(src: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < src.length; i += 32) {
    const run = src.subarray(i, Math.min(src.length, i + 32));
    out.push(run.length - 1, ...run);
  }
  return new Uint8Array(out);
}

/** A real PCD cut to its first `k` points, in its own DATA kind. */
function pcdFromReal(path: string, k: number): Uint8Array {
  const bytes = new Uint8Array(readFileSync(path));
  const h = parsePcdHeader("seed", bytes);
  const headerText = new TextDecoder("latin1")
    .decode(bytes.subarray(0, h.dataOffset))
    .replace(/^WIDTH .*$/m, `WIDTH ${k}`)
    .replace(/^HEIGHT .*$/m, "HEIGHT 1")
    .replace(/^POINTS .*$/m, `POINTS ${k}`);
  const header = enc(headerText);
  if (h.data === "ascii") {
    const text = new TextDecoder("latin1").decode(bytes.subarray(h.dataOffset));
    return concat(header, enc(text.split("\n").slice(0, k).join("\n") + "\n"));
  }
  if (h.data === "binary") return concat(header, bytes.subarray(h.dataOffset, h.dataOffset + k * h.pointSize));
  // binary_compressed: fields one after the other, each cut to k points
  const dv = new DataView(bytes.buffer, h.dataOffset, 8);
  const csize = dv.getUint32(0, true);
  const all = new Uint8Array(dv.getUint32(4, true));
  lzfDecompress("seed", bytes.subarray(h.dataOffset + 8, h.dataOffset + 8 + csize), all);
  const parts = h.fields.map((f) => all.subarray(h.points * f.offset, h.points * f.offset + k * f.size * f.count));
  const packed = lzfLiteral(concat(...parts));
  const sizes = new Uint8Array(8);
  new DataView(sizes.buffer).setUint32(0, packed.length, true);
  new DataView(sizes.buffer).setUint32(4, k * h.pointSize, true);
  return concat(header, sizes, packed);
}

/** A real CCP4 map cut to [ns, nr, nc] (header kept, extents patched). */
function mrcFromReal(path: string, shape: [number, number, number]): Uint8Array {
  const all = readFileSync(path);
  const h = new Uint8Array(all.subarray(0, 1024));
  const dv = new DataView(h.buffer);
  const ext = dv.getInt32(92, true);
  const item = { 0: 1, 1: 2, 2: 4, 6: 2 }[dv.getInt32(12, true)] ?? 4;
  dv.setInt32(0, shape[2], true);
  dv.setInt32(4, shape[1], true);
  dv.setInt32(8, shape[0], true);
  const n = shape[0] * shape[1] * shape[2] * item;
  return concat(h, new Uint8Array(all.subarray(1024, 1024 + ext + n)));
}

/** A real LAS file cut to its first `k` point records. */
function lasFromReal(path: string, k: number): Uint8Array {
  const all = readFileSync(path);
  const dv = new DataView(all.buffer, all.byteOffset, all.byteLength);
  const pointOffset = dv.getUint32(96, true);
  const rec = dv.getUint16(105, true);
  const out = new Uint8Array(all.subarray(0, pointOffset + k * rec));
  new DataView(out.buffer).setUint32(107, k, true);
  return out;
}

interface TiffPage {
  w: number;
  h: number;
  bits: 8 | 16 | 32;
  format: 1 | 2 | 3;
  data: Uint8Array; // little-endian samples, row after row
}

/** A small classic TIFF: either byte order, none/deflate/PackBits(literal), 2 strips a page. */
function tiff(pages: TiffPage[], opt: { be?: boolean; compression?: 1 | 8 | 32773; description?: string }): Uint8Array {
  const le = !opt.be;
  const parts: Uint8Array[] = [];
  let size = 8;
  const push = (b: Uint8Array) => {
    parts.push(b);
    size += b.length;
    return size - b.length;
  };
  const hdr = new Uint8Array(8);
  const hv = new DataView(hdr.buffer);
  hdr.set(le ? [0x49, 0x49] : [0x4d, 0x4d]);
  hv.setUint16(2, 42, le);
  let prevNext = { buf: hdr, at: 4 };
  const desc = opt.description ? push(enc(`${opt.description}\0`)) : 0;
  for (const p of pages) {
    const item = p.bits / 8;
    const raw = p.data.slice();
    if (!le) for (let i = 0; i < raw.length; i += item) raw.subarray(i, i + item).reverse();
    const rps = Math.ceil(p.h / 2);
    const offs: number[] = [];
    const counts: number[] = [];
    for (let y = 0; y < p.h; y += rps) {
      let s: Uint8Array = raw.subarray(y * p.w * item, Math.min(p.h, y + rps) * p.w * item);
      if (opt.compression === 8) s = deflateSync(s);
      if (opt.compression === 32773) s = concat(...Array.from({ length: Math.ceil(s.length / 128) }, (_, i) => concat(new Uint8Array([Math.min(128, s.length - i * 128) - 1]), s.subarray(i * 128, i * 128 + 128))));
      counts.push(s.length);
      offs.push(push(s));
    }
    const arr = (vals: number[]) => {
      const b = new Uint8Array(4 * vals.length);
      vals.forEach((v, i) => new DataView(b.buffer).setUint32(4 * i, v, le));
      return push(b);
    };
    const offsAt = arr(offs);
    const countsAt = arr(counts);
    const entries: [number, number, number, number][] = [
      [256, 4, 1, p.w],
      [257, 4, 1, p.h],
      [258, 3, 1, p.bits],
      [259, 3, 1, opt.compression ?? 1],
      [262, 3, 1, 1],
      ...(desc ? ([[270, 2, opt.description!.length + 1, desc]] as [number, number, number, number][]) : []),
      [273, 4, offs.length, offsAt],
      [277, 3, 1, 1],
      [278, 4, 1, rps],
      [279, 4, counts.length, countsAt],
      [339, 3, 1, p.format],
    ];
    const ifd = new Uint8Array(2 + 12 * entries.length + 4);
    const iv = new DataView(ifd.buffer);
    iv.setUint16(0, entries.length, le);
    entries.forEach(([tag, type, count, value], i) => {
      const o = 2 + 12 * i;
      iv.setUint16(o, tag, le);
      iv.setUint16(o + 2, type, le);
      iv.setUint32(o + 4, count, le);
      if (type === 3 && count === 1) iv.setUint16(o + 8, value, le);
      else iv.setUint32(o + 8, value, le);
    });
    if (size % 2) push(new Uint8Array(1));
    const at = push(ifd);
    new DataView(prevNext.buf.buffer, prevNext.buf.byteOffset).setUint32(prevNext.at, at, le);
    prevNext = { buf: ifd, at: ifd.length - 4 };
  }
  return concat(hdr, ...parts);
}

/** z planes [z0, z0+nz) of a y x x crop of the real CT (int16), from its C-order .npy. */
function ctCrop(dir: string, nz: number, ny: number, nx: number): Uint8Array {
  const npy = readFileSync(join(dir, "ct/cranium.npy"));
  const hlen = npy.readUInt16LE(8);
  const out = new Uint8Array(nz * ny * nx * 2);
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++) {
      const src = 10 + hlen + (((50 + z) * 256 + 100 + y) * 256 + 100) * 2;
      out.set(npy.subarray(src, src + nx * 2), ((z * ny + y) * nx) * 2);
    }
  return out;
}

function synthetic(n: number, item: number): Uint8Array {
  const out = new Uint8Array(n * item);
  for (let i = 0; i < out.length; i++) out[i] = (i * 37) & 255;
  return out;
}

const SYNTH_PCD = "# .PCD v0.7\nVERSION 0.7\nFIELDS x y z intensity\nSIZE 4 4 4 4\nTYPE F F F F\nCOUNT 1 1 1 1\nWIDTH 3\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS 3\nDATA ascii\n0 0 0 1\n1 2 3 4\n-1 0.5 2e3 nan\n";

/** The seeds of one format; `dir` is data/ or undefined (synthetic seeds only). */
export function seedsFor(format: string, dir: string | undefined): Seed[] {
  const real = (p: string) => dir !== undefined && existsSync(join(dir, p));
  switch (format) {
    case "npy": {
      if (!real("ct/cranium.npy")) return [{ name: "synthetic.npy", bytes: concat(npyHeader([4, 6, 5], "int16", "C"), synthetic(120, 2)) }];
      return [
        { name: "ct.npy", bytes: npyFromReal(join(dir!, "ct/cranium.npy"), [4, 8, 8], 2, false) },
        { name: "ct_f.npy", bytes: npyFromReal(join(dir!, "ct/cranium_f.npy"), [3, 5, 7], 2, true) },
        { name: "ct_be.npy", bytes: npyFromReal(join(dir!, "ct/cranium_be.npy"), [2, 8, 16], 2, false) },
      ];
    }
    case "nifti": {
      const vols: Uint8Array[] = [];
      if (real("ct/cranium.nii.gz")) vols.push(niftiFromReal(join(dir!, "ct/cranium.nii.gz"), [4, 8, 8]));
      if (real("mri/ch2better.nii.gz")) vols.push(niftiFromReal(join(dir!, "mri/ch2better.nii.gz"), [3, 6, 10]));
      if (vols.length === 0) {
        // the smallest valid NIfTI-1: 348-byte header, 4 bytes of extension flag, int16 voxels
        const h = new Uint8Array(352);
        const v = new DataView(h.buffer);
        v.setInt32(0, 348, true);
        [3, 5, 4, 2, 1, 1, 1, 1].forEach((d, i) => v.setInt16(40 + 2 * i, d, true));
        v.setInt16(70, 4, true);
        v.setInt16(72, 16, true);
        v.setFloat32(108, 352, true);
        h.set(enc("n+1\0"), 344);
        vols.push(concat(h, synthetic(40, 2)));
      }
      return vols.flatMap((b, i) => [
        { name: `v${i}.nii`, bytes: b },
        { name: `v${i}.nii.gz`, bytes: new Uint8Array(gzipSync(b)) },
        { name: `v${i}_2.nii`, bytes: nifti2From(b) },
      ]);
    }
    case "pcd": {
      const files = ["pcd/lamppost.pcd", "pcd/milk.pcd", "pcd/table_scene_lms400_binary.pcd", "pcd/table_scene_mug_stereo_textured.pcd"].filter(real);
      if (files.length === 0) return [{ name: "synthetic.pcd", bytes: enc(SYNTH_PCD) }];
      return files.map((f) => ({ name: f.replace(/^pcd\//, ""), bytes: pcdFromReal(join(dir!, f), 40) }));
    }
    case "tiff": {
      const data = real("ct/cranium.npy") ? ctCrop(dir!, 3, 8, 6) : synthetic(3 * 8 * 6, 2);
      const pages = [0, 1, 2].map((z) => ({ w: 6, h: 8, bits: 16 as const, format: 2 as const, data: data.subarray(z * 96, z * 96 + 96) }));
      const f32 = new Uint8Array(new Float32Array(Array.from(new Int16Array(data.buffer.slice(0, 96)))).buffer);
      return [
        { name: "ct_le.tif", bytes: tiff(pages, { description: "ImageJ=1.11a\nimages=3\nslices=3\nspacing=2.5\nunit=mm\n" }) },
        { name: "ct_be_deflate.tif", bytes: tiff(pages, { be: true, compression: 8 }) },
        { name: "ct_packbits.tif", bytes: tiff(pages.slice(0, 2), { compression: 32773 }) },
        { name: "f32.tif", bytes: tiff([{ w: 6, h: 4, bits: 32, format: 3, data: f32 }], {}) },
      ];
    }
    case "mrc":
      if (!real("ccp4/1jzv.ccp4")) return [];
      return [{ name: "1jzv.ccp4", bytes: mrcFromReal(join(dir!, "ccp4/1jzv.ccp4"), [3, 5, 7]) }];
    case "las":
      if (!real("points/table_scene_lms400.las")) return [];
      return [{ name: "lms400.las", bytes: lasFromReal(join(dir!, "points/table_scene_lms400.las"), 30) }];
    case "xyz": {
      const cut = (f: string, n: number) => enc(readFileSync(join(dir!, f), "latin1").split("\n").slice(0, n).join("\n") + "\n");
      return [
        ...(real("points/table_scene_lms400.xyz") ? [{ name: "lms400.xyz", bytes: cut("points/table_scene_lms400.xyz", 40) }] : []),
        ...(real("points/table_scene_lms400.csv") ? [{ name: "lms400.csv", bytes: cut("points/table_scene_lms400.csv", 40) }] : []),
      ];
    }
    case "raw": {
      const data = real("ct/cranium.npy") ? ctCrop(dir!, 2, 4, 5) : synthetic(40, 2);
      return [{ name: "ct.raw", bytes: data }];
    }
    default:
      throw new Error(`no seeds for ${format}`);
  }
}

/** The JSON sidecar of the raw seed (fuzzed as text, beside the raw bytes). */
export const RAW_SIDECAR = JSON.stringify({ shape: [2, 4, 5], dtype: "i16", order: "C", spacing: [2, 0.5, 0.5], unit: "mm", endian: "little", offset: 0, window: [-100, 400] });
