import { VERSION } from "../version.ts";
import { bench } from "./bench.ts";
import { client } from "./client.ts";
import type { Command } from "./command.ts";
import { instance } from "./instance.ts";
import { hdf5Probe } from "./hdf5-probe.ts";
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
  description: `
quick start (a middleware must run: 'remotevis serve', or 'make demo' in the source tree):
  remotevis client render scan.h5:/entry/data/data     start an instance, send the volume, print its URL
  remotevis client list                                your instances and their URLs
  remotevis client stop ID                             stop one
Identity: munge (munge -n) where it runs, else an API token in REMOTEVIS_TOKEN; the middleware's
address is REMOTEVIS_MIDDLEWARE (default http://127.0.0.1:8470).`,
  subcommands: [serve, client, instance, receive, bench, info, io, ioWorker, portalHelper, hdf5Probe],
};
