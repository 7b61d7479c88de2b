/**
 * Writes .npy version 1.0 (what numpy.load reads everywhere): the header dict, padded so the
 * data starts on a 64-byte boundary, then the bytes as they are (little endian).
 */
import type { VolumeDtype } from "../protocol/control.ts";

const DESCR: Record<VolumeDtype, string> = { uint8: "|u1", uint16: "<u2", int16: "<i2", uint32: "<u4", float32: "<f4", float64: "<f8" };

export function npyHeader(shape: number[], dtype: VolumeDtype, order: "C" | "F"): Uint8Array {
  const dict = `{'descr': '${DESCR[dtype]}', 'fortran_order': ${order === "F" ? "True" : "False"}, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`;
  const unpadded = 10 + dict.length + 1;
  const text = dict + " ".repeat((64 - (unpadded % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + text.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, text.length, true);
  out.set(new TextEncoder().encode(text), 10);
  return out;
}

export async function writeNpy(path: string, data: Uint8Array, shape: number[], dtype: VolumeDtype, order: "C" | "F"): Promise<void> {
  const w = Bun.file(path).writer();
  w.write(npyHeader(shape, dtype, order));
  w.write(data);
  await w.end();
}
