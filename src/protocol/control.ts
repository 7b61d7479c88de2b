/**
 * The control protocol of an instance: the same operations over its WebSocket `/control`
 * (`{id, op, ...}` -> `{id, ok: true, ...}` or `{id, error}`) and over REST
 * (`POST /api/OP` with the same body). Data moves over SSC-RDMA, announced here first.
 */
import * as v from "valibot";
import { PrepareModel, SaveLabels, Segment, SetLabels } from "./segment.ts";

/** Element types the renderer takes (the middleware knows more for its estimate). */
export const VOLUME_DTYPES = ["uint8", "uint16", "int16", "uint32", "float32", "float64"] as const;
export type VolumeDtype = (typeof VOLUME_DTYPES)[number];
export const VOLUME_DTYPE_BYTES: Record<VolumeDtype, number> = { uint8: 1, uint16: 2, int16: 2, uint32: 4, float32: 4, float64: 8 };
/** Short names accepted everywhere (numpy's kind + bits). */
export const DTYPE_ALIASES: Record<string, VolumeDtype> = { u8: "uint8", u16: "uint16", i16: "int16", u32: "uint32", f32: "float32", f64: "float64" };

const Whole = (what: string, max = Number.MAX_SAFE_INTEGER) =>
  v.pipe(v.number(`${what} must be a number`), v.integer(`${what} must be a whole number`), v.minValue(0, `${what} must be >= 0`), v.maxValue(max, `${what} is too large`));
const Positive = (what: string) => v.pipe(v.number(`${what} must be a number`), v.finite(`${what} must be finite`), v.gtValue(0, `${what} must be > 0`));
const Finite = (what: string) => v.pipe(v.number(`${what} must be a number`), v.finite(`${what} must be finite`));
const Vec3 = (what: string) => v.tuple([Finite(what), Finite(what), Finite(what)], `${what} must be [x, y, z]`);

export const VolumeDtypeSchema = v.pipe(
  v.string("dtype must be a string"),
  v.transform((s) => DTYPE_ALIASES[s] ?? s),
  v.picklist(VOLUME_DTYPES, `dtype must be one of ${VOLUME_DTYPES.join(", ")} (or u8, u16, i16, u32, f32, f64)`),
);

/** [z, y, x] (a 2D image is [1, y, x]). */
export const VolumeShape = v.pipe(
  v.array(v.pipe(v.number("each extent must be a number"), v.integer("each extent must be a whole number"), v.minValue(1, "each extent must be at least 1"), v.maxValue(2 ** 31 - 1, "an extent is too large")), "shape must be [z, y, x]"),
  v.minLength(2, "shape must be [z, y, x] or [y, x]"),
  v.maxLength(3, "shape must be [z, y, x] or [y, x]"),
  v.transform((s) => (s.length === 2 ? [1, s[0]!, s[1]!] : s) as [number, number, number]),
);

const Label = v.pipe(v.string("name must be a string"), v.maxLength(200, "name must be at most 200 characters"));

export const PrepareVolume = v.strictObject({
  bytes: Whole("bytes"),
  shape: VolumeShape,
  dtype: VolumeDtypeSchema,
  order: v.optional(v.picklist(["C", "F"], "order must be C or F"), "C"),
  spacing: v.optional(v.tuple([Positive("spacing"), Positive("spacing"), Positive("spacing")], "spacing must be [z, y, x]"), [1, 1, 1]),
  name: v.optional(Label, "volume"),
  checksum: v.optional(v.boolean("checksum must be true or false"), false),
});
export type PrepareVolume = v.InferOutput<typeof PrepareVolume>;

export const PreparePoints = v.strictObject({
  count: v.pipe(Whole("count", 2 ** 31 - 1), v.minValue(1, "count must be at least 1 (zero points: use clear_points)")),
  name: v.optional(Label, "points"),
});
export type PreparePoints = v.InferOutput<typeof PreparePoints>;

const Index3 = v.tuple([Whole("box index"), Whole("box index"), Whole("box index")], "must be [z, y, x]");
export const RetrieveVolume = v.strictObject({
  /** Default: the whole volume. lo inclusive, hi exclusive, [z, y, x]. */
  box: v.optional(v.strictObject({ lo: Index3, hi: Index3 })),
  step: v.optional(
    v.union([v.pipe(Whole("step", 2 ** 31), v.minValue(1, "step must be >= 1")), v.tuple([Whole("step"), Whole("step"), Whole("step")])], "step must be a number or [z, y, x]"),
    1,
  ),
  /** The label volume of the last segmentation (uint8) instead of the data. */
  labels: v.optional(v.boolean("labels must be true or false"), false),
});
export type RetrieveVolume = v.InferOutput<typeof RetrieveVolume>;

