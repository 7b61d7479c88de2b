/**
 * The sweep that enforces the limits: start timeout, grace period (never opened), idle
 * timeout and maximum age, and notices instances whose process vanished or whose slurm job
 * ended. Each stop records
 * its reason, which `client status` shows.
 */
import type { InstanceService } from "./service.ts";

export class Lifecycle {
  private timer: ReturnType<typeof setInterval> | undefined;
  private running = false;

  constructor(
    private readonly service: InstanceService,
    private readonly everyMs: number,
    private readonly log: (line: string) => void = () => {},
  ) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.everyMs);
  }

  /** One pass; overlapping passes are skipped (a stop may take the stop timeout). */
  async sweep(now = Date.now()): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      // Slurm mode: the jobs' states first, so that jobs slurm ended end their instances.
      await this.service.refreshJobs().catch((err) => this.log(`asking slurm about the jobs failed: ${err instanceof Error ? err.message : err}`));
      const due = this.service.due(now);
      await Promise.all(
        due.map(async (d) => {
          this.log(`instance ${d.row.id} (${d.row.owner_name}): ${d.reason.split("\n")[0]}`);
          await this.service.stop(d.row.id, d.reason, d.final);
        }),
      );
      return due.length;
    } finally {
      this.running = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
