/**
 * Transfer functions and point colormaps by name. CT presets are defined in Hounsfield units
 * and placed in the current window, so they mean the same tissue whatever the window; the
 * others are defined over the normalized window [0, 1].
 */
export type TfPoint = [value: number, r: number, g: number, b: number, a: number];

const CT: Record<string, TfPoint[]> = {
  // Hounsfield units; opacity per voxel length.
  "ct-bone": [
    [-1024, 0, 0, 0, 0],
    [150, 0.55, 0.25, 0.15, 0],
    [300, 0.9, 0.75, 0.6, 0.12],
    [1200, 1, 0.98, 0.95, 0.5],
    [3071, 1, 1, 1, 0.6],
  ],
  "ct-soft-tissue": [
    [-1024, 0, 0, 0, 0],
    [-500, 0.1, 0.05, 0.03, 0],
    [-100, 0.75, 0.45, 0.35, 0.02],
    [80, 0.9, 0.55, 0.45, 0.05],
    [300, 1, 0.95, 0.9, 0.3],
    [3071, 1, 1, 1, 0.5],
  ],
  "ct-muscle-bone": [
    [-1024, 0, 0, 0, 0],
    [-200, 0.2, 0.05, 0.02, 0],
    [40, 0.75, 0.2, 0.15, 0.04],
    [200, 0.9, 0.6, 0.4, 0.06],
    [400, 1, 0.95, 0.85, 0.4],
    [3071, 1, 1, 1, 0.6],
  ],
};

const NORMALIZED: Record<string, TfPoint[]> = {
  grayscale: [
    [0, 0, 0, 0, 0],
    [1, 1, 1, 1, 0.08],
  ],
  mip: [
    [0, 0, 0, 0, 1],
    [1, 1, 1, 1, 1],
  ],
  hot: [
    [0, 0, 0, 0, 0],
    [0.35, 0.8, 0.1, 0, 0.02],
    [0.7, 1, 0.7, 0, 0.1],
    [1, 1, 1, 1, 0.3],
  ],
  viridis: [
    [0, 0.267, 0.005, 0.329, 0],
    [0.25, 0.229, 0.322, 0.546, 0.02],
    [0.5, 0.128, 0.567, 0.551, 0.05],
    [0.75, 0.369, 0.789, 0.383, 0.1],
    [1, 0.993, 0.906, 0.144, 0.2],
  ],
};

const COLORMAPS: Record<string, TfPoint[]> = {
  viridis: NORMALIZED.viridis!.map(([v, r, g, b]) => [v, r, g, b, 1]),
  hot: NORMALIZED.hot!.map(([v, r, g, b]) => [v, r, g, b, 1]),
  grayscale: [
    [0, 0.15, 0.15, 0.15, 1],
    [1, 1, 1, 1, 1],
  ],
  "cool-warm": [
    [0, 0.23, 0.3, 0.75, 1],
    [0.5, 0.87, 0.87, 0.87, 1],
    [1, 0.7, 0.02, 0.15, 1],
  ],
};

/** Samples control points into `n` RGBA entries over [0, 1], linear between points, flat outside. */
export function sampleTf(points: TfPoint[], n = 256): Float32Array {
  const pts = [...points].sort((a, b) => a[0] - b[0]);
  const first = pts[0]!;
  const last = pts[pts.length - 1]!;
  const out = new Float32Array(n * 4);
  let k = 0;
  for (let i = 0; i < n; i++) {
    const x = i / (n - 1);
    let rgba: number[];
    if (x <= first[0]) rgba = first.slice(1);
    else if (x >= last[0]) rgba = last.slice(1);
    else {
      while (pts[k + 1]![0] < x) k++;
      const a = pts[k]!;
      const b = pts[k + 1]!;
      const t = (x - a[0]) / (b[0] - a[0] || 1);
      rgba = [1, 2, 3, 4].map((c) => a[c]! + t * (b[c]! - a[c]!));
    }
    out.set(rgba, i * 4);
  }
  return out;
}

export const isCtPreset = (name: string) => name in CT;

/** The preset's RGBA table for data window [lo, hi] (CT presets are placed by Hounsfield units). */
export function presetTf(name: string, window: [number, number]): Float32Array {
  const ct = CT[name];
  if (ct) {
    const [lo, hi] = window;
    const span = hi - lo || 1;
    return sampleTf(ct.map(([v, ...rgba]) => [(v - lo) / span, ...rgba] as TfPoint));
  }
  const p = NORMALIZED[name];
  if (!p) throw new Error(`unknown transfer function preset ${name}`);
  return sampleTf(p);
}

export function colormap(name: string): Float32Array {
  const p = COLORMAPS[name];
  if (!p) throw new Error(`unknown colormap ${name}`);
  return sampleTf(p);
}

/**
 * The control points of a preset over the normalized window [0, 1] (what a TF editor shows and
 * edits): CT presets are placed by Hounsfield units in `window` and cut at its ends.
 */
export function presetPoints(name: string, window: [number, number]): TfPoint[] {
  const ct = CT[name];
  const pts = ct ? ct.map(([v, ...rgba]) => [(v - window[0]) / (window[1] - window[0] || 1), ...rgba] as TfPoint) : NORMALIZED[name];
  if (!pts) throw new Error(`unknown transfer function preset ${name}`);
  if (!ct) return pts.map((p) => [...p] as TfPoint);
  const t = sampleTf(pts, 1025);
  const at = (x: number): TfPoint => {
    const i = Math.round(x * 1024) * 4;
    return [x, t[i]!, t[i + 1]!, t[i + 2]!, t[i + 3]!];
  };
  const inside = pts.filter((p) => p[0] > 0 && p[0] < 1);
  const round = (p: TfPoint) => p.map((x) => Math.round(x * 1e4) / 1e4) as TfPoint;
  return [at(0), ...inside, at(1)].map(round);
}
