import { RemoteVisError } from "../errors.ts";
import { writeNpy } from "../formats/npy-write.ts";
import { clientFrom, connectionOptions, instanceOption, transferBar } from "./client-common.ts";
import { flag, formatBytes, str, type Command } from "./command.ts";
import { emit } from "./output.ts";

/** "z0:z1,y0:y1,x0:x1" -> lo/hi. */
function parseBox(text: string): { lo: number[]; hi: number[] } {
  const axes = text.split(",").map((a) => a.split(":").map((s) => Number(s.trim())));
  if (axes.length !== 3 || axes.some((a) => a.length !== 2 || a.some((n) => !Number.isInteger(n) || n < 0)))
    throw new RemoteVisError("usage", "--box must be z0:z1,y0:y1,x0:x1 (whole numbers, end exclusive), e.g. 0:64,100:200,100:200");
  return { lo: axes.map((a) => a[0]!), hi: axes.map((a) => a[1]!) };
}

export const clientRetrieve: Command = {
  name: "retrieve",
  summary: "fetch a box of an instance's volume (original bytes) into a .npy or raw file",
  usage: "client retrieve [--box z0:z1,y0:y1,x0:x1] [--step N] --out FILE",
  description: `
The paper's retrieve_volume: the instance sends the box back over SSC-RDMA, byte-exact in the
volume's dtype and memory order. FILE ending in .npy gets a numpy header (np.load reads it);
anything else is written raw with a JSON sidecar FILE.json (shape, dtype, order, spacing).`,
  options: {
    box: { type: "string", value: "Z0:Z1,Y0:Y1,X0:X1", help: "the box, end exclusive (default: the whole volume)" },
    step: { type: "string", value: "N|Z,Y,X", help: "take every N-th voxel", default: "1" },
    out: { type: "string", short: "o", value: "FILE", help: "where to write (.npy, or raw + .json sidecar)" },
    ...instanceOption,
    ...connectionOptions,
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const out = str(args, "out");
    if (!out) throw new RemoteVisError("usage", "expected --out FILE; see 'remotevis client retrieve --help'");
    const stepText = str(args, "step")!;
    const step = stepText.includes(",") ? stepText.split(",").map(Number) : Number(stepText);
    const rv = clientFrom(args);
    try {
      const bar = transferBar("retrieve", flag(args, "quiet") || flag(args, "json"));
      const r = await rv.retrieveVolume({ instance: str(args, "instance"), ...(str(args, "box") ? { box: parseBox(str(args, "box")!) } : {}), step, onProgress: bar.onProgress });
      bar.done();
      if (out.endsWith(".npy")) await writeNpy(out, r.data, r.shape, r.dtype, r.order);
      else {
        await Bun.write(out, r.data);
        await Bun.write(`${out}.json`, JSON.stringify({ shape: r.shape, dtype: r.dtype, order: r.order, spacing: r.spacing }, null, 1) + "\n");
      }
      emit(flag(args, "json"), { event: "retrieved", out, shape: r.shape, dtype: r.dtype, order: r.order, bytes: r.data.byteLength }, `retrieved [${r.shape.join(", ")}] ${r.dtype} (${formatBytes(r.data.byteLength)}) -> ${out}`);
      return 0;
    } finally {
      rv.close();
    }
  },
};
