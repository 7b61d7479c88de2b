import { porousCylinder } from "../client/demo-volume.ts";
import type { InstanceClient, VolumeArray } from "../client/instance.ts";
import type { RemoteVis } from "../client/remotevis.ts";
import { forInstance } from "../client/volume-data.ts";
import { RemoteVisError } from "../errors.ts";
import { readVolume } from "../formats/index.ts";
import type { Dtype } from "../protocol/instances.ts";
import { MODES, TF_PRESETS, type RenderSettings, type VolumeDtype } from "../protocol/control.ts";
import { encodePng } from "../render/png.ts";
import { clientFrom, connectionOptions, instanceOption, transferBar } from "./client-common.ts";
import { flag, formatBytes, str, type Command, type ParsedArgs } from "./command.ts";
import { emit } from "./output.ts";
import { Spinner } from "./spinner.ts";

const list = (text: string | undefined, what: string): number[] | undefined => {
  if (text === undefined) return undefined;
  const xs = text.split(",").map((s) => Number(s.trim()));
  if (xs.some((x) => !Number.isFinite(x))) throw new RemoteVisError("usage", `${what} must be comma-separated numbers`);
  return xs;
};

interface Loaded {
  data: VolumeArray;
  shape: [number, number, number];
  dtype: VolumeDtype;
  order: "C" | "F";
  spacing: [number, number, number];
  name: string;
  note?: string;
}

async function load(args: ParsedArgs): Promise<Loaded> {
  if (flag(args, "demo")) {
    const n = 192;
    return { data: porousCylinder(n), shape: [n, n, n], dtype: "uint8", order: "C", spacing: [1, 1, 1], name: "demo porous cylinder" };
  }
  const target = args.positionals[0];
  if (!target || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one FILE (or --demo); see 'remotevis client render --help'");
  const shape = list(str(args, "shape"), "--shape");
  const spacing = list(str(args, "spacing"), "--spacing");
  const v = await readVolume(target, {
    ...(shape ? { shape } : {}),
    ...(str(args, "dtype") ? { dtype: str(args, "dtype") } : {}),
    ...(str(args, "order") ? { order: str(args, "order") as "C" | "F" } : {}),
    ...(spacing ? { spacing } : {}),
  });
  const { data, dtype, note } = forInstance(v);
  return { data, shape: v.shape, dtype, order: v.order, spacing: v.spacing, name: v.name, note };
}

/** The instance to use: --instance, else a new one sized for this volume. */
async function target(rv: RemoteVis, args: ParsedArgs, vol: Loaded, json: boolean): Promise<{ client: InstanceClient; url: string; started?: string }> {
  const ref = str(args, "instance");
  if (ref) {
    const client = await rv.instance(ref);
    return { client, url: client.url.href };
  }
  const spinner = new Spinner("starting an instance", json);
  try {
    const inst = await rv.start(
      { shape: vol.shape, dtype: vol.dtype as Dtype, name: vol.name.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 64) },
      { onProgress: (i) => spinner.label(`instance ${i.id} ${i.state}`) },
    );
    spinner.done();
    return { client: await rv.instance(inst.url!), url: inst.url!, started: inst.id };
  } catch (err) {
    spinner.done();
    throw err;
  }
}

