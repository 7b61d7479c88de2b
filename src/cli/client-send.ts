import { RemoteVisError } from "../errors.ts";
import { encodeHeader } from "../transfer/header.ts";
import { closeSync, openSync, readSync } from "node:fs";
import { MAX_JS_BUFFER, MAX_VIEW, NativeBuffer } from "../transfer/native-buffer.ts";
import { fillPattern } from "../transfer/pattern.ts";
import { Connection } from "../transfer/transfer.ts";
import { flag, formatBytes, parseBytes, parseHostPort, str, type Command } from "./command.ts";
import { emit } from "./output.ts";
import { ProgressBar } from "./progress.ts";

/** The bytes to send: a file mapped into memory (no copy; read into native memory above 4 GiB,
 *  which one JS buffer cannot map), or a generated pattern for `-`. */
async function payload(source: string, size: string | undefined): Promise<{ data: Uint8Array | NativeBuffer; name: string }> {
  if (source === "-") {
    if (size === undefined) throw new RemoteVisError("usage", "sending the test pattern ('-') needs --size, e.g. --size 1GiB");
    return { data: fillPattern(await NativeBuffer.alloc(parseBytes(size))), name: "pattern" };
  }
  const file = Bun.file(source);
  if (!(await file.exists())) throw new RemoteVisError("not_found", `no such file: ${source}`);
  const bytes = file.size;
  const name = source.split("/").pop() ?? source;
  if (bytes > MAX_JS_BUFFER) return { data: await readNative(source, bytes), name };
  return { data: bytes === 0 ? new Uint8Array(0) : Bun.mmap(source, { shared: false }), name };
}

async function readNative(path: string, bytes: number): Promise<NativeBuffer> {
  const buf = await NativeBuffer.alloc(bytes);
  const fd = openSync(path, "r");
  try {
    for (let off = 0; off < bytes; ) {
      const n = readSync(fd, buf.view(off, Math.min(MAX_VIEW, bytes - off)), 0, Math.min(MAX_VIEW, bytes - off), off);
      if (n <= 0) throw new RemoteVisError("read_failed", `${path}: ended at byte ${off} of ${bytes}`);
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return buf;
}

export const clientSend: Command = {
  name: "send",
  summary: "send a file (or a test pattern) to a receiver over SSC-RDMA",
  usage: "client send --to HOST:PORT FILE|-",
  description: `
Moves FILE to a 'remotevis receive' waiting on HOST:PORT: a 128 KiB header with the name and
size, then the bytes, over UCX (RDMA where present, shared memory on one host, TCP otherwise;
UCX_TLS chooses). With '-' it sends a generated pattern of --size bytes that the receiver checks.
Large payloads travel on 2 lanes (a UCX worker and a thread each, on both sides) on hosts with 8
or more CPUs, 1 on smaller ones; SSC_LANES=1..4 chooses (the receiver grants at most its own).

example:
  remotevis receive --port 13337 --out /tmp/vol.raw      # shell 1
  remotevis client send --to 127.0.0.1:13337 vol.raw      # shell 2`,
  options: {
    to: { type: "string", value: "HOST:PORT", help: "the receiver" },
    size: { type: "string", value: "BYTES", help: "size of the generated pattern for '-' (e.g. 1GiB, 4096)" },
    checksum: { type: "boolean", help: "send a CRC32C of the payload; the receiver verifies it" },
    timeout: { type: "string", value: "SECONDS", help: "give up when nothing moves for this long", default: "10" },
    json: { type: "boolean", help: "print the result as one JSON object" },
    quiet: { type: "boolean", short: "q", help: "no progress bar" },
  },
  async run(args) {
    const to = str(args, "to");
    const source = args.positionals[0];
    if (!to || source === undefined || args.positionals.length > 1)
      throw new RemoteVisError("usage", "expected --to HOST:PORT and one FILE (or '-'); see 'remotevis client send --help'");
    const { host, port } = parseHostPort(to);
    const timeoutMs = Number(str(args, "timeout") ?? 10) * 1000;
    const { data, name } = await payload(source, str(args, "size"));
    await using conn = await Connection.connect(host, port, { timeoutMs });
    const bar = new ProgressBar(`send ${name}`, data.byteLength, flag(args, "quiet") || flag(args, "json"));
    const t0 = performance.now();
    await conn.send(encodeHeader({ kind: "file", name, bytes: data.byteLength }), data, {
      checksum: flag(args, "checksum"),
      timeoutMs,
      onProgress: (n) => bar.update(n),
    });
    bar.done();
    const secs = (performance.now() - t0) / 1000;
    const gbps = data.byteLength / secs / 1e9;
    emit(
      flag(args, "json"),
      { event: "sent", bytes: data.byteLength, seconds: secs, gbps },
      `sent ${formatBytes(data.byteLength)} to ${host}:${port} in ${secs.toFixed(3)} s (${gbps.toFixed(2)} GB/s)`,
    );
    return 0;
  },
};
