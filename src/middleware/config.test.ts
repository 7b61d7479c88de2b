import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import { readConfigFile, resolveConfig } from "./config.ts";
import { estimateGpus, volumeBytes } from "./gpus.ts";
import { parseDuration } from "./units.ts";

describe("configuration", () => {
  test("defaults: 127.0.0.1:8470, local, grace 60 min", () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({ bind: "127.0.0.1", port: 8470, mode: "local", graceMs: 3_600_000, gpuMemory: 80 * 2 ** 30 });
  });

  test("flag > env > file", async () => {
    const dir = mkdtempSync("/tmp/rv-cfg-");
    await Bun.write(join(dir, "a.toml"), 'grace = "30m"\nport = 9000\nstorage_roots = ["/data", "/scratch"]\ngpu-memory = "40GiB"\n');
    const file = await readConfigFile(join(dir, "a.toml"));
    const c = resolveConfig({ file, env: { REMOTEVIS_PORT: "9100", REMOTEVIS_IDLE_TIMEOUT: "2h" }, flags: { grace: "5s" } });
    expect(c.graceMs).toBe(5000);
    expect(c.port).toBe(9100);
    expect(c.idleTimeoutMs).toBe(7_200_000);
    expect(c.storageRoots).toEqual(["/data", "/scratch"]);
    expect(c.gpuMemory).toBe(40 * 2 ** 30);
    await Bun.write(join(dir, "b.json"), JSON.stringify({ "max-age": "1d", db: "/x/y.db" }));
    const j = resolveConfig({ file: await readConfigFile(join(dir, "b.json")) });
    expect(j.maxAgeMs).toBe(86_400_000);
    expect(j.stateDir).toBe("/x");
  });

  test("clear errors for unknown keys and bad values", async () => {
    expect(() => resolveConfig({ file: { gracee: "1m" } })).toThrow(/unknown setting 'gracee'/);
    expect(() => resolveConfig({ flags: { grace: "soon" } })).toThrow(/grace.*duration/);
    expect(() => resolveConfig({ flags: { port: "-1" } })).toThrow(/port/);
    expect(() => resolveConfig({ flags: { mode: "cloud" } })).toThrow(/mode/);
    expect(readConfigFile("/nonexistent/remotevis.toml")).rejects.toThrow(/not found/);
  });

  test("durations", () => {
    expect(parseDuration("90", "x")).toBe(90_000);
    expect(parseDuration("1.5h", "x")).toBe(5_400_000);
    expect(parseDuration("0", "x")).toBe(0);
  });
});

describe("GPU estimate", () => {
  test("ceil(bytes x factor / memory), at least 1", () => {
    expect(estimateGpus(1, 2, 80 * 2 ** 30)).toBe(1);
    expect(estimateGpus(40 * 2 ** 30, 2, 80 * 2 ** 30)).toBe(1);
    expect(estimateGpus(40 * 2 ** 30 + 1, 2, 80 * 2 ** 30)).toBe(2);
    expect(volumeBytes([2048, 2048, 2048], "float32")).toBe(32 * 2 ** 30);
  });

  test("overflowing shapes are refused, not wrapped", () => {
    expect(() => volumeBytes([2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1], "uint8")).toThrow(/too large/);
  });
});
