/**
 * Transfer function editor: the volume's histogram (log counts) over its data range, the
 * window [lo, hi] as two handles under it, and the TF's control points inside the window
 * (x: value, y: opacity on a square-root scale so small opacities stay editable), the curve
 * filled with the TF colours. Drag a point to move it, click to add one, double-click to
 * remove it, pick its colour below; drag a ▲ to move an end of the window.
 */
import type { TfPoint } from "./hash.ts";

export type { TfPoint };

interface Callbacks {
  onPoints: (points: TfPoint[]) => void;
  onWindow: (window: [number, number]) => void;
}

const HANDLE_STRIP = 14;

export class TfEditor {
  private counts: number[] = [];
  private range: [number, number] = [0, 1];
  private window: [number, number] = [0, 1];
  private points: TfPoint[] = [];
  private selected = -1;
  private drag: { kind: "point"; index: number } | { kind: "window"; side: 0 | 1 } | undefined;
  private sendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly color: HTMLInputElement,
    private readonly cb: Callbacks,
  ) {
    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", () => this.up());
    canvas.addEventListener("pointercancel", () => this.up());
    canvas.addEventListener("dblclick", (e) => this.remove(e));
    color.addEventListener("input", () => {
      const p = this.points[this.selected];
      if (!p) return;
      const hex = color.value;
      p[1] = parseInt(hex.slice(1, 3), 16) / 255;
      p[2] = parseInt(hex.slice(3, 5), 16) / 255;
      p[3] = parseInt(hex.slice(5, 7), 16) / 255;
      this.draw();
      this.send(false);
    });
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  set(counts: number[], range: [number, number], window: [number, number], points: TfPoint[]): void {
    this.counts = counts;
    this.range = range[1] > range[0] ? range : [range[0], range[0] + 1];
    this.window = window;
    if (!this.drag) this.points = points.map((p) => [...p] as TfPoint).sort((a, b) => a[0] - b[0]);
    this.draw();
  }

  // data value <-> canvas x; normalized TF value <-> data value
  private get W() {
    return this.canvas.clientWidth;
  }
  private get H() {
    return this.canvas.clientHeight - HANDLE_STRIP;
  }
  private xOfValue(v: number) {
    return ((v - this.range[0]) / (this.range[1] - this.range[0])) * this.W;
  }
  private valueOfX(x: number) {
    return this.range[0] + (x / this.W) * (this.range[1] - this.range[0]);
  }
  private xOfTf(t: number) {
    return this.xOfValue(this.window[0] + t * (this.window[1] - this.window[0]));
  }
  private tfOfX(x: number) {
    return (this.valueOfX(x) - this.window[0]) / (this.window[1] - this.window[0] || 1);
  }
  private yOfAlpha(a: number) {
    return this.H - Math.sqrt(Math.max(0, a)) * (this.H - 4);
  }
  private alphaOfY(y: number) {
    const s = (this.H - y) / (this.H - 4);
    return Math.max(0, Math.min(1, s * s));
  }

  draw(): void {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const W = this.W;
    const H = this.H;
    if (W <= 0) return;
    c.width = Math.round(W * dpr);
    c.height = Math.round(c.clientHeight * dpr);
    const ctx = c.getContext("2d")!;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, c.clientHeight);
    // Histogram, log scale.
    const n = this.counts.length;
    const top = Math.log1p(Math.max(1, ...this.counts));
    ctx.fillStyle = "#3a4556";
    for (let i = 0; i < n; i++) {
      const h = (Math.log1p(this.counts[i]!) / top) * (H - 2);
      ctx.fillRect((i / n) * W, H - h, W / n + 0.5, h);
    }
    // Outside the window: dimmed.
    const wx0 = this.xOfValue(this.window[0]);
    const wx1 = this.xOfValue(this.window[1]);
    ctx.fillStyle = "rgba(0,0,0,.45)";
    ctx.fillRect(0, 0, Math.max(0, wx0), H);
    ctx.fillRect(wx1, 0, Math.max(0, W - wx1), H);
    // The TF: filled curve with its colours.
    const pts = this.points;
    if (pts.length >= 2) {
      const grad = ctx.createLinearGradient(this.xOfTf(0), 0, this.xOfTf(1), 0);
      for (const p of pts) grad.addColorStop(Math.max(0, Math.min(1, p[0])), `rgb(${p[1] * 255},${p[2] * 255},${p[3] * 255})`);
      ctx.beginPath();
      ctx.moveTo(this.xOfTf(pts[0]![0]), H);
      for (const p of pts) ctx.lineTo(this.xOfTf(p[0]), this.yOfAlpha(p[4]));
      ctx.lineTo(this.xOfTf(pts[pts.length - 1]![0]), H);
      ctx.closePath();
      ctx.globalAlpha = 0.55;
      ctx.fillStyle = grad;
      ctx.fill();
      ctx.globalAlpha = 1;
      ctx.strokeStyle = "#e8ecf1";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      pts.forEach((p, i) => (i ? ctx.lineTo : ctx.moveTo).call(ctx, this.xOfTf(p[0]), this.yOfAlpha(p[4])));
      ctx.stroke();
      pts.forEach((p, i) => {
        ctx.beginPath();
        ctx.arc(this.xOfTf(p[0]), this.yOfAlpha(p[4]), i === this.selected ? 6 : 4.5, 0, Math.PI * 2);
        ctx.fillStyle = `rgb(${p[1] * 255},${p[2] * 255},${p[3] * 255})`;
        ctx.fill();
        ctx.strokeStyle = i === this.selected ? "#4fa3ff" : "#111";
        ctx.lineWidth = i === this.selected ? 2 : 1;
        ctx.stroke();
      });
    }
    // Window handles.
    ctx.fillStyle = "#ffb84d";
    for (const x of [wx0, wx1]) {
      ctx.beginPath();
      ctx.moveTo(x, H + 1);
      ctx.lineTo(x - 6, H + HANDLE_STRIP - 1);
      ctx.lineTo(x + 6, H + HANDLE_STRIP - 1);
      ctx.closePath();
      ctx.fill();
    }
    ctx.fillStyle = "#8a94a3";
    ctx.font = "10px system-ui, sans-serif";
    ctx.fillText(fmt(this.range[0]), 2, 10);
    const hiText = fmt(this.range[1]);
    ctx.fillText(hiText, W - ctx.measureText(hiText).width - 2, 10);
  }

  private hit(x: number, y: number): number {
    let best = -1;
    let bestD = 10;
    this.points.forEach((p, i) => {
      const d = Math.hypot(this.xOfTf(p[0]) - x, this.yOfAlpha(p[4]) - y);
      if (d < bestD) (best = i), (bestD = d);
    });
    return best;
  }

  private down(e: PointerEvent): void {
    if (this.points.length < 2) return;
    this.canvas.setPointerCapture(e.pointerId);
    const x = e.offsetX;
    const y = e.offsetY;
    if (y > this.H) {
      const d0 = Math.abs(x - this.xOfValue(this.window[0]));
      const d1 = Math.abs(x - this.xOfValue(this.window[1]));
      this.drag = { kind: "window", side: d0 <= d1 ? 0 : 1 };
      return;
    }
    let i = this.hit(x, y);
    if (i < 0) {
      const t = Math.max(0, Math.min(1, this.tfOfX(x)));
      const [r, g, b] = this.colorAt(t);
      this.points.push([t, r, g, b, this.alphaOfY(y)]);
      this.points.sort((a, b2) => a[0] - b2[0]);
      i = this.points.findIndex((p) => p[0] === t);
      this.send(false);
    }
    this.select(i);
    this.drag = { kind: "point", index: i };
    this.draw();
  }

  private move(e: PointerEvent): void {
    if (!this.drag) return;
    if (this.drag.kind === "window") {
      const v = this.valueOfX(Math.max(0, Math.min(this.W, e.offsetX)));
      const w: [number, number] = [...this.window];
      w[this.drag.side] = v;
      if (w[1] - w[0] < (this.range[1] - this.range[0]) / 1000) return;
      this.window = w;
      this.draw();
      clearTimeout(this.sendTimer);
      this.sendTimer = setTimeout(() => this.cb.onWindow(this.window), 150);
      return;
    }
    const i = this.drag.index;
    const p = this.points[i]!;
    const first = i === 0;
    const last = i === this.points.length - 1;
    // The ends stay at the ends of the window; inner points stay between their neighbours.
    if (!first && !last) p[0] = Math.max(this.points[i - 1]![0], Math.min(this.points[i + 1]![0], this.tfOfX(e.offsetX)));
    p[4] = this.alphaOfY(Math.max(0, Math.min(this.H, e.offsetY)));
    this.draw();
    this.send(true);
  }

  private up(): void {
    if (this.drag?.kind === "point") this.send(false);
    this.drag = undefined;
  }

  private remove(e: MouseEvent): void {
    const i = this.hit(e.offsetX, e.offsetY);
    if (i <= 0 || i >= this.points.length - 1) return;
    this.points.splice(i, 1);
    this.select(-1);
    this.draw();
    this.send(false);
  }

  private select(i: number): void {
    this.selected = i;
    const p = this.points[i];
    this.color.disabled = !p;
    if (p) this.color.value = `#${[p[1], p[2], p[3]].map((c) => Math.round(c * 255).toString(16).padStart(2, "0")).join("")}`;
  }

  private colorAt(t: number): [number, number, number] {
    const pts = this.points;
    for (let i = 0; i < pts.length - 1; i++) {
      const a = pts[i]!;
      const b = pts[i + 1]!;
      if (t >= a[0] && t <= b[0]) {
        const k = (t - a[0]) / (b[0] - a[0] || 1);
        return [a[1] + k * (b[1] - a[1]), a[2] + k * (b[2] - a[2]), a[3] + k * (b[3] - a[3])];
      }
    }
    const p = t < pts[0]![0] ? pts[0]! : pts[pts.length - 1]!;
    return [p[1], p[2], p[3]];
  }

  /** Sends the points: at most every 100 ms while dragging, at once otherwise. */
  private send(throttled: boolean): void {
    const go = () => {
      this.sendTimer = undefined;
      this.cb.onPoints(this.points.map((p) => p.map((x) => Math.max(0, Math.min(1, +x.toFixed(5)))) as TfPoint));
    };
    if (!throttled) {
      clearTimeout(this.sendTimer);
      go();
    } else this.sendTimer ??= setTimeout(go, 100);
  }
}

function fmt(x: number): string {
  return Math.abs(x) >= 1000 || Number.isInteger(x) ? String(Math.round(x)) : x.toPrecision(3);
}
