/**
 * CCP4 / MRC density maps (.ccp4, .map, .mrc): 1024-byte header, optional extended header,
 * then columns (fastest), rows, sections: shape [sections, rows, columns], order "C".
 * Modes 0 (int8), 1 (int16), 2 (float32), 6 (uint16); either byte order (MACHST). Spacing in
 * Ångström ("A") from the cell and the sampling, following the axis mapping MAPC/MAPR/MAPS.
 */
import { FileReader } from "./io.ts";
import { type Dtype, DTYPE_SIZE, type ReadLimits, type Vec3, type Volume, allocate, byteSwap, checkedBytes, corrupt, fail, typedView } from "./types.ts";

const MODES: Record<number, Dtype> = { 0: "i8", 1: "i16", 2: "f32", 6: "u16" };

export function isMrc(head: Uint8Array): boolean {
  return head.length >= 212 && head[208] === 0x4d && head[209] === 0x41 && head[210] === 0x50 && head[211] === 0x20; // "MAP "
}

export function readMrc(path: string, opts: ReadLimits = {}): Volume {
  using f = FileReader.open(path);
  const name = f.name;
  const h = f.read(0, 1024);
  if (h.length < 1024) corrupt(name, `file is truncated inside the MRC/CCP4 header (${h.length} of 1024 bytes)`);
  if (!isMrc(h)) corrupt(name, "not a CCP4/MRC map (no 'MAP ' signature)");
  const dv = new DataView(h.buffer);
  const le = h[212] === 0x44 || (h[212] !== 0x11 && dv.getInt32(12, true) >= 0 && dv.getInt32(12, true) < 256);
  const i32 = (o: number) => dv.getInt32(o, le);
  const f32 = (o: number) => dv.getFloat32(o, le);
  const [nc, nr, ns] = [i32(0), i32(4), i32(8)];
  const mode = i32(12);
  const dtype = MODES[mode];
  if (!dtype) fail("unsupported_dtype", `${name}: MRC mode ${mode} is not supported (0 int8, 1 int16, 2 float32, 6 uint16)`);
  const shape: Vec3 = [ns, nr, nc];
  const bytes = checkedBytes(name, shape, DTYPE_SIZE[dtype], opts);
  const ext = i32(92);
  if (ext < 0 || ext > f.size) corrupt(name, `extended header size ${ext} is absurd`);
  const start = 1024 + ext;
  if (f.size < start + bytes) corrupt(name, `file is truncated: the header says ${bytes} bytes of map from byte ${start}, the file has ${f.size}`);
  const buf = allocate(name, bytes);
  f.readInto(start, buf, "map data");
  if (!le) byteSwap(buf, DTYPE_SIZE[dtype]);
  // voxel size along x, y, z of the cell, then mapped to columns, rows, sections
  const m = [i32(28), i32(32), i32(36)];
  const cell = [f32(40), f32(44), f32(48)];
  const axis = [i32(64), i32(68), i32(72)]; // which of x(1) y(2) z(3) the columns, rows, sections run along
  const size = (a: number) => {
    const k = a - 1;
    const s = (cell[k] ?? 0) / (m[k] ?? 0);
    return Number.isFinite(s) && s > 0 ? s : 1;
  };
  const valid = axis.every((a) => a >= 1 && a <= 3) && new Set(axis).size === 3;
  const spacing: Vec3 = valid ? [size(axis[2]!), size(axis[1]!), size(axis[0]!)] : [1, 1, 1];
  return {
    kind: "volume",
    data: typedView(dtype, buf),
    shape,
    dtype,
    order: "C",
    spacing,
    unit: "A",
    name,
    format: "mrc",
    meta: { mode, axes: valid ? axis.map((a) => "xyz"[a - 1]).join("") : "unknown", start: [i32(16), i32(20), i32(24)] },
  };
}
