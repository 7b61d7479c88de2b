/**
 * The client side of one instance: its control socket and its SSC-RDMA data port. This is
 * what `render_volume` of the paper does: announce the volume (prepare_volume), send it
 * (ssc_send, no copy of the caller's array), then wait until the instance shows it.
 *
 *   const inst = await InstanceClient.connect(url);      // url with ?token=
 *   await inst.renderVolume(float32Array, { shape: [z, y, x], spacing: [1, 1, 1] });
 *   const png = await inst.screenshot({ width: 800, height: 600 });
 */
import { RemoteVisError } from "../errors.ts";
import { DTYPE_ALIASES, VOLUME_DTYPE_BYTES, type RenderSettings, type View, type VolumeDtype } from "../protocol/control.ts";
import { decodeHeader, encodeHeader } from "../transfer/header.ts";
import { NativeBuffer } from "../transfer/native-buffer.ts";
import { SSC, TransferError } from "../transfer/ffi.ts";
import { Connection, keepSpareTransferThread } from "../transfer/transfer.ts";
import type { SetLabels } from "../protocol/segment.ts";
import { checkDescription, type ModelDescriptionInput } from "./model.ts";

export type VolumeArray = Uint8Array | Uint16Array | Int16Array | Uint32Array | Float32Array | Float64Array;

export interface RenderVolumeOptions {
  shape: number[];
  /** Default: from the array type (Uint8Array -> uint8, ...); required for raw bytes of wider types. */
  dtype?: VolumeDtype | keyof typeof DTYPE_ALIASES;
  order?: "C" | "F";
  spacing?: [number, number, number];
  name?: string;
  checksum?: boolean;
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
}

export interface VolumeReady {
  name: string;
  shape: number[];
  dtype: VolumeDtype;
  bytes: number;
  window: [number, number];
  range: [number, number];
  receiveMs: number;
  /** From the last byte landed to the volume shown. */
  uploadMs: number;
  /** Bytes the renderer took while they arrived (0: the renderer cannot, or it failed). */
  streamedBytes: number;
  /** Making the receive buffer (before the ticket), then from the ticket to the sender's header
   *  (both within receiveMs's start: allocMs before it, connectMs part of it). */
  allocMs?: number;
  connectMs?: number;
}

export interface ModelReady {
  model: string;
  name: string;
  classes: number;
  inputLayout: "NCHW" | "NCDHW";
  input: { name: string; type: string; shape: (number | string)[] };
  output: { name: string; type: string; shape: (number | string)[] };
  providers: string[];
  receiveMs: number;
  checkMs: number;
}

export interface SegmentResult {
  model: string;
  /** Slices (2D) or patches (3D) run. */
  units: number;
  unit: "slices" | "patches";
  region: { lo: number[]; hi: number[] };
  ms: number;
  inferMs: number;
  perSecond: number;
  /** Whether a prep thread gathered and scattered the batches beside the inference. */
  pipelined?: boolean;
  /** Voxels per class. */
  counts: number[];
  names: string[];
  /** Whether the renderer draws the labels. */
  rendered: boolean;
}

export interface Retrieved {
  data: Uint8Array;
  shape: [number, number, number];
  dtype: VolumeDtype;
  order: "C" | "F";
  spacing: [number, number, number];
}

const ARRAY_DTYPE: [Function, VolumeDtype][] = [
  [Uint16Array, "uint16"],
  [Int16Array, "int16"],
  [Uint32Array, "uint32"],
  [Float32Array, "float32"],
  [Float64Array, "float64"],
  [Uint8Array, "uint8"],
];

function dtypeOf(data: VolumeArray | NativeBuffer, given: RenderVolumeOptions["dtype"]): VolumeDtype {
  if (given) {
    const d = (DTYPE_ALIASES[given] ?? given) as VolumeDtype;
    if (!(d in VOLUME_DTYPE_BYTES)) throw new RemoteVisError("invalid_dtype", `dtype must be one of ${Object.keys(VOLUME_DTYPE_BYTES).join(", ")}`);
    return d;
  }
  const hit = ARRAY_DTYPE.find(([ctor]) => data instanceof ctor);
  if (!hit) throw new RemoteVisError("invalid_dtype", "cannot tell the dtype of these bytes; pass { dtype }");
  return hit[1];
}

const asBytes = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

type Pending = { resolve: (v: { json: Record<string, unknown>; bytes?: Uint8Array }) => void; reject: (e: unknown) => void; wantsBytes: boolean };

