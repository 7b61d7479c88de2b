import { RemoteVisError } from "../errors.ts";
import { DTYPES, type Dtype } from "../protocol/instances.ts";
import { clientFrom, connectionOptions, describe } from "./client-common.ts";
import { flag, str, type Command } from "./command.ts";
import { emit } from "./output.ts";
import { Spinner } from "./spinner.ts";

export const clientStart: Command = {
  name: "start",
  summary: "start a visualization instance for a volume and print its URL",
  usage: "client start --shape Z,Y,X --dtype TYPE [--gpus N] [--name NAME]",
  description: `
Asks the middleware for an instance sized for a volume of --shape and --dtype (the GPU count
is estimated from it, and transfers larger than that volume are refused later). Blocks until
the instance runs (local mode) and prints its URL; --no-wait returns at once. In slurm mode it
returns at once with the job id, state pending and the expected start time ('client status ID'
refreshes them and shows the URL once the job runs); --wait waits for it instead.

example:
  remotevis client start --shape 512,512,512 --dtype uint16`,
  options: {
    shape: { type: "string", value: "Z,Y,X", help: "extents of the volume, comma-separated" },
    dtype: { type: "string", value: "TYPE", help: `element type: ${DTYPES.join(", ")}` },
    gpus: { type: "string", value: "N", help: "GPUs (default: the estimate)" },
    name: { type: "string", value: "NAME", help: "a name to recognize it by" },
    "no-wait": { type: "boolean", help: "return while it is still starting" },
    wait: { type: "boolean", help: "slurm mode: wait until the job runs and the URL is known" },
    timeout: { type: "string", value: "SECONDS", help: "how long to wait for it to run", default: "120" },
    ...connectionOptions,
  },
  async run(args) {
    const shapeText = str(args, "shape");
    const dtype = str(args, "dtype");
    if (!shapeText || !dtype) throw new RemoteVisError("usage", "expected --shape Z,Y,X and --dtype TYPE; see 'remotevis client start --help'");
    const shape = shapeText.split(",").map((s) => Number(s.trim()));
    const gpus = str(args, "gpus") === undefined ? undefined : Number(str(args, "gpus"));
    const json = flag(args, "json");
    const rv = clientFrom(args);
    const spinner = new Spinner("starting instance", json);
    try {
      const inst = await rv.start(
        { shape, dtype: dtype as Dtype, ...(gpus !== undefined ? { gpus } : {}), ...(str(args, "name") ? { name: str(args, "name") } : {}) },
        { wait: flag(args, "no-wait") ? false : flag(args, "wait") ? true : undefined, timeoutMs: Number(str(args, "timeout")) * 1000, onProgress: (i) => spinner.label(`instance ${i.id} ${i.state}`) },
      );
      spinner.done();
      emit(json, inst, describe(inst));
      return 0;
    } catch (err) {
      spinner.done();
      throw err;
    }
  },
};
