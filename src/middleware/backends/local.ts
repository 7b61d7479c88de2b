/**
 * Local backend: instances are processes on this machine. Run as root, each is started as its
 * owner through `setpriv --reuid --regid --init-groups --reset-env` (so it gets that user's
 * files and nothing more); run as a normal user, as a plain child. Each instance leads its own
 * process group (setsid) so that stop reaches everything it started, and so that it outlives a
 * middleware restart. Output goes to a log file the owner can read.
 */
import { chownSync, closeSync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { selfArgv } from "../../cli/self.ts";
import { RemoteVisError } from "../../errors.ts";
import type { InstanceRow } from "../store.ts";
import type { Backend, LaunchSpec, Launched } from "./backend.ts";
import { procAlive, procStart } from "./procfs.ts";

export interface LocalOptions {
  /** Names (or PREFIX*) of environment variables handed through to instances. */
  passEnv: string[];
  /** argv that runs this program (tests may point it elsewhere). */
  program?: string[];
}

export class LocalBackend implements Backend {
  readonly mode = "local" as const;
  onExit?: (id: string, how: string, code: number | null) => void;
  private readonly asRoot = process.getuid?.() === 0;
  /** Our children whose exit Bun has not reported yet: alive for the sweep, so that the reason
   *  recorded is how they ended ("was killed by SIGKILL"), not just that they are gone. */
  private readonly unreaped = new Set<number>();

  constructor(private readonly o: LocalOptions) {}

  private passedEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (v === undefined) continue;
      if (this.o.passEnv.some((p) => (p.endsWith("*") ? k.startsWith(p.slice(0, -1)) : k === p))) out[k] = v;
    }
    return out;
  }

  /** The full argv: as root, setpriv + env (setpriv --reset-env clears the environment). */
  argv(spec: LaunchSpec): string[] {
    const program = [...(this.o.program ?? selfArgv()), "instance", ...spec.args, "--secret-file", "-"];
    if (!this.asRoot) return program;
    const env = Object.entries(this.passedEnv()).map(([k, v]) => `${k}=${v}`);
    return [
      "setpriv",
      `--reuid=${spec.owner.uid}`,
      `--regid=${spec.owner.gid}`,
      "--init-groups",
      "--reset-env",
      "--",
      "/usr/bin/env",
      ...env,
      ...program,
    ];
  }

  async launch(spec: LaunchSpec): Promise<Launched> {
    mkdirSync(dirname(spec.logPath), { recursive: true, mode: 0o711 });
    const fd = openSync(spec.logPath, "a", 0o600);
    try {
      if (this.asRoot) chownSync(spec.logPath, spec.owner.uid, spec.owner.gid);
      let proc;
      try {
        proc = Bun.spawn(this.argv(spec), {
          stdin: new TextEncoder().encode(spec.secret + "\n"),
          stdout: fd,
          stderr: fd,
          detached: true,
          env: this.asRoot ? { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" } : { ...process.env },
        });
      } catch (err) {
        throw new RemoteVisError("start_failed", `cannot start the instance process: ${err instanceof Error ? err.message : err}`, 500);
      }
      const pid = proc.pid;
      this.unreaped.add(pid);
      void proc.exited.then((code) => {
        const how = proc.signalCode ? `was killed by ${proc.signalCode}` : `exited with code ${code}`;
        this.onExit?.(spec.id, how, proc.signalCode ? null : code);
        this.unreaped.delete(pid);
      });
      // setsid makes it the leader: its process group id is its pid.
      return { pid, pgid: pid, procStart: procStart(pid) };
    } finally {
      closeSync(fd);
    }
  }

  alive(row: InstanceRow): boolean {
    return row.pid !== null && (this.unreaped.has(row.pid) || procAlive(row.pid, row.proc_start));
  }

  async stop(row: InstanceRow, timeoutMs: number): Promise<void> {
    if (row.pid === null || !this.alive(row)) return;
    const group = row.pgid ?? row.pid;
    const signal = (sig: NodeJS.Signals) => {
      try {
        process.kill(-group, sig);
      } catch {
        // The group is already gone.
      }
    };
    signal("SIGTERM");
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.alive(row)) return;
      await Bun.sleep(25);
    }
    signal("SIGKILL");
    for (let i = 0; i < 100 && this.alive(row); i++) await Bun.sleep(20);
  }
}
