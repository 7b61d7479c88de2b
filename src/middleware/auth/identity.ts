/** Who is calling: a local account, proven by a MUNGE credential or an API token. */
export interface Identity {
  uid: number;
  gid: number;
  name: string;
  /** How the caller proved it; token creation needs munge (a token cannot mint tokens). */
  via: "munge" | "token" | "session";
  tokenId?: string;
  /** Portal sessions: the session, and whether the user is in the configured admin group. */
  sessionId?: string;
  admin?: boolean;
}

/** Turns the Authorization header into an Identity, or throws 401. */
export interface Authenticator {
  identify(authorization: string | undefined): Promise<Identity>;
}
