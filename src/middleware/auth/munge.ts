/**
 * MUNGE credentials (`Authorization: MUNGE <credential>`), checked by the `unmunge` program:
 * munged decodes the credential, gives the uid/gid of the process that made it and refuses
 * replays (a credential is good for one request) and expired ones (TTL, 5 min by default).
 */
import { RemoteVisError } from "../../errors.ts";

export interface MungeIdentity {
  uid: number;
  gid: number;
}

/** The unmunge STATUS numbers we explain; others are reported with munge's own words. */
const STATUS_TEXT: Record<number, string> = {
  15: "the MUNGE credential has expired; make a new one (munge -n)",
  16: "the MUNGE credential was rewound (its clock is ahead); check the clocks",
  17: "the MUNGE credential was already used (replayed); make a new one for every request",
};

/** Decodes one credential; throws 401 with the reason when munged refuses it. */
export async function verifyMunge(credential: string, socket?: string): Promise<MungeIdentity> {
  if (!/^MUNGE:[A-Za-z0-9+/=:_.-]+$/.test(credential) || credential.length > 8192)
    throw new RemoteVisError("unauthenticated", "the MUNGE credential is malformed", 401);
  const argv = ["unmunge", "--numeric", "--keys=STATUS,UID,GID", ...(socket ? [`--socket=${socket}`] : [])];
  let proc;
  try {
    proc = Bun.spawn(argv, { stdin: new TextEncoder().encode(credential), stdout: "pipe", stderr: "pipe" });
  } catch {
    throw new RemoteVisError("munge_unavailable", "cannot run unmunge: is munge installed on the middleware's machine?", 503);
  }
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  const field = (k: string) => /^\s*(-?\d+)/.exec(new RegExp(`^${k}:\\s*(.*)$`, "m").exec(out)?.[1] ?? "")?.[1];
  const status = Number(field("STATUS") ?? code);
  if (code !== 0 || status !== 0) {
    if (/socket|connect|No such file/i.test(err) && !out)
      throw new RemoteVisError("munge_unavailable", "munged is not running on the middleware's machine", 503);
    throw new RemoteVisError("unauthenticated", STATUS_TEXT[status] ?? `the MUNGE credential was refused (munge status ${status})`, 401);
  }
  const uid = Number(field("UID"));
  const gid = Number(field("GID"));
  if (!Number.isInteger(uid) || !Number.isInteger(gid)) throw new RemoteVisError("unauthenticated", "unmunge gave no uid/gid", 401);
  return { uid, gid };
}
