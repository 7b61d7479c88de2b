/**
 * `load_file` and `list_files`: an instance reads volumes and point clouds from central storage
 * itself, and lists folders for the file browser of the viewer and the portal.
 *
 * Confinement: only paths under the storage roots the middleware gave (`--storage-root DIR`,
 * resolved once at start). A path is refused before the file system is asked when it holds a NUL
 * byte, a `..` segment, or more than PATH_MAX bytes (or a segment above NAME_MAX); otherwise it is
 * resolved with realpath (every symlink followed) and the *real* path must lie under a root's real
 * path, so a symlink that leads out is refused like an absolute path outside the roots. Relative
 * paths are taken from the first root.
 *
 * Permissions: the instance runs as the user (setpriv/sbatch --uid), and every open happens in
 * this process or in its SSC-IO workers, so the kernel applies the user's own permissions; a file
 * the user may not read is refused (403 permission_denied) even though the middleware (root)
 * could read it. Hard links: a hard link inside a root to a file elsewhere *is* that file (there
 * is no path to check); it is allowed, and since creating one needs the user to own or be able
 * to read+write the file (fs.protected_hardlinks) it gives the user nothing the user could not
 * read anyway. The roots are a policy for what the service shows, not a privilege boundary; for
 * the same reason a symlink swapped between the check and the open (a race only the user's own
 * files can take part in) reaches nothing beyond the user's permissions.
 *
 * Errors are RemoteVisErrors with a 4xx status and never repeat the path that was sent.
 */
import { accessSync, constants, lstatSync, readdirSync, realpathSync, statSync, type Stats } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { RemoteVisError, messageOf } from "../errors.ts";
import { bytesOf, detectFormat, readPoints, readVolume, type Dtype, type PointCloud, type Volume } from "../formats/index.ts";
import { MAX_SEGMENT } from "../io/shm.ts";
import { SMALL_DATASET, readParallel } from "../io/read.ts";
import type { ListFiles, LoadFile, VolumeDtype } from "../protocol/control.ts";
import type { Vec3 } from "../render/structs.ts";
import { listHdf5Guarded, planGuarded } from "./hdf5-guard.ts";
import { checkTransferAllowed, transferLimit } from "./limits.ts";
import type { Scene } from "./scene.ts";

export const PATH_MAX = 4096;
export const NAME_MAX = 255;
/** list_files answers at most this many entries (sorted by name) and opens at most this many HDF5 files. */
export const MAX_ENTRIES = 5000;
export const MAX_HDF5_LISTED = 200;

interface Root {
  given: string;
  real: string;
}
let roots: Root[] = [];

/** The storage roots (from --storage-root); ones that do not exist are left out and reported. */
export function setStorageRoots(dirs: string[], log: (line: string) => void = () => {}): void {
  roots = [];
  for (const d of dirs) {
    try {
      const real = realpathSync(resolve(d));
      if (!statSync(real).isDirectory()) throw new Error("not a folder");
      roots.push({ given: resolve(d), real });
    } catch (err) {
      log(`storage root ${d} left out: ${messageOf(err)}`);
    }
  }
}

export function storageRoots(): string[] {
  return roots.map((r) => r.given);
}

const under = (p: string, root: string) => root === "/" || p === root || p.startsWith(`${root}/`);

function fsError(err: unknown): RemoteVisError {
  const code = (err as { code?: string }).code;
  if (code === "ENOENT" || code === "ENOTDIR") return new RemoteVisError("not_found", "no such file or folder under the storage roots", 404);
  if (code === "EACCES" || code === "EPERM") return new RemoteVisError("permission_denied", "permission denied: your account may not read this", 403);
  if (code === "ENAMETOOLONG") return new RemoteVisError("path_too_long", `the path is too long (at most ${PATH_MAX} bytes, ${NAME_MAX} per name)`, 400);
  if (code === "ELOOP") return new RemoteVisError("invalid_path", "the path has too many levels of symbolic links", 400);
  return new RemoteVisError("io_error", `cannot resolve the path (${code ?? "unknown error"})`, 400);
}

