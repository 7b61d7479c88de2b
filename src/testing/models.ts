/** The test networks of scripts/train-segmentation.sh (trained once, cached in data/models). */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ensureTestData, REPO } from "../formats/testdata.ts";

export const MODELS = join(REPO, "data/models");

/** Trains (or finds cached) the test networks; false, with a warning saying why, when they cannot be had. */
export async function ensureModels(): Promise<boolean> {
  if (!(await ensureTestData())) return false;
  const p = Bun.spawn(["bash", join(REPO, "scripts/train-segmentation.sh"), "--quiet"], { stdout: "pipe", stderr: "pipe", cwd: REPO });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) console.warn(`SKIPPING segmentation tests: scripts/train-segmentation.sh failed (exit ${code}): ${err.slice(-1500)}`);
  return code === 0 && existsSync(join(MODELS, "ct-unet.onnx"));
}
