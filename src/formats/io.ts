/**
 * Small file helpers shared by the readers: positioned reads straight into the result buffer
 * (one copy from the page cache, no intermediate buffers), and clear errors for missing files.
 */
import { type Stats, closeSync, fstatSync, openSync, readSync, statSync } from "node:fs";
import { RemoteVisError } from "../errors.ts";
import { baseName, corrupt, fail } from "./types.ts";

export class FileReader implements Disposable {
  readonly size: number;
  readonly name: string;
  private fd: number;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.fd = fd;
    this.name = baseName(path);
    const st = fstatSync(fd);
    if (st.isDirectory()) {
      closeSync(fd);
      fail("is_directory", `${this.name} is a folder, not a file`);
    }
    this.size = st.size;
  }

  static open(path: string): FileReader {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      throw openError(path, err);
    }
    return new FileReader(path, fd);
  }

  /** Fills `into` from `offset`; a short file is reported as truncated with `what` in the message. */
  readInto(offset: number, into: Uint8Array, what = "data"): void {
    if (offset + into.length > this.size) {
      corrupt(this.name, `file is truncated: ${what} needs bytes ${offset}..${offset + into.length} but the file has ${this.size}`);
    }
    let done = 0;
    while (done < into.length) {
      const n = readSync(this.fd, into, done, Math.min(into.length - done, 1 << 30), offset + done);
      if (n <= 0) corrupt(this.name, `file is truncated: ${what} ended after ${done} of ${into.length} bytes`);
      done += n;
    }
  }

  /** Up to `length` bytes from `offset` (fewer at the end of the file). */
  read(offset: number, length: number): Uint8Array {
    const n = Math.max(0, Math.min(length, this.size - offset));
    const buf = new Uint8Array(n);
    if (n > 0) this.readInto(offset, buf);
    return buf;
  }

  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd);
      this.fd = -1;
    }
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export function openError(path: string, err: unknown): RemoteVisError {
  const code = (err as { code?: string }).code;
  const name = baseName(path);
  if (code === "EACCES" || code === "EPERM") return new RemoteVisError("permission_denied", `${name}: permission denied`, 403);
  if (code === "ENOENT" || code === "ENOTDIR") return new RemoteVisError("not_found", `${name}: no such file`, 404);
  return new RemoteVisError("io_error", `${name}: cannot open (${code ?? "unknown error"})`);
}

/** stat that throws the same clear errors as FileReader.open. */
export function statFile(path: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    throw openError(path, err);
  }
}

/** Bytes of the whole file, refusing files above `maxBytes`. */
export function readWhole(path: string, maxBytes: number): Uint8Array {
  using f = FileReader.open(path);
  if (f.size > maxBytes) fail("too_large", `${f.name}: file has ${f.size} bytes, more than the limit of ${maxBytes}`);
  const buf = new Uint8Array(f.size);
  f.readInto(0, buf);
  return buf;
}
