/**
 * Runs `remotevis portal-helper` as a portal user: as root through `setpriv --reuid --regid
 * --init-groups --reset-env` (the user's uid, gid and groups, an environment made here), as a
 * normal user (serving only itself) as a plain child. Always argv arrays, never a shell; the
 * instance URL of a load goes through stdin, never argv.
 *
 * Why a helper process and not the user's instance: the file browser must work before the
 * user has any instance (choosing a dataset is how a sized instance gets started), the listing
 * must use exactly the user's permissions (a process of the user is the one way to get that,
 * ACLs and NFS root squashing included), and a helper lives only for one listing or load.
 */
import { selfArgv } from "../cli/self.ts";
import { RemoteVisError } from "../errors.ts";

export interface HelperUser {
  uid: number;
  gid: number;
  name: string;
}

export interface HelperOptions {
  roots: string[];
  /** Names (or PREFIX*) of environment variables handed through (UCX_*, ...). */
  passEnv: string[];
  /** argv that runs this program (default: selfArgv()). */
  program?: string[];
  timeoutMs?: number;
}

export class UserHelper {
  private readonly asRoot = process.getuid?.() === 0;

  constructor(readonly o: HelperOptions) {}

  private env(): Record<string, string> {
    const out: Record<string, string> = { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" };
    for (const [k, v] of Object.entries(process.env)) {
      if (v === undefined) continue;
      if (this.o.passEnv.some((p) => (p.endsWith("*") ? k.startsWith(p.slice(0, -1)) : k === p))) out[k] = v;
    }
    if (!out.UCX_LOG_LEVEL) out.UCX_LOG_LEVEL = "error";
    return out;
  }

  argv(user: HelperUser, args: string[]): string[] {
    const program = [...(this.o.program ?? selfArgv()), "portal-helper", ...args, ...this.o.roots.flatMap((r) => ["--root", r])];
    if (!this.asRoot) return program;
    const env = Object.entries(this.env()).map(([k, v]) => `${k}=${v}`);
    return ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--init-groups", "--reset-env", "--", "/usr/bin/env", ...env, ...program];
  }

  spawn(user: HelperUser, args: string[]) {
    if (this.asRoot && user.uid === 0) throw new RemoteVisError("forbidden", "the portal does not act as root", 403);
    return Bun.spawn(this.argv(user, args), {
      stdin: "pipe",
      stdout: "pipe",
      stderr: "pipe",
      cwd: "/",
      env: this.asRoot ? { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } : { ...process.env, UCX_LOG_LEVEL: process.env.UCX_LOG_LEVEL ?? "error" },
    });
  }

  /** One listing: the helper's one JSON line; its error (with status) is rethrown. */
  async run<T>(user: HelperUser, args: string[]): Promise<T> {
    if (this.o.roots.length === 0) throw new RemoteVisError("no_storage", "no storage roots are configured (storage-roots)", 404);
    const p = this.spawn(user, args);
    p.stdin.end();
    const timer = setTimeout(() => p.kill("SIGKILL"), this.o.timeoutMs ?? 20_000);
    try {
      const [out, err] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      const first = out.split("\n").find((l) => l.startsWith("{"));
      if (!first) throw new RemoteVisError("helper_failed", `the file helper gave no answer${err ? `: ${err.trim().split("\n").pop()!.slice(0, 300)}` : ""}`, 502);
      const r = JSON.parse(first) as { ok: boolean; error?: { code: string; message: string; status: number } };
      if (!r.ok) throw new RemoteVisError(r.error?.code ?? "failed", r.error?.message ?? "the file helper failed", r.error?.status && r.error.status < 600 ? r.error.status : 500);
      return r as T;
    } finally {
      clearTimeout(timer);
    }
  }
}
