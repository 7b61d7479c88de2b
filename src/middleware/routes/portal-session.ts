/**
 * The portal's login, session and logout. Passwords go to PAM (auth/pam.ts) and nowhere else:
 * never logged, never stored; the request body's bytes are zeroed after parsing and the bytes
 * handed to PAM are zeroed by its worker. Every failure answers the same words ("wrong user name
 * or password") after the failure delay PAM asked for (waited without blocking), so neither the
 * answer nor its timing tells an unknown account from a wrong password.
 */
import type { Context } from "hono";
import { getConnInfo } from "hono/bun";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { randomBytes } from "node:crypto";
import * as v from "valibot";
import { RemoteVisError } from "../../errors.ts";
import { parseOrThrow } from "../../protocol/common.ts";
import { VERSION } from "../../version.ts";
import { CSRF_HEADER, checkCsrf, checkOrigin, sameSecret } from "../auth/sessions.ts";
import type { AppEnv, Deps } from "../context.ts";
import type { Portal } from "../portal.ts";

type C = Context<AppEnv>;

export const LoginRequest = v.strictObject({
  user: v.pipe(v.string("user must be a string"), v.regex(/^[A-Za-z0-9_][A-Za-z0-9._@-]{0,63}$/, "user name: letters, digits, '.', '_', '@', '-' (at most 64)")),
  password: v.pipe(v.string("password must be a string"), v.minLength(1, "give the password"), v.maxLength(1024, "the password is too long")),
});

export function clientAddress(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? "unknown";
  } catch {
    return "unknown";
  }
}

export function portalOf(d: Deps): Portal {
  if (!d.portal) throw new RemoteVisError("no_route", "the portal is switched off (portal = off)", 404);
  return d.portal;
}

const WRONG = () => new RemoteVisError("unauthenticated", "wrong user name or password", 401);

export function sessionInfo(d: Deps) {
  return (c: C) => {
    const p = portalOf(d);
    const row = p.sessions.of(c);
    c.header("cache-control", "no-store");
    if (row) return c.json({ authenticated: true, user: { name: row.name, uid: row.uid }, admin: row.admin === 1, csrf: row.csrf, mode: d.mode, version: VERSION, expiresAt: new Date(row.expires_at).toISOString() });
    // Not logged in: a pre-session token for the login form (double submit: cookie + header).
    const pre = randomBytes(32).toString("base64url");
    setCookie(c, p.sessions.loginCookie, pre, p.sessions.cookieOptions(3600));
    return c.json({ authenticated: false, loginCsrf: pre, mode: d.mode, version: VERSION });
  };
}

export function login(d: Deps) {
  return async (c: C) => {
    const p = portalOf(d);
    checkOrigin(c);
    if (!sameSecret(c.req.header(CSRF_HEADER), getCookie(c, p.sessions.loginCookie) ?? "\0"))
      throw new RemoteVisError("csrf", "missing or wrong CSRF token (X-CSRF-Token); reload the page", 403);
    if (!(c.req.header("content-type") ?? "").startsWith("application/json"))
      throw new RemoteVisError("unsupported_media_type", "send the body as JSON (Content-Type: application/json)", 415);
    const raw = new Uint8Array(await c.req.arrayBuffer());
    let parsed: unknown;
    try {
      if (raw.length > 8192) throw new RemoteVisError("too_large", "the login request is too large", 413);
      parsed = JSON.parse(new TextDecoder().decode(raw));
    } catch (err) {
      if (err instanceof RemoteVisError) throw err;
      throw new RemoteVisError("malformed_json", "the login request is not valid JSON", 400);
    } finally {
      raw.fill(0);
    }
    const req = parseOrThrow(LoginRequest, parsed, "login request");
    parsed = undefined;
    const addr = clientAddress(c);
    p.limiter.begin(req.user, addr);
    const pw = new TextEncoder().encode(req.password);
    const outcome = await p.checkPassword(req.user, pw, addr);
    // The real check transferred the bytes (this view is detached); a fake leaves them here.
    if (pw.byteLength) pw.fill(0);
    if (!outcome.ok) {
      p.log(`portal: login of '${req.user}' from ${addr} refused: ${outcome.why}`);
      if (outcome.delayMs > 0) await Bun.sleep(Math.min(outcome.delayMs, 10_000));
      p.limiter.failed(req.user, addr);
      if (outcome.account === "expired_password") throw new RemoteVisError("password_expired", "your password has expired: change it on a login node first", 401);
      if (outcome.account) throw new RemoteVisError("account_refused", "this account may not log in now (expired or locked)", 403);
      throw WRONG();
    }
    const acct = await p.account(outcome.user);
    if (!acct) {
      p.log(`portal: '${outcome.user}' passed PAM but NSS does not know the account`);
      throw WRONG();
    }
    if (acct.uid === 0) throw new RemoteVisError("forbidden", "root does not log in to the portal", 403);
    if (d.onlyUser && acct.uid !== d.onlyUser.uid) throw new RemoteVisError("forbidden", "this middleware runs as a normal user and serves that user only", 403);
    p.limiter.success(req.user, addr);
    const admin = await p.isAdmin(acct.name);
    const { value, row } = p.sessions.create({ ...acct, admin }, addr);
    setCookie(c, p.sessions.cookie, value, p.sessions.cookieOptions(Math.floor(p.sessions.o.maxMs / 1000)));
    deleteCookie(c, p.sessions.loginCookie, { path: "/", secure: p.secure });
    p.log(`portal: ${acct.name} (uid ${acct.uid}) logged in from ${addr}${admin ? " (admin)" : ""}`);
    return c.json({ authenticated: true, user: { name: acct.name, uid: acct.uid }, admin, csrf: row.csrf, mode: d.mode, version: VERSION, expiresAt: new Date(row.expires_at).toISOString() });
  };
}

export function logout(d: Deps) {
  return (c: C) => {
    const p = portalOf(d);
    const row = p.sessions.of(c);
    if (!row) throw new RemoteVisError("unauthenticated", "not logged in", 401);
    checkCsrf(c, row.csrf);
    p.sessions.end(row.id);
    deleteCookie(c, p.sessions.cookie, { path: "/", secure: p.secure });
    return c.json({ ok: true as const });
  };
}
