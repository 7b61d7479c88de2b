/**
 * Instance secrets. Each is HMAC-SHA256(server key, instance id): the middleware can give the
 * owner the URL again at any time without keeping any secret in the database (which holds
 * only the hash), and a copied database alone reveals none. The key is made once, 0600.
 */
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hashSecret } from "./auth/tokens.ts";

export class SecretKeeper {
  private constructor(private readonly key: Buffer) {}

  static open(stateDir: string): SecretKeeper {
    mkdirSync(stateDir, { recursive: true, mode: 0o711 });
    const path = join(stateDir, "server.key");
    if (!existsSync(path)) writeFileSync(path, randomBytes(32), { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    const key = readFileSync(path);
    if (key.length < 32) throw new Error(`${path} is shorter than 32 bytes; remove it to make a new one`);
    return new SecretKeeper(key);
  }

  static inMemory(): SecretKeeper {
    return new SecretKeeper(randomBytes(32));
  }

  secretFor(instanceId: string): string {
    return createHmac("sha256", this.key).update(instanceId).digest("base64url");
  }

  /** Constant-time check of a secret presented by an instance against the stored hash. */
  static matches(presented: string, storedHash: string): boolean {
    const a = Buffer.from(hashSecret(presented));
    const b = Buffer.from(storedHash);
    return a.length === b.length && timingSafeEqual(a, b);
  }
}
