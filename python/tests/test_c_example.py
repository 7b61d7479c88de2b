"""examples/c/send_volume.c, the C beamline example: built with its Makefile and run against a
real instance (alone, as `remotevis instance` prints its URL) and through the middleware."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess

import numpy as np
import pytest

from conftest import BUN, ROOT, read_line

EXE = ROOT / "examples" / "c" / "build" / "send_volume"


@pytest.fixture(scope="module")
def send_volume():
    r = subprocess.run(["make", "-s", "-C", str(ROOT / "examples" / "c")], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "warning" not in r.stderr, r.stderr
    return str(EXE)


@pytest.fixture(scope="module")
def lone_instance():
    """`remotevis instance --renderer cpu` without a middleware, with a byte limit."""
    secret = secrets.token_urlsafe(24)
    proc = subprocess.Popen([str(BUN), "src/main.ts", "instance", "--renderer", "cpu", "--max-bytes", str(32 * 32 * 32 * 4)],
                            cwd=ROOT, env={**os.environ, "REMOTEVIS_INSTANCE_SECRET": secret},
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    line = read_line(proc, "url: ")
    yield line.split("url: ", 1)[1].strip()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def run(argv, **env):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def test_sends_a_volume_to_an_instance_url(send_volume, lone_instance):
    from remotevis import InstanceClient
    r = run([send_volume, "--url", lone_instance, "--shape", "16,24,32"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "sent 49152 bytes" in r.stdout
    answer = json.loads(r.stdout.split("instance answered: ", 1)[1].splitlines()[0])
    assert answer["ok"] and answer["shape"] == [16, 24, 32] and answer["dtype"] == "float32"
    assert answer["range"][1] > answer["range"][0]
    # what arrived is exactly the program's synthetic volume (checked through the Python client)
    got = InstanceClient(lone_instance).retrieve_volume()
    z, y, x = np.meshgrid(*[(np.arange(n) + 0.5) / n - 0.5 for n in (16, 24, 32)], indexing="ij")
    r_ = np.sqrt(x * x + y * y + z * z)
    expect = np.where(r_ < 0.35, 1000.0 * (1.0 - r_), 100.0 * ((np.arange(32) % 16) < 8)[None, None, :]).astype(np.float32)
    assert got.dtype == np.float32 and got.shape == (16, 24, 32)
    assert np.allclose(got, expect, rtol=1e-6, atol=1e-3)


def test_errors_of_the_instance_are_printed(send_volume, lone_instance):
    r = run([send_volume, "--url", lone_instance, "--shape", "64,64,64"])  # over the limit
    assert r.returncode == 1
    assert "prepare_volume: HTTP 413 over_limit" in r.stderr
    wrong = lone_instance.split("token=")[0] + "token=nope"
    r = run([send_volume, "--url", wrong])
    assert r.returncode == 1 and "HTTP 401 unauthenticated" in r.stderr
    r = run([send_volume, "--url", "http://127.0.0.1:9/?token=x"])
    assert r.returncode == 1 and "cannot reach 127.0.0.1:9" in r.stderr


def test_starts_an_instance_through_the_middleware(send_volume, middleware, rv):
    r = run([send_volume, "--middleware", middleware, "--shape", "8,16,16", "--stop"])  # MUNGE identity
    assert r.returncode == 0, r.stdout + r.stderr
    assert "started instance i-" in r.stdout and "stopped instance i-" in r.stdout
    assert '"shape":[8,16,16]' in r.stdout
    ident = r.stdout.split("started instance ", 1)[1].split()[0]
    assert rv.query(ident).state == "stopped"
    # with an API token instead of MUNGE
    tok = rv.create_token("c-example")["token"]
    r = run([send_volume, "--middleware", middleware, "--shape", "4,4,4", "--stop"], REMOTEVIS_TOKEN=tok)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run([send_volume, "--middleware", middleware, "--shape", "4,4,4"], REMOTEVIS_TOKEN="rv_wrong")
    assert r.returncode == 1 and "start an instance: HTTP 401 unauthenticated" in r.stderr
