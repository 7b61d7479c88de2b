/**
 * Portal sessions. A login makes a row in the `sessions` table and a cookie `ID.SECRET`
 * (HttpOnly, SameSite=Strict, Path=/, Secure and the `__Host-` prefix under TLS); only the
 * secret's SHA-256 is stored, so the database alone cannot make a cookie. A cookie is refused
 * when its id is unknown (forged, or ended by logout: a replayed cookie), its secret does not
 * match, or the session is past `session-max` since login or `session-idle` since last use.
 *
 * CSRF: every session has its own random token, given to the page in the JSON of
 * GET /portal/api/session (never in a cookie, so another site cannot read it); every request
 * that changes state must carry it in `X-CSRF-Token`, and a browser's `Origin`, when sent, must
 * be this site. Logins (no session yet) use a pre-session token the same way: an HttpOnly
 * cookie and the same value from /portal/api/session in the header (double submit).
 */
import { randomBytes, timingSafeEqual } from "node:crypto";
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { RemoteVisError } from "../../errors.ts";
import type { SessionRow, Store } from "../store.ts";
import type { Identity } from "./identity.ts";
import { hashSecret } from "./tokens.ts";

export interface SessionOptions {
  maxMs: number;
  idleMs: number;
  /** Served over TLS: Secure cookies with the __Host- prefix. */
  secure: boolean;
}

export const CSRF_HEADER = "x-csrf-token";
const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);

export function sameSecret(a: string | undefined | null, b: string): boolean {
  if (!a) return false;
  const x = Buffer.from(hashSecret(a));
  const y = Buffer.from(hashSecret(b));
  return timingSafeEqual(x, y);
}

export class Sessions {
  readonly cookie: string;
  readonly loginCookie: string;
  private lastPurge = 0;

  constructor(
    private readonly store: Store,
    readonly o: SessionOptions,
  ) {
    this.cookie = o.secure ? "__Host-rv_session" : "rv_session";
    this.loginCookie = o.secure ? "__Host-rv_login" : "rv_login";
  }

  /** Options of both cookies; `maxAge` in seconds. */
  cookieOptions(maxAge?: number) {
    return { httpOnly: true, sameSite: "Strict" as const, path: "/", secure: this.o.secure, ...(maxAge !== undefined ? { maxAge } : {}) };
  }

  create(user: { uid: number; gid: number; name: string; admin: boolean }, addr: string, now = Date.now()): { value: string; row: SessionRow } {
    const secret = randomBytes(32).toString("base64url");
    const row: SessionRow = {
      id: `s-${randomBytes(12).toString("hex")}`,
      hash: hashSecret(secret),
      uid: user.uid,
      gid: user.gid,
      name: user.name,
      admin: user.admin ? 1 : 0,
      csrf: randomBytes(32).toString("base64url"),
      addr: addr.slice(0, 64),
      created_at: now,
      last_seen_at: now,
      expires_at: now + this.o.maxMs,
    };
    this.store.insertSession(row);
    return { value: `${row.id}.${secret}`, row };
  }

  /** The live session of a cookie value, or null (unknown, forged, ended, expired, idle). */
  verify(value: string | undefined, now = Date.now()): SessionRow | null {
    if (now - this.lastPurge > 60_000) {
      this.lastPurge = now;
      this.store.purgeSessions(now, now - this.o.idleMs);
    }
    const m = value ? /^(s-[0-9a-f]{24})\.([A-Za-z0-9_-]{43})$/.exec(value) : null;
    if (!m) return null;
    const row = this.store.getSession(m[1]!);
    if (!row) return null;
    const hash = hashSecret(m[2]!);
    if (!timingSafeEqual(Buffer.from(hash), Buffer.from(row.hash))) return null;
    if (row.expires_at <= now || row.last_seen_at + this.o.idleMs <= now) {
      this.store.deleteSession(row.id);
      return null;
    }
    // One write a minute at most.
    if (now - row.last_seen_at > 60_000) this.store.touchSession(row.id, now);
    return row;
  }

  end(id: string): void {
    this.store.deleteSession(id);
  }

  /** The session of a request, or null. */
  of(c: Context): SessionRow | null {
    return this.verify(getCookie(c, this.cookie));
  }

  /**
   * The caller of a browser request: a live session, and for a state-changing method the
   * session's CSRF token and this site's Origin. Throws 401 / 403.
   */
  identify(c: Context): Identity {
    const row = this.of(c);
    if (!row) throw new RemoteVisError("unauthenticated", "not logged in (or the session ended): log in at /portal/", 401);
    if (!SAFE.has(c.req.method)) checkCsrf(c, row.csrf);
    return { uid: row.uid, gid: row.gid, name: row.name, via: "session", sessionId: row.id, admin: row.admin === 1 };
  }
}

/** The request's Origin, when a browser sent one, must be this very site. */
export function checkOrigin(c: Context): void {
  const origin = c.req.header("origin");
  if (origin === undefined) return;
  let host = "";
  try {
    host = new URL(origin).host;
  } catch {
    // "null" and other opaque origins are foreign.
  }
  if (host !== c.req.header("host")) throw new RemoteVisError("forbidden_origin", "this request comes from another site", 403);
}

export function checkCsrf(c: Context, expected: string): void {
  checkOrigin(c);
  if (!sameSecret(c.req.header(CSRF_HEADER), expected))
    throw new RemoteVisError("csrf", "missing or wrong CSRF token (X-CSRF-Token); reload the page", 403);
}
