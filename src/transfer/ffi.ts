/**
 * The native symbols of libsscrdma (ffi/libsscrdma/include/ssc_rdma.h is the manual).
 * The .so is embedded in the compiled executable (`type: "file"`), and opened lazily on first
 * use so that commands that never transfer (serve, --help) do not need UCX at all.
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi";
import libPath from "../../ffi/libsscrdma/build/libsscrdma.so" with { type: "file" };
import { RemoteVisError } from "../errors.ts";

const { ptr: P, i32, u16, u32, u64, cstring, void: v } = FFIType;

const symbols = {
  ssc_version: { args: [], returns: cstring },
  ssc_strerror: { args: [i32], returns: cstring },
  ssc_context_create: { args: [P], returns: i32 },
  ssc_context_destroy: { args: [P], returns: v },
  ssc_listen: { args: [P, cstring, u16, P], returns: i32 },
  ssc_listener_port: { args: [P], returns: i32 },
  ssc_accept: { args: [P, i32, P], returns: i32 },
  ssc_listener_close: { args: [P], returns: v },
  ssc_connect: { args: [P, cstring, u16, i32, P], returns: i32 },
  ssc_conn_close: { args: [P], returns: v },
  ssc_send_ex: { args: [P, P, P, u64, P], returns: i32 },
  ssc_receive_ex: { args: [P, P, P, u64, P], returns: i32 },
  ssc_receive_header: { args: [P, P, P, P], returns: i32 },
  ssc_receive_payload: { args: [P, P, u64, P], returns: i32 },
  ssc_reject: { args: [P, i32], returns: i32 },
  ssc_alloc: { args: [u64, P], returns: i32 },
  ssc_context_keep_workers: { args: [P, u32], returns: i32 },
  ssc_alloc_lazy: { args: [u64, P], returns: i32 },
  ssc_prefault: { args: [P, u64], returns: i32 },
  ssc_prefault_ex: { args: [P, u64, P], returns: i32 },
  ssc_free: { args: [P, u64], returns: v },
  ssc_crc32c: { args: [u32, P, u64], returns: u32 },
} as const;

export type SscLib = ReturnType<typeof dlopen<typeof symbols>>["symbols"];

let lib: SscLib | undefined;

/** Opens libsscrdma once per thread (main thread and each transfer Worker). */
export function ssc(): SscLib {
  if (!lib) {
    try {
      lib = dlopen(libPath, symbols).symbols;
    } catch (err) {
      throw new RemoteVisError(
        "transfer_unavailable",
        `cannot load libsscrdma (is UCX installed? Debian: apt-get install libucx0): ${err instanceof Error ? err.message : err}`,
        500,
      );
    }
  }
  return lib;
}

/** Error codes of ssc_rdma.h, by name, for callers that react to one in particular. */
export const SSC = {
  OK: 0,
  ERR_INVALID: -1,
  ERR_NOMEM: -2,
  ERR_UCX: -3,
  ERR_TIMEOUT: -4,
  ERR_PEER: -5,
  ERR_REFUSED: -6,
  ERR_ADDRESS: -7,
  ERR_SIZE: -8,
  ERR_HEADER: -9,
  ERR_PROTOCOL: -10,
  ERR_CHECKSUM: -11,
  ERR_CANCELLED: -12,
  ERR_REJECTED: -13,
} as const;

export const SSC_HEADER_SIZE = 128 * 1024;
export const SSC_F_CHECKSUM = 1;

const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(SSC).map(([k, n]) => [n, k.replace(/^ERR_/, "").toLowerCase()]),
);

/** A failed libsscrdma call as the project's one error type. */
export class TransferError extends RemoteVisError {
  constructor(
    readonly ssc: number,
    what: string,
  ) {
    super(`transfer_${CODE_NAMES[ssc] ?? "error"}`, `${what}: ${sscMessage(ssc)}`, 502, { ssc });
    this.name = "TransferError";
  }
}

export function sscMessage(code: number): string {
  return String(ssc().ssc_strerror(code));
}

/** Pointer values cross Worker boundaries as plain numbers (user-space addresses fit in 53 bits). */
export type Addr = number;
export const asPtr = (a: Addr): Pointer => a as Pointer;
