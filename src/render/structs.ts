/**
 * The fixed-layout structs of rvr.h as bytes (offsets from the header's tables), so they can
 * cross into C and across Worker boundaries as plain objects.
 */
export type Dtype = "uint8" | "uint16" | "int16" | "uint32" | "float32" | "float64";
export const RENDER_DTYPES: Record<Dtype, { code: number; bytes: number }> = {
  uint8: { code: 1, bytes: 1 },
  uint16: { code: 2, bytes: 2 },
  int16: { code: 3, bytes: 2 },
  uint32: { code: 4, bytes: 4 },
  float32: { code: 5, bytes: 4 },
  float64: { code: 6, bytes: 8 },
};

export type Vec3 = [number, number, number];

export interface VolumeDesc {
  shape: Vec3; // z, y, x
  spacing: Vec3; // z, y, x
  dtype: Dtype;
  order: "C" | "F";
  borrow: boolean;
  /** RVR_VOLUME_PROGRESSIVE (rvr.h): a large volume shows as a coarse copy at once, previews
   *  draw it until the full form is converted (CPU renderer). */
  progressive?: boolean;
  window?: [number, number];
}

export function volumeDescBytes(d: VolumeDesc): Uint8Array {
  const b = new Uint8Array(64);
  const dv = new DataView(b.buffer);
  d.shape.forEach((n, i) => dv.setBigUint64(i * 8, BigInt(n), true));
  d.spacing.forEach((s, i) => dv.setFloat32(24 + i * 4, s, true));
  dv.setInt32(36, RENDER_DTYPES[d.dtype].code, true);
  dv.setInt32(40, d.order === "F" ? 1 : 0, true);
  dv.setUint32(44, (d.borrow ? 1 : 0) | (d.progressive ? 2 : 0), true);
  dv.setFloat64(48, d.window?.[0] ?? 0, true);
  dv.setFloat64(56, d.window?.[1] ?? 0, true);
  return b;
}

export interface VolumeInfo {
  shape: Vec3;
  window: [number, number];
  dataMin: number;
  dataMax: number;
  nanCount: number;
  bytes: number;
}

export function readVolumeInfo(b: Uint8Array): VolumeInfo {
  const dv = new DataView(b.buffer, b.byteOffset, 80);
  return {
    shape: [0, 1, 2].map((i) => Number(dv.getBigUint64(i * 8, true))) as Vec3,
    window: [dv.getFloat64(32, true), dv.getFloat64(40, true)],
    dataMin: dv.getFloat64(48, true),
    dataMax: dv.getFloat64(56, true),
    nanCount: Number(dv.getBigUint64(64, true)),
    bytes: Number(dv.getBigUint64(72, true)),
  };
}

export interface Camera {
  eye: Vec3;
  target: Vec3;
  up: Vec3;
  fovY: number;
  orthoHeight: number;
  projection: "perspective" | "ortho";
}

export function cameraBytes(c: Camera): Uint8Array {
  const b = new Uint8Array(48);
  const dv = new DataView(b.buffer);
  [...c.eye, ...c.target, ...c.up, c.fovY, c.orthoHeight].forEach((x, i) => dv.setFloat32(i * 4, x, true));
  dv.setInt32(44, c.projection === "ortho" ? 1 : 0, true);
  return b;
}

export const MODES = ["composite", "mip", "minip", "average", "iso"] as const;
export type Mode = (typeof MODES)[number];

export const FLAGS = {
  nearest: 1,
  gray: 2,
  premultiplied: 4,
  clipBox: 8,
  pointFilter: 16,
  noSkip: 32,
  noErt: 64,
  hideVolume: 128,
  jitter: 256,
  /** Slices: labels filled instead of outlined (segmentation). */
  labelFill: 512,
} as const;

