/**
 * Segmentation in an instance: a trained network (ONNX) is sent like a volume (prepare_model
 * -> SSC-RDMA part "model" -> wait_transfer), then `segment` runs it over the volume and the
 * label volume (uint8, one class per voxel) is drawn with the data. The description travels
 * in prepare_model; the instance checks the model against it before accepting it.
 */
import * as v from "valibot";

const Int = (what: string, lo: number, hi: number) =>
  v.pipe(v.number(`${what} must be a number`), v.integer(`${what} must be a whole number`), v.minValue(lo, `${what} must be >= ${lo}`), v.maxValue(hi, `${what} must be <= ${hi}`));
const Finite = (what: string) => v.pipe(v.number(`${what} must be a number`), v.finite(`${what} must be finite`));
const Unit = (what: string) => v.pipe(Finite(what), v.minValue(0, `${what} must be in [0, 1]`), v.maxValue(1, `${what} must be in [0, 1]`));
const Color = v.union([v.tuple([Unit("color"), Unit("color"), Unit("color")]), v.tuple([Unit("color"), Unit("color"), Unit("color"), Unit("color")])], "a color is [r, g, b] or [r, g, b, a] in [0, 1]");

export const INPUT_LAYOUTS = ["NCHW", "NCDHW"] as const;
export type InputLayout = (typeof INPUT_LAYOUTS)[number];

/**
 * How voxel values become the network's input: `{window: [lo, hi]}` -> (x - lo) / (hi - lo)
 * clipped to [0, 1]; `{mean, std}` -> (x - mean) / std; "window" = the instance's current
 * display window; "none" = the values as they are (as float32).
 */
export const Normalize = v.union(
  [
    v.strictObject({ window: v.pipe(v.tuple([Finite("window"), Finite("window")]), v.check((w) => w[0] < w[1], "window low must be below high")) }),
    v.strictObject({ mean: Finite("mean"), std: v.pipe(Finite("std"), v.gtValue(0, "std must be > 0")) }),
    v.picklist(["window", "none"]),
  ],
  'normalize must be {window: [lo, hi]}, {mean, std}, "window" or "none"',
);
export type Normalize = v.InferOutput<typeof Normalize>;

const descriptionEntries = {
  /** NCHW: a 2D network run slice by slice along `axis`; NCDHW: a 3D network run on patches. */
  inputLayout: v.picklist(INPUT_LAYOUTS, "inputLayout must be NCHW (2D slices) or NCDHW (3D patches)"),
  /** Output channels = classes (logits or probabilities; the label is the argmax). */
  classes: Int("classes", 2, 255),
  names: v.optional(v.pipe(v.array(v.pipe(v.string(), v.maxLength(100, "a class name is at most 100 characters"))), v.maxLength(255))),
  colors: v.optional(v.pipe(v.array(Color), v.maxLength(255))),
  /** 2D: the axis slices are taken across (0 = z: [y, x] slices, 1 = y, 2 = x). */
  axis: v.optional(v.picklist([0, 1, 2], "axis must be 0 (z), 1 (y) or 2 (x)"), 0),
  /** 3D: patch [d, h, w] (default: the model's fixed input size, else 64^3). */
  patch: v.optional(v.tuple([Int("patch", 1, 4096), Int("patch", 1, 4096), Int("patch", 1, 4096)], "patch must be [d, h, w]")),
  /** 3D: voxels shared by neighbouring patches on each axis (default a quarter of the patch). */
  overlap: v.optional(Int("overlap", 0, 4096)),
  /** Free input extents are padded up to a multiple of this (U-Nets: 2^levels); default 8. */
  multiple: v.optional(Int("multiple", 1, 1024), 8),
  normalize: v.optional(Normalize, "window"),
  name: v.optional(v.pipe(v.string(), v.maxLength(200)), "model"),
};

export const ModelDescription = v.pipe(
  v.strictObject(descriptionEntries),
  v.check((d) => !d.names || d.names.length === d.classes, "names must have one entry per class"),
  v.check((d) => !d.colors || d.colors.length === d.classes, "colors must have one entry per class"),
);
export type ModelDescription = v.InferOutput<typeof ModelDescription>;
/** The fields of a description (what a JSON file beside the .onnx may hold; others are ignored). */
export const MODEL_DESCRIPTION_KEYS = Object.keys(descriptionEntries) as (keyof ModelDescription)[];

export const PrepareModel = v.pipe(
  v.strictObject({ ...descriptionEntries, bytes: v.pipe(Int("bytes", 1, Number.MAX_SAFE_INTEGER)) }),
  v.check((d) => !d.names || d.names.length === d.classes, "names must have one entry per class"),
  v.check((d) => !d.colors || d.colors.length === d.classes, "colors must have one entry per class"),
);
export type PrepareModel = v.InferOutput<typeof PrepareModel>;

export const Segment = v.strictObject({
  /** The model id from prepare_model's transfer result; default the last model accepted. */
  model: v.optional(v.pipe(v.string(), v.maxLength(64))),
  /** all: the whole volume; clip: only the clip box (set_render clip); labels outside stay. */
  region: v.optional(v.picklist(["all", "clip"], "region must be all or clip"), "all"),
  /** Slices (2D) or patches (3D) per inference call; default 8 (2D) or 2 (3D). */
  batch: v.optional(Int("batch", 1, 1024)),
  /** Answer when the labels are shown (default) or at once (follow the "segment" events). */
  wait: v.optional(v.boolean("wait must be true or false"), true),
});
export type Segment = v.InferOutput<typeof Segment>;

/** How labels are drawn: per-class colour, opacity and visibility; outlines in slices. */
export const SetLabels = v.strictObject({
  /** Show the labels at all (default true once there are labels). */
  show: v.optional(v.boolean("show must be true or false")),
  /** Per class [r, g, b] or [r, g, b, a]. */
  colors: v.optional(v.pipe(v.array(Color), v.maxLength(255))),
  /** Per class opacity in [0, 1] (multiplies the colour's alpha). */
  opacity: v.optional(v.union([Unit("opacity"), v.pipe(v.array(Unit("opacity")), v.maxLength(255))], "opacity is a number or one per class")),
  /** Per class visibility. */
  visible: v.optional(v.pipe(v.array(v.boolean("visible entries must be true or false")), v.maxLength(255))),
  /** Slices: draw only label outlines (default true) instead of filled labels. */
  outline: v.optional(v.boolean("outline must be true or false")),
});
export type SetLabels = v.InferOutput<typeof SetLabels>;

export const SaveLabels = v.strictObject({
  /** HDF5 file to write under one of the instance's storage roots (relative: to the first root). */
  path: v.pipe(v.string("path must be a string"), v.minLength(1), v.maxLength(4096)),
  dataset: v.optional(v.pipe(v.string(), v.regex(/^\/?[A-Za-z0-9_./-]{1,200}$/, "dataset must be a path like /labels")), "/labels"),
  overwrite: v.optional(v.boolean(), false),
});
export type SaveLabels = v.InferOutput<typeof SaveLabels>;

/** Default colours: class 0 (background) transparent, then a qualitative palette. */
export const DEFAULT_LABEL_COLORS: [number, number, number, number][] = [
  [0, 0, 0, 0],
  [0.89, 0.1, 0.11, 0.6],
  [0.99, 0.93, 0.55, 1],
  [0.22, 0.49, 0.72, 0.8],
  [0.3, 0.69, 0.29, 0.8],
  [0.6, 0.31, 0.64, 0.8],
  [1, 0.5, 0, 0.8],
  [0.65, 0.34, 0.16, 0.8],
  [0.97, 0.51, 0.75, 0.8],
];
