"""The application header inside SSC-RDMA's fixed 128 KiB header (src/transfer/header.ts):
the magic "RVH1", a little-endian uint32 length, then UTF-8 JSON."""

from __future__ import annotations

import json
import struct
from typing import Any, Dict

from ._sscrdma import HEADER_SIZE
from .errors import RemoteVisError

MAGIC = 0x31485652  # "RVH1" read as a little-endian uint32


def encode_header(meta: Dict[str, Any]) -> bytes:
    body = json.dumps(meta, separators=(",", ":")).encode()
    if len(body) > HEADER_SIZE - 8:
        raise RemoteVisError("header_too_large", f"header metadata is {len(body)} bytes; at most {HEADER_SIZE - 8} fit")
    out = bytearray(HEADER_SIZE)
    struct.pack_into("<II", out, 0, MAGIC, len(body))
    out[8:8 + len(body)] = body
    return bytes(out)


def decode_header(data: bytes) -> Dict[str, Any]:
    def bad(why: str) -> RemoteVisError:
        return RemoteVisError("invalid_header", f"the transfer header is not a RemoteVis header: {why}")

    if len(data) != HEADER_SIZE:
        raise bad("wrong size")
    magic, length = struct.unpack_from("<II", data, 0)
    if magic != MAGIC:
        raise bad("bad magic")
    if length > HEADER_SIZE - 8:
        raise bad("length out of range")
    try:
        meta = json.loads(data[8:8 + length].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise bad("malformed JSON") from None
    if not isinstance(meta, dict):
        raise bad("not a JSON object")
    return meta
