/** Options and output shared by `client start|status|list|stop`. */
import { RemoteVis } from "../client/remotevis.ts";
import type { Instance } from "../protocol/instances.ts";
import { str, type OptionSpec, type ParsedArgs } from "./command.ts";
import { ProgressBar } from "./progress.ts";

export const connectionOptions: Record<string, OptionSpec> = {
  middleware: { type: "string", short: "m", value: "URL", help: "middleware URL [env REMOTEVIS_MIDDLEWARE] (default: http://127.0.0.1:8470)" },
  token: { type: "string", value: "TOKEN", help: "API token instead of munge [env REMOTEVIS_TOKEN]" },
  json: { type: "boolean", help: "print the result as JSON" },
};

export function clientFrom(args: ParsedArgs): RemoteVis {
  return new RemoteVis({ middleware: str(args, "middleware"), token: str(args, "token") });
}

function ago(iso: string | null): string {
  if (!iso) return "-";
  const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
  if (s < 90) return `${s.toFixed(0)} s ago`;
  if (s < 5400) return `${(s / 60).toFixed(0)} min ago`;
  return `${(s / 3600).toFixed(1)} h ago`;
}

/** Several lines about one instance, for people. */
export function describe(i: Instance): string {
  const lines = [`instance ${i.id}${i.name ? ` (${i.name})` : ""}: ${i.state}`];
  if (i.job) lines.push(`  job:      ${jobLine(i.job)}`);
  if (i.url) lines.push(`  url:      ${i.url}`);
  if (i.dataPort) lines.push(`  data:     ${i.host}:${i.dataPort} (SSC-RDMA)`);
  lines.push(`  volume:   [${i.shape.join(", ")}] ${i.dtype}, ${i.gpus} GPU(s), up to ${i.maxBytes} bytes per transfer`);
  lines.push(`  owner:    ${i.owner.name} (uid ${i.owner.uid}), created ${ago(i.createdAt)}, opened ${i.openedAt ? ago(i.openedAt) : "never"}`);
  if (i.deadline?.at) lines.push(`  stops:    ${i.deadline.at} unless used (${i.deadline.why})`);
  if (i.reason) lines.push(`  reason:   ${i.reason.replace(/\n/g, "\n            ")}`);
  return lines.join("\n");
}

function until(iso: string): string {
  const s = (Date.parse(iso) - Date.now()) / 1000;
  if (s <= 0) return "now";
  if (s < 90) return `in ${s.toFixed(0)} s`;
  if (s < 5400) return `in ${(s / 60).toFixed(0)} min`;
  return `in ${(s / 3600).toFixed(1)} h`;
}

/** slurm mode: "slurm job 12 pending (Resources), expected start 2025-... (in 9 min)". */
export function jobLine(j: NonNullable<Instance["job"]>): string {
  let line = `slurm job ${j.id} ${j.state}${j.reason ? ` (${j.reason})` : ""}`;
  if (j.state === "pending") line += j.expectedStart ? `, expected start ${j.expectedStart} (${until(j.expectedStart)})` : ", no expected start time yet";
  if (j.node && j.state !== "pending") line += ` on ${j.node}`;
  return line;
}

/** One line per instance, for `client list`. */
export function row(i: Instance): string {
  const waiting = i.job && !i.url && !i.reason ? jobLine(i.job) : undefined;
  return `${i.id}  ${i.state.padEnd(8)}  ${`[${i.shape.join(",")}] ${i.dtype}`.padEnd(24)}  ${String(i.gpus).padStart(2)} GPU  ${i.url ?? waiting ?? (i.reason ?? "").split("\n")[0]}`;
}

/** `--instance ID|URL` of the data commands; default the newest running instance of mine. */
export const instanceOption: Record<string, OptionSpec> = {
  instance: { type: "string", short: "i", value: "ID|URL", help: "the instance: an id, or its URL with ?token= (default: your newest running one)" },
};

/** A byte progress bar for `onProgress(done, total)` callbacks. */
export function transferBar(label: string, quiet: boolean): { onProgress: (done: number, total: number) => void; done: () => void } {
  let bar: ProgressBar | undefined;
  return {
    onProgress: (done, total) => (bar ??= new ProgressBar(label, total, quiet)).update(done),
    done: () => void bar?.done(),
  };
}
