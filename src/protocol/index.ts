/** Every schema of the REST API: one source of truth for the middleware and the clients. */
export * from "./common.ts";
export * from "./health.ts";
export * from "./instances.ts";
export * from "./tokens.ts";
export * from "./control.ts";
