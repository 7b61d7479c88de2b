/**
 * Real users and identities for tests that run as root (CI does): accounts made with useradd,
 * MUNGE credentials made as those users, free ports on loopback.
 */

/** Runs argv to completion; output and errors together, for messages. */
export function sh(argv: string[], o: { env?: Record<string, string>; stdin?: string } = {}): { code: number; out: string } {
  const r = Bun.spawnSync(argv, {
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...o.env },
    ...(o.stdin !== undefined ? { stdin: new TextEncoder().encode(o.stdin) } : {}),
  });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

/**
 * The uid of `name`, made with useradd if it does not exist yet (exit 9: made meanwhile);
 * with a password, set through chpasswd (for PAM logins).
 */
export function ensureUser(name: string, password?: string): number {
  if (sh(["id", "-u", name]).code !== 0) {
    const r = sh(["useradd", "--create-home", "--shell", "/bin/bash", name]);
    if (r.code !== 0 && r.code !== 9) throw new Error(`useradd ${name}: ${r.out}`);
  }
  if (password !== undefined) {
    const p = sh(["chpasswd"], { stdin: `${name}:${password}\n` });
    if (p.code !== 0) throw new Error(`chpasswd ${name}: ${p.out}`);
  }
  return Number(sh(["id", "-u", name]).out.trim());
}

/** A MUNGE credential made by `user` (munge -n run as that user), for RemoteVis({credential}). */
export function mungeAs(user: string): () => Promise<string> {
  return async () => {
    const p = Bun.spawn(["runuser", "-u", user, "--", "munge", "--no-input"], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(p.stdout).text();
    if ((await p.exited) !== 0) throw new Error(`munge as ${user} failed: ${await new Response(p.stderr).text()}`);
    return `MUNGE ${out.trim()}`;
  };
}

export async function freePort(): Promise<number> {
  const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  const port = s.port!;
  await s.stop(true);
  return port;
}
