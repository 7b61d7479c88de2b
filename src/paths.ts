/** Well-known files shared by the middleware and its clients on one machine. */
import { homedir } from "node:os";

/** Where a middleware run by a normal user leaves an API token for that user's clients (0600). */
export function sessionTokenPath(home = process.env.HOME ?? homedir()): string {
  return `${home}/.local/share/remotevis/session-token`;
}
