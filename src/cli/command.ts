/**
 * Shared flag parsing and help for every subcommand. A command is described as data (name,
 * summary, options with their help) so that `--help` is generated from the same table that
 * parses the flags and can never drift from what the command accepts.
 */
import { parseArgs } from "node:util";
import { RemoteVisError } from "../errors.ts";

export interface OptionSpec {
  type: "string" | "boolean";
  short?: string;
  help: string;
  /** Shown in help as `--name VALUE`. */
  value?: string;
  default?: string | boolean;
  multiple?: boolean;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | boolean[] | undefined>;
  positionals: string[];
}

export interface Command {
  name: string;
  summary: string;
  /** Usage line after `remotevis`, e.g. `client send --to HOST:PORT FILE`. */
  usage: string;
  /** Longer text: what it does, examples. */
  description?: string;
  options?: Record<string, OptionSpec>;
  /** A command with subcommands dispatches on its first positional. */
  subcommands?: Command[];
  /** Left out of help (internal commands, e.g. the io-worker processes). */
  hidden?: boolean;
  run?: (args: ParsedArgs) => Promise<number> | number;
}

const HELP: OptionSpec = { type: "boolean", short: "h", help: "show this help" };

export function helpText(cmd: Command, path: string[]): string {
  const lines = [`usage: remotevis ${cmd.usage}`, "", cmd.summary];
  if (cmd.description) lines.push("", cmd.description.trim());
  if (cmd.subcommands?.length) {
    lines.push("", "commands:");
    const shown = cmd.subcommands.filter((s) => !s.hidden);
    const w = Math.max(...shown.map((s) => s.name.length));
    for (const s of shown) lines.push(`  ${s.name.padEnd(w)}  ${s.summary}`);
    lines.push("", `Run 'remotevis ${[...path, "COMMAND"].join(" ")} --help' for the options of one command.`);
  }
  const opts = Object.entries({ ...cmd.options, help: HELP });
  if (opts.length) {
    lines.push("", "options:");
    const left = opts.map(([name, o]) => `${o.short ? `-${o.short}, ` : "    "}--${name}${o.value ? ` ${o.value}` : ""}`);
    const w = Math.max(...left.map((l) => l.length));
    opts.forEach(([, o], i) => {
      const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : "";
      lines.push(`  ${left[i]!.padEnd(w)}  ${o.help}${def}`);
    });
  }
  return lines.join("\n") + "\n";
}

/** Parse argv for `cmd` (walking into subcommands) and run it; returns the exit code. */
export async function dispatch(cmd: Command, argv: string[], path: string[] = []): Promise<number> {
  if (cmd.subcommands) {
    const [first, ...rest] = argv;
    if (first === undefined || first === "--help" || first === "-h" || first === "help") {
      process.stdout.write(helpText(cmd, path));
      return first === undefined ? 2 : 0;
    }
    const sub = cmd.subcommands.find((s) => s.name === first);
    if (!sub) throw new RemoteVisError("usage", `unknown command '${[...path, first].join(" ")}'; run 'remotevis ${path.join(" ")} --help'`);
    return dispatch(sub, rest, [...path, sub.name]);
  }
  const options = { ...cmd.options, help: HELP };
  let parsed: ParsedArgs;
  try {
    const r = parseArgs({
      args: argv,
      options: Object.fromEntries(
        // Keys left out rather than undefined: parseArgs refuses `short: undefined`.
        Object.entries(options).map(([k, o]) => [
          k,
          { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}), ...(o.default !== undefined ? { default: o.default as never } : {}) },
        ]),
      ),
      allowPositionals: true,
      strict: true,
    });
    parsed = { values: r.values as ParsedArgs["values"], positionals: r.positionals };
  } catch (err) {
    const msg = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new RemoteVisError("usage", `${msg}; run 'remotevis ${path.join(" ")} --help'`);
  }
  if (parsed.values.help) {
    process.stdout.write(helpText(cmd, path));
    return 0;
  }
  if (!cmd.run) throw new RemoteVisError("usage", `'${path.join(" ")}' needs a subcommand`);
  return cmd.run(parsed);
}

/** Typed accessors, so commands read flags without casts. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === "string" ? v : undefined;
}
export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}

/** "1GiB", "128KiB-1", "512M", "4096" -> bytes. Accepts a trailing +N/-N for odd sizes in tests. */
export function parseBytes(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?\s*(?:([+-])\s*(\d+))?$/i.exec(text.trim());
  if (!m) throw new RemoteVisError("usage", `not a size: expected e.g. 4096, 64MiB, 1GiB or 1GiB+7`);
  const unit = { "": 0, k: 1, m: 2, g: 3, t: 4 }[m[2]!.toLowerCase() as "" | "k" | "m" | "g" | "t"];
  const base = m[3] || m[2] === "" ? 1024 : 1000;
  let n = Math.round(Number(m[1]) * base ** unit);
  if (m[4]) n += (m[4] === "+" ? 1 : -1) * Number(m[5]);
  if (!Number.isSafeInteger(n) || n < 0) throw new RemoteVisError("usage", "size out of range");
  return n;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

/** "host:port" -> parts; IPv6 in brackets. */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new RemoteVisError("usage", "expected HOST:PORT, e.g. 127.0.0.1:13337");
  return { host: (m[1] ?? m[2])!, port };
}
