/**
 * Plain-text points (.xyz, .csv, .txt, .pts): one point a line, 3 or more columns separated by
 * spaces, tabs, commas or semicolons; x y z, and the 4th column (if any) as the value. An
 * optional first line of names is a header: then columns named x, y, z are used wherever they
 * are, and the value is the column named intensity/value/scalar, else the first other one.
 * Lines starting with '#' or '//' are comments.
 */
import { readWhole } from "./io.ts";
import { finish, type PointOptions } from "./pcd.ts";
import { type PointCloud, baseName, corrupt, defaultMaxBytes } from "./types.ts";

export function readXyz(path: string, opts: PointOptions = {}): PointCloud {
  const name = baseName(path);
  const bytes = readWhole(path, opts.maxBytes ?? defaultMaxBytes());
  if (bytes.includes(0)) corrupt(name, "is not a text file of points (it holds NUL bytes)");
  const text = new TextDecoder("utf-8").decode(bytes);
  let cx = 0;
  let cy = 1;
  let cz = 2;
  let cv = 3;
  let valueField = "";
  let xs = new Float32Array(Math.max(16, Math.ceil(text.length / 12)));
  let vs = new Float32Array(Math.max(16, Math.ceil(text.length / 36)));
  let n = 0;
  let pos = 0;
  let lineNo = 0;
  let seenData = false;
  let columns = 0;
  while (pos < text.length) {
    let nl = text.indexOf("\n", pos);
    if (nl < 0) nl = text.length;
    const line = text.slice(pos, nl).trim();
    pos = nl + 1;
    lineNo++;
    if (line === "" || line.startsWith("#") || line.startsWith("//")) continue;
    const t = line.split(/[\s,;]+/);
    if (!seenData && !/^[-+.\d]/.test(t[0]!) && !/^nan$/i.test(t[0]!)) {
      if (lineNo > 1 && columns > 0) corrupt(name, `line ${lineNo}: a header after the data`);
      const names = t.map((s) => s.replace(/^["']|["']$/g, "").toLowerCase());
      const at = (...c: string[]) => names.findIndex((s) => c.includes(s));
      cx = at("x", "//x");
      cy = at("y");
      cz = at("z");
      if (cx < 0 || cy < 0 || cz < 0) {
        if (names.length >= 3) [cx, cy, cz] = [0, 1, 2];
        else corrupt(name, "the header line names fewer than 3 columns");
      }
      const rest = names.map((_, i) => i).filter((i) => i !== cx && i !== cy && i !== cz);
      cv = [at("intensity", "value", "scalar", "i"), ...rest].find((i) => i >= 0) ?? -1;
      valueField = cv >= 0 ? names[cv]!.slice(0, 32) : "";
      columns = names.length;
      seenData = true;
      continue;
    }
    seenData = true;
    if (t.length < 3) corrupt(name, `line ${lineNo} has ${t.length} value(s); points need at least x y z`);
    if (columns === 0) {
      columns = t.length;
      valueField = t.length > 3 ? "column 4" : "";
      if (t.length <= 3) cv = -1;
    }
    if (n * 3 + 3 > xs.length) {
      const bigger = new Float32Array(xs.length * 2);
      bigger.set(xs);
      xs = bigger;
      const bv = new Float32Array(vs.length * 2);
      bv.set(vs);
      vs = bv;
    }
    if (n >= vs.length) {
      const bv = new Float32Array(vs.length * 2);
      bv.set(vs);
      vs = bv;
    }
    const num = (c: number) => {
      const s = t[c];
      if (s === undefined) corrupt(name, `line ${lineNo} has ${t.length} values, ${c + 1} expected`);
      const v = Number(s);
      if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) corrupt(name, `line ${lineNo}: '${s.slice(0, 20)}' is not a number`);
      return v;
    };
    xs[3 * n] = num(cx);
    xs[3 * n + 1] = num(cy);
    xs[3 * n + 2] = num(cz);
    vs[n] = cv >= 0 ? num(cv) : 1;
    n++;
  }
  if (n === 0) corrupt(name, "holds no points");
  return finish(
    { kind: "points", xyz: xs.slice(0, 3 * n), values: vs.slice(0, n), count: n, valueField, name, format: "xyz" },
    opts,
  );
}
