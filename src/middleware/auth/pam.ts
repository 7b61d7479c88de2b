/**
 * Password logins of the portal through PAM (libpam via bun:ffi, see pam-worker.ts). Each
 * attempt runs in its own short-lived Worker thread, so that a slow PAM stack (LDAP, the
 * modules' failure delay) never blocks the middleware's event loop and a stuck one can be
 * abandoned; at most `MAX_CONCURRENT` conversations run at once.
 *
 * The service name is configurable (`pam-service`, default "remotevis": /etc/pam.d/remotevis
 * from scripts/pam-install.sh; "login" works on most systems too). Only authentication and
 * account management run (pam_authenticate + pam_acct_mgmt); no session is opened.
 *
 * The password is handed over as bytes (transferred, so this thread keeps no copy) and zeroed
 * by the worker; JS strings cannot be zeroed, so the caller keeps the string's life short.
 */
import { RemoteVisError } from "../../errors.ts";
import { workerUrl } from "../../process/worker-url.ts";
import type { PamReply, PamRequest } from "./pam-worker.ts";

export type { PamReply };

export interface PamOutcome {
  ok: boolean;
  /** The account name PAM settled on (successful logins). */
  user: string;
  /** Milliseconds of failure delay the PAM stack asked for (the caller waits it, non-blocking). */
  delayMs: number;
  /** Why, for the log: "authenticate: Authentication failure (7)". Never the password. */
  why: string;
  /** The password must be changed first (PAM_NEW_AUTHTOK_REQD) or the account is expired/locked. */
  account?: "expired_password" | "expired_account" | "denied";
}

/** What the portal's login route calls; replaceable in tests of the routes. */
export type PasswordCheck = (user: string, password: Uint8Array, rhost: string) => Promise<PamOutcome>;

const MAX_CONCURRENT = 8;
const TIMEOUT_MS = 30_000;
let running = 0;

const PAM_NEW_AUTHTOK_REQD = 12;
const PAM_ACCT_EXPIRED = 13;

export function pamChecker(service: string): PasswordCheck {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(service)) throw new RemoteVisError("config", "pam-service: letters, digits, '.', '_' and '-' only");
  return async (user, password, rhost) => {
    if (running >= MAX_CONCURRENT) {
      password.fill(0);
      throw new RemoteVisError("busy", "too many logins at once; try again in a moment", 503);
    }
    running++;
    const worker = new Worker(workerUrl("middleware/auth/pam-worker.ts", new URL("./pam-worker.ts", import.meta.url)));
    try {
      const reply = await new Promise<PamReply | { error: string }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new RemoteVisError("pam_timeout", "the password check did not answer in time", 503)), TIMEOUT_MS);
        worker.onmessage = (e: MessageEvent<PamReply | { error: string }>) => {
          clearTimeout(timer);
          resolve(e.data);
        };
        worker.onerror = (e) => {
          clearTimeout(timer);
          reject(new RemoteVisError("pam_unavailable", `the password check failed: ${e.message}`, 503));
        };
        const req: PamRequest = { service, user, password, rhost };
        worker.postMessage(req, [password.buffer as ArrayBuffer]);
      });
      if ("error" in reply) throw new RemoteVisError("pam_unavailable", `the password check failed: ${reply.error}`, 503);
      const account =
        reply.step !== "account" ? undefined : reply.pamCode === PAM_NEW_AUTHTOK_REQD ? "expired_password" : reply.pamCode === PAM_ACCT_EXPIRED ? "expired_account" : "denied";
      return {
        ok: reply.ok,
        user: reply.user,
        delayMs: Math.round(reply.delayUs / 1000),
        why: reply.ok ? "ok" : `${reply.step}: ${reply.pamText} (${reply.pamCode})${reply.messages.length ? `; ${reply.messages.join(" / ")}` : ""}`,
        ...(account ? { account } : {}),
      };
    } finally {
      running--;
      worker.terminate();
    }
  };
}
