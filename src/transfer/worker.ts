/**
 * Runs the blocking libsscrdma calls off the event loop. One Worker serves one Listener or one
 * Connection, so a long ssc_send never freezes the server that issued it. Requests are
 * `{id, op, args}`; replies `{id, value}` or `{id, code}` with a negative ssc error code.
 * Pointers travel as numbers; buffers stay owned (and kept alive) by the main thread.
 */
import { ptr } from "bun:ffi";
import { OpFailed, serveOps } from "../process/worker-rpc.ts";
import { asPtr, ssc, type Addr } from "./ffi.ts";

export interface CallOpts {
  flags: number;
  timeoutMs: number;
  progress: Addr; // uint64_t* in a SharedArrayBuffer, or 0
  cancel: Addr; // int32_t* in a SharedArrayBuffer, or 0
  writable: Addr; // const uint64_t* in a SharedArrayBuffer (receiving side), or 0
}

const lib = ssc();

function check(rc: number): void {
  if (rc < 0) throw new OpFailed(rc);
}

/** struct ssc_opts, laid out as in ssc_rdma.h (x86-64 / aarch64 LP64). */
function optsStruct(o: CallOpts): Uint8Array {
  const buf = new Uint8Array(48);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, o.flags, true);
  dv.setInt32(4, o.timeoutMs, true);
  dv.setBigUint64(8, 0n, true); // chunk_bytes: library default
  dv.setUint32(16, 0, true); // window: library default
  dv.setBigUint64(24, BigInt(o.progress), true);
  dv.setBigUint64(32, BigInt(o.cancel), true);
  dv.setBigUint64(40, BigInt(o.writable), true);
  return buf;
}

function outPtr(): [BigUint64Array, () => Addr] {
  const out = new BigUint64Array(1);
  return [out, () => Number(out[0])];
}

const ops = {
  listen(ctx: Addr, bind: string, port: number) {
    const [out, get] = outPtr();
    check(lib.ssc_listen(asPtr(ctx), Buffer.from(bind + "\0"), port, ptr(out)));
    const l = get();
    const bound = lib.ssc_listener_port(asPtr(l));
    check(bound);
    return { listener: l, port: bound };
  },
  accept(listener: Addr, timeoutMs: number) {
    const [out, get] = outPtr();
    check(lib.ssc_accept(asPtr(listener), timeoutMs, ptr(out)));
    return get();
  },
  connect(ctx: Addr, host: string, port: number, timeoutMs: number) {
    const [out, get] = outPtr();
    check(lib.ssc_connect(asPtr(ctx), Buffer.from(host + "\0"), port, timeoutMs, ptr(out)));
    return get();
  },
  send(conn: Addr, header: Addr, data: Addr, size: number, o: CallOpts) {
    const opts = optsStruct(o);
    check(lib.ssc_send_ex(asPtr(conn), asPtr(header), asPtr(data), size, ptr(opts)));
  },
  receiveHeader(conn: Addr, header: Addr, o: CallOpts) {
    const [out, get] = outPtr();
    const opts = optsStruct(o);
    check(lib.ssc_receive_header(asPtr(conn), asPtr(header), ptr(out), ptr(opts)));
    return get();
  },
  receivePayload(conn: Addr, data: Addr, size: number, o: CallOpts) {
    const opts = optsStruct(o);
    check(lib.ssc_receive_payload(asPtr(conn), asPtr(data), size, ptr(opts)));
  },
  reject(conn: Addr, reason: number) {
    check(lib.ssc_reject(asPtr(conn), reason));
  },
  alloc(size: number) {
    const [out, get] = outPtr();
    check(lib.ssc_alloc(size, ptr(out)));
    return get();
  },
  /** Faults the pages in, in address order, publishing the faulted prefix into `ready`. */
  prefault(addr: Addr, size: number, ready: Addr) {
    check(lib.ssc_prefault_ex(asPtr(addr), size, ready ? asPtr(ready) : null));
  },
  closeConn(conn: Addr) {
    lib.ssc_conn_close(asPtr(conn));
  },
  closeListener(listener: Addr) {
    lib.ssc_listener_close(asPtr(listener));
  },
};

serveOps(ops);
