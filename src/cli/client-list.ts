import { clientFrom, connectionOptions, row } from "./client-common.ts";
import { flag, type Command } from "./command.ts";

export const clientList: Command = {
  name: "list",
  summary: "list your instances (newest first)",
  usage: "client list [--live]",
  options: { live: { type: "boolean", help: "only starting, running and stopping ones" }, ...connectionOptions },
  async run(args) {
    const list = await clientFrom(args).list({ all: !flag(args, "live") });
    if (flag(args, "json")) process.stdout.write(JSON.stringify({ instances: list }) + "\n");
    else process.stdout.write(list.length ? list.map(row).join("\n") + "\n" : "no instances\n");
    return 0;
  },
};
