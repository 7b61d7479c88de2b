/**
 * Failed logins slowed down per account and per client address. Every attempt counts as a
 * failure when it starts (so that parallel guesses are counted too) and a success clears the
 * account's count. After `free` failures in a row, the next attempt must wait
 * base * 2^(failures - free), at most `maxMs`; one that comes earlier is refused at once with
 * 429 and Retry-After, without asking PAM (so the answer tells nothing about the password).
 * A key is forgotten `forgetMs` after its last failure. In memory: a restarted middleware
 * starts afresh (PAM's own delay and pam_faillock, where configured, still apply).
 */
import { RemoteVisError } from "../../errors.ts";

export interface LimitOptions {
  /** Failures in a row allowed at full speed, per account and per address. */
  freeUser: number;
  freeAddr: number;
  baseMs: number;
  maxMs: number;
  forgetMs: number;
  /** Keys kept at most (oldest dropped). */
  maxKeys: number;
}

export const DEFAULT_LIMITS: LimitOptions = { freeUser: 5, freeAddr: 20, baseMs: 1000, maxMs: 15 * 60_000, forgetMs: 15 * 60_000, maxKeys: 100_000 };

interface Entry {
  fails: number;
  last: number;
}

export class LoginLimiter {
  private readonly keys = new Map<string, Entry>();

  constructor(readonly o: LimitOptions = DEFAULT_LIMITS) {}

  private entry(key: string, now: number): Entry | undefined {
    const e = this.keys.get(key);
    if (e && now - e.last > this.o.forgetMs) {
      this.keys.delete(key);
      return undefined;
    }
    return e;
  }

  private waitMs(e: Entry | undefined, free: number, now: number): number {
    if (!e || e.fails < free) return 0;
    const wait = Math.min(this.o.maxMs, this.o.baseMs * 2 ** Math.min(30, e.fails - free));
    return Math.max(0, e.last + wait - now);
  }

  /** Throws 429 when this attempt must wait; else counts it (as a failure until success()). */
  begin(user: string, addr: string, now = Date.now()): void {
    const u = `u:${user.toLowerCase()}`;
    const a = `a:${addr}`;
    const wait = Math.max(this.waitMs(this.entry(u, now), this.o.freeUser, now), this.waitMs(this.entry(a, now), this.o.freeAddr, now));
    if (wait > 0) {
      const secs = Math.ceil(wait / 1000);
      throw new RemoteVisError("too_many_attempts", `too many failed logins; try again in ${secs} s`, 429, { retryAfterSeconds: secs });
    }
    for (const k of [u, a]) {
      const e = this.entry(k, now) ?? { fails: 0, last: now };
      e.fails++;
      e.last = now;
      this.keys.delete(k);
      this.keys.set(k, e);
    }
    while (this.keys.size > this.o.maxKeys) this.keys.delete(this.keys.keys().next().value!);
  }

  /** A failed login ended (after PAM's delay): the wait counts from now. */
  failed(user: string, addr: string, now = Date.now()): void {
    for (const k of [`u:${user.toLowerCase()}`, `a:${addr}`]) {
      const e = this.keys.get(k);
      if (e) e.last = now;
    }
  }

  /** A successful login: the account's count starts again; the address keeps one failure less. */
  success(user: string, addr: string): void {
    this.keys.delete(`u:${user.toLowerCase()}`);
    const a = this.keys.get(`a:${addr}`);
    if (a) a.fails = Math.max(0, a.fails - 1);
  }
}
