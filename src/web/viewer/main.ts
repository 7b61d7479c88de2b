/**
 * The RemoteVis viewer in the browser. Every pixel of the 3D view is rendered on the instance;
 * this page sends the camera (per viewer), shows JPEG frames as they come (acknowledging each,
 * so the instance never queues), and drives the instance's operations: render settings,
 * transfer function over a log histogram, slices, probe, clip box, screenshots.
 * The whole view state lives in the URL hash, so a link reproduces the picture.
 */
import { DEFAULT_VIEW, cameraBasis, orbitCamera, projectPoint, worldExtent, type OrbitView } from "../../render/view.ts";
import type { Vec3 } from "../../render/structs.ts";
import { TfEditor, type TfPoint } from "./tf-editor.ts";
import { decodeHash, encodeHash, type HashState, type RenderState } from "./hash.ts";

// ---------------------------------------------------------------- types of the instance's messages

interface VolumeMeta { name: string; shape: Vec3; dtype: string; spacing: Vec3 }
interface VolumeInfo { window: [number, number]; dataMin: number; dataMax: number }
interface PointsMeta { name: string; count: number; min: number; max: number; bounds: [Vec3, Vec3] }
/** Labels of a segmentation (get_state's segmentation.labels; "labels" events). */
interface LabelsState { names: string[]; colors: number[][]; opacity: number[]; visible: boolean[]; show: boolean; outline: boolean; counts?: number[] }
interface SceneState { volume: VolumeMeta | null; info: VolumeInfo | null; points: PointsMeta | null; view: OrbitView; render: RenderState; backend: string }
interface FrameHeader { kind: "frame"; seq: number; width: number; height: number; lod: number; level?: number; input: number | null; view: OrbitView; renderMs: number; encodeMs: number; ms: number }
interface Deadline { at: string; why: string; inMs: number }
interface ProbeResult { hit?: boolean; voxel: Vec3; world: Vec3; value: number; dtype: string }

const $ = <T extends HTMLElement = HTMLElement>(sel: string) => document.querySelector(sel) as T;
const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));

// ---------------------------------------------------------------- state

let scene: SceneState | undefined;
let labels: LabelsState | null = null;
let view: OrbitView = { ...DEFAULT_VIEW };
let render: RenderState = {};
let probe: ProbeResult | undefined;
let probeVoxel: Vec3 | undefined;
let viewerId = "";
let following = "";
let deadline: { at: number; why: string } | undefined;
let ws: WebSocket | undefined;
let opId = 1;
const pendingOps = new Map<number, { resolve: (v: { json: Record<string, unknown>; blob?: Blob }) => void; reject: (e: Error) => void }>();
let inputId = 0;
const inputTimes = new Map<number, { t: number; moving: boolean }>();

/** What tests and the benchmark read (window.remotevis). */
const probeApi = {
  connected: false,
  frames: 0,
  lastFrame: undefined as FrameHeader | undefined,
  /** Input-to-display latencies (ms) of inputs made while dragging. */
  latencies: [] as number[],
  view: () => view,
  render: () => render,
  probe: () => probe,
  sliceInfo: {} as Record<string, unknown>,
  histogram: undefined as unknown,
  op: (op: string, body: Record<string, unknown> = {}) => runOp(op, body).then((r) => r.json),
  /** A full-quality frame is shown that includes every camera change this page made. */
  settled: () => probeApi.lastFrame?.lod === 1 && (probeApi.lastFrame.input ?? 0) >= inputId,
};
(window as unknown as { remotevis: typeof probeApi }).remotevis = probeApi;

// ---------------------------------------------------------------- geometry of the scene

function extentAndOrigin(): { extent: Vec3; origin: Vec3 } {
  if (scene?.volume) return { extent: worldExtent(scene.volume.shape, scene.volume.spacing), origin: [0, 0, 0] };
  if (scene?.points) {
    const [lo, hi] = scene.points.bounds;
    return { extent: [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]], origin: lo };
  }
  return { extent: [1, 1, 1], origin: [0, 0, 0] };
}

function camera(v: OrbitView = view) {
  const { extent, origin } = extentAndOrigin();
  const target = v.target ?? ([origin[0] + extent[0] / 2, origin[1] + extent[1] / 2, origin[2] + extent[2] / 2] as Vec3);
  return orbitCamera({ ...v, target }, extent);
}

/** World units per CSS pixel at the target's depth. */
function worldPerPixel(v: OrbitView = view): number {
  const { extent } = extentAndOrigin();
  const r = v.distance * (Math.hypot(...extent) || 1);
  return (2 * r * Math.tan((v.fov * Math.PI) / 360)) / Math.max(1, overlay.clientHeight);
}

// ---------------------------------------------------------------- connection

/** Embedded (/embed?token=, e.g. in Jupyter) there is no cookie: requests carry the token. */
const EMBED_TOKEN = location.pathname.endsWith("/embed") ? new URLSearchParams(location.search).get("token") : null;
function withEmbedToken(u: URL): URL {
  if (EMBED_TOKEN) u.searchParams.set("token", EMBED_TOKEN);
  return u;
}

function connect(): void {
  // Relative to the page, so that the viewer also works under the middleware's /i/ID/ proxy.
  const sock = new WebSocket(withEmbedToken(new URL("viewer", location.href.replace(/^http/, "ws"))).href);
  sock.binaryType = "arraybuffer";
  ws = sock;
  sock.onopen = () => {
    probeApi.connected = true;
    $("#conn").hidden = true;
    // The size goes with the first view (after the welcome), so the first frame is the right one.
    lastSize = "";
  };
  sock.onclose = () => {
    probeApi.connected = false;
    if (ws !== sock) return;
    $("#conn").hidden = false;
    for (const p of pendingOps.values()) p.reject(new Error("connection lost"));
    pendingOps.clear();
    setTimeout(connect, 1500);
  };
  sock.onmessage = (e) => (typeof e.data === "string" ? onText(JSON.parse(e.data)) : onBinary(e.data as ArrayBuffer));
}

function send(msg: Record<string, unknown>): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
}

function runOp(op: string, body: Record<string, unknown> = {}): Promise<{ json: Record<string, unknown>; blob?: Blob }> {
  const id = opId++;
  return new Promise((resolve, reject) => {
    pendingOps.set(id, { resolve, reject });
    send({ type: "op", id, op, ...body });
  });
}

function settleOp(json: Record<string, unknown>, blob?: Blob): void {
  const p = pendingOps.get(json.id as number);
  if (!p) return;
  pendingOps.delete(json.id as number);
  const err = json.error as { message: string } | undefined;
  if (err) p.reject(new Error(err.message));
  else p.resolve({ json, blob });
}