/** Orbit view: angles in degrees around the volume's centre; distance in volume diagonals. */
export const View = v.strictObject({
  azimuth: v.optional(Finite("azimuth")),
  elevation: v.optional(v.pipe(Finite("elevation"), v.minValue(-89.9, "elevation must be > -90"), v.maxValue(89.9, "elevation must be < 90"))),
  distance: v.optional(v.pipe(Positive("distance"), v.maxValue(100, "distance must be <= 100"))),
  /** World point looked at; default the centre of the volume. */
  target: v.optional(Vec3("target")),
  roll: v.optional(Finite("roll")),
  fov: v.optional(v.pipe(Positive("fov"), v.maxValue(170, "fov must be < 170"))),
  projection: v.optional(v.picklist(["perspective", "ortho"], "projection must be perspective or ortho")),
});
export type View = v.InferOutput<typeof View>;

export const Screenshot = v.strictObject({
  width: v.optional(v.pipe(Whole("width", 8192), v.minValue(1, "width must be >= 1")), 1280),
  height: v.optional(v.pipe(Whole("height", 8192), v.minValue(1, "height must be >= 1")), 720),
  view: v.optional(View),
  /** 1 = full quality; k > 1 = one ray per k x k block (the viewer's first, fast frame). */
  lod: v.optional(v.pipe(Whole("lod", 16), v.minValue(1, "lod must be >= 1")), 1),
});
export type Screenshot = v.InferOutput<typeof Screenshot>;

export const MODES = ["composite", "mip", "minip", "average", "iso"] as const;
export const TF_PRESETS = ["grayscale", "ct-bone", "ct-soft-tissue", "ct-muscle-bone", "mip", "hot", "viridis"] as const;

const Unit = (what: string) => v.pipe(Finite(what), v.minValue(0, `${what} must be in [0, 1]`), v.maxValue(1, `${what} must be in [0, 1]`));
/** A control point of the transfer function: normalized value, r, g, b, opacity, all in [0, 1]. */
const TfPoint = v.tuple([Unit("tf value"), Unit("tf red"), Unit("tf green"), Unit("tf blue"), Unit("tf opacity")], "a tf point is [value, r, g, b, a]");

export const RenderSettings = v.strictObject({
  mode: v.optional(v.picklist(MODES, `mode must be one of ${MODES.join(", ")}`)),
  /** S0 (none), S1 (local gradient), S2 (+ shadows), S3 (+ ambient occlusion). */
  shading: v.optional(v.picklist(["S0", "S1", "S2", "S3"], "shading must be S0, S1, S2 or S3")),
  /** Data values mapped to [0, 1] before the transfer function; null = automatic (min..max). */
  window: v.optional(v.nullable(v.pipe(v.tuple([Finite("window"), Finite("window")], "window must be [low, high]"), v.check((w) => w[0] < w[1], "window low must be below high")))),
  tf: v.optional(
    v.union(
      [
        v.strictObject({ preset: v.picklist(TF_PRESETS, `preset must be one of ${TF_PRESETS.join(", ")}`) }),
        v.strictObject({ points: v.pipe(v.array(TfPoint, "points must be a list"), v.minLength(2, "a tf needs at least 2 points"), v.maxLength(1024, "at most 1024 tf points")) }),
      ],
      "tf must be {preset} or {points}",
    ),
  ),
  iso: v.optional(Unit("iso")),
  step: v.optional(v.pipe(Positive("step"), v.maxValue(64, "step must be <= 64"))),
  /** World-space clip box, or null for none. */
  clip: v.optional(v.nullable(v.strictObject({ min: Vec3("clip min"), max: Vec3("clip max") }))),
  background: v.optional(v.tuple([Unit("background"), Unit("background"), Unit("background")], "background must be [r, g, b]")),
  pointScale: v.optional(Positive("pointScale")),
  /** Points with values outside [lo, hi] are hidden; null shows all. */
  pointFilter: v.optional(v.nullable(v.tuple([Finite("pointFilter"), Finite("pointFilter")], "pointFilter must be [low, high]"))),
  pointColormap: v.optional(v.picklist(["viridis", "hot", "grayscale", "cool-warm"], "pointColormap must be viridis, hot, grayscale or cool-warm")),
});
export type RenderSettings = v.InferOutput<typeof RenderSettings>;

/** Histogram of the volume's values over its data range (from a strided sample of the voxels). */
export const Histogram = v.strictObject({
  bins: v.optional(v.pipe(Whole("bins", 4096), v.minValue(2, "bins must be >= 2")), 256),
});
export type Histogram = v.InferOutput<typeof Histogram>;

/** The value of one voxel, by index [z, y, x] or by world position [x, y, z]. */
export const Probe = v.pipe(
  v.strictObject({ voxel: v.optional(Index3), world: v.optional(Vec3("world")) }),
  v.check((p) => (p.voxel === undefined) !== (p.world === undefined), "probe needs voxel [z, y, x] or world [x, y, z]"),
);
export type Probe = v.InferOutput<typeof Probe>;

