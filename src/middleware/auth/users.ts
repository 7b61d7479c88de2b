/**
 * Account names by uid through NSS (`getent passwd UID`, so LDAP/SSSD users work as well as
 * /etc/passwd). Cached: names of uids do not change while the middleware runs.
 */
const cache = new Map<number, string>();

export async function userName(uid: number): Promise<string> {
  const hit = cache.get(uid);
  if (hit !== undefined) return hit;
  let name = String(uid);
  try {
    const p = Bun.spawn(["getent", "passwd", String(uid)], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
    const out = await new Response(p.stdout).text();
    if ((await p.exited) === 0 && out.includes(":")) name = out.split(":")[0]!;
  } catch {
    // getent missing: the uid stands for the name.
  }
  cache.set(uid, name);
  return name;
}
