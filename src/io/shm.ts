/**
 * One shared-memory segment that several processes map (MAP_SHARED) at once: anonymous
 * memfds (memfd_create, not limited by the size of /dev/shm), or where memfd is missing files
 * in /dev/shm that are unlinked at once. The parent maps them through `/proc/self/fd/N`;
 * worker processes get the descriptors as extra stdio entries (fd 3, 4, ...) and map
 * `/proc/self/fd/3...`, so no name is ever visible to other users and nothing is left behind
 * when a process dies.
 *
 * A segment may be made of several files ("parts", split at given byte offsets) mapped one
 * after the other into one address range: the kernel serializes writes to one file (its
 * inode lock), so workers that write their slabs through the file (kernel-copy.ts) each need
 * their own. A one-part segment is one file mapped whole.
 *
 * `bytes` is the parent's mapping; a volume read into it is handed to the renderer as is (the
 * renderer borrows it), so the mapping lives as long as that Uint8Array (it is unmapped when
 * the array is collected). `close()` only closes the descriptors; the mapping stays valid.
 */
import { dlopen, toArrayBuffer, type Pointer } from "bun:ffi";
import { closeSync, fstatSync, ftruncateSync, openSync, unlinkSync } from "node:fs";
import { RemoteVisError } from "../errors.ts";

const MFD_CLOEXEC = 1;
const PROT_NONE = 0;
const PROT_RW = 3;
const MAP_SHARED = 1;
const MAP_PRIVATE = 2;
const MAP_FIXED = 0x10;
const MAP_ANONYMOUS = 0x20;
const MAP_NORESERVE = 0x4000;
/** Parts start at multiples of this (a multiple of every page size, huge pages included). */
export const PART_ALIGN = 2 * 2 ** 20;
/** More parts than this are merged (descriptors per process). */
export const MAX_PARTS = 128;

type Libc = {
  memfd_create: (name: Buffer, flags: number) => number;
  mmap: (addr: Pointer | null, len: number, prot: number, flags: number, fd: number, off: number) => Pointer | null;
  munmap: ((addr: Pointer, len: number) => number) & { ptr: number };
};
let libc: Libc | undefined | null;

function c(): Libc | null {
  if (libc === undefined) {
    try {
      libc = dlopen("libc.so.6", {
        memfd_create: { args: ["ptr", "u32"], returns: "i32" },
        mmap: { args: ["ptr", "u64", "i32", "i32", "i32", "i64"], returns: "ptr" },
        munmap: { args: ["ptr", "u64"], returns: "i32" },
      }).symbols as never;
    } catch {
      libc = null;
    }
  }
  return libc;
}

function memfdCreate(name: string): number {
  const L = c();
  return L ? L.memfd_create(Buffer.from(`${name}\0`), MFD_CLOEXEC) : -1;
}

function newFile(name: string): number {
  let fd = memfdCreate(name);
  if (fd < 0) {
    const path = `/dev/shm/${name}-${process.pid}-${crypto.randomUUID()}`;
    fd = openSync(path, "wx+", 0o600);
    unlinkSync(path);
  }
  return fd;
}

/** bun:ffi's toArrayBuffer with its (untyped) deallocator arguments: free(bytes, context). */
const toArrayBufferOwned = toArrayBuffer as unknown as (p: Pointer, off: number, len: number, context: number, free: number) => ArrayBuffer;
const failed = (p: Pointer | null) => !p || Number(p) >= 2 ** 63; // NULL or MAP_FAILED

