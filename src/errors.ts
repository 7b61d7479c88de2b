/**
 * The one error type of RemoteVis. Every failure a user can see carries a stable `code`
 * (for scripts), a human `message` (for people) and optional `details` (never the raw input,
 * so nothing a caller sent is echoed back). The middleware turns it into the HTTP body
 * `{error:{code,message,details}}`; the CLI prints `remotevis: message` and exits non-zero.
 */
export class RemoteVisError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "RemoteVisError";
  }

  toJSON(): { error: { code: string; message: string; details?: Record<string, unknown> } } {
    return { error: { code: this.code, message: this.message, ...(this.details ? { details: this.details } : {}) } };
  }
}

/** A short message for any thrown value, for the CLI and logs. */
export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
