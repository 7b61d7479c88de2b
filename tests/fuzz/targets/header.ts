/**
 * Fuzz target for what an instance's data port does with the 128 KiB SSC-RDMA header a
 * connection sends (src/instance/data-port.ts): decodeHeader ("RVH1", length, UTF-8 JSON),
 * then the DataHeader schema. Mutated real headers (lying lengths, broken UTF-8 and JSON,
 * other JSON types, huge strings) must give the header or a RemoteVisError invalid_header /
 * a schema failure, never anything else.
 */
import * as v from "valibot";
import { RemoteVisError } from "../../../src/errors.ts";
import { DataHeader } from "../../../src/protocol/control.ts";
import { decodeHeader, encodeHeader } from "../../../src/transfer/header.ts";
import { mutate } from "../lib/mutate.ts";
import type { Rng } from "../lib/prng.ts";
import { type Target, broken } from "../lib/target.ts";

interface Ctx {
  seeds: Uint8Array[];
}

export const headerTarget: Target<Ctx, Uint8Array> = {
  name: "header",
  async prepare() {
    const seeds = [
      encodeHeader({ secret: "s".repeat(43), transfer: crypto.randomUUID(), part: "volume" }),
      encodeHeader({ secret: "abc", transfer: "t1", part: "xyz", shape: [108, 256, 256], dtype: "int16", name: "ct" }),
      encodeHeader({ secret: "", transfer: "", part: "model", extra: "x".repeat(5000) }),
    ];
    return { ctx: { seeds }, note: "3 headers as the client encodes them (volume, points, model)" };
  },
  input(rng: Rng, ctx: Ctx): Uint8Array {
    const seed = rng.pick(ctx.seeds);
    const len = new DataView(seed.buffer).getUint32(4, true);
    // mutate the part that holds something, then put it back into a full-size header
    const used = mutate(rng, seed.subarray(0, 8 + len + 16), 8 + len);
    const out = new Uint8Array(rng.chance(0.05) ? rng.pick([0, 8, seed.length - 1, seed.length + 1]) : seed.length);
    out.set(used.subarray(0, out.length));
    return out;
  },
  check(input: Uint8Array): string {
    let meta: Record<string, unknown>;
    try {
      meta = decodeHeader(input);
    } catch (err) {
      if (!(err instanceof RemoteVisError)) broken(`decodeHeader threw ${(err as Error)?.name}: ${String((err as Error)?.message).slice(0, 200)}`);
      if (err.code !== "invalid_header") broken(`decodeHeader gave ${err.code}`);
      return "invalid_header";
    }
    if (typeof meta !== "object" || meta === null || Array.isArray(meta)) broken("decodeHeader returned a non-object");
    const r = v.safeParse(DataHeader, meta);
    return r.success ? "ok" : "not_a_data_header";
  },
  bytes(input: Uint8Array): Uint8Array {
    return input;
  },
  fromBytes(bytes: Uint8Array): Uint8Array {
    return bytes;
  },
};
