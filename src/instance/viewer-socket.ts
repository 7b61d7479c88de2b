/**
 * The viewer WebSocket (`/viewer`): frames for browsers.
 *
 * Each connection is a ViewerSession with its own camera (unless it follows another viewer)
 * and size. Frames are JPEG (encoded on the render thread) in binary messages; at most one
 * frame is in flight per viewer: the next is rendered only after the browser has acknowledged
 * the last one, and requests that arrive meanwhile replace each other (newest wins), so a slow
 * or silent browser costs one pending request, never a queue. While the user drags, frames are
 * previews (librvr lod: one ray per lod x lod block, lod chosen so a preview takes ~30 ms);
 * 150 ms after the last move the picture is refined to full quality (through one
 * half-resolution frame where full frames are expensive); letting go renders full quality at once.
 *
 * Messages, browser -> instance (JSON text):
 *   {type:"size", width, height, quiet?}         canvas size in pixels (quiet: a view follows)
 *   {type:"view", view, moving, input?}          this viewer's camera (input: id for latency)
 *   {type:"ack", frame}                           frame `frame` is on screen
 *   {type:"follow", viewer: id | null}            show another viewer's camera, or one's own
 *   {type:"keep"}                                 "keep it": report an access to the middleware
 *   {type:"op", id, op, ...}                      a control operation (set_render, histogram, ...)
 * instance -> browser:
 *   text {type:"welcome"|"viewers"|"view"|"deadline"|"event"|"reply"|"error", ...}
 *   binary [u32 LE header length][header JSON][payload]: header.kind "frame" (JPEG) or "reply"
 *   (an op's image, JPEG).
 */
import type { WSContext, WSEvents } from "hono/ws";
import * as v from "valibot";
import { RemoteVisError, messageOf } from "../errors.ts";
import { parseOrThrow } from "../protocol/common.ts";
import { View, type ControlOp } from "../protocol/control.ts";
import type { Deadline } from "../protocol/instances.ts";
import { encodeJpeg } from "../render/jpeg.ts";
import { encodePng } from "../render/png.ts";
import type { OrbitView } from "../render/view.ts";
import type { Control } from "./control.ts";
import type { Scene, SceneEvent } from "./scene.ts";
import type { InstanceState } from "./state.ts";

const MAX_MESSAGE = 64 * 1024;
const MAX_SIDE = 4096;
/** A preview should take about this long to render, so dragging stays fluid. */
const PREVIEW_MS = 30;
/** Still for this long after the last move: render at full quality. */
const SETTLE_MS = 150;
const PREVIEW_QUALITY = 60;
const FULL_QUALITY = 85;
/** Operations a viewer may run over its socket. */
const VIEWER_OPS: ControlOp[] = ["set_render", "get_state", "histogram", "probe", "pick", "slice", "screenshot", "clear_points", "set_labels", "segment", "cancel_segment"];

const Message = v.variant("type", [
  v.object({ type: v.literal("size"), width: v.number(), height: v.number(), quiet: v.optional(v.boolean()) }),
  v.object({ type: v.literal("view"), view: v.unknown(), moving: v.optional(v.boolean()), input: v.optional(v.number()) }),
  v.object({ type: v.literal("ack"), frame: v.number() }),
  v.object({ type: v.literal("follow"), viewer: v.nullable(v.string()) }),
  v.object({ type: v.literal("keep") }),
  v.object({ type: v.literal("op"), id: v.union([v.number(), v.string()]), op: v.string() }),
]);

/** One binary message: [u32 LE header length][header JSON][payload]. */
export function packBinary(header: Record<string, unknown>, payload: Uint8Array): Uint8Array<ArrayBuffer> {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(4 + h.byteLength + payload.byteLength);
  new DataView(out.buffer).setUint32(0, h.byteLength, true);
  out.set(h, 4);
  out.set(payload, 4 + h.byteLength);
  return out;
}

function deadlineMessage(d: Deadline) {
  if (!d?.at) return null;
  return { at: d.at, why: d.why, inMs: Date.parse(d.at) - Date.now() };
}

/** All viewers of one instance: fans scene changes out and lets viewers follow each other. */
export class ViewerHub {
  readonly sessions = new Map<string, ViewerSession>();
  private next = 1;

  constructor(
    readonly s: InstanceState,
    readonly scene: Scene,
    readonly control: Control,
  ) {
    scene.on((e) => this.onScene(e));
    s.onDeadline((d) => this.broadcast({ type: "deadline", deadline: deadlineMessage(d) }));
  }

  /** Frames rendered and bytes sent so far (tests, bench). */
  stats = { frames: 0, bytes: 0 };

  newId(): string {
    return `v${this.next++}`;
  }

  broadcast(msg: Record<string, unknown>): void {
    const text = JSON.stringify(msg);
    for (const v of this.sessions.values()) v.sendText(text);
  }

  viewers() {
    return [...this.sessions.values()].map((v) => ({ id: v.id, following: v.following ?? null }));
  }

