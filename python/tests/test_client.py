"""The middleware side of the client (start, query, list, stop, tokens), screenshots, Jupyter
display, the optional operations and the errors a user meets."""

from __future__ import annotations

import numpy as np
import pytest

import remotevis
from remotevis import Instance, RemoteVis, RemoteVisError, Screenshot


def test_health_needs_no_identity(rv):
    assert rv.health()["status"] == "ok"


def test_start_query_list_stop(rv):
    vol = np.zeros((8, 16, 16), np.int8)  # the instance is sized for what will be sent: int16
    inst = rv.start(vol, name="lifecycle")
    try:
        assert isinstance(inst, Instance) and inst.state == "running"
        assert inst.url.startswith("http://") and "token=" in inst.url
        assert inst.dtype == "int16" and inst.shape == [8, 16, 16] and inst.max_bytes == vol.size * 2
        assert inst["id"] == inst.id and inst.to_dict()["name"] == "lifecycle"
        assert rv.query().id == inst.id  # the current instance
        assert rv.query(inst.id).state == "running"
        assert inst.id in [i.id for i in rv.list()]
        assert inst.id in [i.id for i in rv.list(all=False)]
        html = inst._repr_html_()
        assert "<iframe" in html and inst.url.replace("&", "&amp;") in html
    finally:
        stopped = rv.stop(inst.id)
    assert stopped.state == "stopped"
    assert "is stopped" in stopped._repr_html_()
    assert inst.id not in [i.id for i in rv.list(all=False)]


def test_stopped_instance_gives_a_clear_error(rv):
    inst = rv.start((4, 8, 8), "uint8", name="to-stop")
    rv.render_volume(np.ones((4, 8, 8), np.uint8))  # the current instance
    rv.stop(inst.id)
    with pytest.raises(RemoteVisError) as e:
        rv.render_volume(np.ones((4, 8, 8), np.uint8), instance=inst.id)
    assert e.value.code == "not_running" and f"instance {inst.id} is stopped" in e.value.message
    with pytest.raises(RemoteVisError) as e:
        rv.screenshot(32, 32, instance=inst)
    assert e.value.code == "not_running"
    # a client still holding the URL of an instance someone else stopped
    other = RemoteVis(rv.server)
    inst2 = other.start((4, 8, 8), "uint8", name="stopped-behind")
    rv.stop(inst2.id)
    with pytest.raises(RemoteVisError) as e:
        other.render_volume(np.ones((4, 8, 8), np.uint8))
    assert e.value.code == "not_running" and "is stopped" in e.value.message
    with pytest.raises(RemoteVisError) as e:
        rv.query("i-0000000000000000")
    assert e.value.code == "not_found" and e.value.status == 404


def test_screenshot(rv, instance):
    z, y, x = np.mgrid[0:24, 0:40, 0:56]
    ball = (((z - 12) ** 2 + (y - 20) ** 2 + (x - 28) ** 2) < 100).astype(np.float32) * 100
    rv.render_volume(ball, instance=instance)
    rv.set_render(instance=instance, mode="mip")
    img = rv.screenshot(96, 64, instance=instance)
    assert isinstance(img, Screenshot) and isinstance(img, np.ndarray)
    assert img.shape == (64, 96, 4) and img.dtype == np.uint8
    assert len(np.unique(img[..., :3].reshape(-1, 3), axis=0)) > 4, "the screenshot is blank"
    png = img._repr_png_()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert img[0, 0]._repr_png_() is None  # a slice is just numbers
    assert (img.astype(np.float32) / 255).max() <= 1  # a plain ndarray otherwise
    with pytest.raises(RemoteVisError) as e:
        rv.screenshot(0, 10, instance=instance)
    assert e.value.code == "invalid_request" and "width" in e.value.message


def test_png_round_trip_with_stdlib_decoder():
    import zlib
    img = np.arange(3 * 5 * 4, dtype=np.uint8).reshape(3, 5, 4)
    png = remotevis.png_bytes(img)
    idat = png[png.index(b"IDAT") + 4:png.index(b"IEND") - 8]
    raw = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(3, 1 + 5 * 4)
    assert (raw[:, 0] == 0).all() and np.array_equal(raw[:, 1:].reshape(3, 5, 4), img)


