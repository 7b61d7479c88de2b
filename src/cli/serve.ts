import { RemoteVisError } from "../errors.ts";
import { SETTINGS, readConfigFile, resolveConfig } from "../middleware/config.ts";
import { startMiddleware } from "../middleware/server.ts";
import { formatDuration } from "../middleware/units.ts";
import { flag, str, type Command, type OptionSpec } from "./command.ts";
import { emit } from "./output.ts";

// Every setting of middleware/config.ts is a flag; the help comes from the same table.
const settingFlags: Record<string, OptionSpec> = Object.fromEntries(
  SETTINGS.map((s) => [
    s.flag,
    { type: "string", value: s.value, help: `${s.help} [env REMOTEVIS_${s.flag.toUpperCase().replace(/-/g, "_")}] (default: ${s.shown})` },
  ]),
);

export const serve: Command = {
  name: "serve",
  summary: "run the middleware: start, query and stop visualization instances for users",
  usage: "serve [--config FILE] [options]",
  description: `
Serves the REST API of RemoteVis (/api/v1, described at /api/v1/openapi.json). Users prove who
they are with a MUNGE credential (munge -n) or an API token. Run as root, it serves every user
and starts each instance as that user (setpriv); run as a normal user, it serves only that user.
Instances keep running when the middleware stops; a restarted middleware takes them over.

Settings come from --config FILE (TOML if it ends in .toml, else JSON; keys are the flag names,
e.g. grace = "30m"), then REMOTEVIS_* environment variables, then flags. Durations: 30s, 60m,
2h, 1d, 0 = off. Sizes: 80GiB.

examples:
  remotevis serve                                   # 127.0.0.1:8470, as you
  sudo remotevis serve --config /etc/remotevis/serve.toml`,
  options: {
    config: { type: "string", short: "c", value: "FILE", help: "configuration file (TOML or JSON)" },
    ...settingFlags,
    json: { type: "boolean", help: "print the start-up line as JSON" },
  },
  async run(args) {
    const file = str(args, "config") ? await readConfigFile(str(args, "config")!) : undefined;
    const flags = Object.fromEntries(SETTINGS.map((s) => [s.flag, str(args, s.flag)]));
    const cfg = resolveConfig({ file, env: process.env, flags });
    if (args.positionals.length) throw new RemoteVisError("usage", "serve takes no positional arguments; see 'remotevis serve --help'");
    const mw = await startMiddleware(cfg, { log: (l) => console.log(l) });
    const who = mw.onlyUser ? `only user ${mw.onlyUser.name} (uid ${mw.onlyUser.uid}): run as root to serve every user` : "all users (running as root)";
    emit(
      flag(args, "json"),
      { event: "listening", url: mw.url, port: mw.port, serves: mw.onlyUser ?? "all", db: cfg.db, ...mw.reconnected },
      `remotevis middleware listening on ${mw.url} (mode ${cfg.mode}, db ${cfg.db})\n` +
        `serving ${who}\n` +
        `grace ${formatDuration(cfg.graceMs)}, idle timeout ${formatDuration(cfg.idleTimeoutMs)}, max age ${formatDuration(cfg.maxAgeMs)}, ` +
        `GPU limit ${cfg.gpuLimit} per user\n` +
        `instances from the last run: ${mw.reconnected.kept} still running, ${mw.reconnected.failed} ended meanwhile`,
    );
    await new Promise<void>((resolve) => {
      process.once("SIGTERM", resolve);
      process.once("SIGINT", resolve);
    });
    console.log("middleware stopping (instances keep running; a restarted middleware takes them over)");
    await mw.close();
    // A request still open when the server stopped keeps Bun's event loop alive (close()): exit.
    process.exit(0);
  },
};
