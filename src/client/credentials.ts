/**
 * The Authorization header of a request to the middleware: an API token when one is given
 * (option or REMOTEVIS_TOKEN), else a fresh MUNGE credential from `munge -n` (one per request,
 * since munged refuses a credential it has seen before).
 */
import { RemoteVisError } from "../errors.ts";
import { sessionTokenPath } from "../paths.ts";

/** The token a middleware run by this same user left for its clients (see session-token.ts). */
async function sessionToken(): Promise<string | undefined> {
  const text = await Bun.file(sessionTokenPath()).text().catch(() => "");
  return text.trim() || undefined;
}

export type CredentialSource = () => Promise<string>;

export function tokenCredential(token: string): CredentialSource {
  const header = `Bearer ${token}`;
  return async () => header;
}

export function mungeCredential(socket?: string): CredentialSource {
  return async () => {
    let proc;
    try {
      proc = Bun.spawn(["munge", "--no-input", ...(socket ? [`--socket=${socket}`] : [])], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
    } catch {
      const session = await sessionToken();
      if (session) return `Bearer ${session}`;
      throw new RemoteVisError("munge_unavailable", "cannot run 'munge' to prove who you are: install munge, or use an API token (--token or REMOTEVIS_TOKEN)", 401);
    }
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    if (code !== 0) {
      const session = await sessionToken();
      if (session) return `Bearer ${session}`;
      throw new RemoteVisError("munge_unavailable", `munge -n failed (${err.trim().split("\n").pop() ?? code}); is munged running? Or use an API token (REMOTEVIS_TOKEN)`, 401);
    }
    return `MUNGE ${out.trim()}`;
  };
}
