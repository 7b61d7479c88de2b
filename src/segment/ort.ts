/**
 * ONNX Runtime for the instance's segmentation, from onnxruntime-node's native addon
 * (`onnxruntime_binding.node`, which loads `libonnxruntime.so.1` from its own folder through
 * its RUNPATH $ORIGIN). The addon is NOT embedded in the compiled executable (a Node addon
 * plus a 46 MB library that must sit beside it); it is looked for, in this order:
 *
 *   1. $REMOTEVIS_ORT_DIR                         a folder with both files
 *   2. <folder of the executable>/onnxruntime/    `make build` copies both there (dist/onnxruntime/)
 *   3. <folder of the executable>/node_modules/onnxruntime-node/bin/napi-v6/<platform>/<arch>/
 *   4. node_modules/onnxruntime-node/... of this source tree (bun run) or of the current folder
 *
 * So a user copies `dist/remotevis` together with `dist/onnxruntime/` (two files). Without
 * them only segmentation fails, with `onnxruntime_unavailable` naming the places looked at.
 *
 * The binding is used directly (as onnxruntime-node's backend.js does) with the Tensor class
 * of onnxruntime-common, so that no package code computes paths relative to itself.
 */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { isMainThread } from "node:worker_threads";
import { Tensor } from "onnxruntime-common";
import { RemoteVisError } from "../errors.ts";

const BINDING = "onnxruntime_binding.node";
const SUBDIR = `bin/napi-v6/${process.platform}/${process.arch}`;

interface RawMetadata {
  name: string;
  isTensor: boolean;
  type: number;
  shape: number[];
  symbolicDimensions: string[];
}
interface RawSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: Record<string, unknown>): void;
  readonly inputMetadata: RawMetadata[];
  readonly outputMetadata: RawMetadata[];
  run(feeds: Record<string, Tensor>, fetches: Record<string, null>, options: Record<string, unknown>): Record<string, { type: string; data: ArrayBufferView; dims: readonly number[] }>;
  dispose(): void;
}
interface Binding {
  InferenceSession: new () => RawSession;
  listSupportedBackends(): { name: string; bundled: boolean }[];
  initOrtOnce(logLevel: number, tensor: typeof Tensor, isMainThread: boolean): void;
}

/** Folders that may hold the addon, in the order they are tried. */
export function ortCandidates(): string[] {
  const out: string[] = [];
  if (process.env.REMOTEVIS_ORT_DIR) out.push(process.env.REMOTEVIS_ORT_DIR);
  const exeDir = dirname(process.execPath);
  out.push(join(exeDir, "onnxruntime"), join(exeDir, "node_modules/onnxruntime-node", SUBDIR));
  // Not inside the executable (whose import.meta.url, compiled to bytecode, is the build tree's).
  if (!Bun.main.startsWith("/$bunfs/")) out.push(new URL(`../../node_modules/onnxruntime-node/${SUBDIR}`, import.meta.url).pathname);
  out.push(join(process.cwd(), "node_modules/onnxruntime-node", SUBDIR));
  return out;
}

let binding: Binding | undefined;
let bindingDir: string | undefined;

/** Loads the addon once per thread; throws `onnxruntime_unavailable` with what was tried. */
export function ort(): { binding: Binding; dir: string } {
  if (!binding) {
    const tried = ortCandidates();
    const dir = tried.find((d) => existsSync(join(d, BINDING)));
    if (!dir)
      throw new RemoteVisError(
        "onnxruntime_unavailable",
        `segmentation needs ONNX Runtime (onnxruntime-node's ${BINDING} and libonnxruntime.so.1); put both in a folder 'onnxruntime' beside the executable or set REMOTEVIS_ORT_DIR. Looked in: ${tried.join(", ")}`,
        501,
      );
    try {
      const b = createRequire(import.meta.url)(join(dir, BINDING)) as Binding;
      b.initOrtOnce(3, Tensor, isMainThread);
      binding = b;
      bindingDir = dir;
    } catch (err) {
      throw new RemoteVisError("onnxruntime_unavailable", `cannot load ONNX Runtime from ${dir}: ${err instanceof Error ? err.message : err}`, 501);
    }
  }
  return { binding, dir: bindingDir! };
}

