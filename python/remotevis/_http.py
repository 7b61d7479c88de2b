"""JSON over HTTP with the standard library (urllib), errors as RemoteVisError."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any, Dict, Mapping, Optional, Tuple

from .errors import RemoteVisError


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # An Authorization header must never follow a redirect to another host.
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request(method: str, url: str, *, headers: Optional[Mapping[str, str]] = None, body: Any = None,
            timeout: float = 60.0, unreachable: str, who: str) -> Tuple[int, Dict[str, str], bytes]:
    """One HTTP request. Returns (status, headers, body) for any HTTP answer; raises
    RemoteVisError("unreachable", "<unreachable>: why") when there is none."""
    h = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        h["content-type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=h)
    try:
        with _opener.open(req, timeout=timeout) as res:
            return res.status, {k.lower(): v for k, v in res.headers.items()}, res.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise RemoteVisError("unreachable", f"{unreachable}: {reason}", 503) from None


def json_answer(status: int, body: bytes, *, who: str, what: str) -> Dict[str, Any]:
    """The JSON object of an answer; an error answer becomes its RemoteVisError."""
    try:
        doc = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RemoteVisError("bad_answer", f"{who} answered {status} without JSON; is it a RemoteVis {what}?", 502) from None
    if status >= 400:
        err = doc.get("error") if isinstance(doc, dict) else None
        if isinstance(err, dict) and isinstance(err.get("code"), str) and isinstance(err.get("message"), str):
            raise RemoteVisError(err["code"], err["message"], status, err.get("details"))
        raise RemoteVisError("bad_answer", f"{who} answered {status}", status)
    if not isinstance(doc, dict):
        raise RemoteVisError("bad_answer", f"unexpected answer from {who}; are client and {what} the same version?", 502)
    return doc
