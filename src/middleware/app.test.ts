/** Route tests: every route through app.request(), no port, no processes. */
import { describe, expect, test } from "bun:test";
import * as v from "valibot";
import { ErrorBody } from "../protocol/common.ts";
import { Instance, InstanceList } from "../protocol/instances.ts";
import { CreatedToken, TokenList } from "../protocol/tokens.ts";
import { openapi } from "./openapi.ts";
import { munge, testApp } from "./testing.ts";

const A = 1001;
const B = 1002;
const json = (body: unknown, auth?: string) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...(auth ? { authorization: auth } : {}) },
  body: typeof body === "string" ? body : JSON.stringify(body),
});

async function errorOf(res: Response, status: number) {
  expect(res.status).toBe(status);
  return v.parse(ErrorBody, await res.json()).error;
}

/** Creates an instance for `uid` without waiting, then plays its ready call-back. */
async function runningFor(t: ReturnType<typeof testApp>, uid: number) {
  const res = await t.app.request("/api/v1/instances?wait=false", json({ shape: [64, 64, 64], dtype: "uint16", name: "ct" }, munge(uid)));
  expect(res.status).toBe(202);
  const inst = v.parse(Instance, await res.json());
  const secret = t.secrets.secretFor(inst.id);
  const ready = await t.app.request(`/api/v1/instances/${inst.id}/ready`, {
    ...json({ host: "127.0.0.1", port: 40001, dataPort: 40002 }),
    headers: { "content-type": "application/json", authorization: `Instance ${secret}` },
  });
  expect(ready.status).toBe(200);
  return { id: inst.id, secret };
}