export class InstanceClient {
  private next = 1;
  private readonly pending = new Map<number, Pending>();
  /** A reply that announced bytes waits here for the binary message that follows it. */
  private awaitingBytes: { json: Record<string, unknown>; p: Pending } | undefined;
  private readonly listeners = new Set<(e: Record<string, unknown>) => void>();
  private closedWith: Error | undefined;
  /** Data connections kept for the next transfer, by "host:port" (at most one each). */
  private readonly kept = new Map<string, Connection>();
  /** The connection made ahead of the first transfer (see connect). */
  private warming: Promise<void> = Promise.resolve();

  private constructor(
    private readonly ws: WebSocket,
    readonly url: URL,
    private readonly secret: string,
  ) {
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) => this.onMessage(e.data);
    ws.onclose = () => this.failAll(new RemoteVisError("disconnected", "the control connection to the instance closed", 503));
  }

  /** Opens the control socket of the instance at `url` (the URL the middleware gave, with ?token=). */
  static async connect(url: string, o: { timeoutMs?: number } = {}): Promise<InstanceClient> {
    const u = new URL(url);
    const secret = u.searchParams.get("token");
    if (!secret) throw new RemoteVisError("usage", "the instance URL has no ?token=; use the URL the middleware gave");
    keepSpareTransferThread(); // the first render_volume's connection need not start one
    const wsUrl = `${u.protocol === "https:" ? "wss" : "ws"}://${u.host}/control`;
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Instance ${secret}` } } as unknown as string[]);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new RemoteVisError("unreachable", `no answer from the instance at ${u.host}`, 504)), o.timeoutMs ?? 10_000);
      ws.onopen = () => (clearTimeout(timer), resolve());
      ws.onerror = () => (clearTimeout(timer), reject(new RemoteVisError("unreachable", `cannot open the control socket of the instance at ${u.host} (wrong token, or not running)`, 503)));
    });
    const c = new InstanceClient(ws, u, secret);
    c.warming = c.connectDataAhead();
    return c;
  }

  /** A data connection made now, while the caller prepares its volume: its set-up (10-30 ms, a
   *  UCX worker and a handshake) is then not on the path of the volume's first bytes. */
  private async connectDataAhead(): Promise<void> {
    try {
      const d = (await this.request("get_state")).json.data as { host: string; port: number } | undefined;
      if (!d || this.closedWith) return;
      const conn = await Connection.connect(d.host, d.port);
      if (this.closedWith || this.kept.has(`${d.host}:${d.port}`)) await conn.close();
      else this.kept.set(`${d.host}:${d.port}`, conn);
    } catch {
      // an older instance, or no data port reachable yet: the first transfer connects itself
    }
  }

  /**
   * Runs `use` on a data connection to the instance of ticket `t`: the kept one if there is one,
   * kept again when `use` went through. A kept connection that the instance closed meanwhile
   * (idle for long, or restarted) fails at once with "peer": replaced by a new one, once.
   */
  private async withData<T>(t: Record<string, unknown>, use: (conn: Connection) => Promise<T>): Promise<T> {
    const key = `${t.host}:${t.dataPort}`;
    await this.warming;
    let conn = this.kept.get(key);
    this.kept.delete(key);
    for (let reused = conn !== undefined; ; reused = false) {
      conn ??= await Connection.connect(String(t.host), Number(t.dataPort));
      try {
        const r = await use(conn);
        if (this.closedWith || this.kept.has(key)) await conn.close();
        else this.kept.set(key, conn);
        return r;
      } catch (err) {
        await conn.close().catch(() => {});
        conn = undefined;
        if (!(reused && err instanceof TransferError && err.ssc === SSC.ERR_PEER)) throw err;
      }
    }
  }

  /** Scene events (transfer progress, new volume, ...). */
  on(fn: (e: Record<string, unknown>) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private onMessage(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      const w = this.awaitingBytes;
      this.awaitingBytes = undefined;
      w?.p.resolve({ json: w.json, bytes: new Uint8Array(data) });
      return;
    }
    const msg = JSON.parse(data) as Record<string, unknown>;
    if (typeof msg.event === "string") {
      for (const fn of this.listeners) fn(msg);
      return;
    }
    const p = this.pending.get(msg.id as number);
    if (!p) return;
    this.pending.delete(msg.id as number);
    const err = msg.error as { code: string; message: string; details?: Record<string, unknown> } | undefined;
    if (err) p.reject(new RemoteVisError(err.code, err.message, 400, err.details));
    else {
      const { id: _id, ok: _ok, ...json } = msg;
      if (p.wantsBytes) this.awaitingBytes = { json, p };
      else p.resolve({ json });
    }
  }

  private failAll(err: Error): void {
    this.closedWith ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.awaitingBytes?.p.reject(err);
    for (const conn of this.kept.values()) void conn.close().catch(() => {});
    this.kept.clear();
  }

  /** One operation of protocol/control.ts. */
  async request(op: string, body: Record<string, unknown> = {}, wantsBytes = false): Promise<{ json: Record<string, unknown>; bytes?: Uint8Array }> {
    if (this.closedWith) throw this.closedWith;
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, wantsBytes });
      this.ws.send(JSON.stringify({ ...body, id, op }));
    });
  }

  private dataHeader(transfer: string, part: string): Uint8Array {
    return encodeHeader({ secret: this.secret, transfer, part });
  }

  /** Sends a volume and resolves when the instance renders it. `data` is sent in place (no copy);
   *  a volume above 4 GiB comes as a NativeBuffer (one JS array holds at most 4 GiB). */
  async renderVolume(data: VolumeArray | NativeBuffer, o: RenderVolumeOptions): Promise<VolumeReady> {
    const dtype = dtypeOf(data, o.dtype);
    const bytes = data instanceof NativeBuffer ? data : asBytes(data);
    const { json: t } = await this.request("prepare_volume", {
      bytes: bytes.byteLength,
      shape: o.shape,
      dtype,
      order: o.order ?? "C",
      spacing: o.spacing ?? [1, 1, 1],
      name: o.name ?? "volume",
      checksum: o.checksum ?? false,
    });
    await this.push(t, [["volume", bytes]], o);
    return (await this.request("wait_transfer", { transfer: t.transfer })).json as unknown as VolumeReady;
  }

  /** Sends points (xyz: N x 3 float32 world coordinates, values: N float32). */
  async renderPoints(xyz: Float32Array, values: Float32Array, o: { name?: string; onProgress?: RenderVolumeOptions["onProgress"] } = {}): Promise<Record<string, unknown>> {
    if (xyz.length !== values.length * 3) throw new RemoteVisError("invalid_points", `xyz must hold 3 floats per value: ${xyz.length} for ${values.length} values`);
    const { json: t } = await this.request("prepare_points", { count: values.length, name: o.name ?? "points" });
    await this.push(t, [
      ["xyz", asBytes(xyz)],
      ["values", asBytes(values)],
    ], o);
    return (await this.request("wait_transfer", { transfer: t.transfer })).json;
  }

  private async push(t: Record<string, unknown>, parts: [string, Uint8Array | NativeBuffer][], o: { checksum?: boolean; onProgress?: RenderVolumeOptions["onProgress"] }): Promise<void> {
    const total = parts.reduce((n, [, b]) => n + b.byteLength, 0);
    try {
      await this.withData(t, async (conn) => {
        let before = 0;
        for (const [part, bytes] of parts) {
          await conn.send(this.dataHeader(String(t.transfer), part), bytes, { checksum: o.checksum, onProgress: (n) => o.onProgress?.(before + n, total) });
          before += bytes.byteLength;
        }
      });
    } catch (err) {
      // The instance may know better why (size, limit, protocol): ask it.
      const why = await this.request("wait_transfer", { transfer: t.transfer, timeoutMs: 2000 }).then(
        () => undefined,
        (e) => e,
      );
      throw why instanceof RemoteVisError && why.code !== "timeout" ? why : err;
    }
  }

  /** A box of the volume in its original bytes; box lo inclusive, hi exclusive, [z, y, x]. */
  async retrieveVolume(o: { box?: { lo: number[]; hi: number[] }; step?: number | number[]; labels?: boolean; onProgress?: RenderVolumeOptions["onProgress"] } = {}): Promise<Retrieved> {
    const { json: t } = await this.request("retrieve_volume", { ...(o.box ? { box: o.box } : {}), ...(o.step ? { step: o.step } : {}), ...(o.labels ? { labels: true } : {}) });
    return this.withData(t, async (conn) => {
      await conn.send(this.dataHeader(String(t.transfer), "pull"), new Uint8Array(0));
      const { header, size } = await conn.receiveHeader();
      const meta = decodeHeader(header);
      if (size !== t.bytes) {
        await conn.reject(SSC.ERR_SIZE).catch(() => {});
        throw new RemoteVisError("size_mismatch", `the instance announced ${t.bytes} bytes and sent ${size}`, 502);
      }
      const data = await conn.receivePayload(size, { onProgress: (n) => o.onProgress?.(n, size) });
      return { data, shape: meta.shape as Retrieved["shape"], dtype: meta.dtype as VolumeDtype, order: meta.order as "C" | "F", spacing: meta.spacing as Retrieved["spacing"] };
    });
  }

  /** RGBA8 pixels of the current view (or `view`), row 0 at the top; `level` > 1: a preview drawn
   *  from the coarse copy of a volume still converting. */
  async screenshot(o: { width?: number; height?: number; view?: View; lod?: number } = {}): Promise<{ width: number; height: number; rgba: Uint8Array; renderMs: number; level: number }> {
    const r = await this.request("screenshot", { width: o.width ?? 1280, height: o.height ?? 720, lod: o.lod ?? 1, ...(o.view ? { view: o.view } : {}) }, true);
    return { width: Number(r.json.width), height: Number(r.json.height), rgba: r.bytes!, renderMs: Number(r.json.renderMs ?? 0), level: Number(r.json.level ?? 1) };
  }

  async setView(view: View): Promise<void> {
    await this.request("set_view", view as Record<string, unknown>);
  }

  async setRender(settings: RenderSettings): Promise<void> {
    await this.request("set_render", settings as Record<string, unknown>);
  }

  /**
   * The paper's load_file: the instance reads a file from its storage roots (as the user) and
   * shows it; HDF5 through SSC-IO in parallel. Resolves with what is shown (volume or points).
   */
  async loadFile(path: string, o: { dataset?: string; procs?: number; onProgress?: RenderVolumeOptions["onProgress"] } = {}): Promise<Record<string, unknown>> {
    const off = this.on((e) => {
      if (e.event === "transfer" && e.kind === "load" && (e.state === "progress" || e.state === "done")) o.onProgress?.(Number(e.done), Number(e.bytes));
    });
    try {
      return (await this.request("load_file", { path, ...(o.dataset !== undefined ? { dataset: o.dataset } : {}), ...(o.procs ? { procs: o.procs } : {}) })).json;
    } finally {
      off();
    }
  }

  /** A folder under the instance's storage roots (no path: the roots), for a file browser. */
  async listFiles(path?: string, o: { datasets?: boolean } = {}): Promise<Record<string, unknown>> {
    return (await this.request("list_files", { ...(path !== undefined ? { path } : {}), ...(o.datasets === false ? { datasets: false } : {}) })).json;
  }

  // ---- segmentation (protocol/segment.ts) ----

  /**
   * Sends a trained network (ONNX bytes, no copy) with its description over SSC-RDMA; resolves
   * once the instance loaded it and checked its input and output against the description.
   */
  async sendModel(model: Uint8Array, d: ModelDescriptionInput & { onProgress?: RenderVolumeOptions["onProgress"] }): Promise<ModelReady> {
    const { onProgress, ...desc } = d;
    checkDescription(desc);
    const { json: t } = await this.request("prepare_model", { ...desc, bytes: model.byteLength });
    await this.push(t, [["model", model]], { onProgress });
    return (await this.request("wait_transfer", { transfer: t.transfer })).json as unknown as ModelReady;
  }

  /** Segments the volume (or the clip box) with a model (default the last one sent); resolves when the labels show. */
  async segment(o: { model?: string; region?: "all" | "clip"; batch?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<SegmentResult> {
    const off = this.on((e) => {
      if (e.event === "segment" && (e.state === "progress" || e.state === "done")) o.onProgress?.(Number(e.done), Number(e.total));
    });
    try {
      const { onProgress: _p, ...body } = o;
      return (await this.request("segment", body)).json as unknown as SegmentResult;
    } finally {
      off();
    }
  }

  async cancelSegment(): Promise<{ cancelled: boolean }> {
    return (await this.request("cancel_segment")).json as { cancelled: boolean };
  }

  /** Per-class colour, opacity and visibility of the labels; outlines in slices; show/hide. */
  async setLabels(s: SetLabels): Promise<Record<string, unknown>> {
    return (await this.request("set_labels", s as Record<string, unknown>)).json;
  }

  /** Writes the labels as HDF5 on the instance's side (a path under its storage roots). */
  async saveLabels(path: string, o: { dataset?: string; overwrite?: boolean } = {}): Promise<Record<string, unknown>> {
    return (await this.request("save_labels", { path, ...o })).json;
  }

  async state(): Promise<Record<string, unknown>> {
    return (await this.request("get_state")).json;
  }

  close(): void {
    this.failAll(new RemoteVisError("closed", "the instance client was closed", 400));
    this.ws.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
