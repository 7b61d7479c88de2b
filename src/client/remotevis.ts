/**
 * The TypeScript client of the middleware: start, status, list, stop, waitUntilRunning (and
 * API tokens). Used by `remotevis client ...` and by other tools. Answers are validated with
 * the same valibot schemas the middleware uses; failures are RemoteVisErrors with the
 * middleware's code and message.
 *
 *   const rv = new RemoteVis({ middleware: "http://127.0.0.1:8470" });
 *   const inst = await rv.start({ shape: [512, 512, 512], dtype: "uint16" });
 *   console.log(inst.url);
 */
import * as v from "valibot";
import { RemoteVisError } from "../errors.ts";
import { ErrorBody } from "../protocol/common.ts";
import { MiddlewareHealth } from "../protocol/health.ts";
import { Instance, InstanceList, type CreateInstanceRequest } from "../protocol/instances.ts";
import { CreatedToken, TokenList, type CreateTokenRequest } from "../protocol/tokens.ts";
import { mungeCredential, tokenCredential, type CredentialSource } from "./credentials.ts";
import type { NativeBuffer } from "../transfer/native-buffer.ts";
import { InstanceClient, type ModelReady, type RenderVolumeOptions, type Retrieved, type SegmentResult, type VolumeArray, type VolumeReady } from "./instance.ts";
import { loadModelFile, type ModelDescriptionInput } from "./model.ts";

export const DEFAULT_MIDDLEWARE = "http://127.0.0.1:8470";

export interface RemoteVisOptions {
  /** Base URL of the middleware (default REMOTEVIS_MIDDLEWARE or http://127.0.0.1:8470). */
  middleware?: string;
  /** API token (default REMOTEVIS_TOKEN); without one, munge -n proves who we are. */
  token?: string;
  mungeSocket?: string;
  /** Makes the Authorization header (overrides token and munge; e.g. munge run as another user). */
  credential?: CredentialSource;
  /** Per request (default 60 s; creation waits for the instance to run). */
  timeoutMs?: number;
}

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  onProgress?: (inst: Instance, elapsedMs: number) => void;
}

/** Which instance a data call goes to: an id, a URL with ?token=, or (default) the current one. */
export interface InstanceRef {
  instance?: string;
}

export class RemoteVis {
  readonly middleware: string;
  /** The instance data calls use by default: the last one started or used. */
  private current: { id?: string; url: string; client?: InstanceClient } | undefined;
  private readonly credential: CredentialSource;
  private readonly timeoutMs: number;

  constructor(o: RemoteVisOptions = {}) {
    this.middleware = (o.middleware ?? process.env.REMOTEVIS_MIDDLEWARE ?? DEFAULT_MIDDLEWARE).replace(/\/+$/, "");
    const token = o.token ?? process.env.REMOTEVIS_TOKEN;
    this.credential = o.credential ?? (token ? tokenCredential(token) : mungeCredential(o.mungeSocket));
    this.timeoutMs = o.timeoutMs ?? 60_000;
  }

