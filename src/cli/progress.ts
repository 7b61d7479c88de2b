/**
 * A progress bar with rate and ETA on stderr, for long transfers and loads. On a terminal it
 * redraws one line; elsewhere (CI logs, pipes) it stays quiet until `done()` so logs are not
 * flooded with carriage returns.
 */
import { formatBytes } from "./command.ts";

export class ProgressBar {
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly quiet = false,
  ) {}

  update(done: number): void {
    if (this.quiet || !this.tty) return;
    const now = performance.now();
    if (now - this.lastDraw < 100 && done < this.total) return;
    this.lastDraw = now;
    const secs = (now - this.start) / 1000;
    const rate = secs > 0 ? done / secs : 0;
    const frac = this.total > 0 ? Math.min(1, done / this.total) : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const etaText = Number.isFinite(eta) ? `ETA ${eta.toFixed(eta < 10 ? 1 : 0)} s` : "";
    process.stderr.write(
      `\r${this.label} [${"#".repeat(filled)}${"-".repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}% ` +
        `${formatBytes(done)}/${formatBytes(this.total)} ${(rate / 1e9).toFixed(2)} GB/s ${etaText}\x1b[K`,
    );
  }

  /** Ends the line; returns elapsed seconds. */
  done(): number {
    const secs = (performance.now() - this.start) / 1000;
    if (!this.quiet && this.tty) {
      this.update(this.total);
      process.stderr.write("\n");
    }
    return secs;
  }
}
