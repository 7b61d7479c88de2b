import { RemoteVisError } from "../errors.ts";
import { clientFrom, connectionOptions, instanceOption, transferBar } from "./client-common.ts";
import { flag, formatBytes, str, type Command } from "./command.ts";
import { emit } from "./output.ts";

/** `scan.h5:/entry/data/data` -> path + dataset (split only after an HDF5 extension: the file is on the instance's side). */
export function splitStorageTarget(target: string): { path: string; dataset?: string } {
  const m = /^(.*?\.(?:h5|hdf5|hdf|he5|nxs|nx5|nx|cxi)):(.+)$/i.exec(target);
  return m ? { path: m[1]!, dataset: m[2]! } : { path: target };
}

export const clientLoad: Command = {
  name: "load",
  summary: "have an instance load a file from central storage and show it (load_file)",
  usage: "client load PATH[:DATASET] [--dataset D] [--procs N] [--instance ID|URL]",
  description: `
The instance reads the file itself, as you, from its storage roots (the middleware's
storage_roots): volumes (raw+json, npy, NIfTI, TIFF, MRC, HDF5 in parallel through SSC-IO) and
point clouds (PCD, LAS, XYZ). PATH is a path on the instance's machine, absolute or relative to
the first storage root; see 'remotevis client ls'.`,
  options: {
    dataset: { type: "string", short: "d", value: "PATH", help: "HDF5 dataset (or PATH:DATASET)" },
    procs: { type: "string", short: "p", value: "N", help: "SSC-IO worker processes for HDF5 (default: the instance's CPU count)" },
    ...instanceOption,
    ...connectionOptions,
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const target = args.positionals[0];
    if (!target) throw new RemoteVisError("usage", "expected PATH[:DATASET]; see 'remotevis client load --help'");
    const t = splitStorageTarget(target);
    const dataset = str(args, "dataset") ?? t.dataset;
    const procs = str(args, "procs") ? Number(str(args, "procs")) : undefined;
    if (procs !== undefined && !(Number.isInteger(procs) && procs >= 1)) throw new RemoteVisError("usage", "--procs must be a whole number >= 1");
    const rv = clientFrom(args);
    try {
      const bar = transferBar("load", flag(args, "quiet") || flag(args, "json"));
      const r = await rv.loadFile(t.path, { instance: str(args, "instance"), dataset, procs, onProgress: bar.onProgress });
      bar.done();
      const human =
        r.kind === "points"
          ? `loaded ${r.name}: ${r.count} points (${r.format}) in ${(Number(r.readMs) / 1000).toFixed(2)} s`
          : `loaded ${r.name}: [${(r.shape as number[]).join(", ")}] ${r.dtype} (${formatBytes(Number(r.bytes))}, ${r.format}${r.procs ? `, ${r.procs} processes` : ""}) in ${(Number(r.readMs) / 1000).toFixed(2)} s + ${(Number(r.uploadMs) / 1000).toFixed(2)} s upload`;
      emit(flag(args, "json"), { event: "loaded", ...r }, human);
      return 0;
    } finally {
      rv.close();
    }
  },
};
