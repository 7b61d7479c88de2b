/**
 * Fuzz target for the valibot schemas of src/protocol: every request and answer schema, and
 * the control socket's envelope + per-op bodies, fed near-valid values made from the schema
 * itself, then mutated (fields dropped, added, retyped, set to boundary numbers, 1e309 =
 * Infinity, huge strings, __proto__/constructor keys, deep nesting) or cut as JSON text.
 * Through `parseOrThrow` (the one place a failure becomes an error) every case must either
 * give an output that parses again and serializes, or the one error shape (400
 * invalid_request, issues of {path, problem}) that never repeats what was sent (a marker
 * string placed in values and keys must not come back), and must leave Object.prototype alone.
 */
import * as v from "valibot";
import { RemoteVisError } from "../../../src/errors.ts";
import * as protocol from "../../../src/protocol/index.ts";
import { CONTROL_OPS, ControlEnvelope } from "../../../src/protocol/control.ts";
import * as segment from "../../../src/protocol/segment.ts";
import type { Rng } from "../lib/prng.ts";
import { type Target, broken } from "../lib/target.ts";

type Schema = v.GenericSchema & { type: string; pipe?: { type: string; requirement?: unknown }[] } & Record<string, unknown>;

/** Never a valid value anywhere: its return in an error means the input was echoed. */
export const MARKER = "ZqEchoMarker7";

function isSchema(x: unknown): x is Schema {
  return typeof x === "object" && x !== null && (x as { kind?: string }).kind === "schema" && typeof (x as { "~run"?: unknown })["~run"] === "function";
}

/** Every schema by name: the exports of src/protocol and the control ops ("op:NAME"). */
export function protocolSchemas(): Map<string, Schema> {
  const out = new Map<string, Schema>();
  for (const [k, s] of Object.entries({ ...protocol, ...segment })) if (isSchema(s)) out.set(k, s);
  for (const [op, s] of Object.entries(CONTROL_OPS)) out.set(`op:${op}`, s as unknown as Schema);
  out.set("control-message", ControlEnvelope as unknown as Schema);
  return out;
}

const STRINGS = ["", "a", "uint8", "float32", "C", "F", "mm", "volume", "i-0123456789abcdef", "/data/ct.h5", "2024-05-06T07:08:09.000Z", "rv_abc", "NCHW", "window", MARKER, "\u0000", "é✓\u{1F600}", " ".repeat(65), "x".repeat(4097)];
const NUMBERS = [0, -0, 1, -1, 0.5, 2, 3, 7, 8, 255, 256, 1024, 65535, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53 - 1, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 3.7];

function num(s: Schema, rng: Rng): number {
  let lo = -1e6;
  let hi = 1e6;
  let integer = false;
  for (const a of s.pipe ?? []) {
    if (a.type === "min_value" || a.type === "gt_value") lo = Number(a.requirement);
    if (a.type === "max_value" || a.type === "lt_value") hi = Number(a.requirement);
    if (a.type === "integer") integer = true;
  }
  if (rng.chance(0.25)) return rng.pick([lo, hi, lo - 1, hi + 1, rng.pick(NUMBERS)]);
  const x = lo + rng.float() * Math.min(hi - lo, 1e9);
  return integer ? Math.floor(x) : x;
}

function str(s: Schema, rng: Rng): string {
  let max = 40;
  for (const a of s.pipe ?? []) if (a.type === "max_length") max = Number(a.requirement);
  if (rng.chance(0.1)) return "y".repeat(Math.min(max + rng.int(2), 1 << 20));
  return rng.pick(STRINGS);
}

/** A value that is valid or nearly so for `s`. */
export function generate(s: Schema, rng: Rng, depth = 0): unknown {
  if (depth > 12) return null;
  const base = (s.pipe?.[0] as Schema | undefined) ?? s;
  switch (base.type) {
    case "object":
    case "strict_object":
    case "loose_object": {
      const o: Record<string, unknown> = {};
      for (const [k, e] of Object.entries(base.entries as Record<string, Schema>)) {
        const optional = e.type === "optional" || e.type === "nullish";
        if (!optional || rng.chance(0.6)) o[k] = generate(e, rng, depth + 1);
      }
      return o;
    }
    case "array": {
      const n = rng.chance(0.1) ? rng.int(300) : rng.int(5);
      return Array.from({ length: n }, () => generate(base.item as Schema, rng, depth + 1));
    }
    case "tuple":
    case "strict_tuple":
      return (base.items as Schema[]).map((it) => generate(it, rng, depth + 1));
    case "record":
      return Object.fromEntries(Array.from({ length: rng.int(4) }, (_, i) => [`k${i}`, generate(base.value as Schema, rng, depth + 1)]));
    case "optional":
    case "nullable":
    case "nullish":
      if (rng.chance(0.15)) return base.type === "optional" ? undefined : null;
      return generate(base.wrapped as Schema, rng, depth + 1);
    case "union":
      return generate(rng.pick(base.options as Schema[]), rng, depth + 1);
    case "picklist":
      return rng.pick(base.options as unknown[]);
    case "literal":
      return base.literal;
    case "number":
      return num(s, rng);
    case "string":
      return str(s, rng);
    case "boolean":
      return rng.chance(0.5);
    case "null":
      return null;
    default:
      return anyJson(rng, depth + 1);
  }
}

