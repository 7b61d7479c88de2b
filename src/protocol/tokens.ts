/** Requests and responses of /api/v1/tokens (API tokens for tools without munge). */
import * as v from "valibot";
import { Timestamp } from "./common.ts";

export const CreateTokenRequest = v.strictObject({
  name: v.pipe(v.string("name must be a string"), v.minLength(1, "name must not be empty"), v.maxLength(64, "name must be at most 64 characters"), v.regex(/^[A-Za-z0-9._ -]+$/, "name may contain letters, digits, space, '.', '_' and '-' only")),
  expiresInDays: v.optional(v.pipe(v.number("expiresInDays must be a number"), v.integer("expiresInDays must be a whole number"), v.minValue(1, "expiresInDays must be 1..3650"), v.maxValue(3650, "expiresInDays must be 1..3650"))),
});
export type CreateTokenRequest = v.InferOutput<typeof CreateTokenRequest>;

export const Token = v.object({
  id: v.string(),
  name: v.string(),
  createdAt: Timestamp,
  lastUsedAt: Timestamp,
  expiresAt: Timestamp,
});
export type Token = v.InferOutput<typeof Token>;

/** Only the answer to the creation carries the token itself; it is stored hashed. */
export const CreatedToken = v.object({ ...Token.entries, token: v.pipe(v.string(), v.startsWith("rv_")) });
export type CreatedToken = v.InferOutput<typeof CreatedToken>;

export const TokenList = v.object({ tokens: v.array(Token) });
export type TokenList = v.InferOutput<typeof TokenList>;
