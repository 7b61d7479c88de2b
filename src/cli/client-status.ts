import { RemoteVisError } from "../errors.ts";
import { clientFrom, connectionOptions, describe } from "./client-common.ts";
import { flag, type Command } from "./command.ts";
import { emit } from "./output.ts";

export const clientStatus: Command = {
  name: "status",
  summary: "show one of your instances: state, URL, slurm job and expected start, why it stopped",
  usage: "client status ID",
  options: { ...connectionOptions },
  async run(args) {
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one instance ID; see 'remotevis client list'");
    const inst = await clientFrom(args).status(id);
    emit(flag(args, "json"), inst, describe(inst));
    return 0;
  },
};
