"""Fixtures: a real middleware (`bun src/main.ts serve --port 0`, state in a temp dir) started
once per session, and one instance of it shared by the data tests. Needs munged
(scripts/munge-up.sh starts it; as root) and the built C libraries (make)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))  # the checkout's package, not an installed one

import remotevis  # noqa: E402

BUN = ROOT / "node_modules" / ".bin" / "bun"
#: The shared instance is started for volumes of this shape in float64: its transfer limit.
LIMIT_SHAPE = (24, 40, 56)


def read_line(proc: subprocess.Popen, want: str, timeout: float = 20.0) -> str:
    """The first stdout line of `proc` containing `want` (fails with its stderr otherwise)."""
    q: "queue.Queue[str]" = queue.Queue()

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            q.put(line)
        q.put("")

    threading.Thread(target=pump, daemon=True).start()
    seen = []
    while True:
        try:
            line = q.get(timeout=timeout)
        except queue.Empty:
            break
        if not line:
            break
        seen.append(line)
        if want in line:
            return line
    proc.kill()
    err = proc.stderr.read() if proc.stderr else ""  # type: ignore[union-attr]
    raise RuntimeError(f"{proc.args[:4]} did not print {want!r}: {''.join(seen)} {err}")


@pytest.fixture(scope="session")
def tmp_root():
    with tempfile.TemporaryDirectory(prefix="rv-py-") as d:
        os.chmod(d, 0o755)
        yield Path(d)


@pytest.fixture(scope="session")
def middleware(tmp_root):
    """URL of a real middleware for this session (its instances are stopped at the end)."""
    if not BUN.exists():
        pytest.fail(f"{BUN} is missing: run `make build` (or npm install) first")
    up = subprocess.run([str(ROOT / "scripts" / "munge-up.sh")], capture_output=True, text=True)
    if up.returncode != 0:
        pytest.fail(f"scripts/munge-up.sh failed (munged must run; start it as root): {up.stderr.strip()}")
    state = tmp_root / "state"
    state.mkdir()
    os.chmod(state, 0o755)
    proc = subprocess.Popen([str(BUN), "src/main.ts", "serve", "--port", "0", "--state-dir", str(state),
                             "--db", str(state / "x.db"), "--json", "--grace", "10m"],
                            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    line = read_line(proc, '"listening"')
    url = json.loads(line)["url"]
    yield url
    try:
        rv = remotevis.RemoteVis(url)
        for inst in rv.list(all=False):
            try:
                rv.stop(inst.id)
            except remotevis.RemoteVisError:
                pass
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def rv(middleware):
    return remotevis.RemoteVis(middleware)


@pytest.fixture(scope="session")
def instance(rv):
    """One running instance whose limit fits every test volume."""
    inst = rv.start(LIMIT_SHAPE, np.float64, name="pytest")
    assert inst.state == "running" and inst.url
    return inst


@pytest.fixture
def sent_from(monkeypatch):
    """Records the (address, size) of every payload handed to ssc_send: proof of zero copy."""
    calls = []
    orig = remotevis._sscrdma.Connection.send

    def spy(self, header, address, size, **kw):
        calls.append((address, size))
        return orig(self, header, address, size, **kw)

    monkeypatch.setattr(remotevis._sscrdma.Connection, "send", spy)
    return calls
