/** What the routes of an instance share: who it is, its secret, open connections, access hook. */
import type { Deadline } from "../protocol/instances.ts";
import type { MiddlewareLink } from "./link.ts";

export class InstanceState {
  readonly startedAt = Date.now();
  connections = 0;
  /** When the middleware will stop this instance (from its heartbeat answer); null: no limit known. */
  deadline: Deadline = null;
  private readonly deadlineListeners = new Set<(d: Deadline) => void>();
  /** Sends a heartbeat now (set by the server when there is a middleware). */
  beat: () => Promise<void> = async () => {};

  constructor(
    readonly id: string,
    readonly secret: string,
    readonly link: MiddlewareLink | undefined,
    /** Asks the process to stop (the same path as SIGTERM). */
    readonly requestStop: (why: string) => void,
  ) {}

  /** A viewer or control connection with the right token: "opened" for the grace period. */
  opened(kind: "viewer" | "control"): void {
    void this.link?.access(kind);
  }

  /** "Keep it": reports an access now and refreshes the deadline with a heartbeat. */
  async keep(): Promise<void> {
    await this.link?.access("viewer");
    await this.beat();
  }

  setDeadline(d: Deadline): void {
    const same = (d?.at ?? null) === (this.deadline?.at ?? null) && (d?.why ?? null) === (this.deadline?.why ?? null);
    this.deadline = d;
    if (!same) for (const fn of this.deadlineListeners) fn(d);
  }

  onDeadline(fn: (d: Deadline) => void): () => void {
    this.deadlineListeners.add(fn);
    return () => this.deadlineListeners.delete(fn);
  }
}