  announceViewers(): void {
    const list = this.viewers();
    for (const v of this.sessions.values()) v.send({ type: "viewers", viewers: list, self: v.id });
  }

  private onScene(e: SceneEvent): void {
    const { type, ...rest } = e;
    this.broadcast({ type: "event", event: type, ...rest });
    if (type === "transfer") return;
    if (type === "view") {
      // A script moved the camera (set_view): every viewer shows it.
      for (const v of this.sessions.values()) v.adoptView(e.view);
    }
    // A new volume: a preview at once (drawn from its coarse copy while a large one converts,
    // see Renderer), full quality after it as when a drag ends.
    for (const v of this.sessions.values()) v.request(type === "volume");
  }

  /** Called when `leader`'s camera changed: its followers render the new view too. */
  leaderMoved(leader: ViewerSession, moving: boolean): void {
    for (const v of this.sessions.values()) if (v.following === leader.id) v.request(moving);
  }

  welcome(v: ViewerSession) {
    return {
      type: "welcome",
      viewer: v.id,
      instance: this.s.id,
      state: this.scene.state(),
      viewers: this.viewers(),
      deadline: deadlineMessage(this.s.deadline),
      hasMiddleware: this.s.link !== undefined,
    };
  }
}

export class ViewerSession {
  view: OrbitView;
  width = 640;
  height = 480;
  following: string | undefined;
  private rendering = false;
  private awaitingAck = false;
  private want: { lod: number; refine?: boolean } | undefined;
  /** The frame in flight is the half-resolution step of a refinement: full quality follows its ack. */
  private refining = false;
  /** The newest input id received (frames carry it: every input up to it is in the picture). */
  private lastInput: number | null = null;
  private seq = 0;
  private settle: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  /** Running estimate of the render cost per traced ray at this size (ms). */
  private msPerRay: number | undefined;

  constructor(
    readonly id: string,
    private readonly hub: ViewerHub,
    private readonly ws: WSContext,
  ) {
    this.view = { ...hub.scene.view };
  }

  send(msg: Record<string, unknown>): void {
    this.sendText(JSON.stringify(msg));
  }

  sendText(text: string): void {
    if (!this.closed) this.ws.send(text);
  }

  /** The camera this viewer shows: its own, or its leader's. */
  shownView(): OrbitView {
    const leader = this.following ? this.hub.sessions.get(this.following) : undefined;
    return leader ? leader.view : this.view;
  }

  adoptView(view: OrbitView): void {
    this.view = { ...view };
    this.send({ type: "view", view: this.view });
  }

  private previewLod(): number {
    if (this.msPerRay === undefined) return 4;
    const fullMs = this.msPerRay * this.width * this.height;
    return Math.max(2, Math.min(8, Math.ceil(Math.sqrt(fullMs / PREVIEW_MS))));
  }

  /** Asks for a frame of the current view: a preview while `moving`, else full quality. Newest wins. */
  request(moving: boolean): void {
    if (this.closed) return;
    this.want = { lod: moving ? this.previewLod() : 1 };
    clearTimeout(this.settle);
    if (moving) this.settle = setTimeout(() => this.still(), SETTLE_MS);
    void this.pump();
  }

  /**
   * Still for SETTLE_MS with the pointer possibly still down: refine. Where a full frame costs
   * much more than a preview (CPU), first a half-resolution frame and, if nothing moved meanwhile,
   * full quality after it, so a drag that goes on waits for at most a quarter of a full frame.
   */
  private still(): void {
    const lod = this.previewLod();
    this.want = lod > 2 ? { lod: 2, refine: true } : { lod: 1 };
    void this.pump();
  }

