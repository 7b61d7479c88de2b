"""The one error type of the Python client, mirroring the middleware's and the instance's
``{"error": {"code", "message", "details"}}`` answers (and src/errors.ts of the TS client)."""

from __future__ import annotations

from typing import Any, Mapping, Optional


class RemoteVisError(Exception):
    """A failure a user can see: a stable ``code`` for scripts, a ``message`` for people.

    ``status`` is the HTTP status (or the closest one for local failures) and ``details`` the
    optional extra fields of the server's error (never the raw input).
    """

    def __init__(self, code: str, message: str, status: int = 400,
                 details: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = dict(details) if details else None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"RemoteVisError({self.code!r}, {self.message!r})"

    def to_json(self) -> dict:
        err: dict = {"code": self.code, "message": self.message}
        if self.details:
            err["details"] = self.details
        return {"error": err}