function onText(m: Record<string, unknown>): void {
  switch (m.type) {
    case "welcome":
      return onWelcome(m);
    case "viewers":
      return onViewers(m.viewers as { id: string; following: string | null }[]);
    case "view":
      view = { ...(m.view as OrbitView) };
      updateHash();
      return;
    case "deadline":
      return onDeadline(m.deadline as Deadline | null);
    case "event":
      return onEvent(m);
    case "reply":
      return settleOp(m);
    case "empty":
      $("#empty").hidden = false;
      return;
    case "error":
      console.warn("viewer:", (m.error as { message: string }).message);
      return;
  }
}

let decoding = false;
async function onBinary(buf: ArrayBuffer): Promise<void> {
  const n = new DataView(buf).getUint32(0, true);
  const header = JSON.parse(new TextDecoder().decode(new Uint8Array(buf, 4, n))) as Record<string, unknown>;
  const payload = new Blob([new Uint8Array(buf, 4 + n)], { type: (header.mime as string) ?? "image/jpeg" });
  if (header.kind === "reply") return settleOp(header, payload);
  if (header.kind !== "frame") return;
  const f = header as unknown as FrameHeader;
  decoding = true;
  try {
    const bmp = await createImageBitmap(payload);
    const ctx = canvas.getContext("2d")!;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(bmp, 0, 0, canvas.width, canvas.height);
    bmp.close();
  } finally {
    decoding = false;
  }
  send({ type: "ack", frame: f.seq });
  const now = performance.now();
  let latency: number | undefined;
  if (f.input !== null)
    for (const [id, t] of inputTimes)
      if (id <= f.input) {
        if (t.moving) probeApi.latencies.push((latency = now - t.t));
        inputTimes.delete(id);
      }
  probeApi.frames++;
  probeApi.lastFrame = f;
  $("#empty").hidden = true;
  if (following) {
    view = { ...f.view };
    updateHash();
    drawOverlay();
  }
  $("#stats").textContent = `${f.width}×${f.height}${f.lod > 1 ? ` preview 1/${f.lod}` : ""}${(f.level ?? 1) > 1 ? ` · coarse 1/${f.level} (converting)` : ""} · render ${f.renderMs.toFixed(0)} ms · jpeg ${f.encodeMs.toFixed(1)} ms${latency !== undefined ? ` · input→display ${latency.toFixed(0)} ms` : ""}`;
}

function onWelcome(m: Record<string, unknown>): void {
  viewerId = m.viewer as string;
  lastSize = "";
  scene = m.state as SceneState;
  render = { ...scene.render };
  const fromHash = decodeHash(location.hash);
  view = { ...scene.view, ...(fromHash.view ?? {}) };
  onViewers(m.viewers as { id: string; following: string | null }[]);
  onDeadline(m.deadline as Deadline | null);
  onScene();
  applyHash(fromHash, false);
  void runOp("get_state").then((r) => {
    labels = ((r.json.segmentation as { labels?: LabelsState | null } | undefined)?.labels ?? null) as LabelsState | null;
    showLabels();
  });
}

// ---------------------------------------------------------------- labels of a segmentation

const hex = (c: number[]) => "#" + c.slice(0, 3).map((x) => Math.round(clamp(x, 0, 1) * 255).toString(16).padStart(2, "0")).join("");
const unhex = (h: string) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16) / 255);

/** One row per class: visibility, colour, opacity (voxel count as a hint); changes go to every viewer. */
function showLabels(): void {
  const panel = $("#labels-panel");
  panel.hidden = !labels;
  if (!labels) return;
  const L = labels;
  $<HTMLInputElement>("#labels-show").checked = L.show;
  $<HTMLInputElement>("#labels-outline").checked = L.outline;
  const box = $("#labels-classes");
  box.replaceChildren(
    ...L.names.map((name, k) => {
      const row = document.createElement("div");
      row.className = "row label-class";
      row.dataset.k = String(k);
      const vis = Object.assign(document.createElement("input"), { type: "checkbox", checked: L.visible[k] ?? true, title: `show ${name}` });
      const col = Object.assign(document.createElement("input"), { type: "color", value: hex(L.colors[k] ?? [1, 1, 1]), title: `colour of ${name}` });
      const op = Object.assign(document.createElement("input"), { type: "range", min: "0", max: "1", step: "0.05", value: String(L.opacity[k] ?? 1), title: `opacity of ${name}` });
      const label = document.createElement("span");
      label.textContent = `${name}${L.counts?.[k] !== undefined ? ` (${L.counts[k]!.toLocaleString()})` : ""}`;
      vis.onchange = () => void setLabels({ visible: L.names.map((_, j) => (j === k ? vis.checked : (L.visible[j] ?? true))) });
      col.onchange = () => void setLabels({ colors: L.colors.map((c, j) => (j === k ? [...unhex(col.value), c[3] ?? 1] : c)) });
      op.onchange = () => void setLabels({ opacity: L.names.map((_, j) => (j === k ? Number(op.value) : (L.opacity[j] ?? 1))) });
      row.append(vis, col, op, label);
      return row;
    }),
  );
}

async function setLabels(r: Record<string, unknown>): Promise<void> {
  try {
    await runOp("set_labels", r);
  } catch (err) {
    console.warn("set_labels:", err);
  }
}
$<HTMLInputElement>("#labels-show").onchange = (e) => void setLabels({ show: (e.target as HTMLInputElement).checked });
$<HTMLInputElement>("#labels-outline").onchange = (e) => void setLabels({ outline: (e.target as HTMLInputElement).checked });

/** Applies a link's state: the camera, the render settings that differ, the probe. */
function applyHash(fromHash: ReturnType<typeof decodeHash>, withView = true): void {
  if (!scene) return;
  if (withView && fromHash.view) view = { ...view, ...fromHash.view };
  if (fromHash.view && !fromHash.view.target) delete view.target;
  const want = fromHash.render ?? {};
  const diff = Object.fromEntries(Object.entries(want).filter(([k, x]) => JSON.stringify(x) !== JSON.stringify((render as Record<string, unknown>)[k])));
  if (Object.keys(diff).length && (scene.volume || scene.points)) void setRender(diff);
  if (fromHash.probe && scene.volume) probeVoxel = fromHash.probe;
  sendView(false);
  refreshSlices();
  if (probeVoxel) void doProbe({ voxel: probeVoxel });
}
// A link pasted into this tab (only the hash changed): no reload, so apply it here.
window.addEventListener("hashchange", () => applyHash(decodeHash(location.hash)));