def test_view_and_render_settings(rv, instance):
    assert "view" in rv.set_view(instance=instance, azimuth=30, elevation=20)
    with pytest.raises(RemoteVisError) as e:
        rv.set_render(instance=instance, mode="nonsense")
    assert e.value.code == "invalid_request" and "mode must be one of" in e.value.message


def test_load_file_and_send_model(rv, instance, tmp_path):
    # load_file (issue 8) and prepare_model (issue 11) may not exist on the instance yet:
    # then the error says so clearly; otherwise the instance's own error for a bad file.
    with pytest.raises(RemoteVisError) as e:
        rv.load_file("/nonexistent/file.h5", dataset="/entry/data", instance=instance)
    if e.value.code == "not_supported":
        assert "no load_file operation" in e.value.message
    model = tmp_path / "model.onnx"
    model.write_bytes(b"not really an onnx model")
    with pytest.raises(RemoteVisError) as e:
        rv.send_model(str(model), instance=instance)
    if e.value.code == "not_supported":
        assert "no prepare_model operation" in e.value.message


def test_instance_by_url(rv, instance):
    other = RemoteVis(rv.server)
    c = other.instance(instance.url)
    assert c.state()["volume"] is not None or True
    with pytest.raises(RemoteVisError) as e:
        other.instance(instance.url.split("?")[0])
    assert e.value.code == "usage" and "?token=" in e.value.message
    bad = instance.url.split("token=")[0] + "token=wrong"
    with pytest.raises(RemoteVisError) as e:
        other.instance(bad).state()
    assert e.value.code == "unauthenticated" and e.value.status == 401


def test_middleware_errors(rv, middleware):
    with pytest.raises(RemoteVisError) as e:
        rv.start((0, 4, 4), "uint8")
    assert e.value.code == "invalid_request" and "at least 1" in e.value.message
    with pytest.raises(RemoteVisError) as e:
        rv.start((4, 4, 4), np.complex64)
    assert e.value.code == "invalid_dtype" and "complex64" in e.value.message
    with pytest.raises(RemoteVisError) as e:
        RemoteVis("http://127.0.0.1:9").list()
    assert e.value.code == "unreachable" and "cannot reach the middleware at http://127.0.0.1:9" in e.value.message
    with pytest.raises(RemoteVisError) as e:
        RemoteVis(middleware, token="rv_wrong").list()
    assert e.value.code == "unauthenticated" and e.value.status == 401
    fresh = RemoteVis(middleware)
    with pytest.raises(RemoteVisError) as e:
        fresh.stop()
    assert e.value.code == "no_instance"


def test_api_token(rv, middleware, monkeypatch):
    tok = rv.create_token("pytest")
    assert tok["token"].startswith("rv_")
    monkeypatch.setenv("REMOTEVIS_TOKEN", tok["token"])
    with_token = RemoteVis(middleware)  # from REMOTEVIS_TOKEN
    assert isinstance(with_token.list(), list)
    assert any(t["id"] == tok["id"] for t in with_token.list_tokens())
    rv.revoke_token(tok["id"])
    with pytest.raises(RemoteVisError) as e:
        with_token.list()
    assert e.value.code == "unauthenticated"


def test_session_token_fallback(monkeypatch, tmp_path):
    from remotevis import credentials
    home = tmp_path / "home"
    (home / ".local/share/remotevis").mkdir(parents=True)
    (home / ".local/share/remotevis/session-token").write_text("rv_session\n")
    monkeypatch.setenv("HOME", str(home))
    cred = credentials.munge_credential(munge=str(tmp_path / "no-munge-here"))
    assert cred() == "Bearer rv_session"
    (home / ".local/share/remotevis/session-token").unlink()
    with pytest.raises(RemoteVisError) as e:
        cred()
    assert e.value.code == "munge_unavailable" and "REMOTEVIS_TOKEN" in e.value.message


def test_library_is_found():
    assert remotevis.library_path().endswith("libsscrdma.so")
    assert remotevis._sscrdma.version().startswith("1.")
