"""numpy arrays as the instance takes them: dtype, memory order and shape, without a copy when
the array already fits (the bytes are then sent straight from the array's own buffer).

- dtypes the renderer takes: uint8, uint16, int16, uint32, float32, float64 (sent as they are);
  bool is sent as uint8 (same bytes, no copy); int8 -> int16, int32 -> float64 and
  float16 -> float32 are widened exactly (one copy, like the TS client's int8/int32 rule);
  big-endian arrays are converted once to the native byte order. Everything else (complex,
  int64, uint64, strings, objects) is refused with a message saying what to do.
- order: a C-contiguous array goes as order "C" (x fastest), an F-contiguous one as "F"
  (z fastest), both in place; any other layout (a strided view) is copied once, with a
  RemoteVisWarning, or refused when ``copy=False``.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, Dict, Tuple

import numpy as np

from .errors import RemoteVisError

#: dtypes the instance renders, by numpy name (the protocol uses the same names).
VOLUME_DTYPES = ("uint8", "uint16", "int16", "uint32", "float32", "float64")
#: exact widenings for dtypes the renderer lacks (one copy each).
WIDEN = {"int8": "int16", "int32": "float64", "float16": "float32"}
#: sent as another dtype with the same bytes (no copy).
REINTERPRET = {"bool": "uint8"}
_NATIVE = "<" if sys.byteorder == "little" else ">"


class RemoteVisWarning(UserWarning):
    """A conversion that costs a copy of the array (warned once per call)."""


def wire_dtype(dtype: Any) -> str:
    """The protocol dtype a numpy dtype is sent as (raises RemoteVisError for the unsupported)."""
    d = np.dtype(dtype)
    name = d.newbyteorder("=").name if d.byteorder not in ("=", "|") else d.name
    if name in VOLUME_DTYPES:
        return name
    if name in WIDEN:
        return WIDEN[name]
    if name in REINTERPRET:
        return REINTERPRET[name]
    raise _unsupported(d)


def _unsupported(d: np.dtype) -> RemoteVisError:
    takes = ", ".join(VOLUME_DTYPES)
    if d.kind == "c":
        hint = "send a real array, e.g. np.abs(a) or a.real"
    elif d.kind in "iu":
        hint = "convert it, e.g. a.astype(np.float64) (exact up to 2**53) or a.astype(np.uint32)"
    elif d.kind == "f":
        hint = "convert it, e.g. a.astype(np.float64)"
    else:
        hint = "convert it to a numeric array"
    return RemoteVisError("invalid_dtype", f"{d} volumes cannot be rendered (the renderer takes {takes}, "
                                           f"and bool, int8, int16, int32, float16 widened): {hint}")


def _warn(msg: str) -> None:
    warnings.warn(msg, RemoteVisWarning, stacklevel=4)


def as_volume(data: Any, *, copy: bool = True) -> Tuple[np.ndarray, Dict[str, Any]]:
    """(array to send in place, {shape, dtype, order, bytes}) for a 3-D [z, y, x] or 2-D [y, x]
    array. The returned array is `data` itself (or a view of it) unless a copy was needed."""
    a = data if isinstance(data, np.ndarray) else np.asarray(data)
    if a.ndim not in (2, 3):
        raise RemoteVisError("invalid_shape", f"a volume must be a 3-D array [z, y, x] (or 2-D [y, x]); this one has "
                                              f"{a.ndim} dimension{'s' if a.ndim != 1 else ''} (shape {tuple(a.shape)})")
    if a.size == 0:
        raise RemoteVisError("invalid_shape", f"every extent of a volume must be at least 1; shape is {tuple(a.shape)}")
    d = a.dtype
    native = d.byteorder in ("=", "|", _NATIVE)
    name = (d if native else d.newbyteorder("=")).name
    target = wire_dtype(d)
    contiguous = a.flags.c_contiguous or a.flags.f_contiguous

    if name in REINTERPRET:
        a = a.view(np.dtype(target))  # same bytes, no copy
        name = target
    why = []
    if not native:
        why.append(f"{d.str} is big-endian: converted to native byte order")
    if name != target:
        why.append(f"{name} sent as {target} (the renderer has no {name})")
    if not contiguous:
        why.append("the array is not contiguous in memory: copied once into one block")
    if why:
        if not copy:
            what = "; ".join(why)
            raise RemoteVisError("copy_needed", f"this array cannot be sent in place ({what}) and copy=False forbids "
                                                "a copy; pass copy=True, or make it contiguous yourself "
                                                "(np.ascontiguousarray(a, dtype=...))")
        _warn("render_volume: " + "; ".join(why) + " (one copy)")
        order = "F" if (a.flags.f_contiguous and not a.flags.c_contiguous) else "C"
        out = np.empty(a.shape, dtype=np.dtype(target), order=order)
        out[...] = a
        a = out
    order = "C" if a.flags.c_contiguous else "F"
    shape = [int(x) for x in a.shape]
    if len(shape) == 2:
        shape = [1] + shape
    return a, {"shape": shape, "dtype": target, "order": order, "bytes": int(a.nbytes)}


def as_float32(data: Any, what: str, *, copy: bool = True) -> np.ndarray:
    """A C-contiguous native float32 array: `data` itself if it is one, else one copy (or
    refused with copy=False)."""
    a = data if isinstance(data, np.ndarray) else np.asarray(data)
    if a.dtype.kind not in "biuf":
        raise RemoteVisError("invalid_dtype", f"{what} must be real numbers, not {a.dtype}")
    ok = a.dtype == np.float32 and a.dtype.byteorder in ("=", _NATIVE) and a.flags.c_contiguous
    if ok:
        return a
    if not copy:
        raise RemoteVisError("copy_needed", f"{what} must be a C-contiguous float32 array to be sent in place, and "
                                            "copy=False forbids a copy; pass copy=True or np.ascontiguousarray(x, "
                                            "dtype=np.float32)")
    return np.ascontiguousarray(a, dtype=np.float32)
