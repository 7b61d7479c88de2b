import { RemoteVisError } from "../errors.ts";
import {
  baseName,
  detectFormat,
  DTYPE_SIZE,
  formatShape,
  listHdf5,
  parseTarget,
  read,
  valueRange,
  type PointCloud,
  type Volume,
} from "../formats/index.ts";
import { flag, formatBytes, str, type Command } from "./command.ts";

export const info: Command = {
  name: "info",
  summary: "show what a volume or point cloud file holds (shape, type, spacing, value range)",
  usage: "info FILE[:DATASET] [--json]",
  description: `
Reads the file with the same readers that load_file uses and prints its shape [z, y, x], element
type, memory order, spacing and value range; for point clouds the count, bounds and value range.
An HDF5 file named without a dataset lists its datasets (shape, type, chunks, filters) and, when
one of them is the obvious volume, describes that one too. Formats: raw (+ JSON sidecar or
--shape/--dtype), .npy, .nii/.nii.gz, .tif (file or folder of slices), .h5/.nxs, .ccp4/.mrc,
.pcd, .las, .xyz/.csv.

Examples:
  remotevis info data/ct/cranium.nii.gz
  remotevis info data/ct/cranium.h5:/entry/data/data
  remotevis info volume.raw --shape 108,256,256 --dtype i16`,
  options: {
    shape: { type: "string", value: "Z,Y,X", help: "raw files without a sidecar: the shape" },
    dtype: { type: "string", value: "TYPE", help: "raw files without a sidecar: u8 i8 u16 i16 u32 i32 f32 f64" },
    json: { type: "boolean", help: "print one JSON object" },
  },
  async run(args) {
    const target = args.positionals[0];
    if (!target || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one FILE[:DATASET]; see 'remotevis info --help'");
    const json = flag(args, "json");
    const shapeText = str(args, "shape");
    const shape = shapeText?.split(/[,x]/).map((s) => Number(s.trim()));
    const { path, dataset } = parseTarget(target);
    const format = detectFormat(path);
    const out: Record<string, unknown> = { file: baseName(path), format };
    const lines: string[] = [`${baseName(path)}: ${format}`];
    if (format === "hdf5") {
      const list = listHdf5(path, 1000);
      out.datasets = list;
      if (!dataset) {
        lines.push(`datasets (${list.length}):`);
        for (const d of list.slice(0, 200)) {
          const extra = [d.chunks ? `chunks ${formatShape(d.chunks)}` : "", d.filters?.length ? d.filters.join("+") : ""].filter(Boolean).join(", ");
          lines.push(`  ${d.path}  ${d.dims.length ? formatShape(d.dims) : "scalar"} ${d.type}${extra ? `  (${extra})` : ""}`);
        }
        if (list.length > 200) lines.push(`  ... ${list.length - 200} more`);
      }
    }
    let r: Volume | PointCloud | undefined;
    try {
      r = await read(target, { ...(shape ? { shape } : {}), ...(str(args, "dtype") ? { dtype: str(args, "dtype") } : {}) });
    } catch (err) {
      // an HDF5 file without an obvious volume: the listing is the answer
      if (!(format === "hdf5" && !dataset && err instanceof RemoteVisError && (err.code === "dataset_required" || err.code === "not_found"))) throw err;
      lines.push(err.message);
    }
    if (r?.kind === "volume") {
      const [lo, hi] = valueRange(r.data);
      Object.assign(out, {
        name: r.name,
        shape: r.shape,
        dtype: r.dtype,
        order: r.order,
        spacing: r.spacing,
        unit: r.unit,
        bytes: r.data.length * DTYPE_SIZE[r.dtype],
        range: [lo, hi],
        ...(r.scale ? { scale: r.scale } : {}),
        ...(r.meta ? { meta: r.meta } : {}),
      });
      lines.push(
        `volume ${r.name}`,
        `  shape    ${formatShape(r.shape)} (z, y, x)`,
        `  dtype    ${r.dtype}  order ${r.order}  ${formatBytes(r.data.length * DTYPE_SIZE[r.dtype])}`,
        `  spacing  ${r.spacing.map((s) => +s.toPrecision(6)).join(" x ")} ${r.unit} (z, y, x)`,
        `  range    ${lo} .. ${hi}`,
      );
      if (r.scale) lines.push(`  scale    real = ${r.scale.slope} * value + ${r.scale.inter} (not applied)`);
    } else if (r?.kind === "points") {
      const bounds = [0, 1, 2].map((a) => {
        let lo = Infinity;
        let hi = -Infinity;
        for (let i = a; i < r.xyz.length; i += 3) {
          const v = r.xyz[i]!;
          if (v < lo) lo = v;
          if (v > hi) hi = v;
        }
        return [lo, hi];
      });
      const [vlo, vhi] = valueRange(r.values);
      Object.assign(out, { name: r.name, count: r.count, valueField: r.valueField, bounds, range: [vlo, vhi], ...(r.meta ? { meta: r.meta } : {}) });
      lines.push(
        `points ${r.name}`,
        `  count    ${r.count}`,
        `  bounds   x ${bounds[0]!.join(" .. ")}, y ${bounds[1]!.join(" .. ")}, z ${bounds[2]!.join(" .. ")}`,
        `  values   ${r.valueField || "(none: 1)"} ${vlo} .. ${vhi}${r.rgb ? "  (with rgb colours)" : ""}`,
      );
    }
    process.stdout.write(json ? `${JSON.stringify(out)}\n` : `${lines.join("\n")}\n`);
    return 0;
  },
};
