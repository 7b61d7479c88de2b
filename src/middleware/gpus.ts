/**
 * How many GPUs a volume needs, and whether the user may have them. The estimate is the one
 * of the paper: bytes of the requested volume times a working-set factor (volume + rendering
 * structures), divided by the memory of one GPU, rounded up, at least 1. The volume's byte
 * count is also the limit that the instance enforces on every transfer later.
 */
import { RemoteVisError } from "../errors.ts";
import { DTYPE_BYTES, type Dtype } from "../protocol/instances.ts";

/** Bytes of a volume of `shape` x `dtype`; refuses sizes past 2^53 (no silent overflow). */
export function volumeBytes(shape: number[], dtype: Dtype): number {
  let n = BigInt(DTYPE_BYTES[dtype]);
  for (const extent of shape) n *= BigInt(extent);
  if (n > BigInt(Number.MAX_SAFE_INTEGER))
    throw new RemoteVisError("too_large", "the volume is too large: its size in bytes exceeds 2^53", 400, { maxBytes: Number.MAX_SAFE_INTEGER });
  return Number(n);
}

export function estimateGpus(bytes: number, workingSet: number, gpuMemory: number): number {
  return Math.max(1, Math.ceil((bytes * workingSet) / gpuMemory));
}

export interface GpuDecision {
  bytes: number;
  gpus: number;
  estimate: number;
}

/**
 * The GPUs to give a new instance: the estimate, or more if the user asked for more; refused
 * when fewer than the estimate were asked for or when the user's limit would be exceeded.
 */
export function decideGpus(o: {
  shape: number[];
  dtype: Dtype;
  requested?: number;
  inUse: number;
  limit: number;
  workingSet: number;
  gpuMemory: number;
}): GpuDecision {
  const bytes = volumeBytes(o.shape, o.dtype);
  const estimate = estimateGpus(bytes, o.workingSet, o.gpuMemory);
  if (o.requested !== undefined && o.requested < estimate)
    throw new RemoteVisError("too_few_gpus", `this volume needs at least ${estimate} GPU(s); ${o.requested} were asked for`, 400, { estimate });
  const gpus = o.requested ?? estimate;
  if (estimate > o.limit)
    throw new RemoteVisError("gpu_limit", `this volume needs ${estimate} GPU(s), more than the limit of ${o.limit} per user`, 403, { estimate, limit: o.limit });
  if (o.inUse + gpus > o.limit)
    throw new RemoteVisError(
      "gpu_limit",
      `${gpus} more GPU(s) would exceed your limit of ${o.limit} (${o.inUse} in use by your running instances); stop one first`,
      409,
      { requested: gpus, inUse: o.inUse, limit: o.limit },
    );
  return { bytes, gpus, estimate };
}