function deep(n: number, leaf: unknown): unknown {
  let x = leaf;
  for (let i = 0; i < n; i++) x = [x];
  return x;
}

/** Any JSON value, with the shapes that break parsers. */
export function anyJson(rng: Rng, depth = 0): unknown {
  switch (depth > 4 ? rng.int(5) : rng.int(9)) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.pick(NUMBERS);
    case 3:
      return rng.pick(STRINGS);
    case 4:
      return Infinity; // JSON.parse("1e309")
    case 5:
      return Array.from({ length: rng.int(4) }, () => anyJson(rng, depth + 1));
    case 6:
      return Object.fromEntries(Array.from({ length: rng.int(4) }, () => [rng.pick(["a", "id", "op", "shape", MARKER, "__proto__", "constructor"]), anyJson(rng, depth + 1)]));
    case 7:
      return deep(rng.pick([50, 1000, 5000]), rng.chance(0.5) ? {} : 1);
    default:
      return JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}');
  }
}

/** Walks to a random node of `x` and changes it. Returns the new root. */
function mutateValue(x: unknown, rng: Rng, depth = 0): unknown {
  const here = depth > 8 || x === null || typeof x !== "object" || rng.chance(0.3);
  if (!here) {
    if (Array.isArray(x)) {
      if (x.length === 0) return [anyJson(rng)];
      const i = rng.int(x.length);
      const c = [...x];
      c[i] = mutateValue(c[i], rng, depth + 1);
      return c;
    }
    const keys = Object.keys(x as object);
    if (keys.length === 0) return { [MARKER]: anyJson(rng) };
    const k = rng.pick(keys);
    return { ...(x as object), [k]: mutateValue((x as Record<string, unknown>)[k], rng, depth + 1) };
  }
  switch (rng.int(8)) {
    case 0:
      return anyJson(rng);
    case 1:
      return typeof x === "number" ? rng.pick([x + 1, x - 1, -x, x * 2 ** 31, x + 0.5, Infinity, -Infinity]) : rng.pick(NUMBERS);
    case 2:
      return typeof x === "string" ? x + MARKER : MARKER;
    case 3:
      return [x];
    case 4:
      if (x && typeof x === "object" && !Array.isArray(x)) {
        const keys = Object.keys(x);
        const c = { ...(x as Record<string, unknown>) };
        if (keys.length) delete c[rng.pick(keys)];
        return c;
      }
      return undefined;
    case 5:
      if (x && typeof x === "object" && !Array.isArray(x)) {
        // through JSON.parse, so that "__proto__" becomes an own key as it does for a request
        const key = JSON.stringify(rng.pick([MARKER, "__proto__", "constructor", `${MARKER}${"k".repeat(5000)}`]));
        const rest = JSON.stringify(x).slice(1);
        return JSON.parse(`{${key}: ${toText(anyJson(rng))}${rest === "}" ? "}" : `, ${rest}`}`);
      }
      return { value: x };
    case 6:
      return deep(rng.pick([2, 100, 3000]), x);
    default:
      return rng.chance(0.5) ? "" : 0;
  }
}

interface Input {
  schema: string;
  /** JSON text as it would arrive */
  text: string;
}

/** JSON text of a value (Infinity as 1e309, which is how JSON can carry it). */
function toText(x: unknown): string {
  const t = JSON.stringify(x, (_k, val) => (val === Infinity ? "\u0001INF" : val === -Infinity ? "\u0001NINF" : val)) ?? "null";
  return t.replace(/"\\u0001INF"/g, "1e999").replace(/"\\u0001NINF"/g, "-1e999");
}

function mutateText(t: string, rng: Rng): string {
  const b = [...t];
  for (let k = 1 + rng.int(3); k > 0 && b.length; k--) {
    const i = rng.int(b.length);
    switch (rng.int(4)) {
      case 0:
        b.splice(i, 1);
        break;
      case 1:
        b.splice(i, 0, rng.pick(['"', "{", "}", "[", "]", ",", ":", "0", "-", "e", "\\", "9", "1e309"]));
        break;
      case 2:
        b.length = i;
        break;
      default:
        b[i] = String.fromCharCode(rng.int(128));
    }
  }
  return b.join("");
}

