/**
 * `remotevis serve` as a function: opens the database, reconnects to the instances of a
 * previous run, serves the API on Bun.serve and runs the lifecycle sweep. Instances are not
 * stopped when the middleware stops: a restarted middleware takes them over.
 */
import type { Server } from "bun";
import { createApp } from "./app.ts";
import { createAuthenticator } from "./auth/authenticator.ts";
import { issueSessionToken } from "./auth/session-token.ts";
import { userName } from "./auth/users.ts";
import type { Backend } from "./backends/backend.ts";
import { LocalBackend } from "./backends/local.ts";
import { SlurmBackend } from "./backends/slurm.ts";
import type { Config } from "./config.ts";
import type { Deps } from "./context.ts";
import { SecretKeeper } from "./keys.ts";
import { Lifecycle } from "./lifecycle.ts";
import { InstanceService } from "./service.ts";
import { Store } from "./store.ts";
import { RemoteVisError } from "../errors.ts";
import { mkdirSync, readFileSync } from "node:fs";
import { websocket } from "hono/bun";
import { createPortal, type PortalOptions } from "./portal.ts";

/** How long close() waits for open requests to end before it closes the store anyway. */
const STOP_WAIT_MS = 1000;

export interface Running {
  url: string;
  port: number;
  onlyUser?: { uid: number; name: string };
  reconnected: { kept: number; failed: number };
  close(): Promise<void>;
}

export async function startMiddleware(cfg: Config, o: { backend?: Backend; log?: (line: string) => void; portal?: Partial<PortalOptions> } = {}): Promise<Running> {
  const log = o.log ?? ((l: string) => console.log(l));
  const uid = process.getuid?.() ?? 0;
  const onlyUser = uid === 0 ? undefined : { uid, name: await userName(uid) };
  mkdirSync(cfg.stateDir, { recursive: true, mode: 0o711 });
  const store = new Store(cfg.db);
  const secrets = SecretKeeper.open(cfg.stateDir);
  const backend = o.backend ?? (cfg.mode === "slurm" ? slurmBackend(cfg) : new LocalBackend({ passEnv: cfg.instanceEnv }));

  // Bun.serve first (port 0 -> the real port), since instances are told where to report.
  let server: Server<unknown>;
  let deps: Deps | undefined;
  let appFetch: ((req: Request, srv: Server<unknown>) => Response | Promise<Response>) | undefined;
  // Optional TLS (tls-cert + tls-key, PEM): the portal's cookies are then Secure.
  let tls: { cert: string; key: string } | undefined;
  if (cfg.tlsCert && cfg.tlsKey) {
    try {
      tls = { cert: readFileSync(cfg.tlsCert, "utf8"), key: readFileSync(cfg.tlsKey, "utf8") };
    } catch (err) {
      store.close();
      throw new RemoteVisError("config", `cannot read the TLS certificate or key: ${err instanceof Error ? err.message : err}`, 500);
    }
  }
  try {
    server = Bun.serve({
      hostname: cfg.bind,
      port: cfg.port,
      idleTimeout: 60,
      ...(tls ? { tls } : {}),
      fetch: (req, srv) => (appFetch ? appFetch(req, srv) : new Response("starting", { status: 503 })),
      // WebSockets of the viewer proxy (/i/ID/...).
      websocket,
    });
  } catch (err) {
    store.close();
    throw new RemoteVisError("listen_failed", `cannot listen on ${cfg.bind}:${cfg.port}: ${err instanceof Error ? err.message : err}`, 500);
  }
  const host = cfg.bind === "0.0.0.0" || cfg.bind === "::" ? "127.0.0.1" : cfg.bind;
  const url = `${tls ? "https" : "http"}://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  const service = new InstanceService(store, backend, secrets, { ...cfg, publicUrl: cfg.publicUrl ?? url });
  deps = { service, store, auth: createAuthenticator({ store, onlyUid: onlyUser?.uid, mungeSocket: cfg.mungeSocket }), mode: cfg.mode, onlyUser };
  if (cfg.portal === "on")
    deps.portal = createPortal(store, service, cfg, { secure: !!tls, sessionMaxMs: cfg.sessionMaxMs, sessionIdleMs: cfg.sessionIdleMs, pamService: cfg.pamService, log, ...o.portal });
  if (onlyUser) log(`token for your own clients (no munge needed): ${issueSessionToken(store, { ...onlyUser, gid: process.getgid?.() ?? 0 })}`);
  const reconnected = service.reconnect();
  // Slurm mode: every job of the last run is asked about at once (jobs that ended meanwhile
  // end their instances with slurm's reason).
  await service.refreshJobs().catch((err) => log(`asking slurm about the jobs failed: ${err instanceof Error ? err.message : err}`));
  const app = createApp(deps);
  appFetch = (req, srv) => app.fetch(req, srv);
  const lifecycle = new Lifecycle(service, cfg.sweepMs, log);
  lifecycle.start();
  let closed = false;
  return {
    url,
    port: server.port!,
    onlyUser,
    reconnected,
    async close() {
      if (closed) return;
      closed = true;
      lifecycle.stop();
      // Bun's server.stop(true) never resolves while a request handler is still pending
      // (oven-sh/bun#40043; here an instance's request): give it a moment, then go on.
      await Promise.race([server.stop(true), Bun.sleep(STOP_WAIT_MS)]);
      store.close();
    },
  };
}

function slurmBackend(cfg: Config): SlurmBackend {
  return new SlurmBackend({
    partition: cfg.slurmPartition,
    account: cfg.slurmAccount,
    qos: cfg.slurmQos,
    constraint: cfg.slurmConstraint,
    timeMs: cfg.slurmTimeMs,
    gpusOption: cfg.slurmGpus,
    extra: cfg.slurmExtra,
    program: cfg.slurmProgram ? [cfg.slurmProgram] : [],
    output: cfg.slurmOutput,
    bin: cfg.slurmBin,
    timeoutMs: cfg.slurmTimeoutMs,
    passEnv: cfg.instanceEnv,
    stateDir: cfg.stateDir,
  });
}
