import type { Command } from "./command.ts";
import { clientList } from "./client-list.ts";
import { clientLoad } from "./client-load.ts";
import { clientLs } from "./client-ls.ts";
import { clientModel } from "./client-model.ts";
import { clientPoints } from "./client-points.ts";
import { clientRender } from "./client-render.ts";
import { clientRetrieve } from "./client-retrieve.ts";
import { clientScreenshot } from "./client-screenshot.ts";
import { clientSend } from "./client-send.ts";
import { clientStart } from "./client-start.ts";
import { clientStatus } from "./client-status.ts";
import { clientStop } from "./client-stop.ts";
import { clientToken } from "./client-token.ts";

/** `remotevis client ...`: the sender side and the instance operations of a user. */
export const client: Command = {
  name: "client",
  summary: "talk to the middleware and to instances: start them, send volumes, fetch results",
  usage: "client COMMAND [options]",
  subcommands: [clientStart, clientStatus, clientList, clientStop, clientRender, clientPoints, clientRetrieve, clientScreenshot, clientToken, clientSend, clientLoad, clientLs, clientModel],
};
