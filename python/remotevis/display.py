"""Jupyter display: a screenshot that is an ndarray and shows as an image, PNG encoding with
the standard library, and the inline viewer of an instance (an iframe of its URL)."""

from __future__ import annotations

import html
import struct
import zlib
from typing import Any, Mapping, Optional

import numpy as np


def png_bytes(image: np.ndarray) -> bytes:
    """PNG of an (H, W, 4) RGBA, (H, W, 3) RGB or (H, W) grey uint8 array."""
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise ValueError("png_bytes takes an (H, W), (H, W, 3) or (H, W, 4) uint8 array")
    h, w = a.shape[:2]
    color = {2: 0, 3: 2, 4: 6}[a.ndim if a.ndim == 2 else a.shape[2]]
    rows = np.ascontiguousarray(a).reshape(h, -1)
    raw = np.zeros((h, rows.shape[1] + 1), dtype=np.uint8)  # filter byte 0 (none) per row
    raw[:, 1:] = rows

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, color, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw.tobytes(), 6)) + chunk(b"IEND", b""))


class Screenshot(np.ndarray):
    """RGBA8 pixels of a view, shape (height, width, 4), row 0 at the top. A plain ndarray in
    every respect; in Jupyter it shows as an image, and ``save(path)`` writes a PNG."""

    def __new__(cls, pixels: np.ndarray) -> "Screenshot":
        return np.asarray(pixels).view(cls)

    def _repr_png_(self) -> Optional[bytes]:
        if self.dtype != np.uint8 or self.ndim != 3 or self.shape[2] != 4:
            return None  # a slice or a computed array: show it as numbers
        return png_bytes(self.view(np.ndarray))

    def png(self) -> bytes:
        return png_bytes(self.view(np.ndarray))

    def save(self, path: str) -> None:
        with open(path, "wb") as f:
            f.write(self.png())


def instance_html(inst: Mapping[str, Any], height: int = 600) -> str:
    """The viewer of a running instance inline (iframe), or a one-line summary otherwise."""
    state = str(inst.get("state"))
    name = html.escape(str(inst.get("name") or inst.get("id")))
    ident = html.escape(str(inst.get("id")))
    url = inst.get("url")
    if state == "running" and url:
        # /embed: the instance's viewer for iframes (no cookie across sites; token stays in the URL)
        frame = html.escape(str(url).replace("/?token=", "/embed?token=", 1), quote=True)
        u = html.escape(str(url), quote=True)
        return (f'<div><div style="font:12px sans-serif;margin:2px 0">RemoteVis instance <b>{name}</b> ({ident}) '
                f'&middot; <a href="{u}" target="_blank" rel="noopener noreferrer">open in a new tab</a></div>'
                f'<iframe src="{frame}" width="100%" height="{int(height)}" style="border:1px solid #ccc" '
                f'allow="fullscreen" title="RemoteVis {ident}"></iframe></div>')
    reason = inst.get("reason")
    tail = f": {html.escape(str(reason))}" if reason else ""
    return f'<div style="font:12px sans-serif">RemoteVis instance <b>{name}</b> ({ident}) is {html.escape(state)}{tail}</div>'