function onEvent(m: Record<string, unknown>): void {
  switch (m.event) {
    case "volume":
      if (scene) (scene.volume = m.volume as VolumeMeta), (scene.info = m.info as VolumeInfo);
      probeVoxel = undefined;
      probe = undefined;
      onScene();
      refreshSlices();
      return;
    case "points":
      if (scene) scene.points = m.points as PointsMeta | null;
      onScene();
      return;
    case "render":
      render = { ...(m.settings as RenderState) };
      if (scene && render.window !== undefined && scene.info) void runOp("get_state").then((r) => (scene!.info = (r.json as unknown as SceneState).info)).then(syncControls);
      syncControls();
      drawOverlay();
      updateHash();
      refreshSlices();
      void loadHistogram();
      return;
    case "transfer":
      return onTransfer(m);
    case "labels":
      labels = (m.labels as LabelsState | null) ?? null;
      return showLabels();
    case "segment":
      // A finished segmentation brings labels (and their default colours).
      if (m.state === "done")
        void runOp("get_state").then((r) => {
          labels = ((r.json.segmentation as { labels?: LabelsState | null } | undefined)?.labels ?? null) as LabelsState | null;
          showLabels();
        });
      return;
  }
}

// ---------------------------------------------------------------- frames: size and camera

const canvas = $<HTMLCanvasElement>("#view");
const overlay = $<HTMLCanvasElement>("#overlay");
const stage = $("#stage");

function pixelScale(): number {
  // CPU rendering pays for every pixel: render at CSS resolution there, up to 2x on a GPU.
  return Math.min(window.devicePixelRatio || 1, scene?.backend === "cuda" ? 2 : 1);
}

let lastSize = "";
/** Sizes the canvases to the stage; true when the frame size changed. */
function fitCanvas(): boolean {
  const s = pixelScale();
  const w = Math.max(16, Math.round(stage.clientWidth * s));
  const h = Math.max(16, Math.round(stage.clientHeight * s));
  const key = `${w}x${h}`;
  overlay.width = Math.round(stage.clientWidth * (window.devicePixelRatio || 1));
  overlay.height = Math.round(stage.clientHeight * (window.devicePixelRatio || 1));
  if (key === lastSize) return false;
  lastSize = key;
  canvas.width = w;
  canvas.height = h;
  return true;
}
function sendSize(): void {
  if (!viewerId || !fitCanvas()) return;
  send({ type: "size", width: canvas.width, height: canvas.height });
  drawOverlay();
}
let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => sendSize(), 80);
}).observe(stage);

/** Sends this viewer's camera; `moving` asks for a preview (full quality follows when still). */
function sendView(moving: boolean, t = performance.now()): void {
  const id = ++inputId;
  inputTimes.set(id, { t, moving });
  if (inputTimes.size > 500) inputTimes.delete(inputTimes.keys().next().value!);
  if (following) {
    following = "";
    ($("#follow") as HTMLSelectElement).value = "";
  }
  if (fitCanvas()) send({ type: "size", width: canvas.width, height: canvas.height, quiet: true });
  send({ type: "view", view, moving, input: id });
  updateHash();
  drawOverlay();
}

// ---------------------------------------------------------------- URL hash

let hashTimer: ReturnType<typeof setTimeout> | undefined;
function updateHash(): void {
  clearTimeout(hashTimer);
  hashTimer = setTimeout(() => {
    const state: HashState = { view, render, probe: probeVoxel };
    history.replaceState(null, "", `${location.pathname}${encodeHash(state)}`);
  }, 120);
}

// ---------------------------------------------------------------- pointer, wheel, touch

const pointers = new Map<number, { x: number; y: number }>();
let dragMode: "orbit" | "pan" | "clip" | undefined;
let downAt: { x: number; y: number; t: number } | undefined;
let pinch: { d: number; cx: number; cy: number } | undefined;
let clipDrag: { axis: number; side: 0 | 1; dir: [number, number]; pxPerUnit: number; start: number; x: number; y: number } | undefined;

function pan(dx: number, dy: number): void {
  const { right, up } = cameraBasis(camera());
  const k = worldPerPixel();
  const t = camera().target;
  view.target = [0, 1, 2].map((i) => t[i]! - right[i]! * dx * k + up[i]! * dy * k) as Vec3;
}

overlay.addEventListener("contextmenu", (e) => e.preventDefault());
overlay.addEventListener("pointerdown", (e) => {
  overlay.setPointerCapture(e.pointerId);
  overlay.focus();
  pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
  if (pointers.size === 1) {
    downAt = { x: e.clientX, y: e.clientY, t: performance.now() };
    const handle = clipHandleAt(e.offsetX, e.offsetY);
    if (handle) {
      dragMode = "clip";
      clipDrag = { ...handle, start: clipBox()[handle.side][handle.axis]!, x: e.clientX, y: e.clientY };
    } else dragMode = e.button === 2 || e.button === 1 || e.shiftKey ? "pan" : "orbit";
    overlay.classList.add("dragging");
  } else if (pointers.size === 2) {
    const [a, b] = [...pointers.values()];
    pinch = { d: Math.hypot(a!.x - b!.x, a!.y - b!.y), cx: (a!.x + b!.x) / 2, cy: (a!.y + b!.y) / 2 };
    downAt = undefined;
  }
});
overlay.addEventListener("pointermove", (e) => {
  const p = pointers.get(e.pointerId);
  if (!p) return;
  const dx = e.clientX - p.x;
  const dy = e.clientY - p.y;
  p.x = e.clientX;
  p.y = e.clientY;
  if (pointers.size === 2 && pinch) {
    const [a, b] = [...pointers.values()];
    const d = Math.hypot(a!.x - b!.x, a!.y - b!.y);
    const cx = (a!.x + b!.x) / 2;
    const cy = (a!.y + b!.y) / 2;
    if (d > 0 && pinch.d > 0) view.distance = clamp(view.distance * (pinch.d / d), 0.05, 100);
    pan(cx - pinch.cx, cy - pinch.cy);
    pinch = { d, cx, cy };
    sendView(true, e.timeStamp);
    return;
  }
  if (dragMode === "clip" && clipDrag) {
    const along = ((e.clientX - clipDrag.x) * clipDrag.dir[0] + (e.clientY - clipDrag.y) * clipDrag.dir[1]) / clipDrag.pxPerUnit;
    setClipFace(clipDrag.axis, clipDrag.side, clipDrag.start + along, true);
    return;
  }
  if (dragMode === "orbit") {
    view.azimuth = (((view.azimuth - dx * 0.4) % 360) + 540) % 360 - 180;
    view.elevation = clamp(view.elevation + dy * 0.4, -89.9, 89.9);
  } else if (dragMode === "pan") pan(dx, dy);
  else return;
  sendView(true, e.timeStamp);
});
function pointerEnd(e: PointerEvent): void {
  if (!pointers.delete(e.pointerId)) return;
  if (pointers.size < 2) pinch = undefined;
  if (pointers.size > 0) return;
  overlay.classList.remove("dragging");
  const click = downAt && Math.hypot(e.clientX - downAt.x, e.clientY - downAt.y) < 4 && performance.now() - downAt.t < 600;
  const mode = dragMode;
  dragMode = undefined;
  downAt = undefined;
  if (mode === "clip") {
    clipDrag = undefined;
    setClipFace(0, 0, clipBox()[0][0]!, false);
    return;
  }
  if (click && e.type === "pointerup") void pickAt(e.offsetX, e.offsetY);
  else sendView(false, e.timeStamp);
}
overlay.addEventListener("pointerup", pointerEnd);
overlay.addEventListener("pointercancel", pointerEnd);
overlay.addEventListener(
  "wheel",
  (e) => {
    e.preventDefault();
    // Trackpad pinch arrives as a wheel with ctrlKey and small deltas.
    const k = e.ctrlKey ? 0.01 : 0.0015;
    const delta = e.deltaMode === 1 ? e.deltaY * 16 : e.deltaY;
    view.distance = clamp(view.distance * Math.exp(delta * k), 0.05, 100);
    sendView(true, e.timeStamp);
  },
  { passive: false },
);

