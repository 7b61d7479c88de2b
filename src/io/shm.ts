/**
 * One shared-memory segment that several processes map (MAP_SHARED) at once: an anonymous
 * memfd (memfd_create, not limited by the size of /dev/shm), or where memfd is missing a file
 * in /dev/shm that is unlinked at once. The parent maps it through `/proc/self/fd/N`; worker
 * processes get the descriptor as an extra stdio entry (fd 3) and map `/proc/self/fd/3`, so
 * no name is ever visible to other users and nothing is left behind when a process dies.
 *
 * `bytes` is the parent's mapping; a volume read into it is handed to the renderer as is (the
 * renderer borrows it), so the mapping lives as long as that Uint8Array (Bun unmaps it when it
 * is collected). `close()` only closes the descriptor; the mapping stays valid.
 */
import { dlopen } from "bun:ffi";
import { closeSync, ftruncateSync, openSync, unlinkSync } from "node:fs";
import { RemoteVisError } from "../errors.ts";

const MFD_CLOEXEC = 1;
let libc: { memfd_create: (name: Buffer, flags: number) => number } | undefined | null;

function memfdCreate(name: string): number {
  if (libc === undefined) {
    try {
      libc = dlopen("libc.so.6", { memfd_create: { args: ["ptr", "u32"], returns: "i32" } }).symbols as never;
    } catch {
      libc = null;
    }
  }
  return libc ? libc.memfd_create(Buffer.from(`${name}\0`), MFD_CLOEXEC) : -1;
}

/** The largest buffer one JS typed array can be here (JSC): larger volumes cannot be mapped whole. */
export const MAX_SEGMENT = 2 ** 32;

export class SharedSegment implements Disposable {
  readonly bytes: Uint8Array;
  private fdNum: number;

  private constructor(
    fd: number,
    readonly size: number,
  ) {
    this.fdNum = fd;
    try {
      ftruncateSync(fd, Math.max(size, 1));
      this.bytes = size === 0 ? new Uint8Array(0) : Bun.mmap(`/proc/self/fd/${fd}`, { shared: true });
    } catch (err) {
      closeSync(fd);
      throw new RemoteVisError("out_of_memory", `cannot map ${size} bytes of shared memory: ${err instanceof Error ? err.message : err}`, 507);
    }
    if (this.bytes.byteLength !== size) {
      closeSync(fd);
      throw new RemoteVisError("out_of_memory", `shared memory mapped ${this.bytes.byteLength} bytes, not ${size}`, 507);
    }
  }

  /** A fresh segment of `size` bytes (zero-filled, pages allocated when first written). */
  static create(size: number, name = "remotevis-io"): SharedSegment {
    if (!Number.isSafeInteger(size) || size < 0) throw new RemoteVisError("invalid_size", "a shared segment needs a whole number of bytes", 400);
    if (size > MAX_SEGMENT)
      throw new RemoteVisError("too_large", `${size} bytes is more than one buffer can hold here (${MAX_SEGMENT} bytes, the JavaScript engine's limit)`, 413, { bytes: size, maxBytes: MAX_SEGMENT });
    let fd = memfdCreate(name);
    if (fd < 0) {
      const path = `/dev/shm/${name}-${process.pid}-${crypto.randomUUID()}`;
      fd = openSync(path, "wx+", 0o600);
      unlinkSync(path);
    }
    return new SharedSegment(fd, size);
  }

  /** The descriptor to give worker processes (as an extra stdio entry). */
  get fd(): number {
    if (this.fdNum < 0) throw new RemoteVisError("closed", "shared segment is closed", 500);
    return this.fdNum;
  }

  /** Closes the descriptor; the parent's mapping (`bytes`) stays valid. Idempotent. */
  close(): void {
    if (this.fdNum >= 0) {
      closeSync(this.fdNum);
      this.fdNum = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** In a worker process: the segment passed as fd `fd` (default 3), mapped shared. */
export function mapInherited(fd = 3): Uint8Array {
  return Bun.mmap(`/proc/self/fd/${fd}`, { shared: true });
}
