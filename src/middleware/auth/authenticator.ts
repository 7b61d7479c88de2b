/**
 * The Authorization header -> Identity: `MUNGE <credential>` (munged says who made it) or
 * `Bearer rv_...` (an API token of this middleware). A middleware run as a normal user serves
 * that user alone and refuses every other uid.
 */
import { timingSafeEqual } from "node:crypto";
import { RemoteVisError } from "../../errors.ts";
import type { Store } from "../store.ts";
import type { Authenticator, Identity } from "./identity.ts";
import { verifyMunge, type MungeIdentity } from "./munge.ts";
import { hashSecret } from "./tokens.ts";
import { userName } from "./users.ts";

export interface AuthOptions {
  store: Store;
  /** Only this uid is served (middleware run as a normal user); undefined = everyone. */
  onlyUid?: number;
  mungeSocket?: string;
  /** Replaceable in tests of the routes. */
  verifyMunge?: (credential: string) => Promise<MungeIdentity>;
}

export function createAuthenticator(o: AuthOptions): Authenticator {
  const munge = o.verifyMunge ?? ((c: string) => verifyMunge(c, o.mungeSocket));
  const admit = async (uid: number, gid: number, via: Identity["via"], tokenId?: string): Promise<Identity> => {
    if (o.onlyUid !== undefined && uid !== o.onlyUid)
      throw new RemoteVisError("forbidden", "this middleware runs as a normal user and serves that user only", 403);
    return { uid, gid, name: await userName(uid), via, ...(tokenId ? { tokenId } : {}) };
  };
  return {
    async identify(header) {
      if (!header)
        throw new RemoteVisError("unauthenticated", "no credentials: send 'Authorization: MUNGE <credential>' (munge -n) or 'Authorization: Bearer <token>'", 401);
      const space = header.indexOf(" ");
      const scheme = space < 0 ? header : header.slice(0, space);
      const value = space < 0 ? "" : header.slice(space + 1).trim();
      if (scheme.toUpperCase() === "MUNGE") {
        const id = await munge(value);
        return admit(id.uid, id.gid, "munge");
      }
      if (scheme.toLowerCase() === "bearer") {
        if (!/^rv_[A-Za-z0-9_-]{20,100}$/.test(value)) throw new RemoteVisError("unauthenticated", "the API token is malformed", 401);
        const hash = hashSecret(value);
        const row = o.store.tokenByHash(hash);
        // The lookup is by hash; the compare guards against a future non-unique index.
        if (!row || !timingSafeEqual(Buffer.from(row.hash), Buffer.from(hash)))
          throw new RemoteVisError("unauthenticated", "unknown or revoked API token", 401);
        const now = Date.now();
        if (row.expires_at !== null && row.expires_at < now) throw new RemoteVisError("unauthenticated", "the API token has expired", 401);
        // Saves a write per request under load: last use is kept to the minute.
        if (row.last_used_at === null || now - row.last_used_at > 60_000) o.store.touchToken(row.id, now);
        return admit(row.owner_uid, row.owner_gid, "token", row.id);
      }
      throw new RemoteVisError("unauthenticated", "unsupported Authorization scheme; use MUNGE or Bearer", 401);
    },
  };
}