// ---------------------------------------------------------------- standard views, keyboard

const STANDARD: Record<string, Partial<OrbitView>> = {
  front: { azimuth: 0, elevation: 0 },
  back: { azimuth: 180, elevation: 0 },
  left: { azimuth: -90, elevation: 0 },
  right: { azimuth: 90, elevation: 0 },
  top: { azimuth: 0, elevation: 89.9 },
  bottom: { azimuth: 0, elevation: -89.9 },
};
function standardView(name: string): void {
  view = { ...view, ...STANDARD[name], roll: 0 };
  sendView(false);
}
function resetView(): void {
  view = { ...DEFAULT_VIEW, projection: view.projection };
  sendView(false);
}
for (const b of document.querySelectorAll<HTMLButtonElement>("[data-std]")) b.onclick = () => standardView(b.dataset.std!);
$("#reset").onclick = resetView;
$<HTMLSelectElement>("#projection").onchange = (e) => {
  view.projection = (e.target as HTMLSelectElement).value as OrbitView["projection"];
  sendView(false);
};

const MODES = ["composite", "mip", "minip", "average", "iso"];
window.addEventListener("keydown", (e) => {
  const t = e.target as HTMLElement;
  if (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA" || e.metaKey || e.ctrlKey || e.altKey) return;
  const help = $<HTMLDialogElement>("#help");
  const keys: Record<string, () => void> = {
    "?": () => (help.open ? help.close() : help.showModal()),
    r: resetView,
    "1": () => standardView("front"),
    "2": () => standardView("back"),
    "3": () => standardView("left"),
    "4": () => standardView("right"),
    "5": () => standardView("top"),
    "6": () => standardView("bottom"),
    o: () => {
      view.projection = view.projection === "ortho" ? "perspective" : "ortho";
      $<HTMLSelectElement>("#projection").value = view.projection;
      sendView(false);
    },
    m: () => void setRender({ mode: MODES[(MODES.indexOf(render.mode ?? "composite") + 1) % MODES.length] }),
    c: () => toggleClip(),
    s: () => void screenshot(),
    h: togglePanel,
    ArrowLeft: () => ((view.azimuth += 5), sendView(false)),
    ArrowRight: () => ((view.azimuth -= 5), sendView(false)),
    ArrowUp: () => ((view.elevation = clamp(view.elevation + 5, -89.9, 89.9)), sendView(false)),
    ArrowDown: () => ((view.elevation = clamp(view.elevation - 5, -89.9, 89.9)), sendView(false)),
    "+": () => ((view.distance = clamp(view.distance / 1.15, 0.05, 100)), sendView(false)),
    "=": () => ((view.distance = clamp(view.distance / 1.15, 0.05, 100)), sendView(false)),
    "-": () => ((view.distance = clamp(view.distance * 1.15, 0.05, 100)), sendView(false)),
  };
  const fn = keys[e.key];
  if (!fn) return;
  e.preventDefault();
  fn();
});
$("#btn-help").onclick = () => $<HTMLDialogElement>("#help").showModal();
function togglePanel(): void {
  const layout = $("#layout");
  if (matchMedia("(max-width: 800px)").matches) layout.classList.toggle("showpanel");
  else layout.classList.toggle("nopanel");
}
$("#btn-panel").onclick = togglePanel;

// ---------------------------------------------------------------- follow another viewer

function onViewers(list: { id: string; following: string | null }[]): void {
  const sel = $<HTMLSelectElement>("#follow");
  const others = list.filter((v) => v.id !== viewerId);
  sel.replaceChildren(new Option("my own", ""), ...others.map((v) => new Option(`follow ${v.id}`, v.id)));
  const me = list.find((v) => v.id === viewerId);
  following = me?.following ?? "";
  sel.value = following;
}
$<HTMLSelectElement>("#follow").onchange = (e) => {
  following = (e.target as HTMLSelectElement).value;
  send({ type: "follow", viewer: following || null });
};

// ---------------------------------------------------------------- render settings panel

async function setRender(r: RenderState): Promise<void> {
  try {
    const res = await runOp("set_render", r as Record<string, unknown>);
    render = { ...(res.json.render as RenderState) };
    syncControls();
    updateHash();
    drawOverlay();
  } catch (err) {
    console.warn("set_render:", err);
  }
}

function syncControls(): void {
  $<HTMLSelectElement>("#mode").value = render.mode ?? "composite";
  $<HTMLSelectElement>("#shading").value = render.shading ?? "S1";
  $<HTMLSelectElement>("#preset").value = render.tf && "preset" in render.tf ? render.tf.preset : "custom";
  $<HTMLSelectElement>("#projection").value = view.projection;
  $("#iso-row").hidden = render.mode !== "iso";
  $<HTMLInputElement>("#iso").value = String(render.iso ?? 0.5);
  $("#iso-out").textContent = (render.iso ?? 0.5).toFixed(3);
  const w = render.window ?? scene?.info?.window;
  if (w) {
    $<HTMLInputElement>("#level").value = String(+((w[0] + w[1]) / 2).toFixed(3));
    $<HTMLInputElement>("#width").value = String(+(w[1] - w[0]).toFixed(3));
  }
  const clip = render.clip;
  $<HTMLInputElement>("#clip-on").checked = !!clip;
  syncClipSliders();
  if (scene?.points) {
    $<HTMLSelectElement>("#pcmap").value = render.pointColormap ?? "viridis";
    $<HTMLInputElement>("#pfilter-on").checked = !!render.pointFilter;
    // Without a filter the fields keep what the user typed (empty: the points' range).
    const lo = $<HTMLInputElement>("#pfilter-lo");
    const hi = $<HTMLInputElement>("#pfilter-hi");
    if (render.pointFilter || lo.value === "") lo.value = String(render.pointFilter?.[0] ?? scene.points.min);
    if (render.pointFilter || hi.value === "") hi.value = String(render.pointFilter?.[1] ?? scene.points.max);
  }
}

$<HTMLSelectElement>("#mode").onchange = (e) => void setRender({ mode: (e.target as HTMLSelectElement).value });
$<HTMLSelectElement>("#shading").onchange = (e) => void setRender({ shading: (e.target as HTMLSelectElement).value });
$<HTMLSelectElement>("#preset").onchange = (e) => {
  const preset = (e.target as HTMLSelectElement).value;
  // The MIP preset is meant with the MIP mode.
  void setRender(preset === "mip" ? { tf: { preset }, mode: "mip" } : { tf: { preset } });
};
$<HTMLInputElement>("#iso").oninput = (e) => {
  $("#iso-out").textContent = Number((e.target as HTMLInputElement).value).toFixed(3);
};
$<HTMLInputElement>("#iso").onchange = (e) => void setRender({ iso: Number((e.target as HTMLInputElement).value) });
function windowFromInputs(): void {
  const level = Number($<HTMLInputElement>("#level").value);
  const width = Number($<HTMLInputElement>("#width").value);
  if (Number.isFinite(level) && Number.isFinite(width) && width > 0) void setRender({ window: [level - width / 2, level + width / 2] });
}
$<HTMLInputElement>("#level").onchange = windowFromInputs;
$<HTMLInputElement>("#width").onchange = windowFromInputs;
$("#auto-window").onclick = () => void setRender({ window: null });

// Points
$<HTMLSelectElement>("#pcmap").onchange = (e) => void setRender({ pointColormap: (e.target as HTMLSelectElement).value });
function pointFilterFromInputs(): void {
  const on = $<HTMLInputElement>("#pfilter-on").checked;
  const lo = Number($<HTMLInputElement>("#pfilter-lo").value);
  const hi = Number($<HTMLInputElement>("#pfilter-hi").value);
  void setRender({ pointFilter: on && Number.isFinite(lo) && Number.isFinite(hi) ? [Math.min(lo, hi), Math.max(lo, hi)] : null });
}
for (const id of ["#pfilter-on", "#pfilter-lo", "#pfilter-hi"]) $<HTMLInputElement>(id).onchange = pointFilterFromInputs;

function onScene(): void {
  const s = scene;
  if (!s) return;
  const name = s.volume ? `${s.volume.name} · ${s.volume.shape.join("×")} ${s.volume.dtype}` : s.points ? `${s.points.name} · ${s.points.count.toLocaleString()} points` : "no data yet";
  $("#volname").textContent = `${name} · ${s.backend.toUpperCase()}`;
  $("#empty").hidden = !!(s.volume || s.points);
  $("#points-panel").hidden = !s.points;
  $("#slices").hidden = !s.volume;
  for (const f of document.querySelectorAll<HTMLElement>(".slice")) {
    const k = f.dataset.kind!;
    if (k === "oblique" || !s.volume) continue;
    const input = f.querySelector("input")!;
    const axis = Number(k);
    input.max = String(s.volume.shape[axis]! - 1);
  }
  buildClipSliders();
  syncControls();
  void loadHistogram();
  drawOverlay();
}

// ---------------------------------------------------------------- transfer function editor

const tf = new TfEditor($<HTMLCanvasElement>("#tf"), $<HTMLInputElement>("#tf-color"), {
  onPoints: (points: TfPoint[]) => void setRender({ tf: { points } }),
  onWindow: (w: [number, number]) => void setRender({ window: w }),
});

async function loadHistogram(): Promise<void> {
  if (!scene?.volume) return;
  try {
    const r = (await runOp("histogram", { bins: 256 })).json as { counts: number[]; range: [number, number]; window: [number, number]; tf: TfPoint[] };
    probeApi.histogram = r;
    tf.set(r.counts, r.range, r.window, r.tf);
  } catch (err) {
    console.warn("histogram:", err);
  }
}

// ---------------------------------------------------------------- clip box

function volumeBox(): [Vec3, Vec3] {
  const { extent, origin } = extentAndOrigin();
  return [origin, [origin[0] + extent[0], origin[1] + extent[1], origin[2] + extent[2]]];
}
function clipBox(): [Vec3, Vec3] {
  const [lo, hi] = volumeBox();
  const c = render.clip;
  return c ? [[...c.min] as Vec3, [...c.max] as Vec3] : [lo, hi];
}
let clipEdit: [Vec3, Vec3] | undefined;
let clipTimer: ReturnType<typeof setTimeout> | undefined;
/** Moves one face of the clip box; sent to the instance at most every 120 ms while dragging. */
function setClipFace(axis: number, side: 0 | 1, value: number, moving: boolean): void {
  const box = clipEdit ?? clipBox();
  const [lo, hi] = volumeBox();
  box[side][axis] = clamp(value, lo[axis]!, hi[axis]!);
  if (box[0][axis]! > box[1][axis]!) box[side][axis] = box[1 - side]![axis]!;
  clipEdit = box;
  render = { ...render, clip: { min: box[0], max: box[1] } };
  drawOverlay();
  syncClipSliders();
  const flush = () => {
    clipTimer = undefined;
    void setRender({ clip: { min: box[0], max: box[1] } });
    if (!moving) clipEdit = undefined;
  };
  if (!moving) {
    clearTimeout(clipTimer);
    flush();
  } else clipTimer ??= setTimeout(flush, 120);
}
function toggleClip(): void {
  const on = !render.clip;
  if (on) {
    const [lo, hi] = volumeBox();
    void setRender({ clip: { min: lo, max: hi } });
  } else void setRender({ clip: null });
}
$<HTMLInputElement>("#clip-on").onchange = toggleClip;
$("#clip-reset").onclick = () => {
  const [lo, hi] = volumeBox();
  void setRender({ clip: render.clip ? { min: lo, max: hi } : null });
};
function buildClipSliders(): void {
  const host = $("#clip-sliders");
  host.replaceChildren();
  const [lo, hi] = volumeBox();
  ["x", "y", "z"].forEach((name, axis) => {
    const row = document.createElement("div");
    row.className = "axis";
    const label = document.createElement("span");
    label.textContent = name;
    row.append(label);
    for (const side of [0, 1] as const) {
      const s = document.createElement("input");
      s.type = "range";
      s.min = String(lo[axis]);
      s.max = String(hi[axis]);
      s.step = String((hi[axis]! - lo[axis]!) / 200 || 0.01);
      s.dataset.axis = String(axis);
      s.dataset.side = String(side);
      s.setAttribute("aria-label", `clip ${name} ${side ? "max" : "min"}`);
      s.oninput = () => {
        if (!render.clip) return;
        setClipFace(axis, side, Number(s.value), true);
      };
      s.onchange = () => render.clip && setClipFace(axis, side, Number(s.value), false);
      row.append(s);
    }
    host.append(row);
  });
  syncClipSliders();
}
function syncClipSliders(): void {
  const box = clipBox();
  for (const s of document.querySelectorAll<HTMLInputElement>("#clip-sliders input")) {
    s.value = String(box[Number(s.dataset.side) as 0 | 1][Number(s.dataset.axis)]);
    s.disabled = !render.clip;
  }
}

/** The six face handles of the clip box on screen (CSS pixels). */
function clipHandles() {
  if (!render.clip || !(scene?.volume || scene?.points)) return [];
  const cam = camera();
  const aspect = overlay.clientWidth / Math.max(1, overlay.clientHeight);
  const [lo, hi] = clipBox();
  const mid: Vec3 = [0, 1, 2].map((k) => (lo[k]! + hi[k]!) / 2) as Vec3;
  const out: { axis: number; side: 0 | 1; x: number; y: number; dir: [number, number]; pxPerUnit: number }[] = [];
  for (let axis = 0; axis < 3; axis++)
    for (const side of [0, 1] as const) {
      const p = [...mid] as Vec3;
      p[axis] = side ? hi[axis]! : lo[axis]!;
      const q = [...p] as Vec3;
      const unit = (hi[axis]! - lo[axis]!) / 4 || 1;
      q[axis]! += unit;
      const a = projectPoint(cam, p, aspect);
      const b = projectPoint(cam, q, aspect);
      if (!a || !b) continue;
      const ax = a.x * overlay.clientWidth;
      const ay = a.y * overlay.clientHeight;
      const dx = b.x * overlay.clientWidth - ax;
      const dy = b.y * overlay.clientHeight - ay;
      const len = Math.hypot(dx, dy);
      if (len < 1e-3) continue;
      out.push({ axis, side, x: ax, y: ay, dir: [dx / len, dy / len], pxPerUnit: len / unit });
    }
  return out;
}
function clipHandleAt(x: number, y: number) {
  return clipHandles().find((h) => Math.hypot(h.x - x, h.y - y) < 12);
}

// ---------------------------------------------------------------- overlay: triad, scale bar, clip box, probe

function drawOverlay(): void {
  const ctx = overlay.getContext("2d")!;
  const dpr = window.devicePixelRatio || 1;
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  const W = overlay.clientWidth;
  const H = overlay.clientHeight;
  ctx.clearRect(0, 0, W, H);
  if (!scene || !(scene.volume || scene.points)) return;
  const cam = camera();
  const { right, up } = cameraBasis(cam);
  const aspect = W / Math.max(1, H);
  // Axes triad (world x red, y green, z blue), bottom left.
  const c0 = { x: 46, y: H - 46 };
  ctx.lineWidth = 2;
  ctx.font = "600 11px system-ui, sans-serif";
  const axes: [Vec3, string, string][] = [
    [[1, 0, 0], "x", "#ff6b6b"],
    [[0, 1, 0], "y", "#6bdc6b"],
    [[0, 0, 1], "z", "#6ba8ff"],
  ];
  const proj = axes.map(([a, name, color]) => ({ name, color, x: a[0] * right[0] + a[1] * right[1] + a[2] * right[2], y: a[0] * up[0] + a[1] * up[1] + a[2] * up[2] }));
  ctx.fillStyle = "rgba(0,0,0,.35)";
  ctx.beginPath();
  ctx.arc(c0.x, c0.y, 36, 0, Math.PI * 2);
  ctx.fill();
  for (const a of proj) {
    ctx.strokeStyle = a.color;
    ctx.fillStyle = a.color;
    ctx.beginPath();
    ctx.moveTo(c0.x, c0.y);
    ctx.lineTo(c0.x + a.x * 26, c0.y - a.y * 26);
    ctx.stroke();
    ctx.fillText(a.name, c0.x + a.x * 31 - 3, c0.y - a.y * 31 + 4);
  }
  // Scale bar at the target's depth, bottom right: a round length of about 100 px.
  const perPx = cam.projection === "ortho" ? cam.orthoHeight / Math.max(1, H) : worldPerPixel();
  const raw = perPx * 100;
  const p10 = Math.pow(10, Math.floor(Math.log10(raw)));
  const len = [1, 2, 5, 10].map((m) => m * p10).reduce((a, b) => (Math.abs(b - raw) < Math.abs(a - raw) ? b : a));
  const px = len / perPx;
  ctx.strokeStyle = "#e8ecf1";
  ctx.fillStyle = "#e8ecf1";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(W - 20 - px, H - 22);
  ctx.lineTo(W - 20, H - 22);
  ctx.moveTo(W - 20 - px, H - 27);
  ctx.lineTo(W - 20 - px, H - 17);
  ctx.moveTo(W - 20, H - 27);
  ctx.lineTo(W - 20, H - 17);
  ctx.stroke();
  ctx.textAlign = "center";
  ctx.fillText(`${+len.toPrecision(3)} mm`, W - 20 - px / 2, H - 30);
  ctx.textAlign = "start";
  // Clip box wireframe and its handles.
  if (render.clip) {
    const [lo, hi] = clipBox();
    const corners: Vec3[] = [];
    for (let i = 0; i < 8; i++) corners.push([i & 1 ? hi[0] : lo[0], i & 2 ? hi[1] : lo[1], i & 4 ? hi[2] : lo[2]]);
    const pts = corners.map((c) => projectPoint(cam, c, aspect));
    ctx.strokeStyle = "rgba(255,200,80,.8)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let i = 0; i < 8; i++)
      for (const bit of [1, 2, 4]) {
        const j = i | bit;
        if (j === i) continue;
        const a = pts[i];
        const b = pts[j];
        if (!a || !b) continue;
        ctx.moveTo(a.x * W, a.y * H);
        ctx.lineTo(b.x * W, b.y * H);
      }
    ctx.stroke();
    for (const h of clipHandles()) {
      ctx.fillStyle = ["#ff6b6b", "#6bdc6b", "#6ba8ff"][h.axis]!;
      ctx.strokeStyle = "#111";
      ctx.beginPath();
      ctx.arc(h.x, h.y, 6, 0, Math.PI * 2);
      ctx.fill();
      ctx.stroke();
    }
  }
  // Probe marker.
  if (probe) {
    const p = projectPoint(cam, probe.world, aspect);
    if (p) {
      ctx.strokeStyle = "#ffe14d";
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      ctx.arc(p.x * W, p.y * H, 7, 0, Math.PI * 2);
      ctx.moveTo(p.x * W - 12, p.y * H);
      ctx.lineTo(p.x * W - 4, p.y * H);
      ctx.moveTo(p.x * W + 4, p.y * H);
      ctx.lineTo(p.x * W + 12, p.y * H);
      ctx.stroke();
    }
  }
}
window.addEventListener("resize", drawOverlay);

// ---------------------------------------------------------------- probe and slices

async function pickAt(x: number, y: number): Promise<void> {
  try {
    const r = (await runOp("pick", { x: clamp(x / overlay.clientWidth, 0, 1), y: clamp(y / overlay.clientHeight, 0, 1), width: overlay.clientWidth, height: overlay.clientHeight, view })).json as unknown as ProbeResult;
    if (!r.hit) {
      $("#probe").textContent = "nothing visible there";
      return;
    }
    setProbe(r);
  } catch (err) {
    console.warn("pick:", err);
  }
}

async function doProbe(body: Record<string, unknown>): Promise<void> {
  try {
    setProbe((await runOp("probe", body)).json as unknown as ProbeResult);
  } catch (err) {
    $("#probe").textContent = String((err as Error).message);
  }
}

function setProbe(r: ProbeResult): void {
  probe = r;
  probeVoxel = [...r.voxel] as Vec3;
  const [z, y, x] = r.voxel;
  const w = r.world.map((c) => c.toFixed(2)).join(", ");
  $("#probe").textContent = `voxel  [z ${z}, y ${y}, x ${x}]\nworld  (${w}) mm\nvalue  ${Number.isInteger(r.value) ? r.value : r.value.toPrecision(6)} (${r.dtype})`;
  updateHash();
  drawOverlay();
  refreshSlices();
}

interface SliceGeom { img: { x: number; y: number; w: number; h: number }; flip: boolean; axis?: number; origin?: Vec3; u?: Vec3; v?: Vec3; width: number; height: number }
const sliceGeom = new Map<string, SliceGeom>();
const sliceBusy = new Set<string>();
const sliceDirty = new Set<string>();

function currentVoxel(): Vec3 {
  const shape = scene!.volume!.shape;
  return probeVoxel ?? [Math.floor(shape[0] / 2), Math.floor(shape[1] / 2), Math.floor(shape[2] / 2)];
}

function refreshSlices(): void {
  if (!scene?.volume) return;
  for (const k of ["0", "1", "2", "oblique"]) void loadSlice(k);
}

async function loadSlice(kind: string): Promise<void> {
  if (sliceBusy.has(kind)) {
    sliceDirty.add(kind);
    return;
  }
  const fig = document.querySelector<HTMLElement>(`.slice[data-kind="${kind}"]`)!;
  const cnv = fig.querySelector("canvas")!;
  const vol = scene?.volume;
  if (!vol || fig.offsetParent === null) return;
  sliceBusy.add(kind);
  try {
    const voxel = currentVoxel();
    const cw = Math.max(16, Math.round(cnv.clientWidth * (window.devicePixelRatio || 1)));
    const ch = Math.max(16, Math.round(cnv.clientHeight * (window.devicePixelRatio || 1)));
    let body: Record<string, unknown>;
    if (kind === "oblique") {
      const center: Vec3 = probe ? probe.world : camera().target;
      body = { oblique: { view, center }, width: Math.min(512, cw), height: Math.min(512, ch) };
    } else {
      const axis = Number(kind);
      body = { axis, index: voxel[axis] };
      fig.querySelector("input")!.value = String(voxel[axis]);
      fig.querySelector("output")!.textContent = String(voxel[axis]);
    }
    const r = await runOp("slice", body);
    const j = r.json as unknown as SliceGeom & { width: number; height: number };
    const bmp = await createImageBitmap(r.blob!);
    cnv.width = cw;
    cnv.height = ch;
    const ctx = cnv.getContext("2d")!;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, cw, ch);
    // Physical size of the image (mm) decides its aspect; coronal and sagittal show z upward.
    const sp = vol.spacing;
    let physW = j.width;
    let physH = j.height;
    let flip = false;
    if (kind === "0") (physW *= sp[2]), (physH *= sp[1]);
    else if (kind === "1") (physW *= sp[2]), (physH *= sp[0]), (flip = true);
    else if (kind === "2") (physW *= sp[1]), (physH *= sp[0]), (flip = true);
    const s = Math.min(cw / physW, ch / physH);
    const img = { w: physW * s, h: physH * s, x: (cw - physW * s) / 2, y: (ch - physH * s) / 2 };
    ctx.imageSmoothingEnabled = false;
    ctx.save();
    if (flip) {
      ctx.translate(0, ch);
      ctx.scale(1, -1);
      ctx.drawImage(bmp, img.x, ch - img.y - img.h, img.w, img.h);
    } else ctx.drawImage(bmp, img.x, img.y, img.w, img.h);
    ctx.restore();
    bmp.close();
    const geom: SliceGeom = { img, flip, width: j.width, height: j.height, axis: kind === "oblique" ? undefined : Number(kind), origin: j.origin, u: j.u, v: j.v };
    sliceGeom.set(kind, geom);
    probeApi.sliceInfo[kind] = { width: j.width, height: j.height, index: kind === "oblique" ? null : voxel[Number(kind)] };
    // Crosshair at the probe position.
    const pos = kind === "oblique" ? { x: 0.5, y: 0.5 } : slicePosOf(kind, voxel, j.width, j.height);
    const px = img.x + pos.x * img.w;
    const py = flip ? img.y + (1 - pos.y) * img.h : img.y + pos.y * img.h;
    ctx.strokeStyle = "rgba(255,225,77,.85)";
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(img.x, py);
    ctx.lineTo(img.x + img.w, py);
    ctx.moveTo(px, img.y);
    ctx.lineTo(px, img.y + img.h);
    ctx.stroke();
  } catch (err) {
    console.warn("slice:", err);
  } finally {
    sliceBusy.delete(kind);
    if (sliceDirty.delete(kind)) void loadSlice(kind);
  }
}

