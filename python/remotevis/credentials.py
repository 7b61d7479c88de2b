"""The Authorization header of a request to the middleware (src/client/credentials.ts):
an API token when one is given (argument or REMOTEVIS_TOKEN), else a fresh MUNGE credential
from ``munge -n`` (one per request: munged refuses a credential it has seen before), else the
token a middleware run by this same user left in ~/.local/share/remotevis/session-token."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Optional

from .errors import RemoteVisError

Credential = Callable[[], str]


def session_token_path(home: Optional[str] = None) -> Path:
    """Where a middleware run by a normal user leaves an API token for that user's clients."""
    return Path(home or os.environ.get("HOME") or Path.home()) / ".local" / "share" / "remotevis" / "session-token"


def session_token() -> Optional[str]:
    try:
        text = session_token_path().read_text().strip()
    except OSError:
        return None
    return text or None


def token_credential(token: str) -> Credential:
    header = f"Bearer {token}"
    return lambda: header


def munge_credential(socket: Optional[str] = None, munge: str = "munge") -> Credential:
    def make() -> str:
        argv = [munge, "--no-input"] + ([f"--socket={socket}"] if socket else [])
        try:
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            tok = session_token()
            if tok:
                return f"Bearer {tok}"
            raise RemoteVisError(
                "munge_unavailable",
                "cannot run 'munge' to prove who you are: install munge, or use an API token (token=... or REMOTEVIS_TOKEN)",
                401) from None
        if p.returncode != 0:
            tok = session_token()
            if tok:
                return f"Bearer {tok}"
            lines = p.stderr.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else str(p.returncode)
            raise RemoteVisError(
                "munge_unavailable",
                f"munge -n failed ({why}); is munged running? Or use an API token (REMOTEVIS_TOKEN)", 401)
        return f"MUNGE {p.stdout.decode().strip()}"

    return make
