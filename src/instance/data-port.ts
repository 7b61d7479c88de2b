/**
 * The SSC-RDMA side of an instance. An operation first *prepares* a transfer (checks limits,
 * allocates the buffer, gets an id); the client then connects to the data port and sends the
 * bytes with a header naming that id and the instance secret. Anything else (wrong secret,
 * unknown id, wrong size, wrong part) is rejected before a payload byte lands, and the
 * listener keeps serving. Retrieve is the same path reversed ("pull").
 */
import * as v from "valibot";
import { RemoteVisError, messageOf } from "../errors.ts";
import { DataHeader } from "../protocol/control.ts";
import { SSC, TransferError } from "../transfer/ffi.ts";
import { decodeHeader, encodeHeader } from "../transfer/header.ts";
import { NativeBuffer } from "../transfer/native-buffer.ts";
import type { Connection, Listener } from "../transfer/transfer.ts";
import { secretMatches } from "./auth.ts";

/** Prepared but unused transfers are dropped (and their memory freed) after this long. */
const EXPIRE_MS = 120_000;
/** Each part after a transfer's first must send its header within this. */
const PART_HEADER_MS = 30_000;
/** A connection kept by its client for its next transfer (clients connect when they open the
 *  instance) is closed after this long idle (REMOTEVIS_DATA_IDLE_MS, for tests); it waits in
 *  slices of IDLE_SLICE_MS. */
const IDLE_MS = Number(process.env.REMOTEVIS_DATA_IDLE_MS ?? 10 * 60_000);
const IDLE_SLICE_MS = 30_000;
/** Open connections at most (each holds a thread while it waits); more are closed at once. */
const MAX_CONNECTIONS = 64;

type Part = "volume" | "xyz" | "values" | "pull" | "model";

export interface Progress {
  (state: "started" | "progress" | "done" | "failed", done: number, message?: string): void;
}

interface Pending {
  id: string;
  kind: "volume" | "points" | "pull" | "model";
  /** The parts expected, in order, with the bytes to receive into (or to send, for pull), and
   *  for a part received, who takes its bytes as they land ([0, n) are final; the renderer
   *  uploads a volume during its transfer). */
  parts: { part: Part; buf: Uint8Array | NativeBuffer; meta?: Record<string, unknown>; landed?: (n: number) => void; landedEveryMs?: number; writable?: BigUint64Array }[];
  /** Runs when the sender has started (its first header checked), before any payload. */
  onStart?: () => void;
  /** Resolves when the buffers' pages are in (DataPort.allocLater); a part's receive writes only
   *  behind its `writable` mark meanwhile. */
  ready?: Promise<unknown>;
  /** Runs when the transfer failed after it started (e.g. to drop what was taken of it). */
  onAbort?: () => void;
  /** Runs when every part arrived (upload to the renderer); its result is the transfer's. */
  finish: () => Promise<Record<string, unknown>>;
  progress?: Progress;
  settled: Promise<Record<string, unknown>>;
  resolve: (r: Record<string, unknown>) => void;
  reject: (e: unknown) => void;
  started: boolean;
  timer: Timer;
}

export interface PrepareSpec {
  kind: Pending["kind"];
  parts: Pending["parts"];
  finish: Pending["finish"];
  progress?: Progress;
  onStart?: Pending["onStart"];
  onAbort?: Pending["onAbort"];
  ready?: Pending["ready"];
}

export class DataPort {
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  readonly host: string;

  constructor(
    private readonly listener: Listener,
    host: string,
    private readonly secret: string,
    private readonly log: (line: string) => void = () => {},
  ) {
    this.host = host;
    void this.acceptLoop();
  }

  get port(): number {
    return this.listener.port;
  }

  /** A volume/points transfer is receiving or waiting to: only one at a time. */
  busyWith(kind: Pending["kind"]): boolean {
    for (const p of this.pending.values()) if (p.kind === kind) return true;
    return false;
  }