  private async request<S extends v.GenericSchema>(method: string, path: string, schema: S, body?: unknown, auth = true): Promise<v.InferOutput<S>> {
    const headers: Record<string, string> = {};
    if (auth) headers.authorization = await this.credential();
    if (body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.middleware}/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new RemoteVisError("unreachable", `cannot reach the middleware at ${this.middleware}: ${err instanceof Error ? err.message : err}`, 503);
    }
    let json: unknown;
    try {
      json = await res.json();
    } catch {
      throw new RemoteVisError("bad_answer", `the middleware at ${this.middleware} answered ${res.status} without JSON; is it a RemoteVis middleware?`, 502);
    }
    if (!res.ok) {
      const e = v.safeParse(ErrorBody, json);
      if (e.success) throw new RemoteVisError(e.output.error.code, e.output.error.message, res.status, e.output.error.details);
      throw new RemoteVisError("bad_answer", `the middleware answered ${res.status}`, res.status);
    }
    const r = v.safeParse(schema, json);
    if (!r.success) throw new RemoteVisError("bad_answer", `unexpected answer from the middleware to ${method} ${path}; are client and middleware the same version?`, 502);
    return r.output;
  }

  health(): Promise<MiddlewareHealth> {
    return this.request("GET", "/health", MiddlewareHealth, undefined, false);
  }

  /**
   * Starts an instance. Local mode answers once it runs (url set); with `wait: false` it
   * answers at once and waitUntilRunning follows it. Slurm mode answers at once (state
   * `pending`, `job.id`, `job.expectedStart`) unless `wait: true` asks to wait until it runs.
   */
  async start(req: CreateInstanceRequest, o: { wait?: boolean } & WaitOptions = {}): Promise<Instance> {
    let inst = await this.request("POST", `/instances${o.wait === false ? "?wait=false" : ""}`, Instance, req);
    const wait = o.wait ?? !inst.job;
    if (wait && inst.state !== "running") inst = await this.waitUntilRunning(inst.id, o);
    if (inst.url) this.use({ id: inst.id, url: inst.url });
    return inst;
  }

  private use(c: { id?: string; url: string }): void {
    if (this.current?.url === c.url) return;
    this.current?.client?.close();
    this.current = c;
  }

  /**
   * The control connection of an instance: `ref` is an id (asked from the middleware), a URL
   * with ?token=, or nothing for the current instance (the last started or used, else my
   * newest running one).
   */
  async instance(ref?: string): Promise<InstanceClient> {
    if (ref?.startsWith("http://") || ref?.startsWith("https://")) this.use({ url: ref });
    else if (ref) {
      const inst = await this.status(ref);
      if (inst.state !== "running" || !inst.url) throw new RemoteVisError("not_running", `instance ${ref} is ${inst.state}${inst.reason ? `: ${inst.reason}` : ""}`, 409);
      this.use({ id: inst.id, url: inst.url });
    } else if (!this.current) {
      const running = (await this.list()).filter((i) => i.state === "running" && i.url).sort((a, b) => Date.parse(b.createdAt ?? "0") - Date.parse(a.createdAt ?? "0"));
      if (!running[0]) throw new RemoteVisError("no_instance", "no running instance: start one first (remotevis client start, or RemoteVis.start)", 409);
      this.use({ id: running[0].id, url: running[0].url! });
    }
    const cur = this.current!;
    cur.client ??= await InstanceClient.connect(cur.url);
    return cur.client;
  }

  /** The paper's render_volume: sends `data` (no copy) to the instance and waits until it is shown. */
  async renderVolume(data: VolumeArray | NativeBuffer, o: RenderVolumeOptions & InstanceRef): Promise<VolumeReady> {
    return (await this.instance(o.instance)).renderVolume(data, o);
  }

  /** Points as spheres: xyz N x 3 float32 world coordinates, values N float32 (radius, colour). */
  async renderPoints(xyz: Float32Array, values: Float32Array, o: { name?: string; onProgress?: RenderVolumeOptions["onProgress"] } & InstanceRef = {}) {
    return (await this.instance(o.instance)).renderPoints(xyz, values, o);
  }

  /** A box of the instance's volume in its original bytes (lo inclusive, hi exclusive, [z, y, x]). */
  async retrieveVolume(o: Parameters<InstanceClient["retrieveVolume"]>[0] & InstanceRef = {}): Promise<Retrieved> {
    return (await this.instance(o.instance)).retrieveVolume(o);
  }

  /** RGBA8 pixels of the current view. */
  async screenshot(o: Parameters<InstanceClient["screenshot"]>[0] & InstanceRef = {}) {
    return (await this.instance(o.instance)).screenshot(o);
  }

  /** The paper's load_file: the instance reads `path` (under its storage roots, as you) and shows it. */
  async loadFile(path: string, o: Parameters<InstanceClient["loadFile"]>[1] & InstanceRef = {}) {
    return (await this.instance(o.instance)).loadFile(path, o);
  }

  /** A folder under the instance's storage roots (no path: the roots themselves). */
  async listFiles(path?: string, o: { datasets?: boolean } & InstanceRef = {}) {
    return (await this.instance(o.instance)).listFiles(path, o);
  }

  /**
   * Sends a trained network to the instance (ONNX bytes, or the path of a .onnx file whose
   * NET.json beside it holds the description; `o` wins over that file).
   *   await rv.sendModel("unet.onnx", { inputLayout: "NCHW", classes: 3, names: ["air", "soft", "bone"] });
   */
  async sendModel(model: Uint8Array | string, o: Partial<ModelDescriptionInput> & { onProgress?: RenderVolumeOptions["onProgress"] } & InstanceRef = {}): Promise<ModelReady> {
    const { instance, onProgress, ...over } = o;
    const { bytes, description } = typeof model === "string" ? loadModelFile(model, over) : { bytes: model, description: over as ModelDescriptionInput };
    return (await this.instance(instance)).sendModel(bytes, { ...description, onProgress });
  }

  /** Segments the instance's volume with the model sent last (or `model`); resolves when the labels show. */
  async segment(o: Parameters<InstanceClient["segment"]>[0] & InstanceRef = {}): Promise<SegmentResult> {
    return (await this.instance(o.instance)).segment(o);
  }

  /** Closes the control connection (the instance keeps running; stop() ends it). */
  close(): void {
    this.current?.client?.close();
    this.current = undefined;
  }

  status(id: string): Promise<Instance> {
    return this.request("GET", `/instances/${encodeURIComponent(id)}`, Instance);
  }

  async list(o: { all?: boolean } = {}): Promise<Instance[]> {
    return (await this.request("GET", `/instances${o.all === false ? "?all=false" : ""}`, InstanceList)).instances;
  }

  stop(id: string): Promise<Instance> {
    return this.request("DELETE", `/instances/${encodeURIComponent(id)}`, Instance);
  }

  /** Polls until the instance runs; throws when it stopped/failed instead, or on timeout. */
  async waitUntilRunning(id: string, o: WaitOptions = {}): Promise<Instance> {
    const t0 = Date.now();
    const timeout = o.timeoutMs ?? 120_000;
    for (;;) {
      const inst = await this.status(id);
      o.onProgress?.(inst, Date.now() - t0);
      if (inst.state === "running" && inst.url) return inst;
      if (inst.state === "stopped" || inst.state === "failed" || inst.state === "stopping")
        throw new RemoteVisError("start_failed", `instance ${id} is ${inst.state}: ${inst.reason ?? "no reason recorded"}`, 502, { id });
      if (Date.now() - t0 > timeout) throw new RemoteVisError("timeout", `instance ${id} is still ${inst.state} after ${timeout / 1000} s`, 504, { id });
      await Bun.sleep(o.intervalMs ?? 500);
    }
  }

  createToken(req: CreateTokenRequest): Promise<CreatedToken> {
    return this.request("POST", "/tokens", CreatedToken, req);
  }

  async listTokens(): Promise<TokenList["tokens"]> {
    return (await this.request("GET", "/tokens", TokenList)).tokens;
  }

  async revokeToken(id: string): Promise<void> {
    await this.request("DELETE", `/tokens/${encodeURIComponent(id)}`, v.object({ ok: v.literal(true) }));
  }
}

export type { Instance };
export { NativeBuffer } from "../transfer/native-buffer.ts";
