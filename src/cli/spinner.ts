/** A spinner with elapsed time on stderr while something waits (quiet off a terminal). */
export class Spinner {
  private readonly t0 = performance.now();
  private text: string;
  private i = 0;
  private readonly timer: ReturnType<typeof setInterval> | undefined;

  constructor(text: string, quiet = false) {
    this.text = text;
    if (!quiet && process.stderr.isTTY) this.timer = setInterval(() => this.draw(), 100);
  }

  label(text: string): void {
    this.text = text;
  }

  private draw(): void {
    const secs = (performance.now() - this.t0) / 1000;
    process.stderr.write(`\r${"|/-\\"[this.i++ % 4]} ${this.text} ${secs.toFixed(1)} s\x1b[K`);
  }

  done(): void {
    if (!this.timer) return;
    clearInterval(this.timer);
    process.stderr.write("\r\x1b[K");
  }
}
