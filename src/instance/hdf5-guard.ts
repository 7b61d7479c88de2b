/**
 * libhdf5 out of the instance's own process. The Debian libhdf5 (1.10.8) dies with SIGSEGV on
 * some corrupt files (tests/fuzz/hdf5 finds them in minutes; tests/fuzz/hdf5/crashers keeps
 * some), and an instance opens whatever lies on central storage: one such file must not take
 * the user's session down. So the instance's libhdf5 work on a file runs first in a probe
 * process (`remotevis hdf5-probe`, argv arrays, the user's own permissions since the instance
 * runs as the user): listing datasets for list_files is done there outright; for load_file the
 * probe makes the very calls the instance then makes itself (planRead, also with the dataset it
 * found), so the instance repeats only calls that just went well on the same bytes, and the
 * voxels are read by SSC-IO worker processes (src/io/pool.ts turns a dead worker into an
 * error). A probe that dies or hangs becomes `hdf5_crashed` / `hdf5_timeout` (422).
 *
 * A file changed between the probe and the instance's own open can still crash the instance;
 * only the file's writer can do that, and the instance runs as its user.
 */
import { writeSync } from "node:fs";
import { selfArgv } from "../cli/self.ts";
import { RemoteVisError, messageOf } from "../errors.ts";
import { detectFormat, listDatasets } from "../formats/index.ts";
import { type Plan, planRead } from "../io/read.ts";

export const PROBE_TIMEOUT_MS = 30_000;

export type DatasetEntry = { path: string; dims: number[]; shape?: number[]; dtype?: string; type: string; chunks?: number[]; filters?: string[] };

const crashed = (signal: string) =>
  new RemoteVisError("hdf5_crashed", `libhdf5 crashed (${signal}) reading this file: it is corrupt or not a file this libhdf5 can read`, 422);
const timedOut = () => new RemoteVisError("hdf5_timeout", `libhdf5 did not finish with this file within ${PROBE_TIMEOUT_MS / 1000} s: it is corrupt or too slow to read`, 422);

function errorLine(err: unknown) {
  return err instanceof RemoteVisError ? { code: err.code, message: err.message, status: err.status } : { code: "failed", message: messageOf(err), status: 500 };
}

/** The probe process's side (`remotevis hdf5-probe list|plan ...`). One JSON line per answer, written at once. */
export function runProbe(op: string, files: string[], dataset?: string): number {
  const line = (o: unknown) => writeSync(1, `${JSON.stringify(o)}\n`);
  if (op === "list") {
    for (const f of files) {
      try {
        if (detectFormat(f) !== "hdf5") {
          line({}); // named .h5 but not HDF5: nothing to list
          continue;
        }
        const datasets: DatasetEntry[] = listDatasets(f)
          .slice(0, 200)
          .map((d) => ({ path: d.path, dims: d.dims, type: d.type, ...(d.shape ? { shape: d.shape } : {}), ...(d.dtype ? { dtype: d.dtype } : {}), ...(d.chunks ? { chunks: d.chunks } : {}), ...(d.filters ? { filters: d.filters } : {}) }));
        line({ datasets });
      } catch (err) {
        line({ error: errorLine(err) });
      }
    }
    return 0;
  }
  if (op === "plan" && files.length === 1) {
    try {
      const plan = planRead(files[0]!, { dataset });
      // the call the instance makes next (readParallel plans with the dataset found)
      planRead(files[0]!, { dataset: plan.dataset });
      line({ plan });
    } catch (err) {
      line({ error: errorLine(err) });
    }
    return 0;
  }
  line({ error: { code: "usage", message: "hdf5-probe list FILE... | plan FILE [--dataset D]", status: 400 } });
  return 2;
}

function probeArgv(args: string[]): string[] {
  return [...selfArgv(), "hdf5-probe", ...args];
}

const parseLines = (out: string) =>
  out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { datasets?: DatasetEntry[]; plan?: Plan; error?: { code: string; message: string; status: number } });

/**
 * Datasets of each file (or the error for it), listed in probe processes. Blocks like the
 * in-process listing it replaces; a file that kills or stalls the probe gets that error and
 * the rest are listed by a fresh probe.
 */
export function listHdf5Guarded(files: string[]): { datasets?: DatasetEntry[]; error?: string }[] {
  const out: { datasets?: DatasetEntry[]; error?: string }[] = [];
  while (out.length < files.length) {
    const rest = files.slice(out.length);
    const p = Bun.spawnSync(probeArgv(["list", ...rest]), { stdout: "pipe", stderr: "pipe", env: process.env, timeout: PROBE_TIMEOUT_MS, killSignal: "SIGKILL" });
    const lines = parseLines(p.stdout.toString());
    for (const l of lines.slice(0, rest.length)) out.push(l.error ? { error: l.error.message } : l.datasets ? { datasets: l.datasets } : {});
    if (lines.length < rest.length) {
      // the probe ended inside the next file
      const why = p.exitedDueToTimeout ? timedOut() : p.signalCode ? crashed(String(p.signalCode)) : crashed(`exit ${p.exitCode}`);
      out.push({ error: why.message });
    }
  }
  return out;
}

/** planRead of `file` in a probe process: the plan, or the file's error, or hdf5_crashed / hdf5_timeout. */
export async function planGuarded(file: string, dataset?: string): Promise<Plan> {
  const p = Bun.spawn(probeArgv(["plan", file, ...(dataset !== undefined ? ["--dataset", dataset] : [])]), { stdout: "pipe", stderr: "pipe", env: process.env });
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    p.kill("SIGKILL");
  }, PROBE_TIMEOUT_MS);
  try {
    const [out] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    const l = parseLines(out)[0];
    if (l?.plan) return l.plan;
    if (l?.error) throw new RemoteVisError(l.error.code, l.error.message, l.error.status >= 400 && l.error.status < 600 ? l.error.status : 500);
    if (late) throw timedOut();
    throw crashed(p.signalCode ? String(p.signalCode) : `exit ${p.exitCode}`);
  } finally {
    clearTimeout(timer);
  }
}
