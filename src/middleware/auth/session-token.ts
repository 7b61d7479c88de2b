/**
 * A middleware run by a normal user serves that user alone; so that the user's own clients
 * need no munged (a laptop, a workstation, `make demo` as a user), it issues an API token at
 * start and leaves it where only that user can read it: ~/.local/share/remotevis/session-token
 * (mode 0600). The client falls back to it when munge is not available. Each start replaces
 * the previous session token.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { sessionTokenPath } from "../../paths.ts";
import type { Store, TokenRow } from "../store.ts";
import { hashSecret, newId, newToken } from "./tokens.ts";

export const SESSION_TOKEN_NAME = "session (middleware run by this user)";

export function issueSessionToken(store: Store, user: { uid: number; gid: number; name: string }, path = sessionTokenPath()): string {
  for (const t of store.listTokens(user.uid)) if (t.name === SESSION_TOKEN_NAME) store.deleteToken(t.id, user.uid);
  const token = newToken();
  const row: TokenRow = {
    id: newId("t-"),
    owner_uid: user.uid,
    owner_gid: user.gid,
    owner_name: user.name,
    name: SESSION_TOKEN_NAME,
    hash: hashSecret(token),
    created_at: Date.now(),
    last_used_at: null,
    expires_at: null,
  };
  store.insertToken(row);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  writeFileSync(path, token + "\n", { mode: 0o600 });
  chmodSync(path, 0o600);
  return path;
}
