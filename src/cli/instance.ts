import { RemoteVisError } from "../errors.ts";
import { addressToward } from "../instance/address.ts";
import { runInstance } from "../instance/server.ts";
import type { Backend } from "../render/renderer.ts";
import { str, type Command } from "./command.ts";

/** The secret: from stdin ('-'), a file, or REMOTEVIS_INSTANCE_SECRET; never from argv. */
async function readSecret(source: string | undefined): Promise<string> {
  let text: string | undefined;
  if (source === "-") text = await Bun.stdin.text();
  else if (source) text = await Bun.file(source).text().catch(() => undefined);
  else text = process.env.REMOTEVIS_INSTANCE_SECRET;
  delete process.env.REMOTEVIS_INSTANCE_SECRET;
  const secret = text?.split("\n")[0]?.trim();
  if (!secret || secret.length < 16) throw new RemoteVisError("usage", "the instance needs its secret (--secret-file FILE|- or REMOTEVIS_INSTANCE_SECRET), at least 16 characters");
  return secret;
}

function rendererBackend(name: string | undefined): Backend {
  if (name === "auto" || name === "cpu" || name === "cuda") return name;
  throw new RemoteVisError("usage", "--renderer must be auto, cpu or cuda");
}

/** --ranks: a number, or auto: one rank per GPU when the instance was given several. */
export function rankCount(value: string | undefined, gpus: number, backend: Backend): number {
  if (value === undefined || value === "auto") return gpus > 1 && backend !== "cpu" ? gpus : 1;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 4096) throw new RemoteVisError("usage", "--ranks must be auto or an integer from 1 to 4096");
  return n;
}

export const instance: Command = {
  name: "instance",
  summary: "run one visualization instance (the middleware starts these)",
  usage: "instance --middleware URL --id ID --secret-file FILE|- --max-bytes N [options]",
  description: `
Binds a random HTTP port (viewer, control socket, health) and a random SSC-RDMA data port on
--host, reports both to the middleware with its secret, and sends heartbeats until it is
stopped (SIGTERM, or the middleware says so). Without --middleware it runs alone and prints
its URL. Transfers larger than --max-bytes are refused.`,
  options: {
    middleware: { type: "string", value: "URL", help: "middleware to report to (omit to run alone)" },
    id: { type: "string", value: "ID", help: "instance id given by the middleware", default: "i-0000000000000000" },
    "secret-file": { type: "string", value: "FILE|-", help: "file holding the secret ('-' = stdin); else REMOTEVIS_INSTANCE_SECRET" },
    "max-bytes": { type: "string", value: "N", help: "largest transfer accepted, in bytes", default: String(Number.MAX_SAFE_INTEGER) },
    gpus: { type: "string", value: "N", help: "GPUs given to this instance", default: "1" },
    host: { type: "string", value: "ADDR", help: "address to bind and report ('auto': the one facing the middleware)", default: "127.0.0.1" },
    heartbeat: { type: "string", value: "SECONDS", help: "heartbeat interval", default: "10" },
    renderer: { type: "string", value: "auto|cpu|cuda", help: "renderer backend (auto = CUDA when a GPU is usable)", default: "auto" },
    ranks: { type: "string", value: "N|auto", help: "MPI ranks of the distributed renderer (mpirun, or srun in a slurm job); auto = --gpus when > 1 and the renderer is not cpu", default: "auto" },
    "storage-root": { type: "string", multiple: true, value: "DIR", help: "folder files may be loaded from (repeatable)" },
  },
  async run(args) {
    const secret = await readSecret(str(args, "secret-file"));
    const num = (name: string) => {
      const n = Number(str(args, name));
      if (!Number.isFinite(n) || n < 0) throw new RemoteVisError("usage", `--${name} must be a number >= 0`);
      return n;
    };
    const roots = args.values["storage-root"];
    const middleware = str(args, "middleware");
    return runInstance({
      middleware,
      id: str(args, "id")!,
      secret,
      maxBytes: num("max-bytes"),
      gpus: num("gpus"),
      host: str(args, "host") === "auto" ? await addressToward(str(args, "middleware")) : str(args, "host")!,
      heartbeatMs: Math.max(0.1, num("heartbeat")) * 1000,
      storageRoots: Array.isArray(roots) ? roots.map(String) : [],
      renderer: rendererBackend(str(args, "renderer")),
      ranks: rankCount(str(args, "ranks"), num("gpus"), rendererBackend(str(args, "renderer"))),
    });
  },
};