/** The real path of `path` when it lies under a storage root; throws a 4xx RemoteVisError otherwise. */
export function resolveUnderRoots(path: string): { real: string; shown: string } {
  if (typeof path !== "string" || path.length === 0) throw new RemoteVisError("invalid_path", "path must be a non-empty string", 400);
  if (path.includes("\0")) throw new RemoteVisError("invalid_path", "the path contains a NUL byte", 400);
  if (Buffer.byteLength(path) > PATH_MAX || path.split("/").some((s) => Buffer.byteLength(s) > NAME_MAX))
    throw new RemoteVisError("path_too_long", `the path is too long (at most ${PATH_MAX} bytes, ${NAME_MAX} per name)`, 400);
  if (path.split("/").includes("..")) throw new RemoteVisError("invalid_path", "the path may not contain '..'", 400);
  if (roots.length === 0) throw new RemoteVisError("no_storage_roots", "this instance has no storage roots (the middleware's storage_roots setting)", 403);
  const shown = isAbsolute(path) ? resolve(path) : resolve(roots[0]!.given, path);
  if (!roots.some((r) => under(shown, r.given) || under(shown, r.real))) throw new RemoteVisError("outside_roots", "the path is outside the storage roots", 403);
  let real: string;
  try {
    real = realpathSync(shown);
  } catch (err) {
    throw fsError(err);
  }
  if (!roots.some((r) => under(real, r.real))) throw new RemoteVisError("outside_roots", "the path leads outside the storage roots (symbolic link)", 403);
  return { real, shown };
}

function readable(real: string): void {
  try {
    accessSync(real, constants.R_OK);
  } catch (err) {
    throw fsError(err);
  }
}

const TO_RENDER: Partial<Record<Dtype, VolumeDtype>> = { u8: "uint8", u16: "uint16", i16: "int16", u32: "uint32", f32: "float32", f64: "float64" };

/** The renderer's types: i8 becomes int16 and i32 float32 (one copy); the rest go as they are. */
function renderable(v: Volume): { dtype: VolumeDtype; bytes: Uint8Array; converted?: string } {
  const d = TO_RENDER[v.dtype];
  if (d) return { dtype: d, bytes: bytesOf(v.data) };
  if (v.dtype === "i8") return { dtype: "int16", bytes: bytesOf(Int16Array.from(v.data as Int8Array)), converted: "int8 -> int16" };
  return { dtype: "float32", bytes: bytesOf(Float32Array.from(v.data as Int32Array)), converted: "int32 -> float32" };
}

let loading = false;

/** Reads a file under the roots and shows it (volume or points); progress as `transfer` events of kind `load`. */
export async function loadFile(scene: Scene, r: LoadFile): Promise<Record<string, unknown>> {
  const { real } = resolveUnderRoots(r.path);
  if (loading) throw new RemoteVisError("busy", "another file is being loaded into this instance; wait for it to finish", 409);
  loading = true;
  const transfer = crypto.randomUUID();
  let total = 0;
  const emit = (state: "started" | "progress" | "done" | "failed", done: number, message?: string) =>
    scene.emit({ type: "transfer", transfer, kind: "load", state, bytes: total, done, ...(message ? { message } : {}) });
  try {
    readable(real);
    const format = detectFormat(real);
    if (r.dataset !== undefined && format !== "hdf5") throw new RemoteVisError("usage", "only HDF5 files have datasets", 400);
    const limit = transferLimit();
    const maxBytes = Number.isFinite(limit) ? limit : undefined;
    const t0 = performance.now();
    let vol: Volume | PointCloud;
    let usedProcs: number | undefined;
    try {
      if (format === "hdf5") {
        // libhdf5 looks at the file in a probe process first, and the voxels are read by
        // SSC-IO workers even when small: a file that crashes libhdf5 must not crash the
        // instance (hdf5-guard.ts)
        const plan = await planGuarded(real, r.dataset);
        total = plan.shape[0] * plan.shape[1] * plan.shape[2] * { u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, f64: 8 }[plan.dtype];
        checkTransferAllowed(total);
        if (total > MAX_SEGMENT) throw new RemoteVisError("too_large", `the dataset has ${total} bytes; one volume can be at most ${MAX_SEGMENT} bytes here`, 413);
        emit("started", 0);
        const procs = r.procs ?? (total < SMALL_DATASET ? 1 : undefined);
        const pr = await readParallel(real, { dataset: plan.dataset, procs, onProgress: (_p, _n, done) => emit("progress", done) });
        vol = pr.volume;
        usedProcs = pr.procs;
      } else {
        emit("started", 0);
        vol = format === "pcd" || format === "las" || format === "xyz" ? await readPoints(real, { maxBytes }) : await readVolume(real, { maxBytes });
      }
    } catch (err) {
      if (err instanceof RemoteVisError && err.code === "too_large" && maxBytes !== undefined && (err.details?.maxBytes as number) === maxBytes)
        throw new RemoteVisError("over_limit", `${err.message}; this instance was started for ${maxBytes} bytes`, 413, err.details);
      throw err;
    }
    const readMs = performance.now() - t0;
    if (vol.kind === "points") {
      total = vol.count * 16;
      checkTransferAllowed(total);
      const p = await scene.setPoints(vol.name.slice(0, 200), vol.xyz, vol.values);
      emit("done", total);
      return { kind: "points", format: vol.format, name: p.name, count: p.count, range: [p.min, p.max], bounds: p.bounds, readMs, uploadMs: performance.now() - t0 - readMs };
    }
    const { dtype, bytes, converted } = renderable(vol);
    total = bytes.byteLength;
    checkTransferAllowed(total);
    const meta = { name: vol.name.slice(0, 200), shape: vol.shape as Vec3, dtype, order: vol.order, spacing: vol.spacing as Vec3, bytes: total };
    const t1 = performance.now();
    const info = await scene.setVolume(meta, bytes);
    emit("done", total);
    return {
      kind: "volume",
      format: vol.format,
      name: meta.name,
      shape: vol.shape,
      dtype,
      order: vol.order,
      spacing: vol.spacing,
      unit: vol.unit,
      bytes: total,
      window: info.window,
      range: [info.dataMin, info.dataMax],
      readMs,
      uploadMs: performance.now() - t1,
      ...(usedProcs !== undefined ? { procs: usedProcs } : {}),
      ...(converted ? { converted } : {}),
    };
  } catch (err) {
    emit("failed", 0, messageOf(err));
    throw err;
  } finally {
    loading = false;
  }
}

