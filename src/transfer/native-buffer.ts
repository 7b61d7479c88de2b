/**
 * Bytes addressed by pointer, for volumes larger than one JavaScript buffer can be. JSC caps an
 * ArrayBuffer at 4 GiB, while a beamline volume is often 8-100 GiB: such a volume is received
 * into a NativeBuffer, borrowed by the renderer from it and sent from one, and JavaScript code
 * reads it only through views of at most 2 GiB.
 *
 *   const buf = await NativeBuffer.alloc(9 * 2 ** 30);    // pre-faulted, huge pages
 *   buf.view(offset, length).fill(7);                     // a window, <= 2 GiB
 *   await conn.receivePayload(buf.byteLength, { into: buf });
 *
 * Memory: up to 4 GiB it is an ordinary external ArrayBuffer that the garbage collector frees
 * (and counts, so it collects in time); above, the buffer is freed when the NativeBuffer object
 * is collected or at free(). A view keeps its NativeBuffer alive.
 */
import { ptr, toArrayBuffer } from "bun:ffi";
import { RemoteVisError } from "../errors.ts";
import type { WorkerRpc } from "../process/worker-rpc.ts";
import { ssc, TransferError, type Addr } from "./ffi.ts";
import { newTransferThread } from "./thread.ts";

/** The largest ArrayBuffer JSC makes (measured with Bun 1.4: 2^32 bytes works, 2^32 + 1 not). */
export const MAX_JS_BUFFER = 2 ** 32;
/** Views are kept below what every JS and Node API takes as a length. */
export const MAX_VIEW = 2 ** 31;

/** bun:ffi's toArrayBuffer with its (untyped) deallocator arguments: free(bytes, context). */
const toArrayBufferOwned = toArrayBuffer as unknown as (p: Addr, off: number, len: number, context: number, free: number) => ArrayBuffer;

const released = new FinalizationRegistry<() => void>((release) => release());
/** ArrayBuffers of views -> the NativeBuffer they look into (keeps it alive while they live). */
const owners = new WeakMap<ArrayBuffer, NativeBuffer>();

/** The worker that allocates buffers (NativeBuffer.alloc); idle, it keeps no process alive. */
let allocator: WorkerRpc | undefined;

export class NativeBuffer {
  private freed = false;

  private constructor(
    readonly ptr: Addr,
    readonly byteLength: number,
    /** The JS buffer holding the memory (up to 4 GiB), else undefined. */
    private readonly array_: Uint8Array | undefined,
    private readonly release?: () => void,
  ) {
    if (release) released.register(this, release, this);
  }

  /** The bytes of a JS array, in place (no copy; the array stays alive with this). */
  static wrap(a: ArrayBufferView): NativeBuffer {
    const u8 = new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
    return new NativeBuffer(u8.byteLength ? ptr(u8) : 0, u8.byteLength, u8);
  }

  /** Starts the allocating worker ahead of the first alloc (an instance does it at start). */
  static allocator(): WorkerRpc {
    return (allocator ??= newTransferThread());
  }

  /**
   * Page-aligned, zero-filled memory from libsscrdma (ssc_alloc: huge pages where possible), its
   * pages faulted in ahead of use (first writes into fresh pages cap a receive at ~2 GB/s).
   * `native` (or the environment REMOTEVIS_NATIVE_ABOVE=BYTES, which lowers the 4 GiB
   * threshold, for tests of a whole instance) gives the above-4-GiB kind at any size.
   */
  static async alloc(bytes: number, o: { native?: boolean } = {}): Promise<NativeBuffer> {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RemoteVisError("invalid_size", `cannot allocate ${bytes} bytes`);
    if (bytes === 0) return NativeBuffer.wrap(new Uint8Array(0));
    // Pre-faulting many GiB takes a while: off the event loop, on one worker kept for it (starting
    // a worker costs 10-20 ms, which a volume's first frame would wait for).
    const addr = await NativeBuffer.allocator().call<Addr>("allocate a buffer", "alloc", [bytes]);
    return NativeBuffer.adopt(addr, bytes, o);
  }

