/** /api/v1/tokens: API tokens of the caller. Creating one needs MUNGE (tokens cannot mint tokens). */
import type { Context } from "hono";
import { RemoteVisError } from "../../errors.ts";
import { CreateTokenRequest, type CreatedToken, type Token, type TokenList } from "../../protocol/tokens.ts";
import { hashSecret, newId, newToken } from "../auth/tokens.ts";
import { jsonBody } from "../body.ts";
import type { AppEnv, Deps } from "../context.ts";
import type { TokenRow } from "../store.ts";

type C = Context<AppEnv>;
const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

function view(r: TokenRow): Token {
  return { id: r.id, name: r.name, createdAt: iso(r.created_at), lastUsedAt: iso(r.last_used_at), expiresAt: iso(r.expires_at) };
}

export function createToken(d: Deps) {
  return async (c: C) => {
    const who = c.get("who");
    // A token cannot mint tokens; a MUNGE credential or a portal login (password) can.
    if (who.via === "token") throw new RemoteVisError("forbidden", "API tokens are created with a MUNGE credential or in the portal, not with another token", 403);
    const req = await jsonBody(c, CreateTokenRequest, "token request");
    const token = newToken();
    const now = Date.now();
    const row: TokenRow = {
      id: newId("t-"),
      owner_uid: who.uid,
      owner_gid: who.gid,
      owner_name: who.name,
      name: req.name,
      hash: hashSecret(token),
      created_at: now,
      last_used_at: null,
      expires_at: req.expiresInDays === undefined ? null : now + req.expiresInDays * 86_400_000,
    };
    d.store.insertToken(row);
    const body: CreatedToken = { ...view(row), token };
    return c.json(body, 201);
  };
}

export function listTokens(d: Deps) {
  return (c: C) => {
    const body: TokenList = { tokens: d.store.listTokens(c.get("who").uid).map(view) };
    return c.json(body);
  };
}

export function deleteToken(d: Deps) {
  return (c: C) => {
    if (!d.store.deleteToken(c.req.param("id") ?? "", c.get("who").uid)) throw new RemoteVisError("not_found", "no such token", 404);
    return c.json({ ok: true as const });
  };
}
