"""The client of the middleware and, through it, of the instances: the paper's API with numpy.
Mirrors src/client/remotevis.ts (same requests, same error codes and messages).

    import numpy as np, remotevis
    rv = remotevis.RemoteVis()                       # REMOTEVIS_MIDDLEWARE or http://127.0.0.1:8470
    inst = rv.start((512, 512, 512), np.float32)     # inst.url; in Jupyter: the viewer inline
    rv.render_volume(volume)                         # sent from the array's own memory
    box = rv.retrieve_volume(np.s_[0:64, 0:64, 0:64])
    img = rv.screenshot(800, 600)                    # (600, 800, 4) uint8, shows as an image
    rv.stop()
"""

from __future__ import annotations

import os
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _http
from .arrays import wire_dtype
from .credentials import Credential, munge_credential, token_credential
from .display import Screenshot
from .errors import RemoteVisError
from .instance import Box, Instance, InstanceClient

DEFAULT_MIDDLEWARE = "http://127.0.0.1:8470"
InstanceRef = Union[None, str, Instance]


class RemoteVis:
    """``RemoteVis(server=None, token=None)``: the middleware at ``server`` (default
    REMOTEVIS_MIDDLEWARE, else http://127.0.0.1:8470). Identity: ``token`` (or REMOTEVIS_TOKEN) as
    an API token, else a MUNGE credential per request (``munge -n``), else the session token a
    middleware run by this same user left in ~/.local/share/remotevis/session-token.

    Data calls (render_volume, retrieve_volume, screenshot, ...) go to ``instance=`` (an id, an
    Instance, or an instance URL with ?token=), else to the current instance: the last one
    started or used, else my newest running one."""

    def __init__(self, server: Optional[str] = None, token: Optional[str] = None, *,
                 munge_socket: Optional[str] = None, credential: Optional[Credential] = None,
                 timeout: float = 60.0) -> None:
        self.server = (server or os.environ.get("REMOTEVIS_MIDDLEWARE") or DEFAULT_MIDDLEWARE).rstrip("/")
        tok = token or os.environ.get("REMOTEVIS_TOKEN")
        self._credential = credential or (token_credential(tok) if tok else munge_credential(munge_socket))
        self.timeout = timeout
        self._current: Optional[Dict[str, Any]] = None  # {id?, url, client?}

    # ---- the middleware's REST API (docs/middleware.md) ----

    def _request(self, method: str, path: str, body: Any = None, auth: bool = True,
                 timeout: Optional[float] = None) -> Dict[str, Any]:
        headers = {"authorization": self._credential()} if auth else {}
        status, _, data = _http.request(method, f"{self.server}/api/v1{path}", headers=headers, body=body,
                                        timeout=timeout or self.timeout,
                                        unreachable=f"cannot reach the middleware at {self.server}",
                                        who=f"the middleware at {self.server}")
        return _http.json_answer(status, data, who=f"the middleware at {self.server}", what="middleware")

    def health(self) -> Dict[str, Any]:
        return self._request("GET", "/health", auth=False)

    def start(self, shape: Any, dtype: Any = None, gpus: Optional[int] = None, name: Optional[str] = None,
              wait: bool = True, timeout: float = 120.0,
              on_progress: Optional[Callable[[Instance, float], None]] = None) -> Instance:
        """Starts an instance for a volume of ``shape`` [z, y, x] and ``dtype`` (numpy dtype or
        name; default float32), or for an ndarray passed as ``shape``. The transfer limit of the
        instance is that volume's size. With ``wait`` (default) returns once it runs (``url``
        set); else at once (state ``starting`` or, in slurm mode, ``pending``)."""
        if isinstance(shape, np.ndarray):
            dtype = shape.dtype if dtype is None else dtype
            shape = shape.shape
        body: Dict[str, Any] = {"shape": [int(x) for x in shape], "dtype": wire_dtype(dtype if dtype is not None else np.float32)}
        if gpus is not None:
            body["gpus"] = int(gpus)
        if name is not None:
            body["name"] = name
        # Local mode answers when the instance runs: allow for its start-up.
        rec = self._request("POST", "/instances" + ("" if wait else "?wait=false"), body, timeout=max(self.timeout, timeout))
        inst = Instance(rec)
        if wait and inst.state != "running":
            inst = self.wait_until_running(inst.id, timeout=timeout, on_progress=on_progress)
        if inst.url:
            self._use(inst.id, inst.url)
        return inst

    def query(self, id: InstanceRef = None) -> Instance:
        """The instance ``id`` (default: the current one) as the middleware sees it now."""
        return Instance(self._request("GET", f"/instances/{urllib.parse.quote(self._id_of(id), safe='')}"))

    status = query

    def list(self, all: bool = True) -> List[Instance]:
        """My instances, newest first (``all=False``: only live ones)."""
        doc = self._request("GET", "/instances" + ("" if all else "?all=false"))
        return [Instance(r) for r in doc.get("instances", [])]

    def stop(self, id: InstanceRef = None) -> Instance:
        """Stops the instance ``id`` (default: the current one)."""
        ident = self._id_of(id)
        rec = Instance(self._request("DELETE", f"/instances/{urllib.parse.quote(ident, safe='')}"))
        if self._current and self._current.get("id") == ident:
            self._current = None
        return rec

    def wait_until_running(self, id: str, timeout: float = 120.0, interval: float = 0.5,
                           on_progress: Optional[Callable[[Instance, float], None]] = None) -> Instance:
        """Polls until the instance runs; raises when it stopped or failed instead, or on timeout."""
        t0 = time.monotonic()
        while True:
            inst = self.query(id)
            if on_progress:
                on_progress(inst, time.monotonic() - t0)
            if inst.state == "running" and inst.url:
                return inst
            if inst.state in ("stopped", "failed", "stopping"):
                raise RemoteVisError("start_failed", f"instance {id} is {inst.state}: {inst.reason or 'no reason recorded'}",
                                     502, {"id": id})
            if time.monotonic() - t0 > timeout:
                raise RemoteVisError("timeout", f"instance {id} is still {inst.state} after {timeout:g} s", 504, {"id": id})
            time.sleep(interval)

    def create_token(self, name: str, expires_in_days: Optional[int] = None) -> Dict[str, Any]:
        """A new API token (needs MUNGE); the secret ``token`` is shown only in this answer."""
        body: Dict[str, Any] = {"name": name}
        if expires_in_days is not None:
            body["expiresInDays"] = int(expires_in_days)
        return self._request("POST", "/tokens", body)

    def list_tokens(self) -> List[Dict[str, Any]]:
        return self._request("GET", "/tokens").get("tokens", [])

    def revoke_token(self, id: str) -> None:
        self._request("DELETE", f"/tokens/{urllib.parse.quote(id, safe='')}")

    # ---- which instance data calls go to ----

    def _id_of(self, ref: InstanceRef) -> str:
        if isinstance(ref, Instance):
            return str(ref.id)
        if ref:
            return str(ref)
        if self._current and self._current.get("id"):
            return str(self._current["id"])
        raise RemoteVisError("no_instance", "no current instance: pass an id, or start one first (RemoteVis.start)", 409)

    def _use(self, id: Optional[str], url: str) -> None:
        if self._current and self._current["url"] == url:
            return
        self._current = {"id": id, "url": url, "client": None}

    def instance(self, ref: InstanceRef = None) -> InstanceClient:
        """The control client of an instance: ``ref`` is an id, an Instance, a URL with ?token=,
        or nothing for the current instance (the last started or used, else my newest running)."""
        if isinstance(ref, Instance):
            ref = str(ref.id)  # its state now, not when the record was made
        if isinstance(ref, str) and ref.startswith(("http://", "https://")):
            self._use(None, ref)
        elif ref:
            inst = self.query(ref)
            if inst.state != "running" or not inst.url:
                raise RemoteVisError("not_running", f"instance {ref} is {inst.state}" + (f": {inst.reason}" if inst.reason else ""), 409)
            self._use(inst.id, inst.url)
        elif not self._current:
            running = [i for i in self.list() if i.state == "running" and i.url]
            running.sort(key=lambda i: i.createdAt or "", reverse=True)
            if not running:
                raise RemoteVisError("no_instance", "no running instance: start one first (remotevis client start, or RemoteVis.start)", 409)
            self._use(running[0].id, running[0].url)
        cur = self._current
        assert cur is not None
        if cur["client"] is None:
            cur["client"] = InstanceClient(cur["url"])
        return cur["client"]

    def _on(self, ref: InstanceRef, fn: Callable[[InstanceClient], Any]) -> Any:
        client = self.instance(ref)
        try:
            return fn(client)
        except RemoteVisError as err:
            # An instance that went away: say why, as the middleware knows it.
            cur = self._current
            if err.code in ("unreachable", "transfer_refused", "transfer_peer") and cur and cur.get("id") and cur["client"] is client:
                try:
                    inst = self.query(cur["id"])
                except RemoteVisError:
                    raise err from None
                if inst.state != "running":
                    self._current = None
                    raise RemoteVisError("not_running", f"instance {inst.id} is {inst.state}" + (f": {inst.reason}" if inst.reason else ""), 409) from None
            raise

    # ---- the paper's data calls ----

    def render_volume(self, volume: Any, spacing: Sequence[float] = (1, 1, 1), name: str = "volume",
                      instance: InstanceRef = None, *, copy: bool = True, checksum: bool = False) -> Dict[str, Any]:
        """Sends a 3-D array [z, y, x] (2-D [y, x] too) and returns when the instance shows it.
        C- and F-contiguous arrays are sent from their own memory (order C or F); others are
        copied once (a RemoteVisWarning), or refused with ``copy=False``. Returns {name, shape,
        dtype, bytes, window, range, receiveMs, uploadMs}."""
        return self._on(instance, lambda c: c.render_volume(volume, spacing=spacing, name=name, copy=copy, checksum=checksum))

    def render_points(self, xyz: Any, values: Any, name: str = "points", instance: InstanceRef = None, *,
                      copy: bool = True) -> Dict[str, Any]:
        """Points as spheres: ``xyz`` (N, 3) world coordinates [x, y, z], ``values`` (N,) (size and
        colour). Sent as float32 (in place if they are C-contiguous float32 already)."""
        return self._on(instance, lambda c: c.render_points(xyz, values, name=name, copy=copy))

    def retrieve_volume(self, box: Box = None, step: Union[int, Sequence[int]] = 1, instance: InstanceRef = None, *,
                        with_meta: bool = False, labels: bool = False) -> Any:
        """A box of the instance's volume as an ndarray in its original dtype: ``box`` is
        ``np.s_[z0:z1, y0:y1, x0:x1]``, ``{"lo": [z, y, x], "hi": [z, y, x]}`` or ``(lo, hi)``
        (lo inclusive, hi exclusive), default the whole volume; ``step`` takes every n-th voxel
        (a number or [z, y, x]). The result equals ``volume[z0:z1:s, y0:y1:s, x0:x1:s]``.
        ``labels=True``: the segmentation's labels of that box instead (uint8)."""
        return self._on(instance, lambda c: c.retrieve_volume(box, step, with_meta=with_meta, labels=labels))

    def screenshot(self, width: int = 1280, height: int = 720, view: Optional[Mapping[str, Any]] = None,
                   instance: InstanceRef = None) -> Screenshot:
        """The current view as a (height, width, 4) uint8 ndarray (shows as an image in Jupyter)."""
        return self._on(instance, lambda c: c.screenshot(width, height, view))

    def set_view(self, instance: InstanceRef = None, **view: Any) -> Dict[str, Any]:
        """azimuth, elevation (degrees), distance (volume diagonals), target, roll, fov, projection."""
        return self._on(instance, lambda c: c.set_view(**view))

    def set_render(self, instance: InstanceRef = None, **settings: Any) -> Dict[str, Any]:
        """mode (composite, mip, ...), shading (S0..S3), window, tf={"preset": "ct-bone"}, ..."""
        return self._on(instance, lambda c: c.set_render(**settings))

    def state(self, instance: InstanceRef = None) -> Dict[str, Any]:
        """The instance's scene: volume, points, view, render settings."""
        return self._on(instance, lambda c: c.state())

    def load_file(self, path: str, dataset: Optional[str] = None, instance: InstanceRef = None) -> Dict[str, Any]:
        """The instance reads ``path`` (``dataset`` inside an HDF5 file) from central storage, as
        you, and shows it."""
        return self._on(instance, lambda c: c.load_file(path, dataset))

    def send_model(self, path: str, instance: InstanceRef = None, **description: Any) -> Dict[str, Any]:
        """Sends a trained network (ONNX file) that the instance applies to its volume."""
        return self._on(instance, lambda c: c.send_model(path, **description))

    def segment(self, model: Optional[str] = None, region: str = "all", batch: Optional[int] = None,
                instance: InstanceRef = None) -> Dict[str, Any]:
        """Runs a model sent with send_model over the volume; returns when the labels show
        ({model, units, ms, counts, names, ...}); ``retrieve_volume(labels=True)`` fetches them."""
        return self._on(instance, lambda c: c.segment(model, region, batch))

    def set_labels(self, instance: InstanceRef = None, **settings: Any) -> Dict[str, Any]:
        """show, colors, opacity, visible (per class), outline (slices) of the labels."""
        return self._on(instance, lambda c: c.set_labels(**settings))

    def close(self) -> None:
        """Forgets the current instance (it keeps running; stop() ends it)."""
        self._current = None

    def __enter__(self) -> "RemoteVis":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteVis({self.server!r})"