  /**
   * alloc() in two steps: the buffer at once (mapped, not yet faulted in) and `faulted`, which
   * resolves once its pages are in. Until then only bytes [0, writable[0]) may be written: the
   * pages are faulted in address order (ssc_prefault_ex), and a receive given `writable`
   * (ProgressOpts.writable) runs behind them instead of waiting for all of them.
   */
  static allocLater(bytes: number): { buf: NativeBuffer; faulted: Promise<void>; writable: BigUint64Array } {
    if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new RemoteVisError("invalid_size", `cannot allocate ${bytes} bytes`);
    const out = new BigUint64Array(1);
    const rc = ssc().ssc_alloc_lazy(bytes, ptr(out));
    if (rc < 0) throw new TransferError(rc, `allocate ${bytes} bytes`);
    const addr: Addr = Number(out[0]);
    const buf = NativeBuffer.adopt(addr, bytes, {});
    const writable = new BigUint64Array(new SharedArrayBuffer(8));
    const faulted = NativeBuffer.allocator().call<void>("pre-fault a buffer", "prefault", [addr, bytes, ptr(writable)], [buf, writable]);
    return { buf, faulted, writable };
  }

  /** A NativeBuffer owning memory from ssc_alloc (freed with ssc_free). */
  private static adopt(addr: Addr, bytes: number, o: { native?: boolean }): NativeBuffer {
    const sscFree = (ssc().ssc_free as unknown as { ptr: number }).ptr;
    const above = Number(process.env.REMOTEVIS_NATIVE_ABOVE ?? MAX_JS_BUFFER);
    if (bytes <= Math.min(MAX_JS_BUFFER, Number.isFinite(above) ? above : MAX_JS_BUFFER) && !o.native) {
      // JSC calls the deallocator as free(bytes, context): ssc_free(ptr, size) has that ABI with
      // context = size, which is why the size rides in the context pointer.
      return new NativeBuffer(addr, bytes, new Uint8Array(toArrayBufferOwned(addr, 0, bytes, bytes, sscFree)));
    }
    return new NativeBuffer(addr, bytes, undefined, () => ssc().ssc_free(addr as never, bytes));
  }

  /** The whole buffer as one JS array, for code that needs it whole (at most 4 GiB). */
  array(): Uint8Array {
    if (this.array_) return this.array_;
    if (this.byteLength > MAX_JS_BUFFER)
      throw new RemoteVisError("too_large", `this needs the whole volume in one JavaScript buffer, which holds at most 4 GiB; the volume has ${this.byteLength} bytes`, 413);
    return this.view(0, this.byteLength, MAX_JS_BUFFER);
  }

  /** A window into the bytes (no copy), at most 2 GiB. */
  view(offset = 0, length = this.byteLength - offset, max = MAX_VIEW): Uint8Array {
    this.check();
    if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0 && offset + length <= this.byteLength))
      throw new RemoteVisError("out_of_range", `view [${offset}, ${offset + length}) of a buffer of ${this.byteLength} bytes`);
    if (length > max) throw new RemoteVisError("too_large", `a view of ${length} bytes; views are at most ${max} bytes, read the buffer in parts`);
    if (this.array_) return this.array_.subarray(offset, offset + length);
    if (length === 0) return new Uint8Array(0);
    const ab = toArrayBuffer(this.ptr + offset, 0, length);
    owners.set(ab, this);
    return new Uint8Array(ab);
  }

  /** Copies `src` in at `offset`, in parts (any size). */
  set(src: NativeBuffer | Uint8Array, offset = 0): void {
    const n = src.byteLength;
    for (let done = 0; done < n; done += MAX_VIEW) {
      const len = Math.min(MAX_VIEW, n - done);
      const part = src instanceof NativeBuffer ? src.view(done, len) : src.subarray(done, done + len);
      this.view(offset + done, len).set(part);
    }
  }

  /**
   * Frees memory above 4 GiB now instead of at collection (views must not be used after; the
   * renderer must not borrow it any more). Memory held by a JS buffer is left to the collector.
   */
  free(): void {
    if (this.freed || !this.release) return;
    this.freed = true;
    released.unregister(this);
    this.release();
  }

  private check(): void {
    if (this.freed) throw new RemoteVisError("freed", "this buffer was freed", 500);
  }
}

/** The address of bytes for a C call (0 for none). */
export function addressOf(b: Uint8Array | NativeBuffer): Addr {
  if (b instanceof NativeBuffer) return b.ptr;
  return b.byteLength === 0 ? 0 : ptr(b);
}

/** Bytes of a volume as the instance passes them around: a JS array or native memory. */
export type VolumeBytes = Uint8Array | NativeBuffer;

/** The same bytes as a NativeBuffer (a JS array is wrapped in place, no copy). */
export function asNative(b: ArrayBufferView | NativeBuffer): NativeBuffer {
  return b instanceof NativeBuffer ? b : NativeBuffer.wrap(b);
}
