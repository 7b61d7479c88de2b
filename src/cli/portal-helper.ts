/**
 * `remotevis portal-helper`: the portal's hands inside the user's account. The middleware
 * (root) starts it as the user (setpriv --reuid --regid --init-groups --reset-env, argv
 * arrays) for one job and reads its JSON lines; so the file browser lists, and a dataset is
 * read, with the user's own permissions, confined to the storage roots (src/middleware/files.ts).
 *
 *   portal-helper list --root R... PATH          -> {"ok":true, listing}
 *   portal-helper datasets --root R... FILE      -> {"ok":true, path, datasets}
 *   portal-helper load --root R... FILE [--dataset D]
 *       -> {"event":"read", shape, dtype, bytes, name}; then waits for one stdin line, the
 *          instance URL (with its token; never in argv); then {"event":"progress", done,
 *          total}... and {"event":"done", ...} — or {"event":"error", error} at any point.
 */
import { InstanceClient } from "../client/instance.ts";
import { forInstance } from "../client/volume-data.ts";
import { RemoteVisError, messageOf } from "../errors.ts";
import { readVolume } from "../formats/index.ts";
import { confine, listDatasets, listFolder } from "../middleware/files.ts";
import { str, type Command } from "./command.ts";

const line = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const errorOf = (err: unknown) =>
  err instanceof RemoteVisError ? { code: err.code, message: err.message, status: err.status } : { code: "failed", message: messageOf(err), status: 500 };

async function readLine(): Promise<string> {
  let text = "";
  const dec = new TextDecoder();
  for await (const chunk of Bun.stdin.stream()) {
    text += dec.decode(chunk);
    const nl = text.indexOf("\n");
    if (nl >= 0) return text.slice(0, nl).trim();
  }
  return text.trim();
}

export const portalHelper: Command = {
  name: "portal-helper",
  summary: "internal: the portal's file listing and loading, run as the user",
  usage: "portal-helper list|datasets|load --root DIR... PATH",
  hidden: true,
  options: {
    root: { type: "string", multiple: true, value: "DIR", help: "storage root (repeatable)" },
    dataset: { type: "string", value: "PATH", help: "load: the HDF5 dataset" },
  },
  async run(args) {
    const [op, path] = args.positionals;
    const rootsRaw = args.values.root;
    const roots = Array.isArray(rootsRaw) ? rootsRaw.map(String) : typeof rootsRaw === "string" ? [rootsRaw] : [];
    try {
      if (!path) throw new RemoteVisError("usage", "portal-helper needs an operation and a path");
      if (op === "list") line({ ok: true, ...listFolder(path, roots) });
      else if (op === "datasets") line({ ok: true, ...listDatasets(path, roots) });
      else if (op === "load") await load(path, str(args, "dataset"), roots);
      else throw new RemoteVisError("usage", "portal-helper: list, datasets or load");
      return 0;
    } catch (err) {
      line(op === "load" ? { event: "error", error: errorOf(err) } : { ok: false, error: errorOf(err) });
      return 1;
    }
  },
};

async function load(path: string, dataset: string | undefined, roots: string[]): Promise<void> {
  const { real } = confine(path, roots);
  if (dataset !== undefined && !/^\/?[^\0:]{1,1024}$/.test(dataset)) throw new RemoteVisError("invalid_dataset", "the dataset path is not valid", 400);
  const vol = await readVolume(dataset ? `${real}:${dataset}` : real);
  const { data, dtype } = forInstance(vol);
  line({ event: "read", shape: vol.shape, dtype, bytes: data.byteLength, name: vol.name });
  const url = await readLine();
  if (!/^https?:\/\/\S+$/.test(url)) throw new RemoteVisError("aborted", "no instance to send to", 400);
  const inst = await InstanceClient.connect(url);
  try {
    let last = 0;
    const ready = await inst.renderVolume(data, {
      shape: vol.shape,
      dtype,
      order: vol.order,
      spacing: vol.spacing,
      name: vol.name.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 64),
      onProgress: (done, total) => {
        const now = performance.now();
        if (now - last > 100 || done === total) {
          last = now;
          line({ event: "progress", done, total });
        }
      },
    });
    line({ event: "done", name: ready.name, shape: ready.shape, dtype: ready.dtype, bytes: ready.bytes, range: ready.range, receiveMs: ready.receiveMs, uploadMs: ready.uploadMs });
  } finally {
    inst.close();
  }
}