describe("middleware routes", () => {
  test("health needs no credentials and says whom it serves", async () => {
    const t = testApp();
    const res = await t.app.request("/api/v1/health");
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", mode: "local", serves: "all" });
  });

  test("create, get, list, stop: the URL carries the instance secret", async () => {
    const t = testApp();
    const { id, secret } = await runningFor(t, A);
    const got = v.parse(Instance, await (await t.app.request(`/api/v1/instances/${id}`, { headers: { authorization: munge(A) } })).json());
    expect(got.state).toBe("running");
    expect(got.url).toBe(`http://127.0.0.1:40001/?token=${secret}`);
    expect(got.dataPort).toBe(40002);
    expect(got.maxBytes).toBe(64 * 64 * 64 * 2);
    expect(got.gpus).toBe(1);
    expect(got.deadline?.why).toContain("grace");
    const list = v.parse(InstanceList, await (await t.app.request("/api/v1/instances", { headers: { authorization: munge(A) } })).json());
    expect(list.instances.map((i) => i.id)).toEqual([id]);
    expect(t.backend.launched[0]!.args).toContain("--max-bytes");
    expect(t.backend.launched[0]!.args).not.toContain(secret); // the secret goes on stdin only
    const stopped = v.parse(Instance, await (await t.app.request(`/api/v1/instances/${id}`, { method: "DELETE", headers: { authorization: munge(A) } })).json());
    expect(stopped.state).toBe("stopped");
    expect(stopped.reason).toContain("stopped by");
    expect(stopped.url).toBeNull();
  });

  test("another user gets 404 exactly like a missing id, for get and stop, and sees none in the list", async () => {
    const t = testApp();
    const { id } = await runningFor(t, A);
    const theirs = await t.app.request(`/api/v1/instances/${id}`, { headers: { authorization: munge(B) } });
    const missing = await t.app.request("/api/v1/instances/i-0123456789abcdef", { headers: { authorization: munge(B) } });
    const e1 = await errorOf(theirs, 404);
    const e2 = await errorOf(missing, 404);
    expect(e1).toEqual(e2);
    await errorOf(await t.app.request(`/api/v1/instances/${id}`, { method: "DELETE", headers: { authorization: munge(B) } }), 404);
    const list = v.parse(InstanceList, await (await t.app.request("/api/v1/instances", { headers: { authorization: munge(B) } })).json());
    expect(list.instances).toEqual([]);
    expect(t.backend.stopped).toEqual([]);
  });

  test("credentials: none, malformed, replayed, unknown scheme -> 401", async () => {
    const t = testApp();
    expect((await errorOf(await t.app.request("/api/v1/instances"), 401)).code).toBe("unauthenticated");
    await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: "MUNGE garbage" } }), 401);
    const cred = munge(A);
    expect((await t.app.request("/api/v1/instances", { headers: { authorization: cred } })).status).toBe(200);
    expect((await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: cred } }), 401)).message).toContain("replayed");
    await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: "Basic dXNlcjpwdw==" } }), 401);
    await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: "Bearer rv_notarealtokennotarealtoken" } }), 401);
  });

  test("a middleware run as a normal user refuses other uids", async () => {
    const t = testApp({}, A);
    expect((await t.app.request("/api/v1/instances", { headers: { authorization: munge(A) } })).status).toBe(200);
    const e = await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: munge(B) } }), 403);
    expect(e.message).toContain("serves that user only");
  });

  test("bad bodies get a clear 4xx with the one error shape and no echo of the input", async () => {
    const t = testApp();
    const cases: [unknown, number, string][] = [
      ["{not json", 400, "malformed_json"],
      [{ shape: [64, 64, 64], dtype: "complex<script>" }, 400, "invalid_request"],
      [{ shape: [64, -1, 64], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [64, 0, 64], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [1.5], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [1, 2, 3, 4, 5], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [1e12, 1, 1], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [2e9, 2e9, 2e9], dtype: "float64" }, 400, "too_large"],
      [{ shape: ["64"], dtype: "uint8" }, 400, "invalid_request"],
      [{ shape: [64], dtype: "uint8", evil: "<b>x</b>" }, 400, "invalid_request"],
      [{ shape: [64], dtype: "uint8", gpus: 0 }, 400, "invalid_request"],
      [[1, 2, 3], 400, "invalid_request"],
    ];
    for (const [body, status, code] of cases) {
      const res = await t.app.request("/api/v1/instances", json(body, munge(A)));
      const text = await res.clone().text();
      const e = await errorOf(res, status);
      expect(e.code).toBe(code);
      expect(text).not.toContain("script");
      expect(text).not.toContain("<b>");
    }
    // Not JSON at all.
    const e = await errorOf(await t.app.request("/api/v1/instances", { method: "POST", headers: { authorization: munge(A) }, body: "shape=1" }), 415);
    expect(e.code).toBe("unsupported_media_type");
    // Too big a body.
    await errorOf(await t.app.request("/api/v1/instances", json({ shape: [1], dtype: "uint8", name: "x".repeat(100_000) }, munge(A))), 413);
    expect(t.backend.launched).toEqual([]);
  });

  test("unknown ids, unknown routes -> 404 with the error shape", async () => {
    const t = testApp();
    for (const id of ["nope", "i-0000000000000000", "../../etc/passwd"]) await errorOf(await t.app.request(`/api/v1/instances/${encodeURIComponent(id)}`, { headers: { authorization: munge(A) } }), 404);
    expect((await errorOf(await t.app.request("/api/v2/instances"), 404)).code).toBe("no_route");
  });

  test("GPU estimate and per-user limit", async () => {
    const t = testApp({ gpuMemory: 1024 ** 3, gpuLimit: 3, workingSet: 2 });
    // 512 MiB volume x 2 = 1 GiB -> 1 GPU; 1 GiB volume -> 2 GPUs.
    const one = await t.app.request("/api/v1/instances?wait=false", json({ shape: [512, 1024, 1024], dtype: "uint8" }, munge(A)));
    expect(v.parse(Instance, await one.json()).gpus).toBe(1);
    const two = await t.app.request("/api/v1/instances?wait=false", json({ shape: [1024, 1024, 1024], dtype: "uint8" }, munge(A)));
    expect(v.parse(Instance, await two.json()).gpus).toBe(2);
    const e = await errorOf(await t.app.request("/api/v1/instances?wait=false", json({ shape: [64], dtype: "uint8" }, munge(A))), 409);
    expect(e.code).toBe("gpu_limit");
    // Another user has their own budget.
    expect((await t.app.request("/api/v1/instances?wait=false", json({ shape: [64], dtype: "uint8" }, munge(B)))).status).toBe(202);
    // Too big for the limit at all, and fewer GPUs than the estimate.
    expect((await errorOf(await t.app.request("/api/v1/instances", json({ shape: [4096, 1024, 1024], dtype: "uint8" }, munge(B))), 403)).code).toBe("gpu_limit");
    expect((await errorOf(await t.app.request("/api/v1/instances", json({ shape: [1024, 1024, 1024], dtype: "uint8", gpus: 1 }, munge(B))), 400)).code).toBe("too_few_gpus");
  });

  test("call-backs need the instance's own secret, not a user's credentials", async () => {
    const t = testApp();
    const { id, secret } = await runningFor(t, A);
    const hb = (auth: string) =>
      t.app.request(`/api/v1/instances/${id}/heartbeat`, { ...json({ connections: 0 }), headers: { "content-type": "application/json", authorization: auth } });
    // The answer carries the deadline too, for the viewer's "about to be stopped" banner.
    const beat = (await (await hb(`Instance ${secret}`)).json()) as { action: string; deadline: unknown };
    expect(beat.action).toBe("continue");
    expect(beat.deadline).toEqual(v.parse(Instance, await (await t.app.request(`/api/v1/instances/${id}`, { headers: { authorization: munge(A) } })).json()).deadline);
    await errorOf(await hb(munge(A)), 401);
    await errorOf(await hb(`Instance ${t.secrets.secretFor("i-0000000000000000")}`), 401);
    const acc = await t.app.request(`/api/v1/instances/${id}/access`, { ...json({ kind: "viewer" }), headers: { "content-type": "application/json", authorization: `Instance ${secret}` } });
    expect(acc.status).toBe(200);
    const got = v.parse(Instance, await (await t.app.request(`/api/v1/instances/${id}`, { headers: { authorization: munge(A) } })).json());
    expect(got.openedAt).not.toBeNull();
    await t.app.request(`/api/v1/instances/${id}`, { method: "DELETE", headers: { authorization: munge(A) } });
    expect(await (await hb(`Instance ${secret}`)).json()).toMatchObject({ action: "stop" });
  });

  test("lifecycle: grace stops the unopened one, not the opened one; start timeout fails with reason", async () => {
    const t = testApp({ graceMs: 1000, startTimeoutMs: 1000, idleTimeoutMs: 0 });
    const a = await runningFor(t, A);
    const b = await runningFor(t, A);
    await t.app.request(`/api/v1/instances/${b.id}/access`, { ...json({ kind: "control" }), headers: { "content-type": "application/json", authorization: `Instance ${b.secret}` } });
    const stuck = v.parse(Instance, await (await t.app.request("/api/v1/instances?wait=false", json({ shape: [8], dtype: "uint8" }, munge(A)))).json());
    const { Lifecycle } = await import("./lifecycle.ts");
    await new Lifecycle(t.service, 1000).sweep(Date.now() + 1500);
    expect(t.store.getInstance(a.id)!.state).toBe("stopped");
    expect(t.store.getInstance(a.id)!.reason).toContain("grace period");
    expect(t.store.getInstance(b.id)!.state).toBe("running");
    expect(t.store.getInstance(stuck.id)!.state).toBe("failed");
    expect(t.store.getInstance(stuck.id)!.reason).toContain("start timeout");
  });

  test("tokens: created with munge, used as Bearer, cannot mint tokens, revocable", async () => {
    const t = testApp();
    const created = v.parse(CreatedToken, await (await t.app.request("/api/v1/tokens", json({ name: "ci" }, munge(A)))).json());
    const bearer = `Bearer ${created.token}`;
    expect((await t.app.request("/api/v1/instances", { headers: { authorization: bearer } })).status).toBe(200);
    expect((await errorOf(await t.app.request("/api/v1/tokens", json({ name: "more" }, bearer)), 403)).code).toBe("forbidden");
    const list = v.parse(TokenList, await (await t.app.request("/api/v1/tokens", { headers: { authorization: bearer } })).json());
    expect(list.tokens.map((x) => x.id)).toEqual([created.id]);
    expect(JSON.stringify(list)).not.toContain(created.token);
    await errorOf(await t.app.request(`/api/v1/tokens/${created.id}`, { method: "DELETE", headers: { authorization: munge(B) } }), 404);
    expect((await t.app.request(`/api/v1/tokens/${created.id}`, { method: "DELETE", headers: { authorization: munge(A) } })).status).toBe(200);
    await errorOf(await t.app.request("/api/v1/instances", { headers: { authorization: bearer } }), 401);
  });

  test("openapi.json describes every route of the route map", async () => {
    const t = testApp();
    const doc = (await (await t.app.request("/api/v1/openapi.json")).json()) as typeof openapi;
    const described = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} /api/v1${p.replace(/\{(\w+)\}/g, ":$1")}`)));
    const bound = t.app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
    for (const r of bound) expect(described).toContain(r);
  });
});
