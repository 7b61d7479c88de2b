import { RemoteVisError } from "../errors.ts";
import { encodePng } from "../render/png.ts";
import { clientFrom, connectionOptions, instanceOption } from "./client-common.ts";
import { flag, str, type Command } from "./command.ts";
import { emit } from "./output.ts";

export const clientScreenshot: Command = {
  name: "screenshot",
  summary: "save what an instance shows as a PNG (or raw RGBA)",
  usage: "client screenshot --out FILE.png [--width W --height H] [--azimuth A --elevation E]",
  options: {
    out: { type: "string", short: "o", value: "FILE", help: "PNG file (.rgba: raw RGBA8 bytes)" },
    width: { type: "string", value: "W", help: "pixels", default: "1280" },
    height: { type: "string", value: "H", help: "pixels", default: "720" },
    azimuth: { type: "string", value: "DEG", help: "view from this angle around the volume (default: the current view)" },
    elevation: { type: "string", value: "DEG", help: "view from this height angle" },
    ...instanceOption,
    ...connectionOptions,
  },
  async run(args) {
    const out = str(args, "out");
    if (!out) throw new RemoteVisError("usage", "expected --out FILE.png; see 'remotevis client screenshot --help'");
    const view = {
      ...(str(args, "azimuth") ? { azimuth: Number(str(args, "azimuth")) } : {}),
      ...(str(args, "elevation") ? { elevation: Number(str(args, "elevation")) } : {}),
    };
    const rv = clientFrom(args);
    try {
      const s = await rv.screenshot({ instance: str(args, "instance"), width: Number(str(args, "width")), height: Number(str(args, "height")), ...(Object.keys(view).length ? { view } : {}) });
      await Bun.write(out, out.endsWith(".rgba") ? s.rgba : encodePng(s.rgba, s.width, s.height));
      emit(flag(args, "json"), { event: "screenshot", out, width: s.width, height: s.height }, `screenshot ${s.width}x${s.height} -> ${out}`);
      return 0;
    } finally {
      rv.close();
    }
  },
};
