/**
 * Pieces shared by the request and response schemas, and the one place that turns a valibot
 * failure into a RemoteVisError. Messages name the field and what was expected, never the
 * value that was received, so no input is echoed back.
 */
import * as v from "valibot";
import { RemoteVisError } from "../errors.ts";

/** The error body of every failed request: `{error:{code,message,details}}`. */
export const ErrorBody = v.object({
  error: v.object({
    code: v.string(),
    message: v.string(),
    details: v.optional(v.record(v.string(), v.unknown())),
  }),
});
export type ErrorBody = v.InferOutput<typeof ErrorBody>;

/** Timestamps travel as ISO 8601 strings; null where the event has not happened yet. */
export const Timestamp = v.nullable(v.pipe(v.string(), v.isoTimestamp()));

/** Parses `input` with `schema` or throws a 400 `invalid_request` naming the fields at fault. */
export function parseOrThrow<S extends v.GenericSchema>(schema: S, input: unknown, what: string, code = "invalid_request"): v.InferOutput<S> {
  const r = v.safeParse(schema, input);
  if (r.success) return r.output;
  const known = fieldNames(schema);
  const issues = r.issues.slice(0, 10).map((i) => {
    // Keys in the path come from the input: only the schema's own field names are shown (a
    // record's keys and unknown fields become "*"), so nothing sent is repeated (found by
    // tests/fuzz: a strict object's unknown key used to come back in path and message).
    // Valibot marks a missing required key and an unknown key alike (a "key" path item); only
    // the unknown one expects "never".
    const items = i.path ?? [];
    const keyIssue = items.length > 0 && items[items.length - 1]!.origin === "key";
    const unknownField = keyIssue && i.expected === "never";
    const segments = (unknownField ? items.slice(0, -1) : items).map((p) =>
      typeof p.key === "number" ? String(p.key) : typeof p.key === "string" && known.has(p.key) ? p.key : "*",
    );
    const path = segments.length ? segments.join(".") : "(body)";
    if (unknownField) return { path, problem: "has a field that is not allowed here" };
    if (keyIssue) return { path, problem: "is required" };
    // Custom messages are ours (safe); valibot's defaults contain the received value, so for
    // those only the expectation is kept.
    const custom = !i.message.startsWith("Invalid ");
    return { path, problem: custom ? i.message : `expected ${i.expected ?? i.kind}` };
  });
  const first = issues[0]!;
  throw new RemoteVisError(code, `invalid ${what}: ${first.path}: ${first.problem}`, 400, { issues });
}

const FIELD_NAMES = new WeakMap<object, Set<string>>();

/** Every field name the schema itself defines, at any depth (objects inside pipes, optionals, unions, arrays, ...). */
function fieldNames(schema: v.GenericSchema): Set<string> {
  let names = FIELD_NAMES.get(schema);
  if (names) return names;
  names = new Set<string>();
  const seen = new Set<unknown>();
  const walk = (s: unknown) => {
    if (!s || typeof s !== "object" || seen.has(s)) return;
    seen.add(s);
    const o = s as Record<string, unknown>;
    if (o.entries && typeof o.entries === "object") {
      for (const [k, e] of Object.entries(o.entries)) {
        names!.add(k);
        walk(e);
      }
    }
    for (const k of ["wrapped", "item", "value", "rest"]) walk(o[k]);
    for (const k of ["pipe", "items", "options"]) if (Array.isArray(o[k])) for (const x of o[k]) walk(x);
  };
  walk(schema);
  FIELD_NAMES.set(schema, names);
  return names;
}
