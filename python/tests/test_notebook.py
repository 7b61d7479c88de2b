"""examples/jupyter/remotevis.ipynb executed cell by cell in a real Jupyter kernel (Debian
python3-nbclient + python3-ipykernel) against the session's middleware: no cell errors, the
instance shows as the inline viewer and the screenshots show as PNG images."""

from __future__ import annotations

import base64

import pytest

from conftest import ROOT

NOTEBOOK = ROOT / "examples" / "jupyter" / "remotevis.ipynb"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def cell_with(nb, text: str):
    """The one code cell whose source contains `text` (the test names cells by what they do,
    not by position, so that a cell added to the notebook does not silently shift them)."""
    found = [c for c in nb.cells if c.cell_type == "code" and text in c.source]
    assert len(found) == 1, f"{len(found)} code cells contain {text!r}"
    return found[0]


def rich(cell, mime: str) -> list:
    return [o["data"][mime] for o in cell.outputs if o.get("output_type") in ("execute_result", "display_data")
            and mime in o.get("data", {})]


@pytest.fixture(scope="module")
def executed(middleware, tmp_path_factory, monkeypatch_module):
    try:
        import nbclient
        import nbformat
    except ImportError as e:  # deps.sh lists them: a missing one is a failure, not a skip
        pytest.fail(f"{e}: install Debian python3-nbclient python3-ipykernel (scripts/deps.sh install)")
    # The kernel is a child process: it inherits this environment. The notebook's first cell,
    # RemoteVis(), reads the middleware from REMOTEVIS_MIDDLEWARE; the checkout's package is used.
    monkeypatch_module.setenv("REMOTEVIS_MIDDLEWARE", middleware)
    monkeypatch_module.setenv("PYTHONPATH", str(ROOT / "python"))
    monkeypatch_module.delenv("REMOTEVIS_TOKEN", raising=False)  # identity: MUNGE, as for the other tests
    nb = nbformat.read(NOTEBOOK, as_version=4)
    work = tmp_path_factory.mktemp("notebook")
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=300, allow_errors=True,
                                     resources={"metadata": {"path": str(work)}})
    client.execute()
    return nb


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_every_cell_runs_without_error(executed):
    ran = [c for c in executed.cells if c.cell_type == "code"]
    assert ran and all(c.execution_count for c in ran), "some code cells were not executed"
    errors = [(c.id, o.get("ename"), o.get("evalue")) for c in ran for o in c.outputs if o.get("output_type") == "error"]
    assert errors == []


def test_the_instance_shows_as_the_inline_viewer(executed):
    html = rich(cell_with(executed, "inst = rv.start("), "text/html")
    assert len(html) == 1
    assert "<iframe" in html[0] and "/embed?token=" in html[0], html[0][:300]


def test_screenshots_show_as_png_images(executed):
    for text in ("img = rv.screenshot(", "rv.render_points("):
        pngs = rich(cell_with(executed, text), "image/png")
        assert len(pngs) == 1, text
        data = base64.b64decode(pngs[0])
        assert data.startswith(PNG_MAGIC) and len(data) > 1000, text  # a real 640x480 picture, not an empty one


def test_the_box_read_back_equals_the_slice(executed):
    out = rich(cell_with(executed, "rv.retrieve_volume("), "text/plain")
    assert out == ["((32, 32, 32), True)"]
