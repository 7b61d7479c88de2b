/**
 * Real PAM through bun:ffi (auth/pam.ts + pam-worker.ts): a user made with useradd + chpasswd,
 * the service of scripts/pam-install.sh. Needs root (pam_unix reads /etc/shadow); skipped otherwise.
 * Also: TLS (tls-cert/tls-key) makes the portal's cookies Secure with the __Host- prefix.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pamChecker } from "./auth/pam.ts";
import { resolveConfig } from "./config.ts";
import { startMiddleware } from "./server.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const isRoot = process.getuid?.() === 0;
if (!isRoot) console.warn("PAM tests skipped: pam_unix checks other users' passwords only for root; CI runs them as root");
const sh = (argv: string[], stdin?: string) => Bun.spawnSync(argv, { stdout: "pipe", stderr: "pipe", ...(stdin ? { stdin: new TextEncoder().encode(stdin) } : {}) });

describe.skipIf(!isRoot)("PAM through FFI", () => {
  const pw = `P-${crypto.randomUUID()}`;
  sh([join(ROOT, "scripts/pam-install.sh")]);
  if (sh(["id", "-u", "rvportal_p"]).exitCode !== 0) sh(["useradd", "--no-create-home", "--shell", "/bin/bash", "rvportal_p"]);
  sh(["chpasswd"], `rvportal_p:${pw}\n`);
  const check = pamChecker("remotevis");

  test("the right password passes; the bytes are handed over (transferred), not kept", async () => {
    const bytes = new TextEncoder().encode(pw);
    const r = await check("rvportal_p", bytes, "127.0.0.1");
    expect(r).toMatchObject({ ok: true, user: "rvportal_p", delayMs: 0 });
    expect(bytes.byteLength).toBe(0);
  });

  test("a wrong password and an unknown user fail alike, with PAM's failure delay reported (not slept)", async () => {
    const t0 = performance.now();
    const [wrong, unknown] = await Promise.all([check("rvportal_p", new TextEncoder().encode("nope"), "::1"), check("rvportal_nobody", new TextEncoder().encode("nope"), "::1")]);
    expect(performance.now() - t0).toBeLessThan(1500);
    for (const r of [wrong, unknown]) {
      expect(r.ok).toBe(false);
      expect(r.delayMs).toBeGreaterThan(0);
      expect(r.why).toContain("authenticate");
    }
  });

  test("an unknown PAM service falls back to PAM's 'other' and never passes a wrong password", async () => {
    const r = await pamChecker("remotevis-no-such-service")("rvportal_p", new TextEncoder().encode("nope"), "::1");
    expect(r.ok).toBe(false);
  });
});

describe.skipIf(!Bun.which("openssl"))("TLS", () => {
  const dir = mkdtempSync("/tmp/rv-tls-");
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test("HTTPS with tls-cert/tls-key; the login cookie is Secure with the __Host- prefix", async () => {
    const r = sh(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")]);
    expect(r.exitCode).toBe(0);
    const cfg = resolveConfig({ flags: { port: "0", db: join(dir, "rv.db"), "tls-cert": join(dir, "cert.pem"), "tls-key": join(dir, "key.pem") } });
    const mw = await startMiddleware(cfg, { log: () => {} });
    try {
      expect(mw.url.startsWith("https://")).toBe(true);
      const res = await fetch(`${mw.url}/portal/api/session`, { tls: { rejectUnauthorized: false } } as RequestInit);
      expect(res.status).toBe(200);
      const cookie = res.headers.getSetCookie()[0]!;
      expect(cookie.startsWith("__Host-rv_login=")).toBe(true);
      expect(cookie).toContain("Secure");
      expect(cookie).toContain("HttpOnly");
      expect(cookie).toContain("SameSite=Strict");
    } finally {
      await mw.close();
    }
  });
});
