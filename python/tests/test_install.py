"""`pip install ./python` into a fresh venv works offline (no index) and finds libsscrdma."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from conftest import ROOT


def test_pip_install_offline_into_a_fresh_venv(tmp_path):
    venv = tmp_path / "venv"
    # The venv sees this interpreter's packages (numpy, and pip: then it needs no copy of its
    # own, which saves ~10 s).
    has_pip = importlib.util.find_spec("pip") is not None
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", *(["--without-pip"] if has_pip else []),
                    str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "REMOTEVIS_", "PYTHON"))}
    env.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
    r = subprocess.run([py, "-m", "pip", "install", "-q", str(ROOT / "python")], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    r = subprocess.run([py, "-c", "import remotevis, numpy; print(remotevis.__file__); print(remotevis.library_path()); "
                                  "print(remotevis._sscrdma.version())"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    module, lib, version = r.stdout.split()
    assert module.startswith(str(venv)) and lib.startswith(str(venv))  # the installed copy, not the checkout
    assert lib.endswith("remotevis/_lib/libsscrdma.so") and version.startswith("1.")
    assert not (ROOT / "python" / "build").exists()  # the build left nothing in the source tree
