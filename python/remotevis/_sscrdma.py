"""libsscrdma through ctypes: connect, send a header + payload straight from a buffer's
address (no copy), and the split receive into a caller's buffer (no copy). The manual of the
C library is ffi/libsscrdma/include/ssc_rdma.h; this file mirrors src/transfer/ffi.ts.

Where the library comes from, first found wins:
  1. ``REMOTEVIS_SSCRDMA`` (path of libsscrdma.so)
  2. the copy shipped in this package (``remotevis/_lib/libsscrdma.so``, put there by
     ``pip install ./python`` or ``make python/remotevis/_lib/libsscrdma.so``)
  3. the build of a RemoteVis checkout (``ffi/libsscrdma/build/libsscrdma.so``)
  4. ``ctypes.util.find_library("sscrdma")``
ctypes releases the GIL during each call, so other Python threads keep running while bytes move.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import weakref
from pathlib import Path
from typing import List, Optional, Tuple

from .errors import RemoteVisError

HEADER_SIZE = 128 * 1024
F_CHECKSUM = 1

#: Error codes of ssc_rdma.h by name (for callers that react to one in particular).
SSC = {
    "OK": 0, "ERR_INVALID": -1, "ERR_NOMEM": -2, "ERR_UCX": -3, "ERR_TIMEOUT": -4,
    "ERR_PEER": -5, "ERR_REFUSED": -6, "ERR_ADDRESS": -7, "ERR_SIZE": -8, "ERR_HEADER": -9,
    "ERR_PROTOCOL": -10, "ERR_CHECKSUM": -11, "ERR_CANCELLED": -12, "ERR_REJECTED": -13,
}
_CODE_NAMES = {v: k[4:].lower() for k, v in SSC.items() if k.startswith("ERR_")}

_HERE = Path(__file__).resolve().parent
_INSTALL_HINT = (
    "build it with `make -C ffi/libsscrdma` in a RemoteVis checkout and reinstall "
    "(pip install ./python), or point REMOTEVIS_SSCRDMA at a libsscrdma.so; it needs the UCX "
    "runtime (Debian/Ubuntu: apt-get install libucx0)"
)


class _Opts(ctypes.Structure):
    _fields_ = [
        ("flags", ctypes.c_uint32),
        ("timeout_ms", ctypes.c_int32),
        ("chunk_bytes", ctypes.c_uint64),
        ("window", ctypes.c_uint32),
        ("progress", ctypes.POINTER(ctypes.c_uint64)),
        ("cancel", ctypes.POINTER(ctypes.c_int32)),
        ("writable", ctypes.POINTER(ctypes.c_uint64)),  # since libsscrdma 1.1
    ]


def candidates() -> List[Tuple[str, str]]:
    """(where, path) of every place the library may be, in the order they are tried."""
    out: List[Tuple[str, str]] = []
    env = os.environ.get("REMOTEVIS_SSCRDMA")
    if env:
        out.append(("REMOTEVIS_SSCRDMA", env))
    out.append(("package", str(_HERE / "_lib" / "libsscrdma.so")))
    out.append(("checkout", str(_HERE.parent.parent / "ffi" / "libsscrdma" / "build" / "libsscrdma.so")))
    found = ctypes.util.find_library("sscrdma")
    if found:
        out.append(("system", found))
    return out


_lib: Optional[ctypes.CDLL] = None
_lib_path: Optional[str] = None
_lock = threading.Lock()


def _bind(lib: ctypes.CDLL) -> None:
    P = ctypes.c_void_p
    sig = {
        "ssc_version": ([], ctypes.c_char_p),
        "ssc_strerror": ([ctypes.c_int], ctypes.c_char_p),
        "ssc_context_create": ([ctypes.POINTER(P)], ctypes.c_int),
        "ssc_context_destroy": ([P], None),
        "ssc_connect": ([P, ctypes.c_char_p, ctypes.c_uint16, ctypes.c_int32, ctypes.POINTER(P)], ctypes.c_int),
        "ssc_conn_close": ([P], None),
        "ssc_send_ex": ([P, P, P, ctypes.c_uint64, ctypes.POINTER(_Opts)], ctypes.c_int),
        "ssc_receive_header": ([P, P, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(_Opts)], ctypes.c_int),
        "ssc_receive_payload": ([P, P, ctypes.c_uint64, ctypes.POINTER(_Opts)], ctypes.c_int),
        "ssc_crc32c": ([ctypes.c_uint32, P, ctypes.c_uint64], ctypes.c_uint32),
        "ssc_alloc": ([ctypes.c_uint64, ctypes.POINTER(P)], ctypes.c_int),
        "ssc_free": ([P, ctypes.c_uint64], None),
    }
    for name, (args, res) in sig.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res


def lib() -> ctypes.CDLL:
    """The loaded library (loaded once, on first use)."""
    global _lib, _lib_path
    if _lib is not None:
        return _lib
    with _lock:
        if _lib is not None:
            return _lib
        # UCX logs warnings (e.g. about its request pools at close) on stdout, which clutters
        # notebooks; errors still show. UCX reads this when it is loaded. Set it to see more.
        os.environ.setdefault("UCX_LOG_LEVEL", "error")
        tried = []
        for where, path in candidates():
            if where != "system" and not os.path.exists(path):
                if where == "REMOTEVIS_SSCRDMA":
                    raise RemoteVisError(
                        "transfer_unavailable",
                        f"REMOTEVIS_SSCRDMA names {path}, which does not exist", 500)
                continue
            try:
                handle = ctypes.CDLL(path)
                _bind(handle)
            except (OSError, AttributeError) as err:
                tried.append(f"{path} ({err})")
                continue
            _lib, _lib_path = handle, path
            return handle
        why = "; ".join(tried) if tried else "not found in the package, the checkout or the system"
        raise RemoteVisError("transfer_unavailable", f"cannot load libsscrdma: {why}; {_INSTALL_HINT}", 500)


def library_path() -> str:
    """Path of the libsscrdma that is (or will be) used; raises RemoteVisError if none loads."""
    lib()
    assert _lib_path is not None
    return _lib_path


def version() -> str:
    return lib().ssc_version().decode()


def strerror(code: int) -> str:
    return lib().ssc_strerror(code).decode()


class TransferError(RemoteVisError):
    """A failed libsscrdma call: code ``transfer_<name>`` (e.g. transfer_rejected), ``ssc`` the C code."""

    def __init__(self, ssc: int, what: str) -> None:
        super().__init__(f"transfer_{_CODE_NAMES.get(ssc, 'error')}", f"{what}: {strerror(ssc)}", 502, {"ssc": ssc})
        self.ssc = ssc


_ctx: Optional[int] = None
_ctx_pid = 0


def context() -> int:
    """The process's one UCX context (thread-safe, created on first use; again after a fork)."""
    global _ctx, _ctx_pid
    with _lock:
        if _ctx is None or _ctx_pid != os.getpid():
            out = ctypes.c_void_p()
            rc = lib().ssc_context_create(ctypes.byref(out))
            if rc != 0:
                raise TransferError(rc, "cannot start UCX (check UCX_TLS and the UCX installation)")
            _ctx, _ctx_pid = out.value, os.getpid()
        return _ctx  # type: ignore[return-value]


