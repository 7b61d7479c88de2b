/**
 * For tests: the real files of scripts/testdata.sh under data/, made once on first use (CI runs
 * as root with apt available). `ensureTestData()` returns the data folder, or undefined (with
 * the reason on stderr) when the Debian packages cannot be had here, so tests can skip clearly.
 * Also small helpers to write synthetic (corrupt) files into a temporary folder.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { expect } from "bun:test";
import { RemoteVisError } from "../errors.ts";

/** The RemoteVisError that `fn` throws (fails the test when it throws nothing or another error). */
export function err(fn: () => unknown): RemoteVisError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteVisError);
    return e as RemoteVisError;
  }
  throw new Error("expected a RemoteVisError");
}

export const REPO = new URL("../../", import.meta.url).pathname;
export const DATA = join(REPO, "data");
const STAMP = join(DATA, ".testdata-v1");

let pending: Promise<string | undefined> | undefined;

export function ensureTestData(): Promise<string | undefined> {
  pending ??= (async () => {
    if (existsSync(STAMP)) return DATA;
    const p = Bun.spawn(["bash", join(REPO, "scripts/testdata.sh")], { stdout: "pipe", stderr: "pipe", cwd: REPO });
    const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (code === 0 && existsSync(STAMP)) return DATA;
    console.warn(
      `SKIPPING tests on real data: scripts/testdata.sh failed (exit ${code}); the Debian packages could not be had here.\n${(err || out).slice(-2000)}`,
    );
    return undefined;
  })();
  return pending;
}

/** A fresh temporary folder with a `write(name, bytes)` helper; removed by `cleanup()`. */
export function scratch(): { dir: string; write(name: string, bytes: Uint8Array | string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), "rv-formats-"));
  return {
    dir,
    write(name, bytes) {
      const p = join(dir, name);
      writeFileSync(p, bytes);
      return p;
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Little-endian byte builder for synthetic headers. */
export class Bytes {
  readonly buf: Uint8Array;
  readonly dv: DataView;
  constructor(n: number) {
    this.buf = new Uint8Array(n);
    this.dv = new DataView(this.buf.buffer);
  }
  ascii(at: number, s: string): this {
    this.buf.set(new TextEncoder().encode(s), at);
    return this;
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
