/**
 * The instance's line to the middleware: ready (host and ports), heartbeats, access reports,
 * each authenticated with the instance's own secret. A middleware that is down for a while
 * (restart) is retried, not fatal; one that says the instance is unknown or unwanted stops it.
 */
import { RemoteVisError } from "../errors.ts";
import { HeartbeatResponse, type AccessRequest, type Deadline, type ReadyRequest } from "../protocol/instances.ts";
import * as v from "valibot";

export class MiddlewareLink {
  constructor(
    private readonly base: string,
    private readonly id: string,
    private readonly secret: string,
  ) {}

  private async post(what: string, body: unknown, cancel?: AbortSignal): Promise<Response> {
    const timeout = AbortSignal.timeout(5000);
    return fetch(`${this.base}/api/v1/instances/${this.id}/${what}`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Instance ${this.secret}` },
      body: JSON.stringify(body),
      signal: cancel ? AbortSignal.any([timeout, cancel]) : timeout,
    });
  }

  /**
   * Reports in; retried for `retryMs` while the middleware cannot be reached. `cancel` ends the
   * retries at once (a SIGTERM while starting: the middleware gave up on this instance).
   */
  async ready(r: ReadyRequest, retryMs = 30_000, cancel?: AbortSignal): Promise<void> {
    const deadline = Date.now() + retryMs;
    for (;;) {
      if (cancel?.aborted) throw new RemoteVisError("cancelled", "stopped before the middleware answered the ready report", 499);
      try {
        const res = await this.post("ready", r, cancel);
        if (res.ok) return;
        const text = await res.text();
        throw new RemoteVisError("refused", `the middleware refused the ready report (${res.status}): ${text.slice(0, 500)}`, res.status);
      } catch (err) {
        if (err instanceof RemoteVisError || Date.now() > deadline || cancel?.aborted) throw err;
        await Bun.sleep(250);
      }
    }
  }

  /**
   * "stop" when the middleware no longer wants this instance; "unreachable" when it is down.
   * `deadline` (when the middleware tells it) is when it will stop this instance unless
   * someone uses it; undefined when the middleware did not say.
   */
  async heartbeat(connections: number): Promise<{ action: "continue" | "stop" | "unreachable"; deadline?: Deadline }> {
    try {
      const res = await this.post("heartbeat", { connections });
      if (res.status === 404 || res.status === 401) return { action: "stop" };
      if (!res.ok) return { action: "unreachable" };
      const r = v.parse(HeartbeatResponse, await res.json());
      return { action: r.action, deadline: r.deadline };
    } catch {
      return { action: "unreachable" };
    }
  }

  async access(kind: AccessRequest["kind"]): Promise<void> {
    try {
      await this.post("access", { kind });
    } catch {
      // Best effort: the next heartbeat reports open connections anyway.
    }
  }
}