/** Maps files of `sizes` bytes one after the other into one address range (all but the last a multiple of PART_ALIGN). */
function mapContiguous(fds: number[], sizes: number[]): Uint8Array {
  const total = sizes.reduce((a, b) => a + b, 0);
  if (fds.length === 1) return Bun.mmap(`/proc/self/fd/${fds[0]}`, { shared: true });
  const L = c();
  if (!L) throw new Error("mmap is not available (libc)");
  // reserve the whole range, then put each file over its place in it
  const len = Math.ceil(total / PART_ALIGN) * PART_ALIGN;
  const base = L.mmap(null, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (failed(base)) throw new Error(`cannot reserve ${len} bytes of address space`);
  let at = 0;
  for (let i = 0; i < fds.length; i++) {
    const p = L.mmap((Number(base) + at) as Pointer, sizes[i]!, PROT_RW, MAP_SHARED | MAP_FIXED, fds[i]!, 0);
    if (failed(p)) {
      L.munmap(base!, len);
      throw new Error(`cannot map part ${i} of a shared segment`);
    }
    at += sizes[i]!;
  }
  // JSC calls the deallocator as free(bytes, context): munmap(addr, len) has that ABI with
  // context = len; the whole range goes when the array is collected
  return new Uint8Array(toArrayBufferOwned(base!, 0, total, len, L.munmap.ptr));
}

/** The largest buffer one JS typed array can be here (JSC): larger volumes cannot be mapped whole. */
export const MAX_SEGMENT = 2 ** 32;

export interface Part {
  fd: number;
  /** Byte offset of the part in the segment. */
  start: number;
  size: number;
}

export class SharedSegment implements Disposable {
  readonly bytes: Uint8Array;
  private parts_: Part[];

  private constructor(
    parts: Part[],
    readonly size: number,
  ) {
    this.parts_ = parts;
    const fds = parts.map((p) => p.fd);
    try {
      for (const p of parts) ftruncateSync(p.fd, Math.max(p.size, 1));
      this.bytes = size === 0 ? new Uint8Array(0) : mapContiguous(fds, parts.map((p) => p.size));
    } catch (err) {
      for (const fd of fds) closeSync(fd);
      throw new RemoteVisError("out_of_memory", `cannot map ${size} bytes of shared memory: ${err instanceof Error ? err.message : err}`, 507);
    }
    if (this.bytes.byteLength !== size) {
      for (const fd of fds) closeSync(fd);
      throw new RemoteVisError("out_of_memory", `shared memory mapped ${this.bytes.byteLength} bytes, not ${size}`, 507);
    }
  }

  /**
   * A fresh segment of `size` bytes (zero-filled, pages allocated when first written). With
   * `splitAt`, one file per piece between those byte offsets (rounded down to PART_ALIGN; at
   * most MAX_PARTS, neighbours merged beyond).
   */
  static create(size: number, name = "remotevis-io", o: { splitAt?: number[] } = {}): SharedSegment {
    if (!Number.isSafeInteger(size) || size < 0) throw new RemoteVisError("invalid_size", "a shared segment needs a whole number of bytes", 400);
    if (size > MAX_SEGMENT)
      throw new RemoteVisError("too_large", `${size} bytes is more than one buffer can hold here (${MAX_SEGMENT} bytes, the JavaScript engine's limit)`, 413, { bytes: size, maxBytes: MAX_SEGMENT });
    let starts = [...new Set((o.splitAt ?? []).map((b) => Math.floor(b / PART_ALIGN) * PART_ALIGN))].filter((b) => b > 0 && b < size).sort((a, b) => a - b);
    if (!c()) starts = []; // no mmap to put parts together: one file
    if (starts.length + 1 > MAX_PARTS) {
      const every = Math.ceil((starts.length + 1) / MAX_PARTS);
      starts = starts.filter((_, i) => (i + 1) % every === 0);
    }
    const bounds = [0, ...starts, size];
    const parts: Part[] = [];
    try {
      for (let i = 0; i + 1 < bounds.length; i++) parts.push({ fd: newFile(name), start: bounds[i]!, size: bounds[i + 1]! - bounds[i]! });
    } catch (err) {
      for (const p of parts) closeSync(p.fd);
      throw err;
    }
    return new SharedSegment(parts, size);
  }

  /** The parts in order (their descriptors go to worker processes as extra stdio entries). */
  get parts(): readonly Part[] {
    if (this.parts_.length === 0) throw new RemoteVisError("closed", "shared segment is closed", 500);
    return this.parts_;
  }

  /** Closes the descriptors; the parent's mapping (`bytes`) stays valid. Idempotent. */
  close(): void {
    for (const p of this.parts_) closeSync(p.fd);
    this.parts_ = [];
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/**
 * In a worker process: the segment passed as `count` descriptors from `first` (default 3), its
 * parts (sizes from the files) and their contiguous mapping.
 */
export function mapInherited(count = 1, first = 3): { bytes: Uint8Array; parts: Part[] } {
  const parts: Part[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const size = fstatSync(first + i).size;
    parts.push({ fd: first + i, start, size });
    start += size;
  }
  return { bytes: mapContiguous(parts.map((p) => p.fd), parts.map((p) => p.size)), parts };
}
