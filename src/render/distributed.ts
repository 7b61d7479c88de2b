/**
 * The renderer of an instance as several MPI ranks (ffi/rvrmpi: rvr_ranks, one rank per GPU
 * or per CPU socket/node), behind the same interface as Renderer. This process listens on a
 * private UNIX socket, starts `mpirun -n N rvr_ranks` (locally) or `srun -n N rvr_ranks`
 * (inside a slurm allocation) as argv arrays, and talks to rank 0 with the protocol of
 * ffi/rvrmpi/include/rvr_ranks.h. Volumes are received straight into a shared-memory file
 * (allocVolume) from which each rank on this host maps only its slab; ranks on other hosts get
 * theirs from rank 0 over MPI. A rank that dies ends the job; every pending and later call then
 * fails with a `ranks_failed` error that names the cause (no hang: there is also a timeout per
 * request).
 */
import { chmodSync, closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ranksExe from "../../ffi/rvrmpi/build/rvr_ranks" with { type: "file" };
import rvrLib from "../../ffi/librvr/build/librvr.so" with { type: "file" };
import { RemoteVisError } from "../errors.ts";
import { asNative, NativeBuffer, type VolumeBytes } from "../transfer/native-buffer.ts";
import type { Frame, RenderEngine } from "./engine.ts";
import { encodeJpeg } from "./jpeg.ts";
import { cameraBytes, settingsBytes, sliceBytes, volumeDescBytes, type Camera, type RenderStats, type Settings, type Slice, type Vec3, type VolumeDesc, type VolumeInfo, readVolumeInfo } from "./structs.ts";
import type { Backend } from "./renderer.ts";

export const OP = { hello: 1, setVolume: 2, setWindow: 3, setTf: 4, setPoints: 5, clearPoints: 6, setPointCmap: 7, render: 8, slice: 9, retrieve: 10, quit: 11 } as const;
const REQ_MAGIC = 0x51525652;
const REP_MAGIC = 0x41525652;
const PATH_MAX = 256;

export interface DistributedOptions {
  ranks: number;
  backend?: Backend;
  /** "mpirun" (default; one host) or "srun" (inside a slurm allocation: SLURM_JOB_ID set). */
  launcher?: "mpirun" | "srun";
  /** GPUs per node, to spread ranks over devices when CUDA_VISIBLE_DEVICES does not. */
  gpus?: number;
  /** auto: with every rank on CUDA, "stream" (bands go to rank 0 while the GPUs still render) when
   *  sending to rank 0 is the cheapest plan; else per frame whichever moves the fewest bytes into
   *  the busiest rank (rvr_ranks.h). */
  composite?: "auto" | "root" | "bswap" | "direct" | "stream";
  /** Seconds one request may take (rank 0's watchdog; this side waits 5 s longer). */
  opTimeoutS?: number;
  /** Seconds to wait for rank 0 to connect. */
  startTimeoutS?: number;
  /** Extra mpirun options; default: shared memory only (btl self,vader, pml ob1). */
  mpirunArgs?: string[];
  /** Folder for the socket and (when embedded) the helper; multi-node: must be shared. */
  dir?: string;
  log?: (line: string) => void;
  env?: Record<string, string | undefined>;
}

export interface DistributedFrameStats extends RenderStats {
  renderMsMax: number;
  renderMsMin: number;
  compositeMs: number;
  gatherMs: number;
  compositeBytes: number;
}

/** Where rvr_ranks is: beside its librvr.so in the build tree, or written out of the executable. */
export async function ranksExecutable(dir: string): Promise<string> {
  if (!ranksExe.startsWith("/$bunfs/") && !ranksExe.startsWith("B:/~BUN")) return ranksExe;
  // Embedded: both files go to a private folder (rvr_ranks finds librvr.so by rpath $ORIGIN).
  for (const [src, name, mode] of [
    [ranksExe, "rvr_ranks", 0o755],
    [rvrLib, "librvr.so", 0o644],
  ] as const) {
    const dst = join(dir, name);
    await Bun.write(dst, new Uint8Array(await Bun.file(src).arrayBuffer()));
    chmodSync(dst, mode);
  }
  return join(dir, "rvr_ranks");
}

/** The launcher's argv (data, never a shell string). */
export function launchArgv(o: DistributedOptions, exe: string, socket: string): string[] {
  const ranks = String(o.ranks);
  const own = ["--socket", socket, "--backend", o.backend ?? "auto", "--composite", o.composite ?? "auto", "--op-timeout", String(o.opTimeoutS ?? 120), ...(o.gpus ? ["--gpus", String(o.gpus)] : [])];
  if (o.launcher === "srun") return ["srun", "--ntasks", ranks, "--kill-on-bad-exit=1", "--mpi=pmix", exe, ...own];
  const root = process.getuid?.() === 0 ? ["--allow-run-as-root"] : [];
  const mca = o.mpirunArgs ?? ["--mca", "btl", "self,vader", "--mca", "pml", "ob1", "--mca", "btl_vader_single_copy_mechanism", "none"];
  // --bind-to none: Open MPI binds each rank to one core by default (up to 2 ranks), which would
  // leave rvr_ranks' OpenMP parts (volume scan, upload staging, compositing) one thread.
  return ["mpirun", ...root, "--oversubscribe", "--bind-to", "none", "-n", ranks, ...mca, exe, ...own];
}

interface Pending {
  op: number;
  resolve: (r: { status: number; payload: Uint8Array }) => void;
  reject: (e: unknown) => void;
  timer: Timer;
}

export class DistributedRenderer implements RenderEngine {
  private sock: { write(b: Uint8Array): number; end(): void } | undefined;
  private rx = new Uint8Array(0);
  private rxLen = 0;
  private pending: Pending | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private failure: RemoteVisError | undefined;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  private stderrTail = "";
  private listener: { stop(force?: boolean): void } | undefined;
  private readonly shmFiles = new WeakMap<NativeBuffer, string>();
  private shmSeq = 0;
  private volInfo: VolumeInfo | undefined;
  /** The file in /dev/shm rank 0 writes frames into (kept, grown to the largest frame). */
  private frame: { path: string; buf: Uint8Array<ArrayBuffer>; bytes: number } | undefined;
  private volume: { shape: Vec3; spacing: Vec3; dtype: VolumeDesc["dtype"]; order: "C" | "F" } | undefined;
  private chosen: "cpu" | "cuda" = "cpu";
  ranks = 0;
  hosts = 0;
  pids: number[] = [];
  algorithm: "auto" | "root" | "bswap" | "direct" | "stream" = "auto";
  lastStats: DistributedFrameStats | undefined;
  private closed = false;

  private constructor(
    private readonly o: DistributedOptions,
    private readonly dir: string,
  ) {}

  get backend(): "cpu" | "cuda" {
    return this.chosen;
  }

  get hasVolume(): boolean {
    return this.volInfo !== undefined;
  }

  static async create(o: DistributedOptions): Promise<DistributedRenderer> {
    if (!(o.ranks >= 1 && Number.isInteger(o.ranks))) throw new RemoteVisError("usage", "ranks must be an integer >= 1", 400);
    const base = o.dir ?? tmpdir();
    mkdirSync(base, { recursive: true });
    const dir = mkdtempSync(join(base, "remotevis-ranks-"));
    const r = new DistributedRenderer(o, dir);
    try {
      await r.start();
      return r;
    } catch (err) {
      await r.close().catch(() => {});
      throw err;
    }
  }

  private async start(): Promise<void> {
    const socketPath = join(this.dir, "control.sock");
    const exe = await ranksExecutable(this.dir);
    let connected!: () => void;
    const connectedP = new Promise<void>((res) => (connected = res));
    this.listener = Bun.listen({
      unix: socketPath,
      socket: {
        open: (s) => {
          if (this.sock) return void s.end(); // only rank 0, once
          this.sock = s;
          connected();
        },
        data: (_s, chunk) => this.onData(chunk),
        close: () => this.fail("rank 0 closed the control socket"),
        error: (_s, err) => this.fail(`control socket error: ${err.message}`),
      },
    });
    const argv = launchArgv(this.o, exe, socketPath);
    this.o.log?.(`distributed renderer: ${argv.join(" ")}`);
    try {
      this.proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...this.o.env } });
    } catch (err) {
      throw new RemoteVisError("ranks_failed", `cannot start ${argv[0]} (Debian: openmpi-bin): ${err instanceof Error ? err.message : err}`, 500);
    }
    void this.drain(this.proc.stdout as ReadableStream<Uint8Array>);
    void this.drain(this.proc.stderr as ReadableStream<Uint8Array>);
    void this.proc.exited.then((code) => this.fail(`the ${argv[0]} job ended (exit ${code})`));
    const limit = (this.o.startTimeoutS ?? 60) * 1000;
    let timer: Timer | undefined;
    const exited = this.proc.exited.then(() => {
      throw this.failure ?? new RemoteVisError("ranks_failed", "the ranks ended before connecting", 500);
    });
    await Promise.race([
      connectedP,
      exited,
      new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new RemoteVisError("ranks_failed", `rank 0 did not connect within ${limit / 1000} s${this.tail()}`, 504)), limit))),
    ]).finally(() => clearTimeout(timer));
    const hello = await this.call(OP.hello, new Uint8Array(0));
    const dv = new DataView(hello.buffer, hello.byteOffset, hello.byteLength);
    this.ranks = dv.getInt32(0, true);
    this.chosen = dv.getInt32(4, true) === 2 ? "cuda" : "cpu";
    this.hosts = dv.getInt32(8, true);
    this.algorithm = (["auto", "bswap", "direct", "root", "stream"] as const)[dv.getInt32(12, true)] ?? "auto";
    this.pids = Array.from({ length: this.ranks }, (_, i) => dv.getInt32(16 + 4 * i, true));
    this.o.log?.(`distributed renderer: ${this.ranks} ranks on ${this.hosts} host(s), ${this.chosen} backend, ${this.algorithm} compositing`);
  }

  private async drain(stream: ReadableStream<Uint8Array>): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      const text = dec.decode(chunk);
      this.stderrTail = (this.stderrTail + text).slice(-2000);
      for (const line of text.split("\n")) if (line.trim()) this.o.log?.(`ranks: ${line}`);
    }
  }

  private tail(): string {
    const lines = this.stderrTail
      .split("\n")
      .filter((l) => l.trim() && !/^-+$/.test(l.trim()))
      .slice(-4);
    return lines.length ? `: ${lines.join(" | ")}` : "";
  }

  private fail(why: string): void {
    if (this.closed && !this.pending) return;
    if (!this.failure) {
      // let the launcher's last words arrive (mpirun names the rank that died)
      this.failure = new RemoteVisError("ranks_failed", `distributed renderer failed: ${why}`, 500);
      setTimeout(() => {
        if (this.failure) this.failure.message = `distributed renderer failed: ${why}${this.tail()}`;
      }, 200);
    }
    const p = this.pending;
    if (p) {
      this.pending = undefined;
      clearTimeout(p.timer);
      const f = this.failure;
      setTimeout(() => p.reject(f), 250);
    }
  }

  private onData(chunk: Uint8Array): void {
    if (this.rxLen + chunk.length > this.rx.length) {
      const grown = new Uint8Array(Math.max(this.rx.length * 2, this.rxLen + chunk.length, 1 << 16));
      grown.set(this.rx.subarray(0, this.rxLen));
      this.rx = grown;
    }
    this.rx.set(chunk, this.rxLen);
    this.rxLen += chunk.length;
    if (this.rxLen < 16) return;
    const dv = new DataView(this.rx.buffer, 0, 16);
    if (dv.getUint32(0, true) !== REP_MAGIC) return this.fail("rank 0 answered with a bad header");
    const len = Number(dv.getBigUint64(8, true));
    if (this.rxLen < 16 + len) return;
    const status = dv.getInt32(4, true);
    const payload = this.rx.slice(16, 16 + len);
    this.rx.copyWithin(0, 16 + len, this.rxLen);
    this.rxLen -= 16 + len;
    const p = this.pending;
    this.pending = undefined;
    if (p) {
      clearTimeout(p.timer);
      p.resolve({ status, payload });
    }
  }

  /** One request; the answer's payload, or a RemoteVisError. Requests run one at a time. */
  private call(op: number, ...parts: Uint8Array[]): Promise<Uint8Array> {
    return this.enqueue(() => this.request(op, parts));
  }

  /** Runs `run` after every request queued before it (one request at a time on the socket). */
  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** A RENDER / SLICE whose image rank 0 writes into the frame file (rvr_ranks.h): the answer
   * is the 64 bytes of stats; the image is copied out before the next request can overwrite it. */
  private frameCall(op: number, bytes: number, ...parts: Uint8Array[]): Promise<{ payload: Uint8Array; rgba: Uint8Array<ArrayBuffer> }> {
    return this.enqueue(async () => {
      if (!this.frame || this.frame.bytes < bytes) {
        this.dropFrameFile();
        const path = join("/dev/shm", `${this.dir.split("/").pop()}-${process.pid}-${this.shmSeq++}.frame`);
        const fd = openSync(path, "w+", 0o600);
        try {
          ftruncateSync(fd, bytes);
        } finally {
          closeSync(fd);
        }
        this.frame = { path, buf: Bun.mmap(path, { shared: true }) as Uint8Array<ArrayBuffer>, bytes };
      }
      const f = this.frame;
      const path = new Uint8Array(PATH_MAX);
      path.set(new TextEncoder().encode(f.path));
      const payload = await this.request(op, [...parts, path]);
      return { payload, rgba: f.buf.slice(0, bytes) };
    });
  }

  private dropFrameFile(): void {
    if (!this.frame) return;
    try {
      unlinkSync(this.frame.path);
    } catch {
      // already gone
    }
    this.frame = undefined;
  }

  private async request(op: number, parts: Uint8Array[]): Promise<Uint8Array> {
    if (this.failure) throw this.failure;
    if (!this.sock) throw new RemoteVisError("ranks_failed", "the distributed renderer is not connected", 500);
    const len = parts.reduce((n, p) => n + p.byteLength, 0);
    const head = new Uint8Array(16);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, REQ_MAGIC, true);
    dv.setUint32(4, op, true);
    dv.setBigUint64(8, BigInt(len), true);
    const waitMs = ((this.o.opTimeoutS ?? 120) + 5) * 1000;
    const answer = new Promise<{ status: number; payload: Uint8Array }>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined;
        this.failure ??= new RemoteVisError("ranks_failed", `distributed renderer: no answer within ${waitMs / 1000} s`, 504);
        this.kill();
        reject(this.failure);
      }, waitMs);
      this.pending = { op, resolve, reject, timer };
    });
    await this.writeAll(Buffer.concat([head, ...parts]));
    const { status, payload } = await answer;
    if (status < 0) {
      const msg = new TextDecoder().decode(payload);
      throw new RemoteVisError(status === -3 ? "unsupported" : status === -100 || status === -101 ? "ranks_failed" : "render_failed", `distributed renderer: ${msg} (${status})`, status === -3 ? 400 : 500, { code: status });
    }
    return payload;
  }

  private async writeAll(b: Uint8Array): Promise<void> {
    let off = 0;
    while (off < b.byteLength) {
      if (this.failure) throw this.failure;
      const n = this.sock!.write(b.subarray(off));
      off += Math.max(0, n);
      if (off < b.byteLength) await Bun.sleep(1);
    }
  }

  private kill(): void {
    try {
      this.proc?.kill("SIGKILL");
    } catch {
      // gone already
    }
  }

  private newShm(bytes: number): { path: string; buf: NativeBuffer } {
    const dirShm = "/dev/shm";
    const path = join(dirShm, `${this.dir.split("/").pop()}-${process.pid}-${this.shmSeq++}.vol`);
    const fd = openSync(path, "w+", 0o600);
    try {
      ftruncateSync(fd, bytes);
    } finally {
      closeSync(fd);
    }
    const buf = NativeBuffer.wrap(bytes ? Bun.mmap(path, { shared: true }) : new Uint8Array(0));
    this.shmFiles.set(buf, path);
    return { path, buf };
  }

  async allocVolume(bytes: number): Promise<NativeBuffer> {
    return this.newShm(bytes).buf;
  }

  async setVolume(desc: Omit<VolumeDesc, "borrow">, bytes: VolumeBytes): Promise<VolumeInfo> {
    const data = asNative(bytes);
    let path = this.shmFiles.get(data);
    let own = false;
    if (!path) {
      // not received into our shared memory (e.g. a file load): one copy into it
      const s = this.newShm(data.byteLength);
      s.buf.set(data);
      path = s.path;
      own = true;
    }
    try {
      const req = new Uint8Array(64 + 8 + PATH_MAX);
      req.set(volumeDescBytes({ ...desc, borrow: false }), 0);
      new DataView(req.buffer).setBigUint64(64, BigInt(data.byteLength), true);
      req.set(new TextEncoder().encode(path), 72);
      const p = await this.call(OP.setVolume, req);
      this.volInfo = readVolumeInfo(p.subarray(0, 80));
      this.volume = { shape: desc.shape, spacing: desc.spacing, dtype: desc.dtype, order: desc.order };
      return this.volInfo;
    } finally {
      // the ranks hold their own mappings now; the name is no longer needed
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
      void own;
    }
  }

  async setWindow(lo: number, hi: number): Promise<VolumeInfo> {
    const b = new Float64Array([lo, hi]);
    const p = await this.call(OP.setWindow, new Uint8Array(b.buffer));
    this.volInfo = readVolumeInfo(p.subarray(0, 80));
    return this.volInfo;
  }

  async info(): Promise<VolumeInfo> {
    if (!this.volInfo) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    return this.volInfo;
  }

  async setTransferFunction(rgba: Float32Array): Promise<void> {
    await this.call(OP.setTf, new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength));
  }

  async setPointColormap(rgba: Float32Array): Promise<void> {
    await this.call(OP.setPointCmap, new Uint8Array(rgba.buffer, rgba.byteOffset, rgba.byteLength));
  }

  async setPoints(xyz: Float32Array, values: Float32Array): Promise<void> {
    const n = new BigUint64Array([BigInt(values.length)]);
    await this.call(OP.setPoints, new Uint8Array(n.buffer), new Uint8Array(xyz.buffer, xyz.byteOffset, values.length * 12), new Uint8Array(values.buffer, values.byteOffset, values.length * 4));
  }

  async clearPoints(): Promise<void> {
    await this.call(OP.clearPoints);
  }

  private frameStats(p: Uint8Array): DistributedFrameStats {
    const dv = new DataView(p.buffer, p.byteOffset, 64);
    const s: DistributedFrameStats = {
      totalMs: dv.getFloat64(0, true),
      renderMsMax: dv.getFloat64(8, true),
      renderMsMin: dv.getFloat64(16, true),
      compositeMs: dv.getFloat64(24, true),
      gatherMs: dv.getFloat64(32, true),
      compositeBytes: Number(dv.getBigUint64(40, true)),
      samples: Number(dv.getBigUint64(48, true)),
      rays: Number(dv.getBigUint64(56, true)),
      precomputeMs: 0,
      pointsDrawn: 0,
      volumeLevel: 1,
    };
    this.lastStats = s;
    return s;
  }

  async render(camera: Camera, settings: Settings, width: number, height: number): Promise<Frame> {
    const wh = new Uint32Array([width, height]);
    const f = await this.frameCall(OP.render, width * height * 4, cameraBytes(camera), settingsBytes(settings), new Uint8Array(wh.buffer));
    return { rgba: f.rgba, width, height, stats: this.frameStats(f.payload) };
  }

  async renderJpeg(camera: Camera, settings: Settings, width: number, height: number, quality: number) {
    const f = await this.render(camera, settings, width, height);
    const t0 = performance.now();
    const jpeg = encodeJpeg(f.rgba, width, height, quality);
    return { jpeg, stats: f.stats!, encodeMs: performance.now() - t0 };
  }

  async slice(slice: Slice, settings: Settings, width: number, height: number): Promise<Frame> {
    const wh = new Uint32Array([width, height]);
    const f = await this.frameCall(OP.slice, width * height * 4, sliceBytes(slice), settingsBytes(settings), new Uint8Array(wh.buffer));
    return { rgba: f.rgba, width, height };
  }

  async sliceAxis(axis: number, index: number, settings: Settings): Promise<Frame> {
    if (!this.volume) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    const g = sliceAxisGeometry(this.volume.shape, this.volume.spacing, axis, index);
    return this.slice(g.slice, settings, g.width, g.height);
  }

  async retrieveSize(lo: number[], hi: number[], step: number[]): Promise<number> {
    if (!this.volume) throw new RemoteVisError("no_volume", "this instance has no volume yet", 409);
    let n = { uint8: 1, uint16: 2, int16: 2, uint32: 4, float32: 4, float64: 8 }[this.volume.dtype];
    for (let k = 0; k < 3; k++) n *= Math.ceil((hi[k]! - lo[k]!) / step[k]!);
    return n;
  }

  /** Ranks write their parts of the box into a shared-memory file; it is copied into `out`. */
  async retrieve(lo: number[], hi: number[], step: number[], out: Uint8Array): Promise<void> {
    const s = this.newShm(out.byteLength);
    try {
      const req = new Uint8Array(64 + PATH_MAX);
      const dv = new DataView(req.buffer);
      for (let k = 0; k < 3; k++) {
        dv.setBigUint64(8 * k, BigInt(lo[k]!), true);
        dv.setBigUint64(24 + 8 * k, BigInt(hi[k]!), true);
        dv.setUint32(48 + 4 * k, step[k]!, true);
      }
      req.set(new TextEncoder().encode(s.path), 64);
      await this.call(OP.retrieve, req);
      out.set(s.buf.array());
    } finally {
      try {
        unlinkSync(s.path);
      } catch {
        // already gone
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sock && !this.failure) {
      await Promise.race([this.call(OP.quit).catch(() => {}), Bun.sleep(3000)]);
    }
    if (this.proc) {
      const done = await Promise.race([this.proc.exited.then(() => true), Bun.sleep(5000).then(() => false)]);
      if (!done) this.kill();
    }
    this.sock?.end();
    this.listener?.stop(true);
    this.dropFrameFile();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** rvr_renderer_slice_axis (rvr.h) computed here: the ranks only know their slabs. */
export function sliceAxisGeometry(shape: Vec3, spacing: Vec3, axis: number, index: number): { slice: Slice; width: number; height: number } {
  if (!(axis >= 0 && axis <= 2)) throw new RemoteVisError("invalid", "axis must be 0, 1 or 2", 400);
  if (!(index >= 0 && index < shape[axis]!)) throw new RemoteVisError("out_of_range", `index must be below ${shape[axis]}`, 400);
  const sp = spacing.map((s) => s || 1) as Vec3;
  const ext: Vec3 = [shape[2] * sp[2], shape[1] * sp[1], shape[0] * sp[0]]; // world x, y, z
  const at = (index + 0.5) * sp[axis]!;
  if (axis === 0) return { width: shape[2], height: shape[1], slice: { origin: [ext[0] / 2, ext[1] / 2, at], u: [ext[0], 0, 0], v: [0, ext[1], 0] } };
  if (axis === 1) return { width: shape[2], height: shape[0], slice: { origin: [ext[0] / 2, at, ext[2] / 2], u: [ext[0], 0, 0], v: [0, 0, ext[2]] } };
  return { width: shape[1], height: shape[0], slice: { origin: [at, ext[1] / 2, ext[2] / 2], u: [0, ext[1], 0], v: [0, 0, ext[2]] } };
}
