/** unmunge with a real munged (started by scripts/munge-up.sh; needs root the first time). */
import { describe, expect, test } from "bun:test";
import { verifyMunge } from "./munge.ts";

const ROOT = new URL("../../..", import.meta.url).pathname;
const up = Bun.spawnSync([`${ROOT}scripts/munge-up.sh`], { stdout: "pipe", stderr: "pipe" }).exitCode === 0;
if (!up) console.warn("munge tests skipped: munged is not running and could not be started (scripts/munge-up.sh needs root)");

const cred = () => Bun.spawnSync(["munge", "--no-input"]).stdout.toString().trim();

describe.skipIf(!up)("MUNGE credentials", () => {
  test("gives the uid/gid of whoever made it", async () => {
    expect(await verifyMunge(cred())).toEqual({ uid: process.getuid!(), gid: process.getgid!() });
  });

  test("a replayed credential is refused", async () => {
    const c = cred();
    await verifyMunge(c);
    await expect(verifyMunge(c)).rejects.toMatchObject({ status: 401, message: expect.stringContaining("replayed") });
  });

  test("expired, forged and malformed credentials are refused", async () => {
    const expired = Bun.spawnSync(["munge", "--no-input", "--ttl=1"]).stdout.toString().trim();
    await Bun.sleep(2100);
    await expect(verifyMunge(expired)).rejects.toMatchObject({ status: 401, message: expect.stringContaining("expired") });
    const c = cred();
    const forged = c.slice(0, 20) + (c[20] === "A" ? "B" : "A") + c.slice(21);
    await expect(verifyMunge(forged)).rejects.toMatchObject({ status: 401 });
    await expect(verifyMunge("not a credential; rm -rf /")).rejects.toMatchObject({ status: 401, message: expect.stringContaining("malformed") });
  });
});
