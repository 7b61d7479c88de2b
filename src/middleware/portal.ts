/**
 * The web portal's services, made once per middleware: sessions, the login limiter, the
 * password check (PAM), the admin group, the user's helper process and the loads. The routes
 * are in routes/portal-*.ts and proxy.ts, bound in app.ts; the pages in src/web/portal/.
 */
import { LoginLimiter } from "./auth/login-limit.ts";
import { pamChecker, type PasswordCheck } from "./auth/pam.ts";
import { Sessions } from "./auth/sessions.ts";
import type { Config } from "./config.ts";
import { UserHelper } from "./helper.ts";
import { Loads } from "./loads.ts";
import type { InstanceService } from "./service.ts";
import type { Store } from "./store.ts";

export type PortalConfig = Pick<Config, "gpuLimit" | "gpuMemory" | "workingSet" | "storageRoots" | "graceMs" | "idleTimeoutMs" | "maxAgeMs" | "adminGroup" | "instanceEnv">;

export interface Portal {
  sessions: Sessions;
  limiter: LoginLimiter;
  checkPassword: PasswordCheck;
  /** Whether an account is in the admin group. */
  isAdmin: (name: string) => Promise<boolean>;
  /** An account by name through NSS: uid and primary gid, or null. */
  account: (name: string) => Promise<{ uid: number; gid: number; name: string } | null>;
  helper: UserHelper;
  loads: Loads;
  cfg: PortalConfig;
  secure: boolean;
  log: (line: string) => void;
}

export interface PortalOptions {
  secure: boolean;
  sessionMaxMs: number;
  sessionIdleMs: number;
  pamService: string;
  log?: (line: string) => void;
  /** Tests: a fake password check, limiter, account lookup or helper program. */
  checkPassword?: PasswordCheck;
  limiter?: LoginLimiter;
  account?: Portal["account"];
  isAdmin?: Portal["isAdmin"];
  helperProgram?: string[];
}

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  try {
    const p = Bun.spawn(argv, { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    const out = await new Response(p.stdout).text();
    return { code: await p.exited, out };
  } catch {
    return { code: 127, out: "" };
  }
}

/** `getent passwd NAME` (NSS: /etc/passwd, LDAP, SSSD). */
export async function accountByName(name: string): Promise<{ uid: number; gid: number; name: string } | null> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/.test(name)) return null;
  const r = await run(["getent", "passwd", "--", name]);
  const f = r.out.trim().split(":");
  if (r.code !== 0 || f.length < 4) return null;
  const uid = Number(f[2]);
  const gid = Number(f[3]);
  return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid, name: f[0]! } : null;
}

/** Group membership as the system sees it at login (`id -Gn`, primary and supplementary). */
export function groupChecker(group: string): (name: string) => Promise<boolean> {
  return async (name) => {
    if (!group) return false;
    const r = await run(["id", "-Gn", "--", name]);
    return r.code === 0 && r.out.trim().split(/\s+/).includes(group);
  };
}

export function createPortal(store: Store, service: InstanceService, cfg: PortalConfig, o: PortalOptions): Portal {
  const helper = new UserHelper({ roots: cfg.storageRoots, passEnv: cfg.instanceEnv, ...(o.helperProgram ? { program: o.helperProgram } : {}) });
  return {
    sessions: new Sessions(store, { maxMs: o.sessionMaxMs, idleMs: o.sessionIdleMs, secure: o.secure }),
    limiter: o.limiter ?? new LoginLimiter(),
    checkPassword: o.checkPassword ?? pamChecker(o.pamService),
    isAdmin: o.isAdmin ?? groupChecker(cfg.adminGroup),
    account: o.account ?? accountByName,
    helper,
    loads: new Loads(service, helper),
    cfg,
    secure: o.secure,
    log: o.log ?? ((l) => console.log(l)),
  };
}
