import { RemoteVisError } from "../errors.ts";
import { readPoints } from "../formats/index.ts";
import { clientFrom, connectionOptions, instanceOption, transferBar } from "./client-common.ts";
import { flag, str, type Command } from "./command.ts";
import { emit } from "./output.ts";

export const clientPoints: Command = {
  name: "points",
  summary: "send a point cloud (PCD, LAS, XYZ/CSV) to an instance, drawn as spheres",
  usage: "client points FILE [--instance ID|URL] [--scale S] [--filter LO,HI]",
  description: `
Each point becomes a sphere with a radius proportional to its value (intensity, or the first
extra field) and a colour from --colormap over the values; --filter hides points whose value
is outside LO..HI (the paper's Fig. 5). Goes to the instance given, else your newest one.`,
  options: {
    scale: { type: "string", value: "S", help: "sphere radius per unit of value (world units)" },
    filter: { type: "string", value: "LO,HI", help: "show only points with LO <= value <= HI" },
    colormap: { type: "string", value: "NAME", help: "viridis, hot, grayscale, cool-warm" },
    ...instanceOption,
    ...connectionOptions,
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const file = args.positionals[0];
    if (!file || args.positionals.length > 1) throw new RemoteVisError("usage", "expected one FILE; see 'remotevis client points --help'");
    const pc = await readPoints(file);
    const rv = clientFrom(args);
    try {
      const client = await rv.instance(str(args, "instance"));
      const bar = transferBar(`send ${pc.name}`, flag(args, "quiet") || flag(args, "json"));
      const r = await client.renderPoints(pc.xyz, pc.values, { name: pc.name, onProgress: bar.onProgress });
      bar.done();
      const filter = str(args, "filter")?.split(",").map(Number);
      await client.setRender({
        ...(str(args, "scale") ? { pointScale: Number(str(args, "scale")) } : {}),
        ...(filter ? { pointFilter: [filter[0]!, filter[1]!] as [number, number] } : {}),
        ...(str(args, "colormap") ? { pointColormap: str(args, "colormap") as "viridis" } : {}),
      });
      emit(flag(args, "json"), { event: "points", ...r, url: client.url.href }, `${pc.name}: ${pc.count} points (values ${r.min}..${r.max}) shown\nopen: ${client.url.href}`);
      return 0;
    } finally {
      rv.close();
    }
  },
};
