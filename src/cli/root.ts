import { VERSION } from "../version.ts";
import { bench } from "./bench.ts";
import { client } from "./client.ts";
import type { Command } from "./command.ts";
import { instance } from "./instance.ts";
import { info } from "./info.ts";
import { io, ioWorker } from "./io.ts";
import { portalHelper } from "./portal-helper.ts";
import { receive } from "./receive.ts";
import { serve } from "./serve.ts";

/** Every command of the one executable; main.ts only dispatches into this table. */
export const root: Command = {
  name: "remotevis",
  summary: `RemoteVis ${VERSION}: look at large 3D volumes in a browser while an HPC node renders them.`,
  usage: "COMMAND [options]   (remotevis --version for the version)",
  subcommands: [serve, client, instance, receive, bench, info, io, ioWorker, portalHelper],
};
