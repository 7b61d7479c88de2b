/** The instance process alone (no middleware): ports, token-guarded routes, transfer limit, SIGTERM. */
import { describe, expect, test } from "bun:test";
import { selfArgv } from "../cli/self.ts";
import { checkTransferAllowed, setTransferLimit } from "./limits.ts";

describe("instance", () => {
  test("checkTransferAllowed enforces the byte limit fixed at start", () => {
    setTransferLimit(1000);
    expect(() => checkTransferAllowed(1000)).not.toThrow();
    expect(() => checkTransferAllowed(1001)).toThrow(/more than the 1000 bytes/);
    expect(() => checkTransferAllowed(-1)).toThrow();
    expect(() => checkTransferAllowed(1.5)).toThrow();
  });

  test("runs alone, guards its routes with the secret, stops cleanly on SIGTERM", async () => {
    const secret = "s".repeat(43);
    const p = Bun.spawn([...selfArgv(), "instance", "--secret-file", "-", "--max-bytes", "4096"], {
      stdin: new TextEncoder().encode(secret + "\n"),
      stdout: "pipe",
      stderr: "pipe",
    });
    let out = "";
    const reader = p.stdout.getReader();
    while (!/http 127\.0\.0\.1:(\d+)/.test(out)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`instance exited: ${out} ${await new Response(p.stderr).text()}`);
      out += new TextDecoder().decode(value);
    }
    const port = /http 127\.0\.0\.1:(\d+)/.exec(out)![1];
    expect(out).toMatch(/data 127\.0\.0\.1:\d+/);
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(401);
    const h = await fetch(`http://127.0.0.1:${port}/health?token=${secret}`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: "ok", pid: p.pid });
    p.kill("SIGTERM");
    expect(await p.exited).toBe(0);
  });
});
