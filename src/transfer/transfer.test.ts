/**
 * The TS facade over the real libsscrdma + UCX, both sides in this process (each side's calls
 * run in its own Worker, so the two block at once without deadlock).
 */
import { describe, expect, test } from "bun:test";
import { SSC, SSC_HEADER_SIZE, TransferError } from "./ffi.ts";
import { decodeHeader, encodeHeader } from "./header.ts";
import { fillPattern, findPatternMismatch } from "./pattern.ts";
import { allocReceiveBuffer, Connection, Listener } from "./transfer.ts";

process.env.UCX_LOG_LEVEL ??= "error";

async function pair(): Promise<{ l: Listener; tx: Connection; rx: Connection }> {
  const l = await Listener.open({ bind: "127.0.0.1", port: 0 });
  const [rx, tx] = await Promise.all([l.accept({ timeoutMs: 10_000 }), Connection.connect("127.0.0.1", l.port)]);
  return { l, tx, rx };
}

async function roundTrip(size: number, checksum = false): Promise<void> {
  const { l, tx, rx } = await pair();
  try {
    const data = fillPattern(new Uint8Array(size), size);
    const sent = tx.send(encodeHeader({ size }), data, { checksum });
    const { header, size: announced } = await rx.receiveHeader();
    expect(announced).toBe(size);
    expect(decodeHeader(header)).toEqual({ size });
    const got = await rx.receivePayload(announced);
    await sent;
    expect(got.byteLength).toBe(size);
    expect(findPatternMismatch(got, size)).toBe(-1);
  } finally {
    await Promise.all([tx.close(), rx.close(), l.close()]);
  }
}

describe("Listener + Connection", () => {
  for (const size of [0, 1, SSC_HEADER_SIZE - 1, 64 * 2 ** 20 + 3]) test(`round trip of ${size} B is byte-exact`, () => roundTrip(size));
  test("with checksum", () => roundTrip(8 * 2 ** 20 + 1, true));

  test("port 0 picks a free port and two listeners get different ones", async () => {
    await using a = await Listener.open({ port: 0 });
    await using b = await Listener.open({ port: 0 });
    expect(a.port).toBeGreaterThan(0);
    expect(a.port).not.toBe(b.port);
  });

  test("progress reaches the total", async () => {
    const { l, tx, rx } = await pair();
    const size = 256 * 2 ** 20;
    const seen: number[] = [];
    const sent = tx.send(encodeHeader({}), fillPattern(new Uint8Array(size)), { onProgress: (n) => seen.push(n) });
    const { size: n } = await rx.receiveHeader();
    await rx.receivePayload(n);
    await sent;
    expect(seen.at(-1)).toBe(size);
    await Promise.all([tx.close(), rx.close(), l.close()]);
  });

  test("a receive buffer of the wrong size is refused before any byte lands; the sender hears why", async () => {
    const { l, tx, rx } = await pair();
    const sent = tx.send(encodeHeader({}), new Uint8Array(1000)).catch((e) => e);
    const { size } = await rx.receiveHeader();
    const into = new Uint8Array(999).fill(0xcc);
    const err = await rx.receivePayload(size, { into }).catch((e) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect((err as TransferError).ssc).toBe(SSC.ERR_SIZE);
    expect(into.every((b) => b === 0xcc)).toBe(true);
    const senderErr = await sent;
    expect(senderErr).toBeInstanceOf(TransferError);
    expect((senderErr as TransferError).ssc).toBe(SSC.ERR_SIZE);
    await Promise.all([tx.close(), rx.close(), l.close()]);
  });

  test("a rejected transfer fails on the sender with the reason", async () => {
    const { l, tx, rx } = await pair();
    const sent = tx.send(encodeHeader({ secret: "wrong" }), new Uint8Array(10)).catch((e) => e);
    await rx.receiveHeader();
    await rx.reject();
    expect(((await sent) as TransferError).ssc).toBe(SSC.ERR_REJECTED);
    await Promise.all([tx.close(), rx.close(), l.close()]);
  });

  test("a header that is not 128 KiB is refused before calling C", async () => {
    const { l, tx, rx } = await pair();
    await expect(tx.send(new Uint8Array(10), new Uint8Array(1))).rejects.toThrow(/exactly 131072/);
    await Promise.all([tx.close(), rx.close(), l.close()]);
  });

  test("connect to a closed port fails fast with a clear error", async () => {
    const l = await Listener.open({ port: 0 });
    const port = l.port;
    await l.close();
    const t0 = Date.now();
    const err = await Connection.connect("127.0.0.1", port, { timeoutMs: 5000 }).catch((e) => e);
    expect(err).toBeInstanceOf(TransferError);
    expect([SSC.ERR_REFUSED, SSC.ERR_TIMEOUT, SSC.ERR_PEER] as number[]).toContain((err as TransferError).ssc);
    expect(Date.now() - t0).toBeLessThan(8000);
  });

  test("close() aborts a receive that waits for a sender that never sends", async () => {
    const { l, tx, rx } = await pair();
    const pending = rx.receiveHeader({ timeoutMs: 60_000 }).catch((e) => e);
    await Bun.sleep(200);
    await rx.close();
    const err = await pending;
    expect(err).toBeInstanceOf(Error);
    await Promise.all([tx.close(), l.close()]);
  });

  test("close is idempotent and a closed connection refuses work", async () => {
    const { l, tx, rx } = await pair();
    await tx.close();
    await tx.close();
    await expect(tx.send(encodeHeader({}), new Uint8Array(1))).rejects.toThrow(/closed/);
    await Promise.all([rx.close(), l.close()]);
  });

  test("allocReceiveBuffer gives zeroed memory that the GC can free", async () => {
    let b: Uint8Array | undefined = await allocReceiveBuffer(32 * 2 ** 20);
    expect(b.byteLength).toBe(32 * 2 ** 20);
    expect(b[0]).toBe(0);
    expect(b[b.byteLength - 1]).toBe(0);
    b = undefined;
    Bun.gc(true);
  });
});
