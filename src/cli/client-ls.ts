import { clientFrom, connectionOptions, instanceOption } from "./client-common.ts";
import { flag, formatBytes, str, type Command } from "./command.ts";

interface Entry {
  name: string;
  kind: string;
  size: number;
  mtime: string | null;
  readable: boolean;
  link?: boolean;
  datasets?: { path: string; dims: number[]; type: string; shape?: number[] }[];
  error?: string;
}

export const clientLs: Command = {
  name: "ls",
  summary: "list a folder of an instance's storage roots (with HDF5 datasets)",
  usage: "client ls [PATH] [--instance ID|URL] [--json]",
  description: `
Without PATH: the storage roots themselves. Each entry shows its kind (dir, volume, points,
hdf5, other), size and time; HDF5/NeXus files also their datasets with shape and type. Entries
you may not read are marked; links that lead outside the roots are not shown.`,
  options: {
    "no-datasets": { type: "boolean", help: "do not open HDF5 files to list their datasets" },
    ...instanceOption,
    ...connectionOptions,
  },
  async run(args) {
    const rv = clientFrom(args);
    try {
      const r = await rv.listFiles(args.positionals[0], { instance: str(args, "instance"), datasets: !flag(args, "no-datasets") });
      if (flag(args, "json")) {
        process.stdout.write(JSON.stringify(r) + "\n");
        return 0;
      }
      const lines = [r.path === null ? "storage roots:" : `${r.path}:`];
      for (const e of r.entries as Entry[]) {
        const when = e.mtime ? e.mtime.slice(0, 16).replace("T", " ") : "";
        const flags = `${e.readable ? "" : " (not readable)"}${e.link ? " (link)" : ""}${e.error ? ` (${e.error})` : ""}`;
        lines.push(`  ${e.kind.padEnd(6)} ${(e.kind === "dir" ? "-" : formatBytes(e.size)).padStart(10)}  ${when}  ${e.name}${e.kind === "dir" ? "/" : ""}${flags}`);
        const ds = e.datasets ?? [];
        for (const d of ds.slice(0, 20)) lines.push(`           ${d.path}  [${d.dims.join(", ")}] ${d.type}${d.shape ? "" : " (not a volume)"}`);
        if (ds.length > 20) lines.push(`           ... ${ds.length - 20} more datasets (--json shows all)`);
      }
      if (r.truncated) lines.push("  ... (more entries not shown)");
      process.stdout.write(lines.join("\n") + "\n");
      return 0;
    } finally {
      rv.close();
    }
  },
};
