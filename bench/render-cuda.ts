/**
 * `remotevis bench render --renderer cuda`: librvr's CUDA backend against the plain reference
 * CUDA ray caster (bench/render-ref/ref_cuda.cu: 3D texture, one sample per voxel, early
 * termination, no skipping) and against one cudaMemcpy from page-locked memory, in one process:
 * ffi/librvr's rvr_bench_cuda, built where nvcc exists. Its result lines already have the
 * benchmark form (bench/report.ts); they pass through, its commentary goes to stderr.
 */
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { RemoteVisError } from "../src/errors.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** RVR_BENCH_CUDA, else beside the executable, else the build tree. */
export function cudaBenchTool(): string | undefined {
  const candidates = [process.env.RVR_BENCH_CUDA, join(dirname(process.execPath), "rvr_bench_cuda"), join(ROOT, "ffi/librvr/build/rvr_bench_cuda")];
  return candidates.find((p): p is string => !!p && existsSync(p));
}

export async function renderCudaBench(o: { volumes: string[]; frames: number; width: number; height: number }): Promise<void> {
  const tool = cudaBenchTool();
  if (!tool)
    throw new RemoteVisError(
      "not_built",
      "rvr_bench_cuda was not found: it is built by 'make -C ffi/librvr' where nvcc exists; put it beside the executable or name it in RVR_BENCH_CUDA",
    );
  const argv = [tool, String(o.frames), String(o.width), String(o.height), ...o.volumes];
  process.stderr.write(`bench render --renderer cuda: ${argv.join(" ")}\n`);
  const p = Bun.spawn(argv, { stdout: "inherit", stderr: "inherit", env: { OMP_NUM_THREADS: String(navigator.hardwareConcurrency), ...process.env } });
  const code = await p.exited;
  if (code !== 0) throw new RemoteVisError("bench_failed", `rvr_bench_cuda exited with ${code} (no usable GPU? its output above says why)`);
}
