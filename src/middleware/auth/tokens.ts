/**
 * API tokens: `rv_` + 32 random bytes (base64url). High-entropy, so a plain SHA-256 is the
 * right hash (no salt or slow hash needed); only the hash is stored.
 */
import { createHash, randomBytes } from "node:crypto";

export function newToken(): string {
  return `rv_${randomBytes(32).toString("base64url")}`;
}

export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret).digest("hex");
}

export function newId(prefix: string, bytes = 8): string {
  return `${prefix}${randomBytes(bytes).toString("hex")}`;
}