export const clientRender: Command = {
  name: "render",
  summary: "send a volume file to an instance and print its viewer URL",
  usage: "client render FILE[:DATASET] | --demo [options]",
  description: `
Reads FILE (raw + JSON sidecar or --shape/--dtype, .npy, .nii/.nii.gz, .tif stack, .h5:DATASET,
.mrc/.ccp4), starts an instance sized for it unless --instance names one, sends it over
SSC-RDMA with a progress bar and prints the URL to open in a browser. --demo sends a synthetic
porous sample instead of a file.

examples:
  remotevis client render data/ct/cranium.raw --preset ct-bone --shading S1
  remotevis client render scan.h5:/entry/data/data --instance i-3f2a...
  remotevis client render vol.raw --shape 512,512,512 --dtype uint16 --screenshot shot.png`,
  options: {
    demo: { type: "boolean", help: "send a synthetic sample instead of a file" },
    shape: { type: "string", value: "Z,Y,X", help: "raw files without sidecar: extents" },
    dtype: { type: "string", value: "TYPE", help: "raw files without sidecar: u8, u16, i16, u32, f32, f64 (or uint8, ...)" },
    order: { type: "string", value: "C|F", help: "raw files: memory order" },
    spacing: { type: "string", value: "Z,Y,X", help: "voxel size (default: from the file, else 1,1,1)" },
    preset: { type: "string", value: "NAME", help: `transfer function: ${TF_PRESETS.join(", ")}` },
    mode: { type: "string", value: "MODE", help: `render mode: ${MODES.join(", ")}` },
    shading: { type: "string", value: "S0..S3", help: "S0 none, S1 gradient, S2 shadows, S3 ambient occlusion" },
    azimuth: { type: "string", value: "DEG", help: "look from this angle around the volume (for everyone watching; negative: --azimuth=-30)" },
    elevation: { type: "string", value: "DEG", help: "look from this height angle (-89..89)" },
    checksum: { type: "boolean", help: "verify the transfer with a CRC32C" },
    screenshot: { type: "string", value: "FILE.png", help: "save a screenshot once the volume is shown" },
    ...instanceOption,
    ...connectionOptions,
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const json = flag(args, "json");
    const t0 = performance.now();
    const vol = await load(args);
    if (vol.note && !json) process.stderr.write(`note: ${vol.note}\n`);
    const rv = clientFrom(args);
    try {
      const { client, url, started } = await target(rv, args, vol, json);
      const bar = transferBar(`send ${vol.name}`, flag(args, "quiet") || json);
      const ready = await client.renderVolume(vol.data, { shape: vol.shape, dtype: vol.dtype, order: vol.order, spacing: vol.spacing, name: vol.name, checksum: flag(args, "checksum"), onProgress: bar.onProgress });
      bar.done();
      const render: RenderSettings = {};
      if (str(args, "preset")) render.tf = { preset: str(args, "preset") as (typeof TF_PRESETS)[number] };
      if (str(args, "mode")) render.mode = str(args, "mode") as (typeof MODES)[number];
      if (str(args, "shading")) render.shading = str(args, "shading") as RenderSettings["shading"];
      if (Object.keys(render).length) await client.setRender(render);
      const view = {
        ...(str(args, "azimuth") !== undefined ? { azimuth: Number(str(args, "azimuth")) } : {}),
        ...(str(args, "elevation") !== undefined ? { elevation: Number(str(args, "elevation")) } : {}),
      };
      if (Object.keys(view).length) await client.setView(view);
      let shot: string | undefined;
      if (str(args, "screenshot")) {
        const s = await client.screenshot({ width: 1280, height: 720 });
        shot = str(args, "screenshot")!;
        await Bun.write(shot, encodePng(s.rgba, s.width, s.height));
      }
      const secs = (performance.now() - t0) / 1000;
      emit(
        json,
        { event: "rendered", url, instance: started, ...ready, seconds: secs, screenshot: shot },
        [
          `${vol.name}: [${vol.shape.join(", ")}] ${vol.dtype}, ${formatBytes(ready.bytes)} shown after ${secs.toFixed(2)} s ` +
            `(transfer ${(ready.receiveMs / 1000).toFixed(2)} s, upload ${(ready.uploadMs / 1000).toFixed(2)} s, values ${ready.range[0]}..${ready.range[1]})`,
          ...(shot ? [`screenshot: ${shot}`] : []),
          `open: ${url}`,
        ].join("\n"),
      );
      return 0;
    } finally {
      rv.close();
    }
  },
};
