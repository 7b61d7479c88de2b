/**
 * The OpenAPI 3.1 description served at /api/v1/openapi.json. Written by hand beside the
 * valibot schemas of src/protocol (which are what is enforced); app.test.ts checks that every
 * route of app.ts is described here, so the two cannot drift apart unnoticed.
 */
import { DTYPES, INSTANCE_STATES, JOB_STATES, MAX_EXTENT } from "../protocol/instances.ts";
import { VERSION } from "../version.ts";

const ts = { type: ["string", "null"], format: "date-time" };
const json = (ref: string) => ({ content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } });
const err = (description: string) => ({ description, ...json("Error") });
const auth = [{ munge: [] }, { bearer: [] }];
const id = { name: "id", in: "path", required: true, schema: { type: "string", pattern: "^i-[0-9a-f]{16}$" } };
const common = { "401": err("no or bad credentials"), "403": err("not served by this middleware") };

export const openapi = {
  openapi: "3.1.0",
  info: { title: "RemoteVis middleware", version: VERSION, description: "Starts, queries and stops visualization instances for a user." },
  servers: [{ url: "/api/v1" }],
  components: {
    securitySchemes: {
      munge: { type: "http", scheme: "MUNGE", description: "Authorization: MUNGE <credential from munge -n>; one credential per request" },
      bearer: { type: "http", scheme: "bearer", description: "Authorization: Bearer rv_... (an API token from POST /tokens)" },
      instance: { type: "http", scheme: "Instance", description: "Authorization: Instance <secret>; the instance's own secret (call-backs only)" },
    },
    schemas: {
      Error: {
        type: "object",
        required: ["error"],
        properties: { error: { type: "object", required: ["code", "message"], properties: { code: { type: "string" }, message: { type: "string" }, details: { type: "object" } } } },
      },
      CreateInstance: {
        type: "object",
        additionalProperties: false,
        required: ["shape", "dtype"],
        properties: {
          shape: { type: "array", minItems: 1, maxItems: 4, items: { type: "integer", minimum: 1, maximum: MAX_EXTENT } },
          dtype: { enum: DTYPES },
          gpus: { type: "integer", minimum: 1, maximum: 1024, description: "at least the estimate; default the estimate" },
          name: { type: "string", maxLength: 64, pattern: "^[A-Za-z0-9._ -]*$" },
        },
      },
      Instance: {
        type: "object",
        properties: {
          id: { type: "string" },
          name: { type: "string" },
          owner: { type: "object", properties: { uid: { type: "integer" }, name: { type: "string" } } },
          state: { enum: INSTANCE_STATES },
          reason: { type: ["string", "null"] },
          url: { type: ["string", "null"], description: "http://HOST:PORT/?token=SECRET once running" },
          host: { type: ["string", "null"] },
          port: { type: ["integer", "null"] },
          dataPort: { type: ["integer", "null"], description: "SSC-RDMA port" },
          shape: { type: "array", items: { type: "integer" } },
          dtype: { type: "string" },
          gpus: { type: "integer" },
          maxBytes: { type: "integer", description: "largest transfer the instance accepts" },
          createdAt: ts,
          readyAt: ts,
          openedAt: ts,
          lastAccessAt: ts,
          stoppedAt: ts,
          deadline: { type: ["object", "null"], properties: { at: ts, why: { type: "string" } } },
          job: {
            type: ["object", "null"],
            description: "slurm mode: the job, refreshed on every query; null in local mode",
            properties: {
              id: { type: "string" },
              state: { enum: JOB_STATES },
              reason: { type: ["string", "null"], description: "slurm's reason (Resources, Priority, TimeLimit, ...) or why the state is unknown" },
              expectedStart: { ...ts, description: "while pending: when slurm expects the job to start" },
              startedAt: ts,
              node: { type: ["string", "null"] },
              checkedAt: ts,
            },
          },
        },
      },
      InstanceList: { type: "object", properties: { instances: { type: "array", items: { $ref: "#/components/schemas/Instance" } } } },
      Ready: {
        type: "object",
        additionalProperties: false,
        required: ["host", "port", "dataPort"],
        properties: { host: { type: "string" }, port: { type: "integer" }, dataPort: { type: "integer" }, pid: { type: "integer" } },
      },
      Heartbeat: { type: "object", additionalProperties: false, required: ["connections"], properties: { connections: { type: "integer", minimum: 0 } } },
      HeartbeatAnswer: { type: "object", properties: { action: { enum: ["continue", "stop"] } } },
      Access: { type: "object", additionalProperties: false, required: ["kind"], properties: { kind: { enum: ["viewer", "control"] } } },
      CreateToken: {
        type: "object",
        additionalProperties: false,
        required: ["name"],
        properties: { name: { type: "string", maxLength: 64 }, expiresInDays: { type: "integer", minimum: 1, maximum: 3650 } },
      },
      Token: { type: "object", properties: { id: { type: "string" }, name: { type: "string" }, createdAt: ts, lastUsedAt: ts, expiresAt: ts } },
      CreatedToken: { allOf: [{ $ref: "#/components/schemas/Token" }, { type: "object", properties: { token: { type: "string" } } }] },
      TokenList: { type: "object", properties: { tokens: { type: "array", items: { $ref: "#/components/schemas/Token" } } } },
      Health: { type: "object", properties: { status: { const: "ok" }, version: { type: "string" }, mode: { enum: ["local", "slurm"] }, serves: {} } },
      Ok: { type: "object", properties: { ok: { const: true } } },
    },
  },
  paths: {
    "/health": { get: { summary: "liveness and which users are served", security: [], responses: { "200": { description: "ok", ...json("Health") } } } },
    "/openapi.json": { get: { summary: "this document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } } },
    "/instances": {
      post: {
        summary: "start an instance; local mode answers when it runs (201), ?wait=false at once (202)",
        security: auth,
        parameters: [{ name: "wait", in: "query", schema: { enum: ["true", "false"] } }],
        requestBody: { required: true, ...json("CreateInstance") },
        responses: {
          "201": { description: "running", ...json("Instance") },
          "202": { description: "starting, or in slurm mode pending (job id and expected start)", ...json("Instance") },
          "400": err("invalid request (shape, dtype, gpus, JSON); slurm mode: more GPUs than a node of the partition has, or slurm refused the job"),
          ...common,
          "409": err("GPU limit of the user reached"),
          "502": err("the instance did not start (reason and log lines in the message)"),
          "503": err("slurm mode: the slurm controller did not answer; try again"),
        },
      },
      get: {
        summary: "my instances, newest first (?all=false: live ones only)",
        security: auth,
        parameters: [{ name: "all", in: "query", schema: { enum: ["true", "false"] } }],
        responses: { "200": { description: "list", ...json("InstanceList") }, ...common },
      },
    },
    "/instances/{id}": {
      get: { summary: "one of my instances", security: auth, parameters: [id], responses: { "200": { description: "instance", ...json("Instance") }, ...common, "404": err("no such instance (or not yours)") } },
      delete: { summary: "stop one of my instances", security: auth, parameters: [id], responses: { "200": { description: "stopped", ...json("Instance") }, ...common, "404": err("no such instance (or not yours)") } },
    },
    "/instances/{id}/ready": {
      post: { summary: "instance call-back: up at host, port, dataPort", security: [{ instance: [] }], parameters: [id], requestBody: { required: true, ...json("Ready") }, responses: { "200": { description: "ok", ...json("Ok") }, "401": err("wrong secret"), "404": err("no such instance"), "409": err("no longer wanted") } },
    },
    "/instances/{id}/heartbeat": {
      post: { summary: "instance call-back: alive, open connections", security: [{ instance: [] }], parameters: [id], requestBody: { required: true, ...json("Heartbeat") }, responses: { "200": { description: "what to do", ...json("HeartbeatAnswer") }, "401": err("wrong secret"), "404": err("no such instance") } },
    },
    "/instances/{id}/access": {
      post: { summary: "instance call-back: a viewer or control connection opened it", security: [{ instance: [] }], parameters: [id], requestBody: { required: true, ...json("Access") }, responses: { "200": { description: "ok", ...json("Ok") }, "401": err("wrong secret"), "404": err("no such instance") } },
    },
    "/tokens": {
      post: { summary: "create an API token (needs MUNGE); the token is shown only here", security: [{ munge: [] }], requestBody: { required: true, ...json("CreateToken") }, responses: { "201": { description: "created", ...json("CreatedToken") }, "400": err("invalid request"), ...common } },
      get: { summary: "my tokens (without the tokens themselves)", security: auth, responses: { "200": { description: "list", ...json("TokenList") }, ...common } },
    },
    "/tokens/{id}": {
      delete: { summary: "revoke one of my tokens", security: auth, parameters: [{ name: "id", in: "path", required: true, schema: { type: "string" } }], responses: { "200": { description: "revoked", ...json("Ok") }, ...common, "404": err("no such token") } },
    },
  },
} as const;
