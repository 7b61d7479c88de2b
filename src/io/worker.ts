/**
 * The worker process of SSC-IO (`remotevis io-worker`, started by pool.ts, never by people).
 * HDF5 is not thread-safe, so parallelism is processes: each worker maps the parent's shared
 * segment (fd 3, MAP_SHARED) and runs jobs sent as JSON lines on stdin, answering each with
 * one JSON line on stdout (`{id, ok: true}` or `{id, error: {code, message, status}}`):
 *
 *   {op: "read", file, dataset, z0, z1, at, via?}  planes [z0, z1) of the dataset into the
 *                                                 segment at byte `at`: data stored plainly is
 *                                                 copied by the kernel (kernel-copy.ts), the
 *                                                 rest read by libhdf5 (one hyperslab) into the
 *                                                 mapping; via "h5dread" forces the latter.
 *                                                 The answer says which: {id, ok, via}
 *   {op: "pwrite", file, ranges: [[at, len, off]]}  segment bytes [at, at+len) to file offset
 *                                                 `off` (raw data of a preallocated dataset)
 *   {op: "pwrite", file, gather: {shape, item, chunk, chunks: [[z, y, x, off]]}}
 *                                                 each chunk gathered from the (C-order)
 *                                                 segment and written whole at `off`
 *   {op: "part", file, dataset, shape, dtype, chunks?, gzip?, z0, z1, at, spacing?}
 *                                                 a new HDF5 file holding planes [z0, z1)
 *
 * Open files are kept between jobs of the same file. The worker ends when stdin closes.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { RemoteVisError, messageOf } from "../errors.ts";
import { Hdf5File, type Hdf5Dataset } from "../formats/hdf5.ts";
import { openError } from "../formats/io.ts";
import type { Dtype, Vec3 } from "../formats/types.ts";
import { Hdf5Writer, gatherChunk } from "./hdf5-write.ts";
import { copyRange } from "./kernel-copy.ts";
import { PARTS_ENV } from "./pool.ts";
import { mapInherited } from "./shm.ts";

type Job =
  | { id: number; op: "read"; file: string; dataset: string; z0: number; z1: number; at: number; via?: ReadVia }
  | { id: number; op: "pwrite"; file: string; ranges?: [number, number, number][]; gather?: { shape: Vec3; item: number; chunk: Vec3; chunks: [number, number, number, number][] } }
  | { id: number; op: "part"; file: string; dataset: string; shape: Vec3; dtype: Dtype; chunks?: Vec3; gzip?: number; z0: number; z1: number; at: number; spacing?: Vec3 };

/** "auto": the kernel copies what the file stores plainly, libhdf5 reads the rest; "h5dread": libhdf5 reads everything. */
export type ReadVia = "auto" | "h5dread";

export async function runIoWorker(): Promise<number> {
  const { bytes: seg, parts } = mapInherited(Math.max(1, Number(process.env[PARTS_ENV]) || 1));
  // this process's own opens of the segment's files: sendfile writes at the file position,
  // which an inherited descriptor shares with the parent and every other worker
  const partFiles: (number | undefined)[] = [];
  /** Copies file bytes [off, off+len) to segment offset `at`, part by part. */
  const copyIn = (at: number, len: number, inFd: number, off: number, name: string) => {
    for (const [i, p] of parts.entries()) {
      const lo = Math.max(at, p.start);
      const hi = Math.min(at + len, p.start + p.size);
      if (lo >= hi) continue;
      const out = (partFiles[i] ??= openSync(`/proc/self/fd/${p.fd}`, "r+"));
      copyRange(out, lo - p.start, inFd, off + (lo - at), hi - lo, name);
    }
  };
  const readers = new Map<string, { file: Hdf5File; ds: Hdf5Dataset; fd?: number; noCopy?: boolean }>();
  const writers = new Map<string, number>();
  const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");

  const run = (j: Job): string | undefined => {
    switch (j.op) {
      case "read": {
        const key = `${j.file}\0${j.dataset}`;
        let r = readers.get(key);
        if (!r) {
          const file = Hdf5File.open(j.file);
          try {
            r = { file, ds: file.dataset(j.dataset) };
          } catch (e) {
            file.close();
            throw e;
          }
          readers.set(key, r);
        }
        const n = (j.z1 - j.z0) * r.ds.bytesPerPlane;
        const ranges = j.via === "h5dread" || r.noCopy ? undefined : r.ds.plainRanges(j.z0, j.z1);
        if (ranges && r.fd === undefined) {
          r.fd = r.file.descriptor();
          r.noCopy = r.fd === undefined; // not libhdf5's default driver: H5Dread
        }
        if (ranges && !r.noCopy) {
          try {
            for (const [at, len, off] of ranges) {
              if (at < 0 || at + len > n || j.at + n > seg.byteLength) throw new RemoteVisError("io_error", "a data range lies outside its slab", 500);
              copyIn(j.at + at, len, r.fd!, off, r.file.name);
            }
            return "kernel";
          } catch (e) {
            if (!(e instanceof RemoteVisError && e.code === "copy_unsupported")) throw e;
            r.noCopy = true; // this file system: H5Dread from now on (it rewrites the whole slab)
          }
        }
        r.ds.readInto(seg.subarray(j.at, j.at + n), j.z0, j.z1);
        return "h5dread";
      }
      case "pwrite": {
        let fd = writers.get(j.file);
        if (fd === undefined) {
          try {
            fd = openSync(j.file, "r+");
          } catch (e) {
            throw openError(j.file, e);
          }
          writers.set(j.file, fd);
        }
        for (const [at, len, off] of j.ranges ?? []) writeAll(fd, seg.subarray(at, at + len), off);
        if (j.gather) {
          const { shape, item, chunk, chunks } = j.gather;
          const buf = new Uint8Array(chunk[0] * chunk[1] * chunk[2] * item);
          for (const [z, y, x, off] of chunks) {
            gatherChunk(seg, shape, item, [z, y, x], chunk, buf);
            writeAll(fd, buf, off);
          }
        }
        return;
      }
      case "part": {
        using w = Hdf5Writer.create({ path: j.file, dataset: j.dataset, shape: [j.z1 - j.z0, j.shape[1], j.shape[2]], dtype: j.dtype, chunks: j.chunks, gzip: j.gzip, spacing: j.spacing });
        const n = (j.z1 - j.z0) * w.bytesPerPlane;
        w.write(seg.subarray(j.at, j.at + n));
        return;
      }
    }
  };

  let buffered = "";
  for await (const chunk of Bun.stdin.stream().pipeThrough(new TextDecoderStream())) {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.trim()) continue;
      let id = -1;
      try {
        const j = JSON.parse(line) as Job;
        id = j.id;
        const via = run(j);
        out({ id, ok: true, ...(via ? { via } : {}) });
      } catch (err) {
        const e = err instanceof RemoteVisError ? err : new RemoteVisError("io_error", messageOf(err), 500);
        out({ id, error: { code: e.code, message: e.message, status: e.status } });
      }
    }
  }
  for (const r of readers.values()) (r.ds.close(), r.file.close());
  for (const fd of writers.values()) closeSync(fd);
  for (const fd of partFiles) if (fd !== undefined) closeSync(fd);
  return 0;
}

function writeAll(fd: number, buf: Uint8Array, offset: number): void {
  let done = 0;
  while (done < buf.byteLength) {
    const n = writeSync(fd, buf, done, Math.min(buf.byteLength - done, 1 << 30), offset + done);
    if (n <= 0) throw new RemoteVisError("write_failed", "short write", 500);
    done += n;
  }
}