const HDF5_EXT = /\.(h5|hdf5|hdf|he5|nxs|nx5|nx|cxi)$/i;
const VOLUME_EXT = /\.(npy|nii|nii\.gz|tiff?|ccp4|mrc|map|rec|raw|dat|bin|vol|img)$/i;
const POINTS_EXT = /\.(pcd|las|xyz|csv|pts|asc)$/i;

export type EntryKind = "dir" | "volume" | "points" | "hdf5" | "other";

export interface Entry {
  name: string;
  path: string;
  kind: EntryKind;
  size: number;
  mtime: string | null;
  readable: boolean;
  link?: boolean;
  datasets?: { path: string; dims: number[]; shape?: number[]; dtype?: string; type: string; chunks?: number[]; filters?: string[] }[];
  error?: string;
}

function kindOf(name: string, st: Stats): EntryKind {
  if (st.isDirectory()) return "dir";
  if (!st.isFile()) return "other";
  if (HDF5_EXT.test(name)) return "hdf5";
  if (VOLUME_EXT.test(name)) return "volume";
  if (POINTS_EXT.test(name)) return "points";
  return "other";
}

const canRead = (p: string) => {
  try {
    accessSync(p, constants.R_OK);
    return true;
  } catch {
    return false;
  }
};

/** One folder under the roots (or, without a path, the roots themselves). */
export function listFiles(r: ListFiles): Record<string, unknown> {
  if (r.path === undefined) {
    const entries: Entry[] = roots.map((root) => {
      const st = statSync(root.real);
      return { name: root.given, path: root.given, kind: "dir", size: st.size, mtime: st.mtime.toISOString(), readable: canRead(root.real) };
    });
    return { path: null, roots: storageRoots(), entries, truncated: false };
  }
  const { real, shown } = resolveUnderRoots(r.path);
  let st: Stats;
  try {
    st = statSync(real);
  } catch (err) {
    throw fsError(err);
  }
  if (!st.isDirectory()) throw new RemoteVisError("not_a_directory", "the path is a file, not a folder; load it with load_file", 400);
  let names: string[];
  try {
    names = readdirSync(real).sort();
  } catch (err) {
    throw fsError(err);
  }
  const truncated = names.length > MAX_ENTRIES;
  const hdf5: { e: Entry; full: string }[] = [];
  const entries: Entry[] = [];
  for (const name of names.slice(0, MAX_ENTRIES)) {
    const full = join(real, name);
    const e: Entry = { name, path: join(shown, name), kind: "other", size: 0, mtime: null, readable: false };
    try {
      const lst = statSync(full, { throwIfNoEntry: true });
      if (lstatSync(full).isSymbolicLink()) {
        e.link = true;
        // a link is shown only when it stays under the roots
        const target = realpathSync(full);
        if (!roots.some((x) => under(target, x.real))) continue;
      }
      e.kind = kindOf(name, lst);
      e.size = lst.size;
      e.mtime = lst.mtime.toISOString();
      e.readable = canRead(full);
      if (e.kind === "hdf5" && e.readable && r.datasets !== false && hdf5.length < MAX_HDF5_LISTED) hdf5.push({ e, full });
    } catch (err) {
      e.error = fsError(err).message;
    }
    entries.push(e);
  }
  // every HDF5 file's datasets, listed by libhdf5 in probe processes (hdf5-guard.ts)
  if (hdf5.length) {
    listHdf5Guarded(hdf5.map((h) => h.full)).forEach((l, k) => {
      if (l.datasets) hdf5[k]!.e.datasets = l.datasets;
      if (l.error) hdf5[k]!.e.error = l.error;
    });
  }
  return { path: shown, entries, truncated };
}
