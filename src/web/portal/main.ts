/**
 * The portal page: login, my instances, new instance, file browser with loads, API tokens and
 * the admin view. Plain DOM (every text goes in with textContent, never as HTML). The session
 * cookie is HttpOnly; the CSRF token comes from GET /portal/api/session and goes with every
 * request that changes something (X-CSRF-Token).
 */

type Json = Record<string, any>;
interface Session {
  authenticated: boolean;
  user?: { name: string; uid: number };
  admin?: boolean;
  csrf?: string;
  loginCsrf?: string;
  mode: "local" | "slurm";
}

let session: Session = { authenticated: false, mode: "local" };
let timer: number | undefined;
const app = document.getElementById("app")!;

type Child = Node | string | null | undefined | false;
function h(tag: string, attrs: Record<string, any> = {}, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function api(method: string, path: string, body?: unknown): Promise<any> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET") headers["x-csrf-token"] = (session.authenticated ? session.csrf : session.loginCsrf) ?? "";
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  const data = res.headers.get("content-type")?.includes("json") ? await res.json() : {};
  if (!res.ok) {
    const e = new ApiError(res.status, data?.error?.code ?? "error", data?.error?.message ?? `HTTP ${res.status}`);
    if (res.status === 401 && session.authenticated && path !== "/portal/api/login") {
      await loadSession();
      route();
    }
    throw e;
  }
  return data;
}

function flash(text: string, ok = false): void {
  const f = document.getElementById("flash")!;
  f.textContent = text;
  f.className = ok ? "ok" : "";
  f.hidden = !text;
  if (text) setTimeout(() => f.textContent === text && (f.hidden = true), 6000);
}

