import { describe, expect, test } from "bun:test";
import { formatBytes, helpText, parseBytes, parseHostPort } from "./command.ts";
import { root } from "./root.ts";

describe("flag helpers", () => {
  test("sizes", () => {
    expect(parseBytes("4096")).toBe(4096);
    expect(parseBytes("1GiB")).toBe(2 ** 30);
    expect(parseBytes("1GiB+7")).toBe(2 ** 30 + 7);
    expect(parseBytes("128KiB-1")).toBe(131071);
    expect(parseBytes("1GB")).toBe(1e9);
    expect(parseBytes("64M")).toBe(64e6);
    expect(() => parseBytes("lots")).toThrow(/not a size/);
    expect(() => parseBytes("1-2")).toThrow(/out of range/);
    expect(formatBytes(1536)).toBe("1.50 KiB");
  });
  test("host:port", () => {
    expect(parseHostPort("127.0.0.1:80")).toEqual({ host: "127.0.0.1", port: 80 });
    expect(parseHostPort("[::1]:9")).toEqual({ host: "::1", port: 9 });
    expect(() => parseHostPort("host")).toThrow(/HOST:PORT/);
    expect(() => parseHostPort("h:70000")).toThrow(/HOST:PORT/);
  });
});

describe("help", () => {
  test("every command has a summary, a usage and help text naming its options", () => {
    const walk = (c: typeof root, path: string[]): void => {
      expect(c.summary.length).toBeGreaterThan(10);
      const text = helpText(c, path);
      expect(text).toContain(`usage: remotevis ${c.usage}`);
      for (const name of Object.keys(c.options ?? {})) expect(text).toContain(`--${name}`);
      for (const s of c.subcommands ?? []) walk(s, [...path, s.name]);
    };
    walk(root, []);
  });
});
