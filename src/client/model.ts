/**
 * A trained network for an instance's segmentation: the ONNX bytes plus their description
 * (protocol/segment.ts). A file `NET.onnx` may have its description beside it as `NET.json`
 * (fields other than the description's are ignored); options given in code win over it.
 */
import { existsSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { RemoteVisError } from "../errors.ts";
import { MODEL_DESCRIPTION_KEYS, ModelDescription } from "../protocol/segment.ts";

export type ModelDescriptionInput = v.InferInput<typeof ModelDescription>;

/** The description fields of an object (e.g. a JSON file that holds more). */
export function pickDescription(o: Record<string, unknown>): Partial<ModelDescriptionInput> {
  return Object.fromEntries(Object.entries(o).filter(([k, x]) => (MODEL_DESCRIPTION_KEYS as string[]).includes(k) && x !== undefined)) as Partial<ModelDescriptionInput>;
}

/** Reads NET.onnx and, when there, NET.json beside it; `over` wins. Checks the result. */
export function loadModelFile(path: string, over: Partial<ModelDescriptionInput> = {}): { bytes: Uint8Array; description: ModelDescriptionInput } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new RemoteVisError("not_found", `cannot read the model ${path}: ${err instanceof Error ? err.message : err}`, 404);
  }
  const side = path.replace(/\.onnx$/i, "") + ".json";
  let fromFile: Partial<ModelDescriptionInput> = {};
  if (side !== path && existsSync(side)) {
    try {
      fromFile = pickDescription(JSON.parse(readFileSync(side, "utf8")) as Record<string, unknown>);
    } catch (err) {
      throw new RemoteVisError("invalid_description", `${side} is not valid JSON: ${err instanceof Error ? err.message : err}`, 400);
    }
  }
  return { bytes, description: checkDescription({ ...fromFile, ...pickDescription(over as Record<string, unknown>) }) };
}

/** Checks a description before anything is sent (the instance checks it again). */
export function checkDescription(d: Partial<ModelDescriptionInput>): ModelDescriptionInput {
  const r = v.safeParse(ModelDescription, d);
  if (!r.success) throw new RemoteVisError("invalid_description", `model description: ${r.issues[0].message}${r.issues[0].path ? ` (at ${r.issues[0].path.map((p) => p.key).join(".")})` : ""}`, 400);
  return d as ModelDescriptionInput;
}
