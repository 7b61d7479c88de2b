/** Reads a JSON request body and validates it; malformed JSON is a clear 400, never echoed. */
import type { Context } from "hono";
import type * as v from "valibot";
import { RemoteVisError } from "../errors.ts";
import { parseOrThrow } from "../protocol/common.ts";

export async function jsonBody<S extends v.GenericSchema>(c: Context, schema: S, what: string): Promise<v.InferOutput<S>> {
  const type = c.req.header("content-type") ?? "";
  if (!type.startsWith("application/json")) throw new RemoteVisError("unsupported_media_type", "send the body as JSON (Content-Type: application/json)", 415);
  let parsed: unknown;
  try {
    parsed = await c.req.json();
  } catch {
    throw new RemoteVisError("malformed_json", `the ${what} is not valid JSON`, 400);
  }
  return parseOrThrow(schema, parsed, what);
}
