import { pickDescription, type ModelDescriptionInput } from "../client/model.ts";
import { RemoteVisError } from "../errors.ts";
import { clientFrom, connectionOptions, instanceOption, transferBar } from "./client-common.ts";
import { flag, formatBytes, str, type Command } from "./command.ts";
import { emit } from "./output.ts";
import { ProgressBar } from "./progress.ts";

const num = (text: string | undefined, what: string): number | undefined => {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n)) throw new RemoteVisError("usage", `--${what} must be a whole number`);
  return n;
};

export const clientModel: Command = {
  name: "model",
  summary: "send a trained network (ONNX) to an instance; optionally segment its volume with it",
  usage: "client model FILE.onnx [--classes N] [--names A,B,C] [--layout NCHW|NCDHW] [--segment [--region all|clip]] [--save PATH]",
  description: `
The network travels over SSC-RDMA like a volume, with its description; the instance loads it
with ONNX Runtime and checks its input and output against the description before accepting it.
The description comes from FILE.json beside FILE.onnx when there (fields: inputLayout, classes,
names, colors, axis, patch, overlap, multiple, normalize, name), and the flags override it.

  NCHW   a 2D network [N, 1, H, W] -> [N, classes, H, W], run slice by slice along --axis
  NCDHW  a 3D network [N, 1, D, H, W] -> [N, classes, D, H, W], run on overlapping patches

--segment then runs it over the volume (or the clip box, --region clip) and shows the labels;
--save PATH writes them as HDF5 on the instance's side (a path under its storage roots).
Example: remotevis client model data/models/ct-unet.onnx --segment`,
  options: {
    classes: { type: "string", value: "N", help: "number of classes (output channels)" },
    names: { type: "string", value: "A,B,...", help: "class names, comma-separated" },
    layout: { type: "string", value: "NCHW|NCDHW", help: "input layout: 2D slices or 3D patches" },
    axis: { type: "string", value: "0|1|2", help: "2D: slices across this axis (0 = z)" },
    window: { type: "string", value: "LO,HI", help: "input normalization: (x - LO) / (HI - LO) clipped to [0, 1]" },
    segment: { type: "boolean", help: "segment the instance's volume with it once accepted" },
    region: { type: "string", value: "all|clip", help: "with --segment: the whole volume or the clip box", default: "all" },
    batch: { type: "string", value: "N", help: "with --segment: slices or patches per inference call" },
    save: { type: "string", value: "PATH", help: "with --segment: write the labels to this HDF5 file on the instance's side" },
    ...instanceOption,
    ...connectionOptions,
    quiet: { type: "boolean", short: "q", help: "no progress bars" },
  },
  async run(args) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one FILE.onnx; see 'remotevis client model --help'");
    const region = str(args, "region");
    if (region !== "all" && region !== "clip") throw new RemoteVisError("usage", "--region must be all or clip");
    const window = str(args, "window")?.split(",").map(Number);
    if (window && (window.length !== 2 || window.some((x) => !Number.isFinite(x)))) throw new RemoteVisError("usage", "--window must be LO,HI");
    const over = pickDescription({
      classes: num(str(args, "classes"), "classes"),
      names: str(args, "names")?.split(","),
      inputLayout: str(args, "layout"),
      axis: num(str(args, "axis"), "axis"),
      normalize: window ? { window } : undefined,
    }) as Partial<ModelDescriptionInput>;
    const json = flag(args, "json");
    const quiet = flag(args, "quiet") || json;
    const rv = clientFrom(args);
    try {
      const bar = transferBar("model", quiet);
      const m = await rv.sendModel(file, { ...over, instance: str(args, "instance"), onProgress: bar.onProgress });
      bar.done();
      emit(json, { event: "model", ...m }, `model ${m.name} accepted as ${m.model}: ${m.inputLayout}, ${m.classes} classes, input ${m.input.name} [${m.input.shape.join(", ")}] (${m.providers.join(", ")})`);
      if (!flag(args, "segment")) return 0;
      let pbar: ProgressBar | undefined;
      const r = await rv.segment({ model: m.model, region, batch: num(str(args, "batch"), "batch"), onProgress: (done, total) => (pbar ??= new ProgressBar("segment", total, quiet)).update(done) });
      pbar?.done();
      const total = r.counts.reduce((a, b) => a + b, 0) || 1;
      emit(
        json,
        { event: "segmented", ...r },
        `segmented ${r.units} ${r.unit} in ${(r.ms / 1000).toFixed(2)} s (${r.perSecond.toFixed(1)} ${r.unit}/s): ${r.names.map((n, k) => `${n} ${((100 * r.counts[k]!) / total).toFixed(1)}%`).join(", ")}${r.rendered ? "" : " (this renderer does not draw labels)"}`,
      );
      const save = str(args, "save");
      if (save) {
        const inst = await rv.instance(str(args, "instance"));
        const s = await inst.saveLabels(save, { overwrite: true });
        emit(json, { event: "saved", ...s }, `labels written to ${s.path} (${s.dataset}, ${formatBytes(r.counts.reduce((a, b) => a + b, 0))})`);
      }
      return 0;
    } finally {
      rv.close();
    }
  },
};