export interface Settings {
  mode: Mode;
  /** 0 = S0, bits 1 = S1 local, 2 = S2 shadows, 4 = S3 ambient occlusion. */
  shading: number;
  flags: number;
  step: number;
  ertAlpha: number;
  iso: number;
  background: [number, number, number, number];
  lightDir: Vec3;
  ambient: number;
  diffuse: number;
  specular: number;
  shininess: number;
  lod: number;
  clipMin: Vec3;
  clipMax: Vec3;
  planes: [number, number, number, number][];
  aoRadius: number;
  pointScale: number;
  pointFilter: [number, number];
  pointCmap: [number, number];
}

export function defaultSettings(): Settings {
  return {
    mode: "composite",
    shading: 1,
    // Jittered sample offsets: fine noise instead of "wood grain" rings on smooth surfaces.
    flags: FLAGS.jitter,
    step: 1,
    ertAlpha: 0.99,
    iso: 0.5,
    background: [0.08, 0.08, 0.1, 1],
    lightDir: [0, 0, 0],
    ambient: 0.3,
    diffuse: 0.7,
    specular: 0.2,
    shininess: 32,
    lod: 1,
    clipMin: [0, 0, 0],
    clipMax: [1e30, 1e30, 1e30],
    planes: [],
    aoRadius: 0,
    pointScale: 1,
    pointFilter: [-3.4e38, 3.4e38],
    pointCmap: [0, 0],
  };
}

export function settingsBytes(s: Settings): Uint8Array {
  const b = new Uint8Array(224);
  const dv = new DataView(b.buffer);
  const f = (off: number, ...xs: number[]) => xs.forEach((x, i) => dv.setFloat32(off + i * 4, x, true));
  dv.setInt32(0, MODES.indexOf(s.mode), true);
  dv.setUint32(4, s.shading, true);
  dv.setUint32(8, s.flags, true);
  f(12, s.step, s.ertAlpha, s.iso, ...s.background, ...s.lightDir, s.ambient, s.diffuse, s.specular, s.shininess);
  dv.setUint32(68, s.lod, true);
  f(72, ...s.clipMin, ...s.clipMax);
  dv.setUint32(96, s.planes.length, true);
  f(100, s.aoRadius);
  s.planes.slice(0, 6).forEach((p, i) => f(104 + i * 16, ...p));
  f(200, s.pointScale, ...s.pointFilter, ...s.pointCmap);
  return b;
}

export interface RenderStats {
  samples: number;
  rays: number;
  totalMs: number;
  precomputeMs: number;
  pointsDrawn: number;
  /** 1: the volume at full resolution; f > 1: its coarse copy (still converting), 1/f per axis. */
  volumeLevel: number;
}

/** Size of rvr_render_stats. */
export const RENDER_STATS_BYTES = 56;

export function readStats(b: Uint8Array): RenderStats {
  const dv = new DataView(b.buffer, b.byteOffset, RENDER_STATS_BYTES);
  return {
    samples: Number(dv.getBigUint64(0, true)),
    rays: Number(dv.getBigUint64(8, true)),
    totalMs: dv.getFloat64(16, true),
    precomputeMs: dv.getFloat64(24, true),
    pointsDrawn: Number(dv.getBigUint64(40, true)),
    volumeLevel: dv.getUint32(48, true) || 1,
  };
}

export interface Slice {
  origin: Vec3;
  u: Vec3;
  v: Vec3;
}

export function sliceBytes(s: Slice): Uint8Array {
  const b = new Uint8Array(36);
  const dv = new DataView(b.buffer);
  [...s.origin, ...s.u, ...s.v].forEach((x, i) => dv.setFloat32(i * 4, x, true));
  return b;
}

export function readSlice(b: Uint8Array): Slice {
  const dv = new DataView(b.buffer, b.byteOffset, 36);
  const g = (i: number) => dv.getFloat32(i * 4, true);
  return { origin: [g(0), g(1), g(2)], u: [g(3), g(4), g(5)], v: [g(6), g(7), g(8)] };
}
