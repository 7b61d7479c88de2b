/**
 * A viewer without a browser, for `remotevis bench load`: one WebSocket to an instance's
 * /viewer speaking the viewer protocol of src/instance/viewer-socket.ts as the web viewer does
 * (size, then a camera move every 1/fps s, each frame acknowledged), and counting what comes
 * back. The JPEG frames are checked for their SOI/EOI markers, not decoded: 20 chromium
 * processes do not fit on the 2-core machines the suite runs on.
 */

export interface ViewerStats {
  frames: number;
  bytes: number;
  /** From a camera move sent to the frame that shows it, ms. */
  latencies: number[];
  errors: string[];
}

export class LoadViewer {
  readonly stats: ViewerStats = { frames: 0, bytes: 0, latencies: [], errors: [] };
  private ws: WebSocket | undefined;
  private stopping = false;
  private azimuth: number;
  /** When the camera move that the next frame answers was sent (0: none pending). */
  private movedAt = 0;
  private lastMove: number | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly instanceUrl: string,
    private readonly o: { width: number; height: number; fps: number; index: number },
  ) {
    this.azimuth = (o.index * 37) % 360;
  }

  /** Opens the socket (token from the instance URL) and asks for the first frame. */
  open(timeoutMs = 15_000): Promise<void> {
    const u = new URL(this.instanceUrl);
    const ws = new WebSocket(`ws://${u.host}/viewer?token=${u.searchParams.get("token")}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`viewer ${this.o.index}: no welcome within ${timeoutMs / 1000} s`)), timeoutMs);
      ws.onmessage = (e) => {
        if (typeof e.data === "string") {
          const m = JSON.parse(e.data) as { type: string; code?: string; message?: string; error?: { message?: string } };
          if (m.type === "welcome") {
            clearTimeout(t);
            this.movedAt = performance.now();
            ws.send(JSON.stringify({ type: "size", width: this.o.width, height: this.o.height }));
            resolve();
          } else if (m.type === "error") this.stats.errors.push(`viewer ${this.o.index}: ${m.error?.message ?? m.message ?? e.data}`);
          return;
        }
        this.onBinary(new Uint8Array(e.data as ArrayBuffer));
      };
      ws.onerror = () => this.stats.errors.push(`viewer ${this.o.index}: socket error`);
      ws.onclose = (e) => {
        clearTimeout(t);
        if (!this.stopping) {
          this.stats.errors.push(`viewer ${this.o.index}: closed by the instance (${e.code})`);
          reject(new Error(`viewer ${this.o.index} closed (${e.code})`));
        }
      };
    });
  }

  private onBinary(msg: Uint8Array): void {
    const len = new DataView(msg.buffer, msg.byteOffset).getUint32(0, true);
    const header = JSON.parse(new TextDecoder().decode(msg.subarray(4, 4 + len))) as { kind: string; seq: number };
    if (header.kind !== "frame") return;
    const jpeg = msg.subarray(4 + len);
    const whole = jpeg.length > 4 && jpeg[0] === 0xff && jpeg[1] === 0xd8 && jpeg.at(-2) === 0xff && jpeg.at(-1) === 0xd9;
    if (!whole) this.stats.errors.push(`viewer ${this.o.index}: frame ${header.seq} is not a whole JPEG`);
    const now = performance.now();
    this.stats.frames++;
    this.stats.bytes += msg.byteLength;
    if (this.movedAt) this.stats.latencies.push(now - this.movedAt);
    this.movedAt = 0;
    this.ws?.send(JSON.stringify({ type: "ack", frame: header.seq }));
    // The next camera move 1/fps after the last one (at once if this frame came later).
    this.timer = setTimeout(() => this.move(), Math.max(0, 1000 / this.o.fps - (now - (this.lastMove ?? now))));
  }

  private move(): void {
    if (this.stopping || this.ws?.readyState !== WebSocket.OPEN) return;
    this.azimuth = (this.azimuth + 7) % 360;
    this.lastMove = this.movedAt = performance.now();
    this.ws.send(JSON.stringify({ type: "view", view: { azimuth: this.azimuth, elevation: 20 }, moving: false }));
  }

  close(): void {
    this.stopping = true;
    clearTimeout(this.timer);
    this.ws?.close();
  }
}
