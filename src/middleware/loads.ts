/**
 * Loads started from the portal's file browser: a dataset read by the user's helper process
 * (src/cli/portal-helper.ts, as the user) and sent to a new or a running instance of the user,
 * with its progress kept here for the page to poll (GET /portal/api/loads/:id). In memory: a
 * load belongs to one middleware run.
 *
 *   reading   the helper reads the file (as the user)
 *   starting  a new instance sized for the dataset is starting (or its slurm job is pending)
 *   sending   the bytes go to the instance over SSC-RDMA (done / total)
 *   done | failed
 */
import { RemoteVisError } from "../errors.ts";
import type { Identity } from "./auth/identity.ts";
import { newId } from "./auth/tokens.ts";
import type { UserHelper } from "./helper.ts";
import type { InstanceService } from "./service.ts";
import type { Dtype } from "../protocol/instances.ts";

export interface LoadView {
  id: string;
  path: string;
  dataset: string | null;
  instance: string | null;
  phase: "reading" | "starting" | "sending" | "done" | "failed";
  done: number;
  total: number;
  shape: number[] | null;
  dtype: string | null;
  error: string | null;
  createdAt: string;
}

interface Load extends LoadView {
  owner: number;
  at: number;
}

export interface OpenRequest {
  path: string;
  dataset?: string;
  /** A running instance of the user, or undefined for a new one. */
  instance?: string;
  gpus?: number;
  partition?: string;
  timeMinutes?: number;
}

const KEEP_MS = 30 * 60_000;
const WAIT_START_MS = 15 * 60_000;

export class Loads {
  private readonly loads = new Map<string, Load>();

  constructor(
    private readonly service: InstanceService,
    private readonly helper: UserHelper,
  ) {}

  get(who: Identity, id: string): LoadView {
    const l = this.loads.get(id);
    if (!l || l.owner !== who.uid) throw new RemoteVisError("not_found", "no such load", 404);
    const { owner: _o, at: _a, ...view } = l;
    return view;
  }

  start(who: Identity, req: OpenRequest): LoadView {
    if (this.helper.o.roots.length === 0) throw new RemoteVisError("no_storage", "no storage roots are configured (storage-roots)", 404);
    // An existing instance must be the user's and running (checked again before sending).
    if (req.instance) {
      const row = this.service.getOwned({ ...who, admin: false }, req.instance);
      if (row.owner_uid !== who.uid || row.state !== "running") throw new RemoteVisError("not_running", "that instance is not running", 409);
    }
    const now = Date.now();
    for (const [k, l] of this.loads) if (now - l.at > KEEP_MS) this.loads.delete(k);
    const l: Load = {
      id: newId("l-"),
      owner: who.uid,
      at: now,
      path: req.path,
      dataset: req.dataset ?? null,
      instance: req.instance ?? null,
      phase: "reading",
      done: 0,
      total: 0,
      shape: null,
      dtype: null,
      error: null,
      createdAt: new Date(now).toISOString(),
    };
    this.loads.set(l.id, l);
    void this.run(who, req, l).catch((err) => {
      l.phase = "failed";
      l.error = err instanceof Error ? err.message : String(err);
    });
    return this.get(who, l.id);
  }

  private async run(who: Identity, req: OpenRequest, l: Load): Promise<void> {
    const p = this.helper.spawn(who, ["load", req.path, ...(req.dataset ? ["--dataset", req.dataset] : [])]);
    let stderr = "";
    void new Response(p.stderr).text().then((t) => (stderr = t));
    const reader = p.stdout.getReader();
    const dec = new TextDecoder();
    let buf = "";
    let sent = false;
    const send = (line: string) => {
      p.stdin.write(`${line}\n`);
      p.stdin.flush();
      p.stdin.end();
      sent = true;
    };
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const text = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!text.startsWith("{")) continue;
          const ev = JSON.parse(text) as Record<string, unknown>;
          if (ev.event === "read") {
            l.shape = ev.shape as number[];
            l.dtype = ev.dtype as string;
            l.total = ev.bytes as number;
            const url = await this.target(who, req, l).catch((err) => {
              send("abort");
              throw err;
            });
            l.phase = "sending";
            send(url);
          } else if (ev.event === "progress") {
            l.done = ev.done as number;
            l.total = ev.total as number;
          } else if (ev.event === "done") {
            l.done = l.total;
            l.phase = "done";
          } else if (ev.event === "error") {
            throw new RemoteVisError("load_failed", (ev.error as { message: string }).message, 400);
          }
        }
      }
      await p.exited;
      if (l.phase !== "done") throw new RemoteVisError("load_failed", `the loader ended early${stderr ? `: ${stderr.trim().split("\n").pop()!.slice(0, 300)}` : ""}`, 500);
    } finally {
      if (!sent) send("abort");
      if (p.exitCode === null) setTimeout(() => p.kill("SIGKILL"), 5000).unref?.();
    }
  }

  /** The instance URL (with its secret) to send to: the chosen one, or a new one sized for the data. */
  private async target(who: Identity, req: OpenRequest, l: Load): Promise<string> {
    let id = req.instance;
    if (!id) {
      l.phase = "starting";
      const name = (req.dataset ? `${req.path.split("/").pop()}${req.dataset}` : req.path.split("/").pop() ?? "").replace(/[^A-Za-z0-9._ -]/g, "_").slice(-64);
      const row = await this.service.create(who, {
        shape: l.shape!,
        dtype: l.dtype as Dtype,
        name,
        ...(req.gpus ? { gpus: req.gpus } : {}),
        ...(req.partition ? { partition: req.partition } : {}),
        ...(req.timeMinutes ? { timeMinutes: req.timeMinutes } : {}),
      });
      id = row.id;
      l.instance = id;
    }
    const deadline = Date.now() + WAIT_START_MS;
    for (;;) {
      await this.service.refreshJobs();
      const row = this.service.getOwned({ ...who, admin: false }, id);
      if (row.state === "running" && row.host) return this.service.view(row).url!;
      if (!["pending", "starting", "unknown"].includes(row.state)) throw new RemoteVisError("not_running", `instance ${id} is ${row.state}${row.reason ? `: ${row.reason}` : ""}`, 409);
      if (Date.now() > deadline) throw new RemoteVisError("start_timeout", `instance ${id} did not start within 15 minutes`, 504);
      await this.service.waitStarted(id, 2000);
      if (row.state !== "starting") await Bun.sleep(1000);
    }
  }
}
