"""A tiny in-tree PEP 517 build backend for the RemoteVis Python client.

Why not setuptools: pip builds in an isolated environment and would download setuptools from
an index for it, so `pip install ./python` would fail offline. This backend needs nothing but
the standard library, so the install works on an offline beamline or HPC node.

It packs remotevis/ (sources) plus a copy of libsscrdma.so into remotevis/_lib/, taken from,
first found: $REMOTEVIS_SSCRDMA, remotevis/_lib/libsscrdma.so (make python/remotevis/_lib/
libsscrdma.so), ../ffi/libsscrdma/build/libsscrdma.so (a built checkout). Without one the wheel
is pure Python and the client looks for the library at run time (see remotevis/_sscrdma.py).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import sys
import sysconfig
import tarfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAME = "remotevis"
SUMMARY = "Python client of RemoteVis: send numpy volumes to remote visualization instances over SSC-RDMA"


def _version() -> str:
    m = re.search(r'^__version__ = "([^"]+)"', (ROOT / NAME / "__init__.py").read_text(), re.M)
    if not m:
        raise RuntimeError("no __version__ in remotevis/__init__.py")
    return m.group(1)


def _library() -> "Path | None":
    for p in (os.environ.get("REMOTEVIS_SSCRDMA"), ROOT / NAME / "_lib" / "libsscrdma.so",
              ROOT.parent / "ffi" / "libsscrdma" / "build" / "libsscrdma.so"):
        if p and Path(p).is_file():
            return Path(p)
    return None


def _metadata(version: str) -> str:
    return (f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {version}\nSummary: {SUMMARY}\n"
            "Requires-Python: >=3.8\nRequires-Dist: numpy\nLicense: see the RemoteVis repository\n")


def _sources():
    for p in sorted((ROOT / NAME).rglob("*")):
        rel = p.relative_to(ROOT).as_posix()
        if p.is_file() and "__pycache__" not in rel and not rel.endswith((".pyc", ".so")):
            yield rel, p.read_bytes()


class _Wheel:
    def __init__(self, path: Path, dist_info: str) -> None:
        self.zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED)
        self.dist_info = dist_info
        self.record = []

    def add(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = (0o100000 | mode) << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        self.zip.writestr(info, data)
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        self.record.append(f"{name},sha256={digest},{len(data)}")

    def close(self) -> None:
        rec = f"{self.dist_info}/RECORD"
        self.record.append(f"{rec},,")
        info = zipfile.ZipInfo(rec, date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        self.zip.writestr(info, "\n".join(self.record) + "\n")
        self.zip.close()


def _build(wheel_directory: str, editable: bool) -> str:
    version = _version()
    lib = None if editable else _library()
    if lib is None and not editable:
        print("remotevis: libsscrdma.so not found (run `make -C ffi/libsscrdma` first, or set REMOTEVIS_SSCRDMA); "
              "building without it: the client will look for it at run time", file=sys.stderr)
    plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    tag = f"py3-none-{plat}" if lib else "py3-none-any"
    dist_info = f"{NAME}-{version}.dist-info"
    filename = f"{NAME}-{version}-{tag}.whl"
    w = _Wheel(Path(wheel_directory) / filename, dist_info)
    if editable:
        w.add(f"__editable__.{NAME}.pth", (str(ROOT) + "\n").encode())
    else:
        for rel, data in _sources():
            w.add(rel, data)
        if lib:
            w.add(f"{NAME}/_lib/libsscrdma.so", lib.read_bytes(), 0o755)
    w.add(f"{dist_info}/METADATA", _metadata(version).encode())
    w.add(f"{dist_info}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: remotevis_build\n"
                                 f"Root-Is-Purelib: {'false' if lib else 'true'}\nTag: {tag}\n").encode())
    w.close()
    return filename


# ---- PEP 517 / PEP 660 hooks ----

def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def get_requires_for_build_editable(config_settings=None):
    return []


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=False)


def build_editable(wheel_directory, config_settings=None, metadata_directory=None):
    return _build(wheel_directory, editable=True)


def build_sdist(sdist_directory, config_settings=None):
    version = _version()
    base = f"{NAME}-{version}"
    filename = f"{base}.tar.gz"
    with tarfile.open(Path(sdist_directory) / filename, "w:gz") as tar:
        def add(rel: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"{base}/{rel}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
        for rel, data in _sources():
            add(rel, data)
        for rel in ("pyproject.toml", "README.md", "_build/remotevis_build.py"):
            if (ROOT / rel).is_file():
                add(rel, (ROOT / rel).read_bytes())
        add("PKG-INFO", _metadata(version).encode())
    return filename
