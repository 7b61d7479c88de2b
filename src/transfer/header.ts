/**
 * The application header that rides in SSC-RDMA's fixed 128 KiB header: the magic "RVH1", a
 * little-endian uint32 length, then UTF-8 JSON (shape, dtype, name, the instance secret, ...).
 * JSON keeps it readable from C and Python; 128 KiB leaves room for long metadata.
 */
import { RemoteVisError } from "../errors.ts";
import { SSC_HEADER_SIZE } from "./ffi.ts";

const MAGIC = 0x31485652; // "RVH1" little-endian

export function encodeHeader(meta: Record<string, unknown>): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(meta));
  if (json.byteLength > SSC_HEADER_SIZE - 8)
    throw new RemoteVisError("header_too_large", `header metadata is ${json.byteLength} bytes; at most ${SSC_HEADER_SIZE - 8} fit`);
  const out = new Uint8Array(SSC_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, MAGIC, true);
  dv.setUint32(4, json.byteLength, true);
  out.set(json, 8);
  return out;
}

export function decodeHeader(bytes: Uint8Array): Record<string, unknown> {
  const bad = (why: string) => new RemoteVisError("invalid_header", `the transfer header is not a RemoteVis header: ${why}`);
  if (bytes.byteLength !== SSC_HEADER_SIZE) throw bad("wrong size");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0, true) !== MAGIC) throw bad("bad magic");
  const len = dv.getUint32(4, true);
  if (len > SSC_HEADER_SIZE - 8) throw bad("length out of range");
  let meta: unknown;
  try {
    meta = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + len)));
  } catch {
    throw bad("malformed JSON");
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) throw bad("not a JSON object");
  return meta as Record<string, unknown>;
}