/** Where voxel [z, y, x] is in the slice image of `kind`, in [0, 1] (row 0 = lowest index). */
function slicePosOf(kind: string, v: Vec3, w: number, h: number): { x: number; y: number } {
  const [z, y, x] = v;
  if (kind === "0") return { x: (x + 0.5) / w, y: (y + 0.5) / h };
  if (kind === "1") return { x: (x + 0.5) / w, y: (z + 0.5) / h };
  return { x: (y + 0.5) / w, y: (z + 0.5) / h };
}

for (const fig of document.querySelectorAll<HTMLElement>(".slice")) {
  const kind = fig.dataset.kind!;
  const cnv = fig.querySelector("canvas")!;
  const input = fig.querySelector("input");
  if (input)
    input.oninput = () => {
      if (!scene?.volume) return;
      const v = currentVoxel();
      v[Number(kind)] = Number(input.value);
      probeVoxel = v;
      fig.querySelector("output")!.textContent = input.value;
      void loadSlice(kind);
      clearTimeout(probeTimer);
      probeTimer = setTimeout(() => void doProbe({ voxel: v }), 150);
    };
  cnv.addEventListener("click", (e) => {
    const g = sliceGeom.get(kind);
    const vol = scene?.volume;
    if (!g || !vol) return;
    const fx = (e.offsetX * (cnv.width / cnv.clientWidth) - g.img.x) / g.img.w;
    let fy = (e.offsetY * (cnv.height / cnv.clientHeight) - g.img.y) / g.img.h;
    if (fx < 0 || fx > 1 || fy < 0 || fy > 1) return;
    if (g.flip) fy = 1 - fy;
    if (kind === "oblique") {
      const world = [0, 1, 2].map((k) => g.origin![k]! + (fx - 0.5) * g.u![k]! + (fy - 0.5) * g.v![k]!);
      void doProbe({ world });
      return;
    }
    const v = currentVoxel();
    const col = Math.min(g.width - 1, Math.floor(fx * g.width));
    const row = Math.min(g.height - 1, Math.floor(fy * g.height));
    if (kind === "0") (v[2] = col), (v[1] = row);
    else if (kind === "1") (v[2] = col), (v[0] = row);
    else (v[1] = col), (v[0] = row);
    void doProbe({ voxel: v });
  });
}
let probeTimer: ReturnType<typeof setTimeout> | undefined;
// The oblique slice follows the camera once it is still.
let obliqueTimer: ReturnType<typeof setTimeout> | undefined;
const refreshOblique = () => {
  clearTimeout(obliqueTimer);
  obliqueTimer = setTimeout(() => void loadSlice("oblique"), 300);
};
overlay.addEventListener("pointerup", refreshOblique);
overlay.addEventListener("wheel", refreshOblique);
new ResizeObserver(() => refreshSlices()).observe($("#slices"));

