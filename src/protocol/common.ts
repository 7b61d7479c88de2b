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
  const issues = r.issues.slice(0, 10).map((i) => {
    const path = v.getDotPath(i) ?? "(body)";
    // Custom messages are ours (safe); valibot's defaults contain the received value, so for
    // those only the expectation is kept.
    const custom = !i.message.startsWith("Invalid ");
    return { path, problem: custom ? i.message : `expected ${i.expected ?? i.kind}` };
  });
  const first = issues[0]!;
  throw new RemoteVisError(code, `invalid ${what}: ${first.path}: ${first.problem}`, 400, { issues });
}
