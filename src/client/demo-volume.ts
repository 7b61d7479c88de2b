/**
 * A synthetic sample for `remotevis client render --demo` when no real data is at hand: a
 * cylinder of material with spherical pores and light noise, like a porous rock or foam
 * from a synchrotron microCT, as uint8 [n, n, n].
 */
export function porousCylinder(n = 192, seed = 1): Uint8Array {
  const vol = new Uint8Array(n * n * n);
  let s = seed >>> 0;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) / 2 ** 24;
  const pores = Array.from({ length: 120 }, () => ({ x: n * (0.2 + 0.6 * rand()), y: n * (0.2 + 0.6 * rand()), z: n * (0.05 + 0.9 * rand()), r: n * (0.02 + 0.06 * rand()) }));
  const r2 = (0.42 * n) ** 2;
  for (let z = 0; z < n; z++) {
    const near = pores.filter((p) => Math.abs(z - p.z) < p.r);
    for (let y = 0; y < n; y++)
      for (let x = 0; x < n; x++) {
        const dx = x - n / 2;
        const dy = y - n / 2;
        let v = 0;
        if (dx * dx + dy * dy < r2 && z > n * 0.03 && z < n * 0.97) {
          v = 170;
          if (near.some((p) => (x - p.x) ** 2 + (y - p.y) ** 2 + (z - p.z) ** 2 < p.r * p.r)) v = 40;
        }
        v += ((rand() * 16) | 0) - 8;
        vol[(z * n + y) * n + x] = Math.max(0, Math.min(255, v));
      }
  }
  return vol;
}