  prepare(spec: PrepareSpec): { transfer: string; settled: Promise<Record<string, unknown>> } {
    const id = crypto.randomUUID();
    let resolve!: Pending["resolve"];
    let reject!: Pending["reject"];
    const settled = new Promise<Record<string, unknown>>((res, rej) => ((resolve = res), (reject = rej)));
    settled.catch(() => {}); // a waiter may never come; the failure is reported to viewers anyway
    const p: Pending = {
      id,
      ...spec,
      settled,
      resolve,
      reject,
      started: false,
      timer: setTimeout(() => this.fail(p, new RemoteVisError("transfer_expired", `transfer ${id} was prepared but no data came within ${EXPIRE_MS / 1000} s`, 408)), EXPIRE_MS),
    };
    this.pending.set(id, p);
    return { transfer: id, settled };
  }

  /** The result of a transfer once it settles (for wait_transfer). */
  wait(id: string): Promise<Record<string, unknown>> | undefined {
    return this.pending.get(id)?.settled ?? this.finished.get(id);
  }

  /** Recently settled transfers, so a late wait_transfer still gets the answer. */
  private readonly finished = new Map<string, Promise<Record<string, unknown>>>();

  private settle(p: Pending): void {
    clearTimeout(p.timer);
    this.pending.delete(p.id);
    this.finished.set(p.id, p.settled);
    if (this.finished.size > 64) this.finished.delete(this.finished.keys().next().value!);
  }

  private fail(p: Pending, err: unknown): void {
    if (!this.pending.has(p.id)) return;
    if (p.started) p.onAbort?.();
    this.settle(p);
    p.progress?.("failed", 0, messageOf(err));
    p.reject(err);
  }

  private async acceptLoop(): Promise<void> {
    while (!this.closed) {
      let conn: Connection;
      try {
        conn = await this.listener.accept();
      } catch (err) {
        if (this.closed) return;
        this.log(`data port: accept failed: ${messageOf(err)}`);
        await Bun.sleep(100);
        continue;
      }
      if (this.conns.size >= MAX_CONNECTIONS) {
        this.log(`data port: ${MAX_CONNECTIONS} connections open already; closed a new one`);
        void conn.close().catch(() => {});
        continue;
      }
      this.conns.add(conn);
      this.accepted++;
      void this.serveConnection(conn).finally(() => {
        this.conns.delete(conn);
        conn.close().catch(() => {});
      });
    }
  }

  /** Open connections (each waits for its next transfer in a thread of its own). */
  private readonly conns = new Set<Connection>();
  private accepted = 0;

  /** Where transfers go, and connections open now and accepted since start (for get_state). */
  endpoint(): { host: string; port: number; open: number; accepted: number } {
    return { host: this.host, port: this.port, open: this.conns.size, accepted: this.accepted };
  }

  /**
   * One connection: transfers one after another until the client closes it or it stays idle for
   * IDLE_MS. Clients keep a connection for their next volume, so that its set-up (10-30 ms, a
   * UCX worker and a handshake) is not on the path of the volume's bytes. A connection that sent
   * anything wrong is dropped after its error.
   */
  private async serveConnection(conn: Connection): Promise<void> {
    let idleSince = performance.now();
    for (let served = 0; !this.closed; ) {
      let first: { header: DataHeader; size: number };
      try {
        first = await this.header(conn, Math.min(IDLE_SLICE_MS, IDLE_MS));
      } catch (err) {
        const ssc = err instanceof TransferError ? err.ssc : 0;
        // still waiting for the next transfer (a header timeout leaves the connection usable)
        if (ssc === SSC.ERR_TIMEOUT && performance.now() - idleSince < IDLE_MS) continue;
        // a kept connection closed by its client, or idle too long, is the normal end
        const quiet = ssc === SSC.ERR_PEER || ssc === SSC.ERR_TIMEOUT || ssc === SSC.ERR_CANCELLED;
        if (!quiet) this.log(`data port: ${messageOf(err)}${served ? ` (after ${served} transfers)` : ""}`);
        return;
      }
      if (!(await this.serveTransfer(conn, first))) return;
      served++;
      idleSince = performance.now();
    }
  }