def alloc(size: int) -> "ctypes.Array[ctypes.c_uint8]":
    """A receive buffer from ssc_alloc (page-aligned, huge pages, pre-faulted: fresh pages
    otherwise cap receiving at about 2 GB/s), freed with ssc_free when nothing uses it."""
    out = ctypes.c_void_p()
    rc = lib().ssc_alloc(size, ctypes.byref(out))
    if rc != 0:
        raise TransferError(rc, f"allocate {size} bytes")
    buf = (ctypes.c_uint8 * size).from_address(out.value)  # type: ignore[arg-type]
    weakref.finalize(buf, lib().ssc_free, out.value, size)
    return buf


def _opts(timeout_ms: int = 0, checksum: bool = False) -> _Opts:
    o = _Opts()
    o.flags = F_CHECKSUM if checksum else 0
    o.timeout_ms = timeout_ms
    return o


class Connection:
    """One SSC-RDMA connection. Use as a context manager; ``close()`` is idempotent."""

    def __init__(self, handle: int, where: str) -> None:
        self._h: Optional[int] = handle
        self.where = where

    @classmethod
    def connect(cls, host: str, port: int, timeout_ms: int = 10_000) -> "Connection":
        out = ctypes.c_void_p()
        rc = lib().ssc_connect(context(), host.encode(), int(port), int(timeout_ms), ctypes.byref(out))
        if rc != 0:
            raise TransferError(rc, f"connect to {host}:{port}")
        return cls(out.value, f"{host}:{port}")  # type: ignore[arg-type]

    def _handle(self) -> int:
        if self._h is None:
            raise RemoteVisError("closed", "the SSC-RDMA connection is closed")
        return self._h

    def send(self, header: bytes, address: int, size: int, *, timeout_ms: int = 0, checksum: bool = False) -> None:
        """Sends the 128 KiB header and ``size`` bytes read in place at ``address``."""
        if len(header) != HEADER_SIZE:
            raise RemoteVisError("invalid_header", f"the header must be {HEADER_SIZE} bytes")
        o = _opts(timeout_ms, checksum)
        rc = lib().ssc_send_ex(self._handle(), header, address or None, size, ctypes.byref(o))
        if rc != 0:
            raise TransferError(rc, f"send to {self.where}")

    def receive_header(self, *, timeout_ms: int = 0) -> Tuple[bytes, int]:
        buf = ctypes.create_string_buffer(HEADER_SIZE)
        size = ctypes.c_uint64()
        o = _opts(timeout_ms)
        rc = lib().ssc_receive_header(self._handle(), buf, ctypes.byref(size), ctypes.byref(o))
        if rc != 0:
            raise TransferError(rc, f"receive from {self.where}")
        return buf.raw, size.value

    def receive_payload(self, address: int, size: int, *, timeout_ms: int = 0) -> None:
        """Receives the announced payload straight into ``size`` writable bytes at ``address``."""
        o = _opts(timeout_ms)
        rc = lib().ssc_receive_payload(self._handle(), address or None, size, ctypes.byref(o))
        if rc != 0:
            raise TransferError(rc, f"receive from {self.where}")

    def close(self) -> None:
        h, self._h = self._h, None
        if h is not None:
            lib().ssc_conn_close(h)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
