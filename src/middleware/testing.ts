/**
 * Test helpers: an app with an in-memory store, a backend that starts no processes, and a
 * MUNGE verifier that maps fake credentials "MUNGE:uid:gid:nonce" to identities (replays
 * refused like munged does). Route tests use it through app.request() without a port.
 */
import { RemoteVisError } from "../errors.ts";
import { createApp } from "./app.ts";
import { createAuthenticator } from "./auth/authenticator.ts";
import { LoginLimiter } from "./auth/login-limit.ts";
import type { PamOutcome } from "./auth/pam.ts";
import type { Backend, LaunchSpec, Launched } from "./backends/backend.ts";
import { defaults, type Config } from "./config.ts";
import { SecretKeeper } from "./keys.ts";
import { createPortal } from "./portal.ts";
import { InstanceService } from "./service.ts";
import { Store, type InstanceRow } from "./store.ts";

export class FakeBackend implements Backend {
  readonly mode = "local" as const;
  onExit?: (id: string, how: string, code: number | null) => void;
  readonly launched: LaunchSpec[] = [];
  readonly dead = new Set<string>();
  readonly stopped: string[] = [];
  private nextPid = 100000;

  async launch(spec: LaunchSpec): Promise<Launched> {
    this.launched.push(spec);
    const pid = this.nextPid++;
    return { pid, pgid: pid, procStart: null };
  }
  alive(row: InstanceRow): boolean {
    return !this.dead.has(row.id) && !this.stopped.includes(row.id);
  }
  async stop(row: InstanceRow): Promise<void> {
    this.stopped.push(row.id);
    // Like a real process: its exit is noticed while stop() is still running.
    this.onExit?.(row.id, "was killed by SIGTERM", null);
  }
}

export function fakeMunge() {
  const seen = new Set<string>();
  return async (cred: string) => {
    const m = /^MUNGE:(\d+):(\d+):\w+$/.exec(cred);
    if (!m) throw new RemoteVisError("unauthenticated", "the MUNGE credential is malformed", 401);
    if (seen.has(cred)) throw new RemoteVisError("unauthenticated", "the MUNGE credential was already used (replayed)", 401);
    seen.add(cred);
    return { uid: Number(m[1]), gid: Number(m[2]) };
  };
}

let nonce = 0;
/** A fresh fake credential of `uid`. */
export function munge(uid: number): string {
  return `MUNGE MUNGE:${uid}:${uid}:n${nonce++}`;
}

export function testApp(over: Partial<Config> = {}, onlyUid?: number) {
  const cfg = { ...defaults(), stateDir: "/tmp/rv-route-tests", ...over };
  const store = new Store(":memory:");
  const backend = new FakeBackend();
  const secrets = SecretKeeper.inMemory();
  const service = new InstanceService(store, backend, secrets, { ...cfg, publicUrl: "http://127.0.0.1:1" });
  const auth = createAuthenticator({ store, onlyUid, verifyMunge: fakeMunge() });
  const app = createApp({ service, store, auth, mode: "local", ...(onlyUid !== undefined ? { onlyUser: { uid: onlyUid, name: String(onlyUid) } } : {}) });
  return { app, store, backend, service, secrets, cfg };
}

export interface PortalTestUser {
  uid: number;
  gid: number;
  pw: string;
  admin?: boolean;
}

/**
 * The middleware's app with the portal, for app.request() tests: fake password check against
 * `users` (each check's user name goes to `onCheck`), fake MUNGE, a fake backend.
 */
export function portalTestApp(stateDir: string, users: Record<string, PortalTestUser>, onCheck: (user: string) => void = () => {}) {
  const cfg = { ...defaults(), stateDir, storageRoots: [] as string[] };
  const store = new Store(":memory:");
  const backend = new FakeBackend();
  const secrets = SecretKeeper.inMemory();
  const service = new InstanceService(store, backend, secrets, { ...cfg, publicUrl: "http://127.0.0.1:1" });
  const portal = createPortal(store, service, cfg, {
    secure: false,
    sessionMaxMs: 3_600_000,
    sessionIdleMs: 600_000,
    pamService: "remotevis",
    log: () => {},
    limiter: new LoginLimiter({ freeUser: 5, freeAddr: 100, baseMs: 1000, maxMs: 60_000, forgetMs: 600_000, maxKeys: 1000 }),
    checkPassword: async (user, pw): Promise<PamOutcome> => {
      onCheck(user);
      return { ok: users[user]?.pw === new TextDecoder().decode(pw), user, delayMs: 0, why: "fake" };
    },
    account: async (name) => (users[name] ? { uid: users[name]!.uid, gid: users[name]!.gid, name } : null),
    isAdmin: async (name) => !!users[name]?.admin,
  });
  const app = createApp({ service, store, auth: createAuthenticator({ store, verifyMunge: fakeMunge() }), mode: "local", portal });
  return { app, store, service, secrets, portal, backend };
}
