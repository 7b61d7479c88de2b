import { RemoteVisError } from "../errors.ts";
import { SSC } from "../transfer/ffi.ts";
import { decodeHeader } from "../transfer/header.ts";
import { closeSync, openSync, writeSync } from "node:fs";
import { MAX_VIEW, NativeBuffer } from "../transfer/native-buffer.ts";
import { findPatternMismatch } from "../transfer/pattern.ts";
import { keepSpareTransferThread, Listener } from "../transfer/transfer.ts";
import { flag, formatBytes, parseBytes, str, type Command } from "./command.ts";
import { emit } from "./output.ts";
import { ProgressBar } from "./progress.ts";

/** Writes native memory to a file in windows (any size). */
async function writeNative(path: string, data: NativeBuffer): Promise<void> {
  const fd = openSync(path, "w", 0o644);
  try {
    for (let off = 0; off < data.byteLength; ) off += writeSync(fd, data.view(off, Math.min(MAX_VIEW, data.byteLength - off)), 0, undefined, off);
  } finally {
    closeSync(fd);
  }
}

export const receive: Command = {
  name: "receive",
  summary: "wait for 'remotevis client send' and write what arrives to a file",
  usage: "receive --port P --out FILE|-",
  description: `
Listens on --port (0 picks a free one and prints it), accepts --count transfers one after the
other and writes each payload to --out. With '--out -' the payload is checked against the test
pattern of 'client send -' instead of being written. A transfer that fails (peer gone, size
differs from --size, bad checksum) is reported and the receiver waits for the next one.`,
  options: {
    port: { type: "string", short: "p", value: "PORT", help: "port to listen on (0 = any free port)", default: "13337" },
    bind: { type: "string", value: "ADDR", help: "address to listen on", default: "0.0.0.0" },
    out: { type: "string", short: "o", value: "FILE|-", help: "where to write the payload ('-' = verify the test pattern)" },
    size: { type: "string", value: "BYTES", help: "the agreed size: its buffer is ready before the port opens; another size is refused before any byte lands" },
    count: { type: "string", short: "n", value: "N", help: "transfers to receive before exiting", default: "1" },
    timeout: { type: "string", value: "SECONDS", help: "give up when nothing moves for this long", default: "10" },
    json: { type: "boolean", help: "print events as JSON lines (listening, received, failed)" },
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const out = str(args, "out");
    if (!out) throw new RemoteVisError("usage", "expected --out FILE or --out -; see 'remotevis receive --help'");
    const json = flag(args, "json");
    const count = Number(str(args, "count"));
    const expected = str(args, "size") === undefined ? undefined : parseBytes(str(args, "size")!);
    const timeoutMs = Number(str(args, "timeout") ?? 10) * 1000;
    // One receive buffer, kept while the sizes repeat. Making one costs about as much as moving
    // its bytes over shared memory (the kernel zeroes every page), so with the agreed --size it is
    // made before the port is announced: ready when the sender starts, as for ssc_receive's caller.
    let buf = expected === undefined ? undefined : await NativeBuffer.alloc(expected);
    keepSpareTransferThread(); // the connection's thread and UCX workers, made while we wait
    await using listener = await Listener.open({ bind: str(args, "bind"), port: Number(str(args, "port")) });
    emit(json, { event: "listening", port: listener.port }, `listening on port ${listener.port}`);
    let failures = 0;
    for (let i = 0; i < count; i++) {
      await using conn = await listener.accept();
      try {
        const { header, size } = await conn.receiveHeader({ timeoutMs });
        const meta = decodeHeader(header);
        if (expected !== undefined && size !== expected) {
          await conn.reject(SSC.ERR_SIZE);
          throw new RemoteVisError("size_mismatch", `refused a transfer of ${size} bytes; ${expected} were agreed (--size)`);
        }
        emit(json, { event: "receiving", name: meta.name, bytes: size }, `receiving ${String(meta.name ?? "")} (${formatBytes(size)})`);
        const bar = new ProgressBar(`receive ${String(meta.name ?? "")}`, size, flag(args, "quiet") || json);
        const t0 = performance.now();
        // Native memory: a payload may be larger than the 4 GiB one JS buffer holds.
        if (buf?.byteLength !== size) buf = await NativeBuffer.alloc(size);
        const data = await conn.receivePayload(size, { into: buf, timeoutMs, onProgress: (n) => bar.update(n) });
        bar.done();
        const secs = (performance.now() - t0) / 1000;
        const gbps = size / secs / 1e9;
        let check = "";
        if (out === "-") {
          const bad = findPatternMismatch(data);
          if (bad >= 0) throw new RemoteVisError("corrupt", `payload differs from the test pattern at byte ${bad}`);
          check = ", pattern ok";
        } else {
          await writeNative(out, data);
        }
        emit(
          json,
          { event: "received", name: meta.name, bytes: size, seconds: secs, gbps, verified: out === "-" },
          `received ${formatBytes(size)} in ${secs.toFixed(3)} s (${gbps.toFixed(2)} GB/s)${check}${out === "-" ? "" : ` -> ${out}`}`,
        );
      } catch (err) {
        failures++;
        const e = err instanceof RemoteVisError ? err : new RemoteVisError("transfer_failed", String(err));
        emit(json, { event: "failed", code: e.code, message: e.message }, `transfer failed: ${e.message}`);
      }
    }
    return failures === 0 ? 0 : 1;
  },
};
