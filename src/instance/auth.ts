/** The instance secret guards every door: viewer URL (?token=), control socket, health, data header. */
import { createHash, timingSafeEqual } from "node:crypto";

export function secretMatches(presented: string | undefined | null, secret: string): boolean {
  if (!presented) return false;
  // Equal-length digests so the compare leaks neither content nor length.
  const a = createHash("sha256").update(presented).digest();
  const b = createHash("sha256").update(secret).digest();
  return timingSafeEqual(a, b);
}

/** The secret from `?token=` or `Authorization: Instance <secret>`. */
export function presentedSecret(url: string, authorization: string | undefined): string | undefined {
  if (authorization?.startsWith("Instance ")) return authorization.slice("Instance ".length).trim();
  return new URL(url).searchParams.get("token") ?? undefined;
}