function prototypeClean(): boolean {
  return !("polluted" in Object.prototype) && !("polluted" in Array.prototype) && Object.getOwnPropertyNames(Object.prototype).length === PROTO_KEYS;
}
const PROTO_KEYS = Object.getOwnPropertyNames(Object.prototype).length;

interface Ctx {
  schemas: Map<string, Schema>;
  names: string[];
}

export const protocolTarget: Target<Ctx, Input> = {
  name: "protocol",
  async prepare() {
    const schemas = protocolSchemas();
    return { ctx: { schemas, names: [...schemas.keys()] }, note: `${schemas.size} schemas: ${[...schemas.keys()].join(", ")}` };
  },
  input(rng: Rng, ctx: Ctx): Input {
    const schema = rng.pick(ctx.names);
    let x = generate(ctx.schemas.get(schema)!, rng);
    if (schema === "control-message" && x && typeof x === "object") {
      // the envelope carries an op's fields beside id and op
      const op = (x as { op?: string }).op;
      const body = op && op in CONTROL_OPS ? generate(CONTROL_OPS[op as keyof typeof CONTROL_OPS] as unknown as Schema, rng) : {};
      x = { ...(body && typeof body === "object" ? body : {}), ...(x as object) };
    }
    for (let k = rng.int(4); k > 0; k--) x = mutateValue(x, rng);
    let text = toText(x);
    if (rng.chance(0.15)) text = mutateText(text, rng);
    return { schema, text };
  },
  check(input: Input, ctx: Ctx): string {
    let value: unknown;
    try {
      value = JSON.parse(input.text);
    } catch {
      return "not_json"; // the middleware answers malformed_json before any schema runs
    }
    const schema = ctx.schemas.get(input.schema)!;
    let out: string;
    try {
      if (input.schema === "control-message") {
        // what the control socket (src/instance/control-socket.ts) and control.ts do: the
        // envelope, then the op's own schema on the rest
        protocol.parseOrThrow(ControlEnvelope, value, "control message (it needs {id, op})", "invalid_message");
        const { id: _id, op, ...body } = value as { id: unknown; op: keyof typeof CONTROL_OPS };
        protocol.parseOrThrow(CONTROL_OPS[op], body ?? {}, op);
      } else {
        const parsed = protocol.parseOrThrow(schema, value, "request");
        const again = v.safeParse(schema, parsed);
        if (!again.success) broken(`${input.schema}: its own output does not parse again: ${again.issues[0].message.slice(0, 200)}`);
        JSON.stringify(parsed);
      }
      out = "ok";
    } catch (err) {
      if (err instanceof RangeError && /call stack/i.test(err.message)) {
        broken(`${input.schema}: stack overflow on deep nesting (the JSON text has ${input.text.length} characters)`);
      }
      if (!(err instanceof RemoteVisError)) broken(`${input.schema}: threw ${(err as Error)?.name}: ${String((err as Error)?.message ?? err).slice(0, 300)}`);
      const expected = input.schema === "control-message" && err.message.startsWith("invalid control message") ? "invalid_message" : "invalid_request";
      if (err.code !== expected || err.status !== 400) broken(`${input.schema}: error ${err.code} ${err.status}`);
      const body = err.toJSON();
      const issues = (body.error.details as { issues?: unknown } | undefined)?.issues;
      if (!Array.isArray(issues) || issues.length < 1 || issues.length > 10) broken(`${input.schema}: details.issues is ${JSON.stringify(issues)?.slice(0, 100)}`);
      for (const i of issues as { path?: unknown; problem?: unknown }[]) {
        if (typeof i.path !== "string" || typeof i.problem !== "string") broken(`${input.schema}: an issue is ${JSON.stringify(i).slice(0, 200)}`);
      }
      const text = JSON.stringify(body);
      if (text.includes(MARKER)) broken(`${input.schema}: the error repeats the input: ${text.slice(0, 300)}`);
      if (text.length > 16384) broken(`${input.schema}: the error body has ${text.length} characters`);
      out = err.code;
    }
    if (!prototypeClean()) broken(`${input.schema}: Object.prototype was changed`);
    return out;
  },
  bytes(input: Input): Uint8Array {
    return new TextEncoder().encode(JSON.stringify(input));
  },
  fromBytes(bytes: Uint8Array): Input {
    return JSON.parse(new TextDecoder().decode(bytes)) as Input;
  },
};
