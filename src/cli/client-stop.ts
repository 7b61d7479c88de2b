import { RemoteVisError } from "../errors.ts";
import { clientFrom, connectionOptions } from "./client-common.ts";
import { flag, type Command } from "./command.ts";
import { emit } from "./output.ts";

export const clientStop: Command = {
  name: "stop",
  summary: "stop one of your instances",
  usage: "client stop ID",
  options: { ...connectionOptions },
  async run(args) {
    const id = args.positionals[0];
    if (!id || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one instance ID; see 'remotevis client list'");
    const inst = await clientFrom(args).stop(id);
    emit(flag(args, "json"), inst, `instance ${inst.id} ${inst.state}${inst.reason ? ` (${inst.reason.split("\n")[0]})` : ""}`);
    return 0;
  },
};