const fmtBytes = (n: number) => {
  const u = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
};
function fmtSpan(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min`;
  return `${Math.floor(hrs / 24)} d ${hrs % 24} h`;
}
const ago = (iso: string | null) => (iso ? fmtSpan(Date.now() - Date.parse(iso)) : "—");
const fmtDate = (iso: string | null) => (iso ? new Date(iso).toLocaleString() : "—");

async function loadSession(): Promise<void> {
  session = await (await fetch("/portal/api/session", { credentials: "same-origin" })).json();
  document.getElementById("nav")!.hidden = !session.authenticated;
  document.getElementById("logout")!.hidden = !session.authenticated;
  document.getElementById("nav-admin")!.hidden = !session.admin;
  document.getElementById("who")!.textContent = session.authenticated ? `${session.user!.name}${session.admin ? " (admin)" : ""}` : "";
}

// ---- views ----

function loginView(): void {
  const err = h("p", { class: "error", id: "login-error", role: "alert" });
  const user = h("input", { name: "user", id: "user", autocomplete: "username", required: true, autofocus: true }) as HTMLInputElement;
  const pass = h("input", { name: "password", id: "password", type: "password", autocomplete: "current-password", required: true }) as HTMLInputElement;
  const btn = h("button", { class: "primary", type: "submit", id: "login-btn" }, "Log in") as HTMLButtonElement;
  const form = h(
    "form",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        btn.disabled = true;
        err.textContent = "";
        try {
          const s = await api("POST", "/portal/api/login", { user: user.value, password: pass.value });
          pass.value = "";
          session = s;
          await loadSession();
          location.hash = "#instances";
          route();
        } catch (x) {
          pass.value = "";
          err.textContent = x instanceof Error ? x.message : String(x);
          await loadSession().catch(() => {});
        } finally {
          btn.disabled = false;
        }
      },
    },
    h("label", {}, "User name", user),
    h("label", {}, "Password", pass),
    btn,
    err,
  );
  app.replaceChildren(h("div", { class: "card login" }, h("h1", {}, "Log in with your HPC account"), form, h("p", { class: "muted small" }, "Your password goes to the system's PAM service and is never stored.")));
}

function stateBadge(state: string): HTMLElement {
  return h("span", { class: `badge s-${state}` }, state);
}

function where(i: Json): string {
  if (i.job) {
    const j = i.job;
    if (i.state === "pending" || j.state === "pending")
      return `slurm job ${j.id} pending${j.reason ? ` (${j.reason})` : ""}${j.expectedStart ? `, expected start ${fmtDate(j.expectedStart)} (in ${fmtSpan(Date.parse(j.expectedStart) - Date.now())})` : ", no start estimate yet"}`;
    return `slurm job ${j.id}${j.node ? ` on ${j.node}` : ""}${i.host ? ` (${i.host}:${i.port})` : ""}`;
  }
  return i.host ? `${i.host}:${i.port}` : "this machine";
}

function timeLeft(i: Json): string {
  if (!i.deadline) return "—";
  return `${fmtSpan(Date.parse(i.deadline.at) - Date.now())} (${i.deadline.why})`;
}

async function stop(id: string, after: () => void): Promise<void> {
  if (!confirm(`Stop instance ${id}?`)) return;
  try {
    await api("DELETE", `/api/v1/instances/${id}`);
    flash(`instance ${id} stopped`, true);
  } catch (x) {
    flash((x as Error).message);
  }
  after();
}

function instanceTable(list: Json[], admin: boolean, refresh: () => void): HTMLElement {
  const live = new Set(["pending", "starting", "running", "unknown", "stopping"]);
  return h(
    "table",
    { id: admin ? "admin-instances" : "instances" },
    h("thead", {}, h("tr", {}, h("th", {}, "Instance"), admin ? h("th", {}, "Owner") : null, h("th", {}, "State"), h("th", {}, "Where"), h("th", {}, "GPUs"), h("th", {}, "Age"), h("th", {}, "Time left"), h("th", {}, ""))),
    h(
      "tbody",
      {},
      ...list.map((i) =>
        h(
          "tr",
          { "data-id": i.id, "data-state": i.state },
          h("td", {}, h("div", {}, i.name || "(unnamed)"), h("div", { class: "muted mono small" }, i.id), h("div", { class: "muted small" }, `[${i.shape.join(", ")}] ${i.dtype}`)),
          admin ? h("td", {}, i.owner.name) : null,
          h("td", {}, stateBadge(i.state), i.reason && !live.has(i.state) ? h("div", { class: "muted small" }, String(i.reason).split("\n")[0]!) : null),
          h("td", { class: "small" }, where(i)),
          h("td", { class: "num" }, String(i.gpus)),
          h("td", { class: "num" }, ago(i.createdAt)),
          h("td", { class: "small" }, timeLeft(i)),
          h(
            "td",
            {},
            h(
            "div",
            { class: "actions" },
            !admin && i.state === "running" ? h("a", { class: "button primary", href: `/i/${i.id}/`, target: "_blank", rel: "noopener", "data-open": i.id }, "Open") : null,
            live.has(i.state) && i.state !== "stopping" ? h("button", { class: "danger", type: "button", "data-stop": i.id, onclick: () => stop(i.id, refresh) }, "Stop") : null,
          ),
          ),
        ),
      ),
    ),
  );
}

async function instancesView(admin = false): Promise<void> {
  const title = h("h1", {}, admin ? "All instances (admin)" : "My instances");
  const box = h("div", {});
  const showEnded = h("input", { type: "checkbox", id: "show-ended" }) as HTMLInputElement;
  const refresh = async () => {
    try {
      const r = admin ? await api("GET", `/portal/api/admin/instances?all=${showEnded.checked}`) : await api("GET", `/api/v1/instances?all=${showEnded.checked}`);
      const list: Json[] = r.instances;
      box.replaceChildren(list.length ? instanceTable(list, admin, refresh) : h("p", { class: "muted" }, admin ? "No instances." : "No instances yet: start one under New instance, or open a dataset from Files."));
      // Pending slurm jobs and starting instances change soon: look again sooner.
      const soon = list.some((i) => ["pending", "starting", "stopping", "unknown"].includes(i.state));
      clearTimeout(timer);
      timer = window.setTimeout(() => (location.hash === (admin ? "#admin" : "#instances") || (!admin && location.hash === "")) && refresh(), soon ? 3000 : 10000);
    } catch (x) {
      if ((x as ApiError).status !== 401) box.replaceChildren(h("p", { class: "error" }, (x as Error).message));
    }
  };
  showEnded.addEventListener("change", refresh);
  app.replaceChildren(title, h("div", { class: "row small muted" }, h("label", { class: "inline" }, showEnded, "show stopped and failed ones too")), box);
  await refresh();
}

async function newView(): Promise<void> {
  const o = await api("GET", "/portal/api/options");
  const shape = h("input", { id: "shape", value: "512,512,512", pattern: "\\d+(,\\d+){0,3}" }) as HTMLInputElement;
  const dtype = h("select", { id: "dtype" }, ...["uint8", "int16", "uint16", "float32", "float64"].map((d) => h("option", { value: d, selected: d === "uint16" }, d))) as HTMLSelectElement;
  const gpus = h("input", { id: "gpus", type: "number", min: 1, max: o.gpuLimit, placeholder: "estimate" }) as HTMLInputElement;
  const name = h("input", { id: "name", maxlength: 64, placeholder: "optional" }) as HTMLInputElement;
  const partition = o.slurm ? (h("select", { id: "partition" }, ...o.slurm.partitions.map((p: string) => h("option", { value: p, selected: p === o.slurm.defaultPartition }, p))) as HTMLSelectElement) : null;
  const minutes = o.slurm ? (h("input", { id: "time", type: "number", min: 1, max: o.slurm.maxTimeMinutes, value: Math.min(60, o.slurm.maxTimeMinutes) }) as HTMLInputElement) : null;
  const estimate = h("b", {});
  const update = () => {
    const dims = shape.value.split(",").map(Number);
    const size = { uint8: 1, int16: 2, uint16: 2, float32: 4, float64: 8 }[dtype.value] ?? 1;
    const bytes = dims.reduce((a, b) => a * b, 1) * size;
    const est = Math.max(1, Math.ceil((bytes * o.workingSet) / o.gpuMemory));
    estimate.textContent = Number.isFinite(bytes) ? `${est} GPU(s) for ${fmtBytes(bytes)}` : "—";
  };
  shape.addEventListener("input", update);
  dtype.addEventListener("change", update);
  update();
  const err = h("p", { class: "error" });
  const form = h(
    "form",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        err.textContent = "";
        const body: Json = { shape: shape.value.split(",").map((s) => Number(s.trim())), dtype: dtype.value };
        if (gpus.value) body.gpus = Number(gpus.value);
        if (name.value) body.name = name.value;
        if (partition && partition.value) body.partition = partition.value;
        if (minutes && minutes.value) body.timeMinutes = Number(minutes.value);
        try {
          const i = await api("POST", "/api/v1/instances?wait=false", body);
          flash(`instance ${i.id} ${i.state}`, true);
          location.hash = "#instances";
        } catch (x) {
          err.textContent = (x as Error).message;
        }
      },
    },
    h(
      "div",
      { class: "form-grid" },
      h("label", {}, "Volume shape z,y,x", shape),
      h("label", {}, "Element type", dtype),
      h("label", {}, "GPUs", gpus),
      h("label", {}, "Name", name),
      partition ? h("label", {}, "Slurm partition", partition) : null,
      minutes ? h("label", {}, `Time limit (minutes, at most ${o.slurm.maxTimeMinutes})`, minutes) : null,
      h("button", { class: "primary", type: "submit", id: "create" }, o.mode === "slurm" ? "Submit job" : "Start instance"),
    ),
    err,
  );
  const lim = o.lifetime;
  app.replaceChildren(
    h("h1", {}, "New instance"),
    h("p", { class: "muted" }, o.mode === "slurm" ? "Instances run as slurm jobs of your account; the job waits in the queue until a node is free." : "Instances run on the visualization server as your account."),
    h(
      "div",
      { class: "limits" },
      h("div", {}, "GPU estimate", estimate),
      h("div", {}, "Your GPUs in use", h("b", {}, `${o.gpusInUse} of ${o.gpuLimit}`)),
      h("div", {}, "GPU memory (per GPU)", h("b", {}, fmtBytes(o.gpuMemory))),
      h("div", {}, "Stopped when unopened for", h("b", {}, lim.graceMs ? fmtSpan(lim.graceMs) : "never")),
      h("div", {}, "Stopped when idle for", h("b", {}, lim.idleTimeoutMs ? fmtSpan(lim.idleTimeoutMs) : "never")),
      h("div", {}, "Maximum age", h("b", {}, lim.maxAgeMs ? fmtSpan(lim.maxAgeMs) : "none")),
      o.slurm ? h("div", {}, "Longest time limit", h("b", {}, fmtSpan(o.slurm.maxTimeMinutes * 60_000))) : null,
    ),
    h("div", { class: "card" }, form),
  );
}

async function runningInstances(): Promise<Json[]> {
  const r = await api("GET", "/api/v1/instances?all=false");
  return r.instances.filter((i: Json) => i.state === "running");
}

function openControls(path: string, dataset: string | undefined, out: HTMLElement): HTMLElement {
  const target = h("select", { class: "open-target" }, h("option", { value: "" }, "a new instance")) as HTMLSelectElement;
  void runningInstances().then((list) => {
    for (const i of list) target.append(h("option", { value: i.id }, `running: ${i.name || i.id}`));
  });
  const btn = h(
    "button",
    {
      class: "primary",
      type: "button",
      "data-open-dataset": dataset ?? path,
      onclick: async () => {
        btn.setAttribute("disabled", "");
        try {
          const l = await api("POST", "/portal/api/open", { path, ...(dataset ? { dataset } : {}), ...(target.value ? { instance: target.value } : {}) });
          follow(l.id, out);
        } catch (x) {
          out.replaceChildren(h("p", { class: "error" }, (x as Error).message));
        } finally {
          btn.removeAttribute("disabled");
        }
      },
    },
    "Open",
  );
  return h("span", { class: "actions" }, "in", target, btn);
}

function follow(id: string, out: HTMLElement): void {
  const bar = h("div", {});
  const text = h("div", { class: "small", id: "load-status" }, "reading the file…");
  const link = h("div", {});
  out.replaceChildren(h("div", { class: "card load", id: "load" }, h("div", { class: "progress" }, bar), text, link));
  const words: Record<string, string> = { reading: "reading the file (as you)…", starting: "starting an instance sized for it…", sending: "sending to the instance…", done: "shown in the instance", failed: "failed" };
  const tick = async () => {
    let l: Json;
    try {
      l = await api("GET", `/portal/api/loads/${id}`);
    } catch (x) {
      text.textContent = (x as Error).message;
      return;
    }
    const pct = l.phase === "done" ? 100 : l.total ? Math.round((100 * l.done) / l.total) : 0;
    bar.style.width = `${pct}%`;
    text.textContent = `${words[l.phase] ?? l.phase}${l.shape ? ` — [${l.shape.join(", ")}] ${l.dtype}, ${fmtBytes(l.total)}` : ""}${l.phase === "sending" ? ` (${pct}%)` : ""}${l.error ? `: ${l.error}` : ""}${l.instance ? ` · ${l.instance}` : ""}`;
    if (l.phase === "done") {
      link.replaceChildren(h("a", { class: "button primary", href: `/i/${l.instance}/`, target: "_blank", rel: "noopener", id: "open-viewer" }, "Open the viewer"));
      return;
    }
    if (l.phase !== "failed") setTimeout(tick, 400);
  };
  void tick();
}

async function filesView(path: string | undefined): Promise<void> {
  const out = h("div", {});
  let listing: Json;
  try {
    listing = await api("GET", `/portal/api/files${path ? `?path=${encodeURIComponent(path)}` : ""}`);
  } catch (x) {
    app.replaceChildren(h("h1", {}, "Files"), h("p", { class: "error" }, (x as Error).message), h("a", { href: "#files" }, "back to the storage roots"));
    return;
  }
  const go = (p: string | null) => (location.hash = p ? `#files:${encodeURIComponent(p)}` : "#files");
  const crumbs = h("div", { class: "crumbs" }, h("a", { href: "#files" }, "storage roots"));
  if (listing.path) {
    const root: string = listing.root;
    crumbs.append(" / ", h("a", { href: `#files:${encodeURIComponent(root)}` }, root));
    let acc = root;
    for (const part of listing.path.slice(root.length).split("/").filter(Boolean)) {
      acc += `/${part}`;
      crumbs.append(" / ", h("a", { href: `#files:${encodeURIComponent(acc)}` }, part));
    }
  }
  const volumeFile = /\.(npy|nii|nii\.gz|tif|tiff|mrc|ccp4|map|raw)$/i;
  const rows: HTMLElement[] = [];
  for (const e of listing.entries as Json[]) {
    const extra = h("div", {});
    const nameCell = e.kind === "dir" && !e.outside && !e.denied ? h("a", { class: "dir", onclick: () => go(e.path), "data-dir": e.name }, `${e.name}/`) : h("span", {}, e.name, e.outside ? h("span", { class: "muted small" }, " (link out of the storage)") : null, e.denied ? h("span", { class: "muted small" }, " (no access)") : null);
    let action: Child = null;
    if (e.hdf5) {
      action = h(
        "button",
        {
          type: "button",
          "data-datasets": e.name,
          onclick: async () => {
            extra.replaceChildren(h("p", { class: "muted small" }, "listing datasets…"));
            try {
              const r = await api("GET", `/portal/api/datasets?path=${encodeURIComponent(e.path)}`);
              const vols = (r.datasets as Json[]).filter((d) => d.volume);
              extra.replaceChildren(
                h(
                  "table",
                  { class: "datasets" },
                  h(
                    "tbody",
                    {},
                    ...(r.datasets as Json[]).map((d) =>
                      h(
                        "tr",
                        { "data-dataset": d.path },
                        h("td", { class: "mono" }, d.path),
                        h("td", { class: "mono small" }, `[${d.dims.join(" × ")}]`),
                        h("td", { class: "mono small" }, d.dtype ?? d.type),
                        h("td", {}, d.volume ? openControls(e.path, d.path, out) : h("span", { class: "muted small" }, "not a volume")),
                      ),
                    ),
                  ),
                ),
                vols.length ? "" : h("p", { class: "muted small" }, "no volume datasets in this file"),
              );
            } catch (x) {
              extra.replaceChildren(h("p", { class: "error" }, (x as Error).message));
            }
          },
        },
        "Datasets",
      );
    } else if (e.kind === "file" && volumeFile.test(e.name)) action = openControls(e.path, undefined, out);
    rows.push(
      h(
        "tr",
        { "data-entry": e.name },
        h("td", {}, nameCell, extra),
        h("td", { class: "num" }, e.kind === "file" ? fmtBytes(e.size) : ""),
        h("td", { class: "num small" }, fmtDate(e.mtime)),
        h("td", {}, action),
      ),
    );
  }
  app.replaceChildren(
    h("h1", {}, "Files"),
    h("p", { class: "muted small" }, "Listed with your own permissions. HDF5 and NeXus files show their datasets with shape and type; open one in a new or a running instance."),
    crumbs,
    h("table", { id: "files" }, h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Size"), h("th", {}, "Modified"), h("th", {}, ""))), h("tbody", {}, ...rows)),
    listing.truncated ? h("p", { class: "muted" }, "(only the first 5000 entries are shown)") : "",
    out,
  );
}

async function tokensView(): Promise<void> {
  const list = h("div", {});
  const shown = h("div", {});
  const refresh = async () => {
    const r = await api("GET", "/api/v1/tokens");
    list.replaceChildren(
      r.tokens.length
        ? h(
            "table",
            { id: "tokens" },
            h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "Created"), h("th", {}, "Last used"), h("th", {}, "Expires"), h("th", {}, ""))),
            h(
              "tbody",
              {},
              ...r.tokens.map((t: Json) =>
                h(
                  "tr",
                  { "data-token": t.id },
                  h("td", {}, t.name),
                  h("td", { class: "small" }, fmtDate(t.createdAt)),
                  h("td", { class: "small" }, fmtDate(t.lastUsedAt)),
                  h("td", { class: "small" }, t.expiresAt ? fmtDate(t.expiresAt) : "never"),
                  h(
                    "td",
                    {},
                    h(
                      "button",
                      {
                        class: "danger",
                        type: "button",
                        onclick: async () => {
                          if (!confirm(`Revoke the token '${t.name}'?`)) return;
                          await api("DELETE", `/api/v1/tokens/${t.id}`).catch((x) => flash(x.message));
                          await refresh();
                        },
                      },
                      "Revoke",
                    ),
                  ),
                ),
              ),
            ),
          )
        : h("p", { class: "muted" }, "No API tokens."),
    );
  };
  const name = h("input", { id: "token-name", required: true, maxlength: 64, placeholder: "e.g. beamline-laptop" }) as HTMLInputElement;
  const days = h("input", { id: "token-days", type: "number", min: 1, max: 3650, placeholder: "never" }) as HTMLInputElement;
  const form = h(
    "form",
    {
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const t = await api("POST", "/api/v1/tokens", { name: name.value, ...(days.value ? { expiresInDays: Number(days.value) } : {}) });
          shown.replaceChildren(h("div", { class: "token-once" }, h("div", { class: "small muted" }, "Copy it now: it is shown this once. Use it as REMOTEVIS_TOKEN or 'Authorization: Bearer …'."), h("code", { id: "new-token", class: "mono" }, t.token)));
          name.value = "";
          await refresh();
        } catch (x) {
          flash((x as Error).message);
        }
      },
    },
    h("div", { class: "row" }, h("label", {}, "Name", name), h("label", {}, "Expires after (days)", days), h("button", { class: "primary", type: "submit" }, "Create token")),
  );
  app.replaceChildren(h("h1", {}, "API tokens"), h("p", { class: "muted" }, "For scripts and the Python client on machines without munge."), h("div", { class: "card" }, form, shown), h("h2", {}, "Your tokens"), list);
  await refresh();
}

function route(): void {
  clearTimeout(timer);
  if (!session.authenticated) return loginView();
  const hash = decodeURIComponent(location.hash.slice(1));
  const [view, ...rest] = hash.split(":");
  for (const a of document.querySelectorAll<HTMLAnchorElement>("nav a")) a.classList.toggle("active", a.dataset.view === (view || "instances"));
  const fail = (x: unknown) => (x as ApiError).status !== 401 && app.replaceChildren(h("p", { class: "error" }, (x as Error).message));
  if (view === "new") newView().catch(fail);
  else if (view === "files") filesView(rest.join(":") || undefined).catch(fail);
  else if (view === "tokens") tokensView().catch(fail);
  else if (view === "admin" && session.admin) instancesView(true).catch(fail);
  else instancesView().catch(fail);
}

document.getElementById("logout")!.addEventListener("click", async () => {
  await api("POST", "/portal/api/logout").catch(() => {});
  await loadSession();
  location.hash = "";
  route();
});
window.addEventListener("hashchange", route);
void loadSession().then(route);
