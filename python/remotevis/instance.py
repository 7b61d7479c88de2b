"""One instance: its record at the middleware (``Instance``) and its control operations
(``InstanceClient``: REST ``POST /api/OP`` with ``Authorization: Instance <secret>``, data over
SSC-RDMA). Mirrors src/client/instance.ts; the protocol is docs/instance.md."""

from __future__ import annotations

import json
import mmap
import os
import urllib.parse
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from . import _http
from ._header import decode_header, encode_header
from ._sscrdma import Connection, alloc
from .arrays import VOLUME_DTYPES, as_float32, as_volume
from .display import Screenshot, instance_html
from .errors import RemoteVisError

#: Retrieved volumes from this size up land in pre-faulted memory from ssc_alloc.
PREFAULT_BYTES = 64 << 20

Box = Union[None, Mapping[str, Sequence[int]], Tuple[Sequence[int], Sequence[int]], Tuple[slice, slice, slice]]


class Instance:
    """An instance as the middleware describes it: ``id, name, state, url, reason, host, port,
    dataPort, shape, dtype, gpus, maxBytes, createdAt, ...`` as attributes (and ``inst["url"]``).
    In Jupyter it shows the interactive viewer inline."""

    def __init__(self, record: Mapping[str, Any]) -> None:
        self._record = dict(record)

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        try:
            return self._record[key]
        except KeyError:
            raise AttributeError(key) from None

    def __getitem__(self, key: str) -> Any:
        return self._record[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self._record.get(key, default)

    def to_dict(self) -> Dict[str, Any]:
        return dict(self._record)

    @property
    def max_bytes(self) -> int:
        return int(self._record.get("maxBytes") or 0)

    @property
    def data_port(self) -> Optional[int]:
        return self._record.get("dataPort")

    def __repr__(self) -> str:
        r = self._record
        return f"Instance(id={r.get('id')!r}, state={r.get('state')!r}, url={r.get('url')!r})"

    def _repr_html_(self) -> str:
        return instance_html(self._record)


def _ints(xs: Iterable[Any], what: str) -> List[int]:
    out = []
    for x in xs:
        if isinstance(x, (bool, np.bool_)) or int(x) != x:
            raise RemoteVisError("invalid_request", f"{what} must be whole numbers")
        out.append(int(x))
    return out


def box_request(box: Box, step: Union[int, Sequence[int]] = 1, shape: Optional[Sequence[int]] = None) -> Dict[str, Any]:
    """The retrieve_volume body for a box given as {lo, hi}, (lo, hi) or three slices
    (``np.s_[z0:z1:s, y0:y1:s, x0:x1:s]``; a slice's step overrides ``step`` on its axis)."""
    body: Dict[str, Any] = {}
    steps = [step] * 3 if isinstance(step, (int, np.integer)) else list(step)
    if len(steps) != 3:
        raise RemoteVisError("invalid_step", "step must be a number or [z, y, x]")
    if box is not None:
        if isinstance(box, Mapping):
            lo, hi = box["lo"], box["hi"]
        elif isinstance(box, tuple) and len(box) == 3 and all(isinstance(s, slice) for s in box):
            if shape is None:
                raise RemoteVisError("usage", "slices with open ends need the volume's shape")
            lo, hi = [], []
            for k, s in enumerate(box):
                start, stop, st = s.indices(int(shape[k]))
                if st < 1:
                    raise RemoteVisError("invalid_step", "negative slice steps are not supported")
                if s.step is not None:
                    steps[k] = st
                lo.append(start)
                hi.append(stop)
        else:
            lo, hi = box  # type: ignore[misc]
        lo, hi = _ints(lo, "box lo"), _ints(hi, "box hi")
        if len(lo) != 3 or len(hi) != 3:
            raise RemoteVisError("invalid_request", "box lo and hi must be [z, y, x]")
        body["box"] = {"lo": lo, "hi": hi}
    steps = _ints(steps, "step")
    if steps != [1, 1, 1]:
        body["step"] = steps[0] if steps[0] == steps[1] == steps[2] else steps
    return body


#: The fields of a model description (src/protocol/segment.ts); a NET.json may hold more.
MODEL_DESCRIPTION_KEYS = ("inputLayout", "classes", "names", "colors", "axis", "patch", "overlap", "multiple",
                          "normalize", "name")


def model_description_beside(path: str) -> Dict[str, Any]:
    """The description fields of NET.json beside NET.onnx ({} when there is none)."""
    side = os.path.splitext(path)[0] + ".json"
    if side == path or not os.path.isfile(side):
        return {}
    try:
        with open(side, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError) as err:
        raise RemoteVisError("invalid_description", f"{side} is not valid JSON: {err}") from None
    if not isinstance(doc, dict):
        raise RemoteVisError("invalid_description", f"{side} must hold a JSON object")
    return {k: v for k, v in doc.items() if k in MODEL_DESCRIPTION_KEYS and v is not None}


class InstanceClient:
    """The control operations and transfers of one instance, given its URL (with ?token=)."""

    def __init__(self, url: str, *, timeout: float = 600.0) -> None:
        u = urllib.parse.urlsplit(url)
        secret = urllib.parse.parse_qs(u.query).get("token", [None])[0]
        if u.scheme not in ("http", "https") or not u.netloc:
            raise RemoteVisError("usage", f"not an instance URL: {url!r}")
        if not secret:
            raise RemoteVisError("usage", "the instance URL has no ?token=; use the URL the middleware gave")
        self.url = url
        self.base = f"{u.scheme}://{u.netloc}"
        self.host = u.netloc
        self._secret = secret
        self.timeout = timeout

    # ---- the operations (docs/instance.md) ----

    def _call(self, op: str, body: Optional[Mapping[str, Any]] = None, query: str = "") -> Tuple[int, Dict[str, str], bytes]:
        return _http.request("POST", f"{self.base}/api/{op}{query}", headers={"authorization": f"Instance {self._secret}"},
                             body=dict(body or {}), timeout=self.timeout,
                             unreachable=f"cannot reach the instance at {self.host} (not running, or the wrong URL)",
                             who=f"the instance at {self.host}")

    def request(self, op: str, body: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """One operation of the control protocol; the reply without its ``ok``."""
        status, _, data = self._call(op, body)
        doc = _http.json_answer(status, data, who=f"the instance at {self.host}", what="instance")
        doc.pop("ok", None)
        return doc

    def _optional_op(self, op: str, body: Mapping[str, Any], feature: str) -> Dict[str, Any]:
        try:
            return self.request(op, body)
        except RemoteVisError as err:
            if err.code == "no_route" and err.status == 404:
                raise RemoteVisError("not_supported", f"this instance has no {op} operation, so it cannot {feature}; "
                                                      "it needs a newer RemoteVis (update the program the middleware "
                                                      "starts)", 501) from None
            raise

    def _header(self, transfer: str, part: str) -> bytes:
        return encode_header({"secret": self._secret, "transfer": transfer, "part": part})

    def _push(self, t: Mapping[str, Any], parts: List[Tuple[str, int, int]], checksum: bool = False) -> None:
        """Sends (part, address, size) buffers in place on one connection to the ticket's port."""
        try:
            with Connection.connect(str(t["host"]), int(t["dataPort"])) as conn:
                for part, address, size in parts:
                    conn.send(self._header(str(t["transfer"]), part), address, size, checksum=checksum)
        except RemoteVisError as err:
            # The instance may know better why (size, limit, protocol): ask it.
            try:
                self.request("wait_transfer", {"transfer": t["transfer"], "timeoutMs": 2000})
            except RemoteVisError as why:
                if why.code != "timeout":
                    raise why from err
            raise

    def render_volume(self, data: Any, *, spacing: Sequence[float] = (1, 1, 1), name: str = "volume",
                      copy: bool = True, checksum: bool = False) -> Dict[str, Any]:
        """Sends a 3-D [z, y, x] array (in place when contiguous) and returns when the instance
        shows it: {name, shape, dtype, bytes, window, range, receiveMs, uploadMs}."""
        a, meta = as_volume(data, copy=copy)
        sp = [float(s) for s in spacing]
        if len(sp) != 3:
            raise RemoteVisError("invalid_request", "spacing must be [z, y, x]")
        t = self.request("prepare_volume", {**meta, "spacing": sp, "name": name, "checksum": bool(checksum)})
        self._push(t, [("volume", a.ctypes.data, meta["bytes"])], checksum)
        ready = self.request("wait_transfer", {"transfer": t["transfer"]})
        del a  # the array (or its copy) was needed until here
        return ready

    def render_points(self, xyz: Any, values: Any, *, name: str = "points", copy: bool = True) -> Dict[str, Any]:
        """Points as spheres: xyz (N, 3) world coordinates [x, y, z], values (N,) (radius, colour)."""
        p = as_float32(xyz, "xyz", copy=copy)
        v = as_float32(values, "values", copy=copy)
        if p.ndim != 2 or p.shape[1] != 3 or v.ndim != 1 or p.shape[0] != v.shape[0]:
            raise RemoteVisError("invalid_points", f"xyz must be (N, 3) and values (N,): got {tuple(p.shape)} and "
                                                   f"{tuple(np.shape(values))}")
        t = self.request("prepare_points", {"count": int(v.shape[0]), "name": name})
        self._push(t, [("xyz", p.ctypes.data, p.nbytes), ("values", v.ctypes.data, v.nbytes)])
        return self.request("wait_transfer", {"transfer": t["transfer"]})

    def retrieve_volume(self, box: Box = None, step: Union[int, Sequence[int]] = 1, *,
                        with_meta: bool = False, labels: bool = False) -> Any:
        """A box of the instance's volume in its original dtype, [z, y, x] indices, lo inclusive,
        hi exclusive, every ``step``-th voxel: equal to ``volume[z0:z1:s, y0:y1:s, x0:x1:s]``.
        An F-order volume arrives as a Fortran-ordered array. With ``with_meta`` also the reply
        (shape, dtype, order, spacing, box, step). With ``labels`` the same box of the
        segmentation's labels instead (uint8, one class per voxel; see ``segment``)."""
        shape = None
        if isinstance(box, tuple) and len(box) == 3 and all(isinstance(s, slice) for s in box):
            vol = (self.request("get_state").get("volume") or {})
            shape = vol.get("shape")
            if not shape:
                raise RemoteVisError("no_volume", "this instance has no volume yet", 409)
        t = self.request("retrieve_volume", {**box_request(box, step, shape), **({"labels": True} if labels else {})})
        with Connection.connect(str(t["host"]), int(t["dataPort"])) as conn:
            conn.send(self._header(str(t["transfer"]), "pull"), 0, 0)
            header, size = conn.receive_header()
            meta = decode_header(header)
            if size != t["bytes"]:
                raise RemoteVisError("size_mismatch", f"the instance announced {t['bytes']} bytes and sent {size}", 502)
            dtype, order = meta.get("dtype"), meta.get("order", "C")
            if dtype not in VOLUME_DTYPES or order not in ("C", "F"):
                raise RemoteVisError("bad_answer", "the instance sent an unknown dtype or order; are client and "
                                                   "instance the same version?", 502)
            shape = [int(x) for x in meta["shape"]]
            if size >= PREFAULT_BYTES:
                out = np.frombuffer(alloc(size), dtype=np.dtype(dtype)).reshape(shape, order=order)
            else:
                out = np.empty(shape, dtype=np.dtype(dtype), order=order)
            if out.nbytes != size:
                raise RemoteVisError("size_mismatch", f"shape {meta['shape']} of {dtype} is {out.nbytes} bytes, "
                                                      f"the instance sent {size}", 502)
            conn.receive_payload(out.ctypes.data, size)
        return (out, {**t, **meta}) if with_meta else out

    def screenshot(self, width: int = 1280, height: int = 720, view: Optional[Mapping[str, Any]] = None) -> Screenshot:
        """RGBA8 pixels of the current view (or ``view``), shape (height, width, 4), row 0 at the top."""
        body: Dict[str, Any] = {"width": int(width), "height": int(height)}
        if view:
            body["view"] = dict(view)
        status, headers, data = self._call("screenshot", body, "?format=rgba")
        if status >= 400 or not headers.get("content-type", "").startswith("application/octet-stream"):
            _http.json_answer(status, data, who=f"the instance at {self.host}", what="instance")
            raise RemoteVisError("bad_answer", f"the instance at {self.host} answered a screenshot without pixels", 502)
        w, h = int(headers.get("x-width", 0)), int(headers.get("x-height", 0))
        if w * h * 4 != len(data):
            raise RemoteVisError("bad_answer", f"the screenshot has {len(data)} bytes, not {w}x{h}x4", 502)
        return Screenshot(np.frombuffer(bytearray(data), dtype=np.uint8).reshape(h, w, 4))

    def set_view(self, **view: Any) -> Dict[str, Any]:
        """azimuth, elevation, distance, target, roll, fov, projection (docs/instance.md)."""
        return self.request("set_view", view)

    def set_render(self, **settings: Any) -> Dict[str, Any]:
        """mode, shading, window, tf, iso, step, clip, background, pointScale, ... (docs/instance.md)."""
        return self.request("set_render", settings)

    def state(self) -> Dict[str, Any]:
        return self.request("get_state")

    def clear_points(self) -> None:
        self.request("clear_points")

    def load_file(self, path: str, dataset: Optional[str] = None) -> Dict[str, Any]:
        """Asks the instance to read a file from central storage (under its storage roots, with
        the user's permissions) and show it."""
        body: Dict[str, Any] = {"path": str(path)}
        if dataset is not None:
            body["dataset"] = dataset
        r = self._optional_op("load_file", body, "load files")
        if isinstance(r.get("transfer"), str) and "volume" not in r:
            r = self.request("wait_transfer", {"transfer": r["transfer"]})
        return r

    def send_model(self, path: str, **description: Any) -> Dict[str, Any]:
        """Sends a trained network (an ONNX file) over SSC-RDMA; the instance loads it and checks
        its input and output against the description before it accepts it. ``description``:
        inputLayout ("NCHW" 2-D slices or "NCDHW" 3-D patches), classes, and optionally names,
        colors, axis, patch, overlap, multiple, normalize, name (docs/instance.md). A file
        ``NET.json`` beside ``NET.onnx`` supplies the fields not given here. Returns
        {model, name, inputs, outputs, ...}; a file ONNX Runtime cannot load, or one that does not
        match the description, raises RemoteVisError("invalid_model", ...) and the instance keeps
        its volume."""
        size = os.path.getsize(path)
        if size == 0:
            raise RemoteVisError("invalid_model", f"{path} is empty")
        body = {"name": os.path.splitext(os.path.basename(path))[0], **model_description_beside(path), **description}
        missing = [k for k in ("inputLayout", "classes") if body.get(k) is None]
        if missing:
            raise RemoteVisError("invalid_description", f"the model description needs {' and '.join(missing)} "
                                 "(inputLayout: NCHW for 2-D slices, NCDHW for 3-D patches; classes: output channels): "
                                 f"pass them to send_model or put them in {os.path.splitext(path)[0]}.json")
        t = self._optional_op("prepare_model", {**body, "bytes": size}, "take a model")
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
            buf = np.frombuffer(m, dtype=np.uint8)  # the file's pages, sent in place
            try:
                self._push(t, [("model", buf.ctypes.data, size)])
            finally:
                del buf
        return self.request("wait_transfer", {"transfer": t["transfer"]})

    def segment(self, model: Optional[str] = None, region: str = "all", batch: Optional[int] = None) -> Dict[str, Any]:
        """Segments the volume (``region="clip"``: only the clip box) with a model sent before
        (default the last one accepted); returns when the labels are shown: {model, units, unit,
        region, ms, inferMs, perSecond, counts (voxels per class), names, rendered}. The labels
        come back with ``retrieve_volume(labels=True)``."""
        body: Dict[str, Any] = {"region": region}
        if model is not None:
            body["model"] = model
        if batch is not None:
            body["batch"] = int(batch)
        return self._optional_op("segment", body, "segment")

    def cancel_segment(self) -> bool:
        """Stops a running segmentation after its current batch; whether one was running."""
        return bool(self.request("cancel_segment").get("cancelled"))

    def set_labels(self, **settings: Any) -> Dict[str, Any]:
        """How the labels are drawn: show, colors, opacity, visible (per class), outline."""
        return self.request("set_labels", settings)

    def save_labels(self, path: str, dataset: Optional[str] = None, overwrite: bool = False) -> Dict[str, Any]:
        """Writes the labels as HDF5 on the instance's side (a path under its storage roots)."""
        body: Dict[str, Any] = {"path": str(path), "overwrite": bool(overwrite)}
        if dataset is not None:
            body["dataset"] = dataset
        return self.request("save_labels", body)

    def __repr__(self) -> str:
        return f"InstanceClient({self.base!r})"