const TYPES = [undefined, "float32", "uint8", "int8", "uint16", "int16", "int32", "int64", "string", "bool", "float16", "float64", "uint32", "uint64"];

export interface ValueInfo {
  name: string;
  type: string;
  /** Fixed extents as numbers, free ones as their symbolic name (or "?"). */
  shape: (number | string)[];
}

export interface SessionOptions {
  /** Threads of ONNX Runtime's intra-op pool; 0 = its default (all cores). */
  threads?: number;
  /** Use the CUDA execution provider where the installed onnxruntime has it. */
  cuda?: boolean;
}

/** One loaded model. `run` blocks: call it off the event loop (worker.ts). */
export class OrtSession {
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  readonly providers: string[];
  private disposed = false;

  private constructor(
    private readonly s: RawSession,
    providers: string[],
  ) {
    const info = (m: RawMetadata): ValueInfo => ({
      name: m.name,
      type: m.isTensor ? (TYPES[m.type] ?? `type ${m.type}`) : "non-tensor",
      shape: (m.shape ?? []).map((d, i) => (d >= 0 ? d : (m.symbolicDimensions?.[i] || "?"))),
    });
    this.inputs = s.inputMetadata.map(info);
    this.outputs = s.outputMetadata.map(info);
    this.providers = providers;
  }

  /** Loads a model from its bytes; throws `invalid_model` with ONNX Runtime's reason. */
  static load(bytes: Uint8Array, o: SessionOptions = {}): OrtSession {
    const { binding: b, dir } = ort();
    // The CUDA execution provider only where its library was installed beside the addon (the
    // npm package's install script fetches it; skipped here), else ONNX Runtime logs errors.
    const cudaThere = o.cuda !== false && b.listSupportedBackends().some((x) => x.name === "cuda") && existsSync(join(dir, "libonnxruntime_providers_cuda.so"));
    const attempts: string[][] = cudaThere ? [["cuda", "cpu"], ["cpu"]] : [["cpu"]];
    let last: unknown;
    for (const providers of attempts) {
      const s = new b.InferenceSession();
      try {
        s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {
          executionProviders: providers,
          graphOptimizationLevel: "all",
          ...(o.threads ? { intraOpNumThreads: o.threads, interOpNumThreads: 1 } : {}),
        });
        return new OrtSession(s, providers);
      } catch (err) {
        last = err;
      }
    }
    throw new RemoteVisError("invalid_model", `ONNX Runtime cannot load the model: ${(last instanceof Error ? last.message : String(last)).slice(0, 500)}`, 400);
  }

  /**
   * Runs the model on one float32 input; returns the first output's data and dims. With `into`
   * (the output's exact size, dims `intoDims`) ONNX Runtime writes there instead of allocating
   * (a batch's scores are megabytes: no garbage per batch).
   */
  run(input: Float32Array, dims: number[], into?: { data: Float32Array; dims: number[] }): { data: Float32Array; dims: number[] } {
    if (this.disposed) throw new RemoteVisError("closed", "the model was disposed", 400);
    const feeds = { [this.inputs[0]!.name]: new Tensor("float32", input, dims) };
    const name = this.outputs[0]!.name;
    if (into) {
      this.s.run(feeds, { [name]: new Tensor("float32", into.data, into.dims) as never }, {});
      return into;
    }
    const out = this.s.run(feeds, { [name]: null }, {});
    const r = out[name]!;
    if (!(r.data instanceof Float32Array)) throw new RemoteVisError("invalid_model", `the model's output is ${r.type}, not float32`, 400);
    return { data: r.data, dims: [...r.dims] };
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.s.dispose();
  }
}