/** The first visible voxel under an image position of a view (click in the 3D view). */
export const Pick = v.strictObject({
  /** Image position in [0, 1] from the left / from the top. */
  x: Unit("x"),
  y: Unit("y"),
  /** Image size the position refers to (only the aspect ratio matters). */
  width: v.pipe(Whole("width", 32768), v.minValue(1, "width must be >= 1")),
  height: v.pipe(Whole("height", 32768), v.minValue(1, "height must be >= 1")),
  view: v.optional(View),
});
export type Pick = v.InferOutput<typeof Pick>;

/**
 * A slice image (RGBA, grey through the window): a voxel layer of a logical axis (0 = z, 1 = y,
 * 2 = x; one pixel per voxel, row 0 the lowest index), or the plane through `center`
 * perpendicular to the view direction of `view` (oblique), width x height pixels.
 */
export const SliceRequest = v.pipe(
  v.strictObject({
    axis: v.optional(v.picklist([0, 1, 2], "axis must be 0 (z), 1 (y) or 2 (x)")),
    index: v.optional(Whole("index")),
    oblique: v.optional(v.strictObject({ view: v.optional(View), center: v.optional(Vec3("center")) })),
    width: v.optional(v.pipe(Whole("width", 4096), v.minValue(1, "width must be >= 1")), 256),
    height: v.optional(v.pipe(Whole("height", 4096), v.minValue(1, "height must be >= 1")), 256),
    /** Colour by the transfer function instead of grey. */
    tf: v.optional(v.boolean("tf must be true or false"), false),
  }),
  v.check((s) => (s.axis !== undefined && s.index !== undefined) !== (s.oblique !== undefined), "slice needs {axis, index} or {oblique}"),
);
export type SliceRequest = v.InferOutput<typeof SliceRequest>;

/** A path on central storage (checked further by the instance: roots, NUL, '..', PATH_MAX). */
const StoragePath = v.pipe(v.string("path must be a string"), v.maxLength(65536, "path is too long"));

/** Read a file under the instance's storage roots and show it (volume or point cloud). */
export const LoadFile = v.strictObject({
  path: StoragePath,
  /** HDF5: the dataset inside the file (default: the usual NeXus/tomography path or the only volume). */
  dataset: v.optional(v.pipe(v.string("dataset must be a string"), v.maxLength(4096, "dataset is too long"))),
  /** HDF5: SSC-IO worker processes (default: the CPU count, at most 16). */
  procs: v.optional(v.pipe(Whole("procs", 64), v.minValue(1, "procs must be >= 1"))),
});
export type LoadFile = v.InferOutput<typeof LoadFile>;

/** A folder under the storage roots (omit path for the roots themselves). */
export const ListFiles = v.strictObject({
  path: v.optional(StoragePath),
  /** List the datasets of HDF5 files (default true). */
  datasets: v.optional(v.boolean("datasets must be true or false"), true),
});
export type ListFiles = v.InferOutput<typeof ListFiles>;

/** The operations and their request schemas; the reply shapes are documented in control.ts. */
export const CONTROL_OPS = {
  prepare_volume: PrepareVolume,
  prepare_points: PreparePoints,
  retrieve_volume: RetrieveVolume,
  screenshot: Screenshot,
  set_view: View,
  set_render: RenderSettings,
  clear_points: v.strictObject({}),
  get_state: v.strictObject({}),
  wait_transfer: v.strictObject({ transfer: v.pipe(v.string(), v.maxLength(64)), timeoutMs: v.optional(Whole("timeoutMs", 3_600_000)) }),
  histogram: Histogram,
  probe: Probe,
  pick: Pick,
  slice: SliceRequest,
  load_file: LoadFile,
  list_files: ListFiles,
  // Segmentation (protocol/segment.ts, src/segment/).
  prepare_model: PrepareModel,
  segment: Segment,
  cancel_segment: v.strictObject({}),
  set_labels: SetLabels,
  save_labels: SaveLabels,
} as const;
export type ControlOp = keyof typeof CONTROL_OPS;
export const CONTROL_OP_NAMES = Object.keys(CONTROL_OPS) as ControlOp[];

/** One WebSocket request: `{id, op, ...fields of the op}`. */
export const ControlEnvelope = v.object({
  id: v.union([v.number(), v.string()], "id must be a number or string"),
  op: v.picklist(CONTROL_OP_NAMES, `op must be one of ${CONTROL_OP_NAMES.join(", ")}`),
});

/** What the data port expects in the SSC-RDMA header (JSON in the 128 KiB, see transfer/header.ts). */
export const DataHeader = v.object({
  secret: v.pipe(v.string(), v.maxLength(256)),
  transfer: v.pipe(v.string(), v.maxLength(64)),
  part: v.picklist(["volume", "xyz", "values", "pull", "model"]),
});
export type DataHeader = v.InferOutput<typeof DataHeader>;

/** Where to send/receive the bytes of a prepared transfer. */
export interface TransferTicket {
  transfer: string;
  host: string;
  dataPort: number;
  bytes: number;
}
