"""Segmentation from Python against a real middleware and instance: send_model sends the test
U-Net (scripts/train-segmentation.sh) over SSC-RDMA, segment runs it on a slab of the real CT,
retrieve_volume(labels=True) brings the labels back as an ndarray, checked against the training
targets; a file of random bytes is refused with a clear error and the instance keeps its volume
and its model."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

from remotevis import RemoteVis, RemoteVisError

from conftest import ROOT

MODELS = ROOT / "data" / "models"
CT = ROOT / "data" / "ct" / "cranium.raw"
SLAB = slice(40, 56)  # 16 axial slices through the skull: air, soft tissue and bone in each


@pytest.fixture(scope="module")
def model():
    """data/models/ct-unet.onnx, trained once (cached) by scripts/train-segmentation.sh."""
    p = subprocess.run(["bash", str(ROOT / "scripts" / "train-segmentation.sh"), "--quiet"], cwd=ROOT,
                       capture_output=True, text=True)
    if p.returncode != 0:  # as src/testing/models.ts: no python3-torch here, no CT
        pytest.skip(f"scripts/train-segmentation.sh failed (exit {p.returncode}): {p.stderr[-800:]}")
    return MODELS / "ct-unet.onnx"


@pytest.fixture(scope="module")
def ct_slab(model):
    meta = json.loads((ROOT / "data" / "ct" / "cranium.json").read_text())
    ct = np.fromfile(CT, dtype=np.int16).reshape(meta["shape"])
    targets = np.fromfile(MODELS / "ct-targets.raw", dtype=np.uint8).reshape(meta["shape"])
    return np.ascontiguousarray(ct[SLAB]), np.ascontiguousarray(targets[SLAB]), meta["spacing"]


@pytest.fixture(scope="module")
def srv(middleware):
    """A client of its own: the session's `rv` keeps its current instance."""
    return RemoteVis(middleware)


@pytest.fixture(scope="module")
def seg_instance(srv, ct_slab):
    vol, _, _ = ct_slab
    inst = srv.start(vol, name="pytest-segment")
    yield inst
    srv.stop(inst.id)


def dice(a, b, k):
    x, y = a == k, b == k
    return 2 * np.count_nonzero(x & y) / max(1, np.count_nonzero(x) + np.count_nonzero(y))


def test_send_model_segment_and_retrieve_labels(srv, model, ct_slab, seg_instance):
    vol, targets, spacing = ct_slab
    srv.render_volume(vol, spacing=spacing, name="cranium-slab", instance=seg_instance)
    ready = srv.send_model(str(model), instance=seg_instance)  # its description from ct-unet.json
    assert isinstance(ready["model"], str) and ready["model"]
    r = srv.segment(instance=seg_instance)
    assert r["model"] == ready["model"] and r["units"] == vol.shape[0] and r["unit"] == "slices"
    assert r["names"] == ["air", "soft tissue", "bone"]
    labels = srv.retrieve_volume(labels=True, instance=seg_instance)
    assert isinstance(labels, np.ndarray) and labels.dtype == np.uint8 and labels.shape == vol.shape
    assert set(np.unique(labels).tolist()) == {0, 1, 2}, "not the three classes of the CT"
    assert [int(np.count_nonzero(labels == k)) for k in range(3)] == list(r["counts"])[:3]
    d = [dice(labels, targets, k) for k in range(3)]
    print(f"Dice on slices {SLAB.start}-{SLAB.stop - 1}: air {d[0]:.3f}, soft tissue {d[1]:.3f}, bone {d[2]:.3f}")
    assert min(d) >= 0.9, f"labels far from the targets: Dice {d}"
    # bone is where the CT is dense: the labels mean what their names say
    assert np.median(vol[labels == 2]) > 300 > np.median(vol[labels == 1]) > -400 > np.median(vol[labels == 0])
    # a box with steps of the labels is numpy slicing of the whole
    part = srv.retrieve_volume(np.s_[2:10, ::3, 5:200:2], labels=True, instance=seg_instance)
    assert np.array_equal(part, labels[2:10, ::3, 5:200:2])
    # the data itself is still what was sent
    assert np.array_equal(srv.retrieve_volume(instance=seg_instance), vol)


def test_random_bytes_are_refused_and_the_instance_keeps_its_volume(srv, model, ct_slab, seg_instance, tmp_path):
    vol, _, spacing = ct_slab
    srv.render_volume(vol, spacing=spacing, name="cranium-slab", instance=seg_instance)
    good = srv.send_model(str(model), instance=seg_instance)
    bad = tmp_path / "noise.onnx"
    bad.write_bytes(np.random.default_rng(11).bytes(64 << 10))
    with pytest.raises(RemoteVisError) as e:
        srv.send_model(str(bad), instance=seg_instance, inputLayout="NCHW", classes=3)
    assert e.value.code == "invalid_model", e.value
    assert "ONNX Runtime cannot load the model" in e.value.message
    state = srv.state(instance=seg_instance)
    assert state["volume"]["shape"] == list(vol.shape) and state["volume"]["dtype"] == "int16"
    assert np.array_equal(srv.retrieve_volume(instance=seg_instance), vol)
    # the model accepted before is still the one segment uses
    r = srv.segment(instance=seg_instance)
    assert r["model"] == good["model"]
    assert set(np.unique(srv.retrieve_volume(labels=True, instance=seg_instance)).tolist()) == {0, 1, 2}
    # without a description (none given, no noise.json beside it) nothing is sent: the error says what is missing
    with pytest.raises(RemoteVisError) as e:
        srv.send_model(str(bad), instance=seg_instance)
    assert e.value.code == "invalid_description" and "inputLayout and classes" in e.value.message, e.value
    # the instance checks the model against the description: a 2-D U-Net is not a 3-D network
    with pytest.raises(RemoteVisError) as e:
        srv.send_model(str(model), instance=seg_instance, inputLayout="NCDHW")
    assert e.value.code == "wrong_input_shape" and "NCDHW" in e.value.message, e.value
    assert srv.segment(instance=seg_instance)["model"] == good["model"]
