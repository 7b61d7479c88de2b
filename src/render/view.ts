/**
 * The orbit view a user steers (angles around a target, distance in volume diagonals) and the
 * camera librvr needs for it. Shared by screenshots and the viewer, so both show the same.
 */
import type { Camera, Vec3 } from "./structs.ts";

export interface OrbitView {
  azimuth: number; // degrees around world z
  elevation: number; // degrees above the xy plane
  distance: number; // in volume diagonals from the target
  target?: Vec3; // world; default the volume centre
  roll: number; // degrees
  fov: number; // vertical, degrees
  projection: "perspective" | "ortho";
}

export const DEFAULT_VIEW: OrbitView = { azimuth: 30, elevation: 20, distance: 2, roll: 0, fov: 30, projection: "perspective" };

/** World box of a volume: shape [z, y, x] times spacing [z, y, x] -> extent (x, y, z). */
export function worldExtent(shape: Vec3, spacing: Vec3): Vec3 {
  return [shape[2] * spacing[2], shape[1] * spacing[1], shape[0] * spacing[0]];
}

const rad = (d: number) => (d * Math.PI) / 180;

export function orbitCamera(view: OrbitView, extent: Vec3): Camera {
  const diag = Math.hypot(...extent) || 1;
  const target = view.target ?? ([extent[0] / 2, extent[1] / 2, extent[2] / 2] as Vec3);
  const az = rad(view.azimuth);
  const el = rad(view.elevation);
  const dir: Vec3 = [Math.cos(el) * Math.sin(az), -Math.cos(el) * Math.cos(az), Math.sin(el)];
  const r = view.distance * diag;
  const eye: Vec3 = [target[0] + dir[0] * r, target[1] + dir[1] * r, target[2] + dir[2] * r];
  // Up is world +z tilted with the elevation (so it is never parallel to the view), then rolled.
  const upNoRoll: Vec3 = [-Math.sin(el) * Math.sin(az), Math.sin(el) * Math.cos(az), Math.cos(el)];
  const right: Vec3 = [Math.cos(az), Math.sin(az), 0];
  const ro = rad(view.roll);
  const up: Vec3 = [0, 1, 2].map((i) => Math.cos(ro) * upNoRoll[i]! + Math.sin(ro) * right[i]!) as Vec3;
  return {
    eye,
    target,
    up,
    fovY: view.fov,
    // The ortho image shows what the perspective one shows at the target's depth.
    orthoHeight: 2 * r * Math.tan(rad(view.fov) / 2),
    projection: view.projection,
  };
}

export type Ray = { origin: Vec3; dir: Vec3 };

const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const normalize = (a: Vec3): Vec3 => {
  const n = Math.hypot(...a) || 1;
  return [a[0] / n, a[1] / n, a[2] / n];
};

/** The camera's unit vectors: forward (into the image), right (+x of the image), up (+y). */
export function cameraBasis(c: Camera): { forward: Vec3; right: Vec3; up: Vec3 } {
  const forward = normalize(sub(c.target, c.eye));
  const right = normalize(cross(forward, c.up));
  return { forward, right, up: cross(right, forward) };
}

/** The ray of image position (x, y) in [0, 1] (from the left, from the top), as librvr casts it. */
export function rayThrough(c: Camera, x: number, y: number, aspect: number): Ray {
  const { forward, right, up } = cameraBasis(c);
  const px = (2 * x - 1) * aspect;
  const py = 1 - 2 * y;
  if (c.projection === "ortho") {
    const h = c.orthoHeight / 2;
    return { origin: [0, 1, 2].map((i) => c.eye[i]! + (px * right[i]! + py * up[i]!) * h) as Vec3, dir: forward };
  }
  const t = Math.tan(rad(c.fovY) / 2);
  return { origin: c.eye, dir: normalize([0, 1, 2].map((i) => forward[i]! + (px * right[i]! + py * up[i]!) * t) as Vec3) };
}

/** Where world point p lands in the image, in [0, 1] (from the left, from the top), and its depth; null behind the camera. */
export function projectPoint(c: Camera, p: Vec3, aspect: number): { x: number; y: number; depth: number } | null {
  const { forward, right, up } = cameraBasis(c);
  const d = sub(p, c.eye);
  const depth = d[0] * forward[0] + d[1] * forward[1] + d[2] * forward[2];
  const dx = d[0] * right[0] + d[1] * right[1] + d[2] * right[2];
  const dy = d[0] * up[0] + d[1] * up[1] + d[2] * up[2];
  let sx: number, sy: number;
  if (c.projection === "ortho") {
    const h = c.orthoHeight / 2;
    sx = dx / h;
    sy = dy / h;
  } else {
    if (depth <= 1e-9) return null;
    const t = Math.tan(rad(c.fovY) / 2);
    sx = dx / (depth * t);
    sy = dy / (depth * t);
  }
  return { x: (sx / aspect + 1) / 2, y: (1 - sy) / 2, depth };
}

/** Entry and exit parameters of a ray through the box [lo, hi], or null when it misses. */
export function intersectBox(r: Ray, lo: Vec3, hi: Vec3): [number, number] | null {
  let t0 = 0;
  let t1 = Infinity;
  for (let k = 0; k < 3; k++) {
    const d = r.dir[k]!;
    if (Math.abs(d) < 1e-12) {
      if (r.origin[k]! < lo[k]! || r.origin[k]! > hi[k]!) return null;
      continue;
    }
    let a = (lo[k]! - r.origin[k]!) / d;
    let b = (hi[k]! - r.origin[k]!) / d;
    if (a > b) [a, b] = [b, a];
    t0 = Math.max(t0, a);
    t1 = Math.min(t1, b);
  }
  return t0 < t1 ? [t0, t1] : null;
}
