/**
 * File bytes copied into the shared segment by the kernel (sendfile(2) into the memfd), for
 * data the file holds as it is (see Hdf5Dataset.plainRanges).
 *
 * Why not read(2) into the mapping: the segment is fresh shared memory, and every first write
 * through a mapping costs a page fault that allocates a page, zeroes it and adds a page-table
 * entry, one 4 KiB page at a time. A write through the file allocates the page and fills it
 * in one step: no fault, no zeroing (the page is written whole), no page table touched. That
 * is most of what a read into fresh memory costs beyond `cat` (bench/io.ts shows both).
 */
import { dlopen, ptr, read, type Pointer } from "bun:ffi";
import { RemoteVisError } from "../errors.ts";
import { corrupt } from "../formats/types.ts";

const SEEK_SET = 0;
/** errno values of a file system or file that sendfile cannot read from: use H5Dread instead. */
const UNSUPPORTED = new Set([18 /* EXDEV */, 22 /* EINVAL */, 29 /* ESPIPE */, 38 /* ENOSYS */, 95 /* EOPNOTSUPP */]);
/** sendfile moves at most this much per call (Linux). */
const MAX_PER_CALL = 0x7ffff000;

let libc:
  | {
      sendfile: (out: number, inFd: number, offset: Pointer, count: number) => number | bigint;
      lseek: (fd: number, offset: number, whence: number) => number | bigint;
      __errno_location: () => Pointer;
    }
  | undefined;

function c(): NonNullable<typeof libc> {
  libc ??= dlopen("libc.so.6", {
    sendfile: { args: ["i32", "i32", "ptr", "u64"], returns: "i64" },
    lseek: { args: ["i32", "i64", "i32"], returns: "i64" },
    __errno_location: { args: [], returns: "ptr" },
  }).symbols as never;
  return libc!;
}

const errno = () => read.i32(c().__errno_location(), 0);

/**
 * Copies `len` bytes at offset `from` of file `inFd` to offset `to` of file `outFd`. `outFd`
 * must be this process's own open of the segment (sendfile writes at the file position, which
 * a shared descriptor would share with other processes); `to + len` must lie inside it.
 * Throws code "copy_unsupported" where the file system cannot do it (the caller reads the
 * range another way; what was copied so far is simply overwritten).
 */
export function copyRange(outFd: number, to: number, inFd: number, from: number, len: number, name = "the file"): void {
  const L = c();
  if (Number(L.lseek(outFd, to, SEEK_SET)) !== to) throw new RemoteVisError("io_error", `cannot seek the shared segment to ${to} (errno ${errno()})`, 500);
  const offset = new BigInt64Array([BigInt(from)]);
  let left = len;
  while (left > 0) {
    const n = Number(L.sendfile(outFd, inFd, ptr(offset), Math.min(left, MAX_PER_CALL)));
    if (n < 0) {
      const e = errno();
      if (e === 4 /* EINTR */) continue;
      if (UNSUPPORTED.has(e)) throw new RemoteVisError("copy_unsupported", `sendfile cannot copy from ${name} (errno ${e})`, 500);
      throw new RemoteVisError(e === 12 || e === 28 ? "out_of_memory" : "io_error", `copying file data into shared memory failed (errno ${e})`, e === 12 || e === 28 ? 507 : 500);
    }
    if (n === 0) corrupt(name, `ends before byte ${Number(offset[0]) + left} (truncated)`);
    left -= n;
  }
}