// ---------------------------------------------------------------- screenshot

async function screenshot(): Promise<void> {
  const width = clamp(Math.round(Number($<HTMLInputElement>("#shot-w").value) || 1920), 16, 8192);
  const height = clamp(Math.round(Number($<HTMLInputElement>("#shot-h").value) || 1080), 16, 8192);
  const status = $("#shot-status");
  status.textContent = "rendering…";
  try {
    const res = await fetch(withEmbedToken(new URL("api/screenshot", location.href)), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ width, height, view }), credentials: "same-origin" });
    if (!res.ok) throw new Error(((await res.json().catch(() => ({}))) as { error?: { message?: string } }).error?.message ?? `HTTP ${res.status}`);
    const blob = await res.blob();
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `remotevis-${(scene?.volume?.name ?? "view").replace(/[^\w.-]+/g, "_")}-${width}x${height}.png`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    status.textContent = `${width}×${height} saved`;
  } catch (err) {
    status.textContent = `failed: ${(err as Error).message}`;
  }
}
$("#shot").onclick = () => void screenshot();

// ---------------------------------------------------------------- transfer progress, stop banner

let progressHide: ReturnType<typeof setTimeout> | undefined;
function onTransfer(m: Record<string, unknown>): void {
  const bar = $("#progress");
  const bytes = Number(m.bytes) || 0;
  const done = Number(m.done) || 0;
  const mib = (n: number) => (n / 2 ** 20).toFixed(n < 2 ** 24 ? 1 : 0);
  clearTimeout(progressHide);
  bar.hidden = false;
  const frac = bytes ? done / bytes : 0;
  $("#progress-bar").style.width = `${(m.state === "done" ? 1 : frac) * 100}%`;
  const what = m.kind === "points" ? "points" : "volume";
  if (m.state === "failed") {
    $("#progress-text").textContent = `${what} transfer failed: ${String(m.message ?? "")}`;
    progressHide = setTimeout(() => (bar.hidden = true), 6000);
  } else if (m.state === "done") {
    $("#progress-text").textContent = `${what} received (${mib(bytes)} MiB), preparing…`;
    progressHide = setTimeout(() => (bar.hidden = true), 1500);
  } else $("#progress-text").textContent = `receiving ${what}: ${mib(done)} / ${mib(bytes)} MiB (${(frac * 100).toFixed(0)}%)`;
}

const WARN_MS = 10 * 60_000;
function onDeadline(d: Deadline | null): void {
  deadline = d ? { at: Date.now() + d.inMs, why: d.why } : undefined;
  tickBanner();
}
function tickBanner(): void {
  const banner = $("#banner");
  if (!deadline) {
    banner.hidden = true;
    return;
  }
  const left = deadline.at - Date.now();
  if (left > WARN_MS) {
    banner.hidden = true;
    return;
  }
  const s = Math.max(0, Math.round(left / 1000));
  const when = s >= 60 ? `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s` : `${s} s`;
  const canKeep = !/maximum age|max/i.test(deadline.why);
  banner.hidden = false;
  banner.classList.toggle("urgent", left < 60_000);
  $("#banner-text").textContent = canKeep
    ? `This instance will be stopped in ${when} (${deadline.why}).`
    : `This instance reaches its maximum age in ${when} and will be stopped; save screenshots or data you need.`;
  $("#keep").hidden = !canKeep;
}
setInterval(tickBanner, 1000);
$("#keep").onclick = () => send({ type: "keep" });

connect();
