/**
 * The view state in the URL hash, readable and short:
 *   #v=AZ,EL,DIST,ROLL,FOV,p|o&t=X,Y,Z&mode=mip&shade=S1&tf=ct-bone&win=LO,HI&iso=0.5
 *    &clip=X0,Y0,Z0,X1,Y1,Z1&step=1&bg=R,G,B&ps=S&pcm=viridis&pf=LO,HI&probe=Z,Y,X
 * A custom transfer function is `tfp=V:R:G:B:A;...`. Absent keys keep the instance's setting.
 */
import type { OrbitView } from "../../render/view.ts";
import type { Vec3 } from "../../render/structs.ts";

/** A transfer function control point: normalized value, r, g, b, opacity, all in [0, 1]. */
export type TfPoint = [value: number, r: number, g: number, b: number, a: number];

export interface RenderState {
  mode?: string;
  shading?: string;
  tf?: { preset: string } | { points: TfPoint[] };
  window?: [number, number] | null;
  iso?: number;
  step?: number;
  clip?: { min: Vec3; max: Vec3 } | null;
  background?: [number, number, number];
  pointScale?: number;
  pointFilter?: [number, number] | null;
  pointColormap?: string;
}

export interface HashState {
  view: OrbitView;
  render: RenderState;
  probe?: Vec3;
}

const num = (x: number, digits = 4) => String(+x.toFixed(digits));
const nums = (s: string | null, n: number): number[] | undefined => {
  if (!s) return undefined;
  const a = s.split(",").map(Number);
  return a.length === n && a.every(Number.isFinite) ? a : undefined;
};

export function encodeHash(s: HashState): string {
  const p = new URLSearchParams();
  const v = s.view;
  p.set("v", [num(v.azimuth, 3), num(v.elevation, 3), num(v.distance, 5), num(v.roll, 3), num(v.fov, 3), v.projection === "ortho" ? "o" : "p"].join(","));
  if (v.target) p.set("t", v.target.map((x) => num(x)).join(","));
  const r = s.render;
  if (r.mode) p.set("mode", r.mode);
  if (r.shading) p.set("shade", r.shading);
  if (r.tf && "preset" in r.tf) p.set("tf", r.tf.preset);
  else if (r.tf) p.set("tfp", r.tf.points.map((q) => q.map((x) => num(x)).join(":")).join(";"));
  if (r.window !== undefined) p.set("win", r.window ? r.window.map((x) => num(x)).join(",") : "auto");
  if (r.iso !== undefined) p.set("iso", num(r.iso));
  if (r.step !== undefined) p.set("step", num(r.step));
  if (r.clip !== undefined) p.set("clip", r.clip ? [...r.clip.min, ...r.clip.max].map((x) => num(x)).join(",") : "off");
  if (r.background) p.set("bg", r.background.map((x) => num(x)).join(","));
  if (r.pointScale !== undefined) p.set("ps", num(r.pointScale, 6));
  if (r.pointColormap) p.set("pcm", r.pointColormap);
  if (r.pointFilter !== undefined) p.set("pf", r.pointFilter ? r.pointFilter.map((x) => num(x)).join(",") : "off");
  if (s.probe) p.set("probe", s.probe.join(","));
  return `#${p.toString().replace(/%2C/g, ",").replace(/%3A/g, ":").replace(/%3B/g, ";")}`;
}

export function decodeHash(hash: string): { view?: Partial<OrbitView>; render?: RenderState; probe?: Vec3 } {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const out: { view?: Partial<OrbitView>; render?: RenderState; probe?: Vec3 } = {};
  const v = p.get("v")?.split(",");
  if (v && v.length >= 5) {
    const [az, el, d, roll, fov] = v.slice(0, 5).map(Number) as [number, number, number, number, number];
    if ([az, el, d, roll, fov].every(Number.isFinite) && d > 0 && fov > 0 && fov < 170)
      out.view = { azimuth: az, elevation: Math.max(-89.9, Math.min(89.9, el)), distance: Math.min(100, d), roll, fov, projection: v[5] === "o" ? "ortho" : "perspective" };
    const t = nums(p.get("t"), 3);
    if (out.view && t) out.view.target = t as Vec3;
  }
  const r: RenderState = {};
  const mode = p.get("mode");
  if (mode && ["composite", "mip", "minip", "average", "iso"].includes(mode)) r.mode = mode;
  const shade = p.get("shade");
  if (shade && /^S[0-3]$/.test(shade)) r.shading = shade;
  const tf = p.get("tf");
  if (tf && /^[a-z-]+$/.test(tf)) r.tf = { preset: tf };
  const tfp = p.get("tfp");
  if (tfp) {
    const pts = tfp.split(";").map((q) => q.split(":").map(Number));
    if (pts.length >= 2 && pts.every((q) => q.length === 5 && q.every((x) => Number.isFinite(x) && x >= 0 && x <= 1))) r.tf = { points: pts as TfPoint[] };
  }
  const win = p.get("win");
  if (win === "auto") r.window = null;
  else {
    const w = nums(win, 2);
    if (w && w[0]! < w[1]!) r.window = w as [number, number];
  }
  const iso = Number(p.get("iso"));
  if (p.has("iso") && iso >= 0 && iso <= 1) r.iso = iso;
  const step = Number(p.get("step"));
  if (p.has("step") && step > 0 && step <= 64) r.step = step;
  const clip = p.get("clip");
  if (clip === "off") r.clip = null;
  else {
    const c = nums(clip, 6);
    if (c) r.clip = { min: c.slice(0, 3) as Vec3, max: c.slice(3) as Vec3 };
  }
  const bg = nums(p.get("bg"), 3);
  if (bg && bg.every((x) => x >= 0 && x <= 1)) r.background = bg as [number, number, number];
  const ps = Number(p.get("ps"));
  if (p.has("ps") && ps > 0) r.pointScale = ps;
  const pcm = p.get("pcm");
  if (pcm && ["viridis", "hot", "grayscale", "cool-warm"].includes(pcm)) r.pointColormap = pcm;
  const pf = p.get("pf");
  if (pf === "off") r.pointFilter = null;
  else {
    const f = nums(pf, 2);
    if (f) r.pointFilter = f as [number, number];
  }
  if (Object.keys(r).length) out.render = r;
  const probe = nums(p.get("probe"), 3);
  if (probe && probe.every((x) => Number.isInteger(x) && x >= 0)) out.probe = probe as Vec3;
  return out;
}
