/**
 * src/formats: read volumes and point clouds from files. The format is chosen by the file's
 * magic bytes first, then by its extension; a folder is a stack of TIFF slices. A target may
 * name an HDF5 dataset after a colon: `scan.h5:/entry/data/data`.
 *
 *   const v = await readVolume("ct.nii.gz");         // Volume: data, shape [z,y,x], dtype, ...
 *   const p = await readPoints("scan.pcd");          // PointCloud: xyz (N*3), values (N), count
 *   const x = await read("scan.h5:/entry/data/data"); // either, by format
 *
 * Every failure is a RemoteVisError with a stable code (corrupt_file, unsupported_*, too_large,
 * not_found, ...) and a message naming the file by its base name only.
 */
import { existsSync } from "node:fs";
import { readHdf5, type Hdf5Options, isHdf5, listHdf5, type Hdf5DatasetInfo } from "./hdf5.ts";
import { FileReader, statFile } from "./io.ts";
import { isLas, readLas } from "./las.ts";
import { isMrc, readMrc } from "./mrc.ts";
import { isGzip, niftiVersion, readNifti } from "./nifti.ts";
import { isNpy, readNpy } from "./npy.ts";
import { isPcd, readPcd, type PointOptions } from "./pcd.ts";
import { readRaw, type RawOptions } from "./raw.ts";
import { isTiff, readTiff } from "./tiff.ts";
import { type PointCloud, type Volume, baseName, fail } from "./types.ts";
import { readXyz } from "./xyz.ts";

export * from "./types.ts";
export { Hdf5File, Hdf5Dataset, hdf5Available, listHdf5, type Hdf5DatasetInfo } from "./hdf5.ts";
export { lzfDecompress } from "./pcd.ts";

export type VolumeFormat = "raw" | "npy" | "nifti" | "tiff" | "hdf5" | "mrc";
export type PointFormat = "pcd" | "las" | "xyz";
export type Format = VolumeFormat | PointFormat;
export const VOLUME_FORMATS: readonly Format[] = ["raw", "npy", "nifti", "tiff", "hdf5", "mrc"];

export interface ReadOptions extends Omit<RawOptions, "offset">, Omit<Hdf5Options, "dataset">, PointOptions {
  /** HDF5 dataset path (also accepted as FILE:DATASET in the target). */
  dataset?: string;
  /** Skip detection. */
  format?: Format;
  /** Raw files: header bytes to skip. */
  offset?: number;
}

const EXTENSIONS: [RegExp, Format][] = [
  [/\.npy$/i, "npy"],
  [/\.nii(\.gz)?$/i, "nifti"],
  [/\.tiff?$/i, "tiff"],
  [/\.(h5|hdf5|hdf|he5|nxs|nx5|nx|cxi)$/i, "hdf5"],
  [/\.(ccp4|mrc|map|rec)$/i, "mrc"],
  [/\.pcd$/i, "pcd"],
  [/\.las$/i, "las"],
  [/\.(xyz|csv|txt|pts|asc)$/i, "xyz"],
  [/\.(raw|dat|bin|vol|img)$/i, "raw"],
];

/** `file.h5:/entry/data` -> path + dataset. A path that exists as given is never split. */
export function parseTarget(target: string): { path: string; dataset?: string } {
  if (existsSync(target)) return { path: target };
  for (let i = target.indexOf(":"); i > 0; i = target.indexOf(":", i + 1)) {
    const path = target.slice(0, i);
    if (existsSync(path)) return { path, dataset: target.slice(i + 1) || undefined };
  }
  return { path: target };
}

/** The format of a file (magic bytes first, then the extension) or of a folder (TIFF slices). */
export function detectFormat(path: string): Format {
  const st = statFile(path);
  if (st.isDirectory()) return "tiff";
  const name = baseName(path);
  let head: Uint8Array;
  {
    using f = FileReader.open(path);
    head = f.read(0, 1024);
    if (f.size >= 520 && !isHdf5(head)) {
      const at512 = f.read(512, 8);
      if (isHdf5(at512)) return "hdf5";
    }
  }
  if (head.length === 0) fail("corrupt_file", `${name}: file is empty`);
  if (isNpy(head)) return "npy";
  if (isHdf5(head)) return "hdf5";
  if (isTiff(head)) return "tiff";
  if (isLas(head)) return "las";
  if (isGzip(head)) {
    if (/\.nii\.gz$/i.test(name) || /\.gz$/i.test(name)) return "nifti";
    fail("unsupported_format", `${name}: gzip-compressed; only .nii.gz is read compressed`);
  }
  if (niftiVersion(head) && head.length >= 348) return "nifti";
  if (isMrc(head)) return "mrc";
  if (isPcd(head)) return "pcd";
  for (const [re, fmt] of EXTENSIONS) if (re.test(name)) return fmt;
  fail("unsupported_format", `${name}: unknown file format (known: raw+json, npy, nii, nii.gz, tif, h5, ccp4/mrc, pcd, las, xyz/csv)`);
}

export function isVolumeFormat(f: Format): f is VolumeFormat {
  return VOLUME_FORMATS.includes(f);
}

/** Reads a volume (or, with a point format, refuses clearly). */
export async function readVolume(target: string, opts: ReadOptions = {}): Promise<Volume> {
  const r = await read(target, opts);
  if (r.kind !== "volume") fail("not_a_volume", `${r.name}: is a point cloud, not a volume`);
  return r;
}

export async function readPoints(path: string, opts: ReadOptions = {}): Promise<PointCloud> {
  const r = await read(path, opts);
  if (r.kind !== "points") fail("not_points", `${r.name}: is a volume, not a point cloud`);
  return r;
}

/** Reads whatever the file holds. */
export async function read(target: string, opts: ReadOptions = {}): Promise<Volume | PointCloud> {
  const t = parseTarget(target);
  const dataset = opts.dataset ?? t.dataset;
  const format = opts.format ?? detectFormat(t.path);
  if (dataset !== undefined && format !== "hdf5") fail("usage", `${baseName(t.path)}: only HDF5 files have datasets (FILE:DATASET)`);
  switch (format) {
    case "raw":
      return readRaw(t.path, opts);
    case "npy":
      return readNpy(t.path, opts);
    case "nifti":
      return readNifti(t.path, opts);
    case "tiff":
      return readTiff(t.path, opts);
    case "hdf5":
      return readHdf5(t.path, { ...opts, dataset });
    case "mrc":
      return readMrc(t.path, opts);
    case "pcd":
      return readPcd(t.path, opts);
    case "las":
      return readLas(t.path, opts);
    case "xyz":
      return readXyz(t.path, opts);
  }
}

/** HDF5 datasets of a file (for a file browser); empty for other formats. */
export function listDatasets(path: string): Hdf5DatasetInfo[] {
  return detectFormat(path) === "hdf5" ? listHdf5(path) : [];
}