  /** One transfer: the header naming a prepared transfer, then its parts in order. True when it
   *  went through (the connection may carry the next one). */
  private async serveTransfer(conn: Connection, first: { header: DataHeader; size: number }): Promise<boolean> {
    const p = this.pending.get(first.header.transfer);
    if (!p || p.started) {
      await conn.reject(SSC.ERR_REJECTED).catch(() => {});
      this.log("data port: refused a transfer id that was not prepared (or is already in use)");
      return false;
    }
    try {
      p.started = true;
      p.onStart?.();
      let next: { header: DataHeader; size: number } | undefined = first;
      let done = 0;
      const total = p.parts.reduce((n, x) => n + x.buf.byteLength, 0);
      p.progress?.("started", 0);
      for (const [i, expected] of p.parts.entries()) {
        const h = next ?? (await this.header(conn));
        next = undefined;
        if (h.header.transfer !== p.id || h.header.part !== expected.part) {
          await conn.reject(SSC.ERR_PROTOCOL);
          throw new RemoteVisError("transfer_protocol", `transfer ${p.id}: expected part ${expected.part} (#${i + 1}), got another`, 400);
        }
        if (expected.part === "pull") {
          if (h.size !== 0) {
            await conn.reject(SSC.ERR_SIZE);
            throw new RemoteVisError("transfer_protocol", "a retrieve request carries no payload", 400);
          }
          await conn.receivePayload(0);
          await conn.send(encodeHeader({ ...expected.meta, bytes: expected.buf.byteLength }), expected.buf, {
            onProgress: (n) => p.progress?.("progress", done + n),
          });
        } else {
          if (h.size !== expected.buf.byteLength) {
            await conn.reject(SSC.ERR_SIZE);
            throw new RemoteVisError("size_mismatch", `transfer ${p.id}: ${h.size} bytes sent for ${expected.part}, ${expected.buf.byteLength} were prepared`, 400);
          }
          const landed = expected.landed;
          await conn.receivePayload(h.size, {
            into: expected.buf,
            writable: expected.writable,
            // Landed bytes are taken often, so that little is left when the last one lands.
            progressMs: landed ? (expected.landedEveryMs ?? 20) : 100,
            onProgress: (n) => {
              landed?.(n);
              p.progress?.("progress", done + n);
            },
          });
        }
        done += expected.buf.byteLength;
      }
      await p.ready;
      const result = await p.finish();
      this.settle(p);
      p.progress?.("done", total);
      p.resolve(result);
      return true;
    } catch (err) {
      this.fail(p, err);
      return false;
    }
  }

  /** Receives and checks a header; a wrong secret is refused without naming what was wrong. */
  private async header(conn: Connection, timeoutMs = PART_HEADER_MS): Promise<{ header: DataHeader; size: number }> {
    const { header, size } = await conn.receiveHeader({ timeoutMs });
    let parsed: DataHeader;
    try {
      parsed = v.parse(DataHeader, decodeHeader(header));
    } catch {
      await conn.reject(SSC.ERR_PROTOCOL);
      throw new RemoteVisError("transfer_protocol", "a connection sent a header that is not a RemoteVis data header", 400);
    }
    if (!secretMatches(parsed.secret, this.secret)) {
      await conn.reject(SSC.ERR_REJECTED);
      throw new RemoteVisError("unauthenticated", "a connection sent a data header with a wrong secret", 401);
    }
    return { header: parsed, size };
  }

  /** Receive buffers for a prepared transfer: pre-faulted, huge pages where possible, any size. */
  static alloc(bytes: number): Promise<NativeBuffer> {
    return NativeBuffer.alloc(bytes);
  }

  /** The same, returned at once: its pages are faulted in, in address order, while the sender
   *  connects and sends; a part given `writable` is received behind them, and the transfer
   *  prepared with `ready` waits for all of them before it finishes. */
  static allocLater(bytes: number): { buf: NativeBuffer; ready: Promise<void>; writable: BigUint64Array } {
    const { buf, faulted, writable } = NativeBuffer.allocLater(bytes);
    faulted.catch(() => {}); // a transfer that never comes leaves nobody to wait for it
    return { buf, ready: faulted, writable };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const p of [...this.pending.values()]) this.fail(p, new RemoteVisError("instance_stopping", "the instance is stopping", 503));
    for (const c of this.conns) c.abort(); // kept connections waiting for a next transfer
    await this.listener.close();
  }
}
