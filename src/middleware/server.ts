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
import { mkdirSync } from "node:fs";

export interface Running {
  url: string;
  port: number;
  onlyUser?: { uid: number; name: string };
  reconnected: { kept: number; failed: number };
  close(): Promise<void>;
}

export async function startMiddleware(cfg: Config, o: { backend?: Backend; log?: (line: string) => void } = {}): Promise<Running> {
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
  let appFetch: ((req: Request) => Response | Promise<Response>) | undefined;
  try {
    server = Bun.serve({
      hostname: cfg.bind,
      port: cfg.port,
      idleTimeout: 60,
      fetch: (req) => (appFetch ? appFetch(req) : new Response("starting", { status: 503 })),
    });
  } catch (err) {
    store.close();
    throw new RemoteVisError("listen_failed", `cannot listen on ${cfg.bind}:${cfg.port}: ${err instanceof Error ? err.message : err}`, 500);
  }
  const host = cfg.bind === "0.0.0.0" || cfg.bind === "::" ? "127.0.0.1" : cfg.bind;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${server.port}`;
  const service = new InstanceService(store, backend, secrets, { ...cfg, publicUrl: cfg.publicUrl ?? url });
  deps = { service, store, auth: createAuthenticator({ store, onlyUid: onlyUser?.uid, mungeSocket: cfg.mungeSocket }), mode: cfg.mode, onlyUser };
  if (onlyUser) log(`token for your own clients (no munge needed): ${issueSessionToken(store, { ...onlyUser, gid: process.getgid?.() ?? 0 })}`);
  const reconnected = service.reconnect();
  // Slurm mode: every job of the last run is asked about at once (jobs that ended meanwhile
  // end their instances with slurm's reason).
  await service.refreshJobs().catch((err) => log(`asking slurm about the jobs failed: ${err instanceof Error ? err.message : err}`));
  appFetch = createApp(deps).fetch;
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
      await server.stop(true);
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
