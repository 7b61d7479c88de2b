/**
 * The portal's file browser, as run by `remotevis portal-helper` in a short-lived process of
 * the user (setpriv as that user, see helper.ts): every open, stat and readdir here happens
 * with the user's own permissions, never the middleware's. Paths are confined to the storage
 * roots: the real path (symlinks resolved) must be a root or lie under one, so `..`, absolute
 * paths elsewhere and symlinks that lead out are refused.
 */
import { readdirSync, realpathSync, statSync, lstatSync } from "node:fs";
import { isAbsolute, join, sep } from "node:path";
import { RemoteVisError } from "../errors.ts";
import { listHdf5 } from "../formats/hdf5.ts";

export interface FileEntry {
  name: string;
  path: string;
  kind: "dir" | "file" | "other";
  size: number;
  mtime: string | null;
  /** HDF5 / NeXus by extension (datasets are listed on request). */
  hdf5: boolean;
  /** A symlink that leads outside the storage roots (shown, not followed). */
  outside?: boolean;
  /** Unreadable for this user (stat failed). */
  denied?: boolean;
}

export interface Listing {
  path: string;
  root: string;
  parent: string | null;
  entries: FileEntry[];
  truncated: boolean;
}

export interface DatasetEntry {
  path: string;
  dims: number[];
  shape: number[] | null;
  dtype: string | null;
  type: string;
  volume: boolean;
}

const HDF5_NAME = /\.(h5|hdf5|hdf|he5|nxs|nx5|nexus|cxi)$/i;
const MAX_ENTRIES = 5000;

function realRoots(roots: string[]): string[] {
  const out: string[] = [];
  for (const r of roots) {
    try {
      out.push(realpathSync(r));
    } catch {
      // A root this user cannot reach is left out.
    }
  }
  return out;
}

function rootOf(real: string, roots: string[]): string | undefined {
  return roots.find((r) => real === r || real.startsWith(r.endsWith(sep) ? r : r + sep));
}

/** The real path of `path` if it lies under a storage root (with that root); else 403/404. */
export function confine(path: string, roots: string[]): { real: string; root: string } {
  if (typeof path !== "string" || !isAbsolute(path) || path.length > 4096 || path.includes("\0"))
    throw new RemoteVisError("invalid_path", "give an absolute path under a storage root", 400);
  const rr = realRoots(roots);
  let real: string;
  try {
    real = realpathSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EACCES") throw new RemoteVisError("permission_denied", "you may not read this folder", 403);
    throw new RemoteVisError("not_found", "no such file or folder", 404);
  }
  const root = rootOf(real, rr);
  if (!root) throw new RemoteVisError("outside_roots", "this path is outside the storage roots", 403);
  return { real, root };
}

export function listFolder(path: string, roots: string[]): Listing {
  const { real, root } = confine(path, roots);
  const rr = realRoots(roots);
  let names: string[];
  try {
    if (!statSync(real).isDirectory()) throw new RemoteVisError("not_a_folder", "this is a file, not a folder", 400);
    names = readdirSync(real);
  } catch (err) {
    if (err instanceof RemoteVisError) throw err;
    if ((err as NodeJS.ErrnoException).code === "EACCES") throw new RemoteVisError("permission_denied", "you may not read this folder", 403);
    throw new RemoteVisError("not_found", "no such folder", 404);
  }
  const truncated = names.length > MAX_ENTRIES;
  const entries: FileEntry[] = [];
  for (const name of names.sort().slice(0, MAX_ENTRIES)) {
    if (name.startsWith(".")) continue;
    const p = join(real, name);
    const e: FileEntry = { name, path: p, kind: "other", size: 0, mtime: null, hdf5: false };
    try {
      const l = lstatSync(p);
      if (l.isSymbolicLink()) {
        let target = "";
        try {
          target = realpathSync(p);
        } catch {
          target = "";
        }
        if (!target || !rootOf(target, rr)) e.outside = true;
      }
      const st = statSync(p);
      e.kind = st.isDirectory() ? "dir" : st.isFile() ? "file" : "other";
      e.size = st.isFile() ? st.size : 0;
      e.mtime = st.mtime.toISOString();
      e.hdf5 = e.kind === "file" && HDF5_NAME.test(name);
    } catch {
      e.denied = true;
    }
    entries.push(e);
  }
  entries.sort((a, b) => (a.kind === "dir" ? 0 : 1) - (b.kind === "dir" ? 0 : 1) || a.name.localeCompare(b.name));
  const parent = real === root ? null : join(real, "..");
  return { path: real, root, parent, entries, truncated };
}

export function listDatasets(path: string, roots: string[]): { path: string; datasets: DatasetEntry[] } {
  const { real } = confine(path, roots);
  try {
    const list = listHdf5(real, 2000);
    return {
      path: real,
      datasets: list.map((d) => ({ path: d.path, dims: d.dims, shape: d.shape ?? null, dtype: d.dtype ?? null, type: d.type, volume: !!(d.shape && d.dtype) })),
    };
  } catch (err) {
    if (err instanceof RemoteVisError) throw err;
    if ((err as NodeJS.ErrnoException).code === "EACCES") throw new RemoteVisError("permission_denied", "you may not read this file", 403);
    throw new RemoteVisError("unreadable", `cannot list the datasets: ${err instanceof Error ? err.message : err}`, 400);
  }
}