  ack(frame: number): void {
    if (frame !== this.seq) return;
    this.awaitingAck = false;
    if (this.refining && !this.want) this.want = { lod: 1 };
    this.refining = false;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.rendering || this.awaitingAck || !this.want || this.closed) return;
    const want = this.want;
    this.want = undefined;
    this.rendering = true;
    const view = this.shownView();
    const input = this.lastInput;
    const [width, height] = [this.width, this.height];
    try {
      const t0 = performance.now();
      const f = await this.hub.scene.frameJpeg(width, height, { view, lod: want.lod, quality: want.lod > 1 ? PREVIEW_QUALITY : FULL_QUALITY });
      if (this.closed) return;
      const rays = f.stats.rays || (width * height) / (want.lod * want.lod);
      const perRay = f.stats.totalMs / Math.max(1, rays);
      this.msPerRay = this.msPerRay === undefined ? perRay : 0.7 * this.msPerRay + 0.3 * perRay;
      this.seq++;
      this.awaitingAck = true;
      this.refining = want.refine === true;
      const msg = packBinary(
        { kind: "frame", seq: this.seq, width, height, lod: want.lod, level: f.stats.volumeLevel, input, view, renderMs: f.stats.totalMs, encodeMs: f.encodeMs, ms: performance.now() - t0 },
        f.jpeg,
      );
      this.hub.stats.frames++;
      this.hub.stats.bytes += msg.byteLength;
      this.ws.send(msg);
    } catch (err) {
      if (err instanceof RemoteVisError && err.code === "no_data") this.send({ type: "empty" });
      else this.send({ type: "error", ...(err instanceof RemoteVisError ? err : new RemoteVisError("render_failed", messageOf(err), 500)).toJSON() });
    } finally {
      this.rendering = false;
    }
    void this.pump();
  }

  async onMessage(data: unknown): Promise<void> {
    if (typeof data !== "string") throw new RemoteVisError("invalid_message", "viewer messages are JSON text", 400);
    if (data.length > MAX_MESSAGE) throw new RemoteVisError("too_large", "viewer messages are at most 64 KiB", 413);
    let raw: unknown;
    try {
      raw = JSON.parse(data);
    } catch {
      throw new RemoteVisError("invalid_json", "the message is not valid JSON", 400);
    }
    const m = parseOrThrow(Message, raw, "viewer message", "invalid_message");
    switch (m.type) {
      case "size": {
        const side = (n: number) => Math.max(16, Math.min(MAX_SIDE, Math.round(Number.isFinite(n) ? n : 16)));
        [this.width, this.height] = [side(m.width), side(m.height)];
        // quiet: a view follows at once and asks for the frame itself.
        if (!m.quiet) this.request(false);
        return;
      }
      case "view": {
        const view = parseOrThrow(View, m.view, "view");
        if (this.following) {
          this.following = undefined;
          this.hub.announceViewers();
        }
        this.view = { ...this.view, ...Object.fromEntries(Object.entries(view).filter(([, x]) => x !== undefined)) };
        if (view.target === undefined) delete this.view.target;
        if (m.input !== undefined) this.lastInput = m.input;
        this.request(m.moving ?? false);
        this.hub.leaderMoved(this, m.moving ?? false);
        return;
      }
      case "ack":
        this.ack(m.frame);
        return;
      case "follow": {
        const leader = m.viewer ? this.hub.sessions.get(m.viewer) : undefined;
        if (m.viewer && (!leader || leader === this || leader.following === this.id)) throw new RemoteVisError("not_found", "no such viewer to follow", 404);
        this.following = leader?.id;
        if (!leader) this.adoptView(this.view);
        this.hub.announceViewers();
        this.request(false);
        return;
      }
      case "keep":
        await this.hub.s.keep();
        this.send({ type: "deadline", deadline: deadlineMessage(this.hub.s.deadline), kept: true });
        return;
      case "op":
        return this.runOp(m.id, m.op, raw as Record<string, unknown>);
    }
  }

  private async runOp(id: number | string, op: string, raw: Record<string, unknown>): Promise<void> {
    try {
      if (!VIEWER_OPS.includes(op as ControlOp)) throw new RemoteVisError("no_route", `the viewer cannot run ${op}`, 404);
      const { type: _t, id: _i, op: _o, ...body } = raw;
      const r = await this.hub.control.run(op as ControlOp, body);
      if (this.closed) return;
      if (!r.bytes) return this.send({ type: "reply", id, ok: true, ...r.json });
      const { width, height } = r.json as { width: number; height: number };
      const image = op === "screenshot" ? { mime: "image/png", bytes: encodePng(r.bytes, width, height) } : { mime: "image/jpeg", bytes: encodeJpeg(r.bytes, width, height, 92) };
      this.ws.send(packBinary({ kind: "reply", id, ok: true, ...r.json, mime: image.mime }, image.bytes));
    } catch (err) {
      const e = err instanceof RemoteVisError ? err : new RemoteVisError("internal", messageOf(err), 500);
      if (!(err instanceof RemoteVisError)) console.error("viewer op failed:", err);
      this.send({ type: "reply", id, ...e.toJSON() });
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.settle);
    this.want = undefined;
  }
}

export function viewerSocket(hub: ViewerHub): WSEvents {
  let session: ViewerSession | undefined;
  return {
    onOpen(_e, ws) {
      hub.s.connections++;
      hub.s.opened("viewer");
      session = new ViewerSession(hub.newId(), hub, ws);
      hub.sessions.set(session.id, session);
      session.send(hub.welcome(session));
      hub.announceViewers();
    },
    async onMessage(e, ws) {
      try {
        await session?.onMessage(e.data);
      } catch (err) {
        const error = err instanceof RemoteVisError ? err : new RemoteVisError("internal", messageOf(err), 500);
        if (!(err instanceof RemoteVisError)) console.error("viewer message failed:", err);
        ws.send(JSON.stringify({ type: "error", ...error.toJSON() }));
      }
    },
    onClose() {
      hub.s.connections--;
      if (!session) return;
      session.close();
      hub.sessions.delete(session.id);
      for (const v of hub.sessions.values())
        if (v.following === session.id) {
          v.following = undefined;
          v.adoptView(session.view);
        }
      hub.announceViewers();
    },
  };
}
