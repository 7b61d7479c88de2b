/** What the routes get: the services (dependencies) and, after authentication, the caller. */
import type { Identity, Authenticator } from "./auth/identity.ts";
import type { Portal } from "./portal.ts";
import type { InstanceService } from "./service.ts";
import type { Store } from "./store.ts";

export interface Deps {
  service: InstanceService;
  store: Store;
  auth: Authenticator;
  mode: "local" | "slurm";
  /** undefined when serving everyone (root); else the one user served. */
  onlyUser?: { uid: number; name: string };
  /** The web portal (sessions, PAM logins, file browser, viewer proxy); absent = portal off. */
  portal?: Portal;
}

export interface AppEnv {
  Variables: { who: Identity };
}
