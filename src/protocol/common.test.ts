/** parseOrThrow: one error shape that names the field at fault and never echoes what was sent. */
import { expect, test } from "bun:test";
import * as v from "valibot";
import { RemoteVisError } from "../errors.ts";
import { parseOrThrow } from "./common.ts";

const S = v.strictObject({ shape: v.array(v.number()), name: v.optional(v.string()) });

function problem(input: unknown): string {
  try {
    parseOrThrow(S, input, "request");
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteVisError);
    return (e as RemoteVisError).message;
  }
  return "ok";
}

test("a missing field is required, an unknown one not allowed, a wrong type expected", () => {
  expect(problem({ shape: [1] })).toBe("ok");
  expect(problem({})).toBe("invalid request: shape: is required");
  expect(problem({ shape: [1], secretStuff: 1 })).toBe("invalid request: (body): has a field that is not allowed here");
  expect(problem({ shape: "x" })).toBe("invalid request: shape: expected Array");
  expect(problem({ shape: [1], secretStuff: 1 })).not.toContain("secretStuff");
});
