/**
 * A volume read by src/formats, made ready for an instance: the protocol's dtype name and an
 * array the renderer takes (int8 widens to int16 and int32 to float64, both exactly).
 */
import type { VolumeDtype } from "../protocol/control.ts";
import { PROTOCOL_DTYPE, type Volume } from "../formats/types.ts";
import type { VolumeArray } from "./instance.ts";

export function forInstance(v: Volume): { data: VolumeArray; dtype: VolumeDtype; note?: string } {
  if (v.dtype === "i8") return { data: Int16Array.from(v.data as Int8Array), dtype: "int16", note: "int8 sent as int16" };
  if (v.dtype === "i32") return { data: Float64Array.from(v.data as Int32Array), dtype: "float64", note: "int32 sent as float64" };
  return { data: v.data as VolumeArray, dtype: PROTOCOL_DTYPE[v.dtype] as VolumeDtype };
}
