"""render_volume + retrieve_volume against a real instance: every dtype and order byte-exact,
boxes and steps equal to numpy slicing, zero copy, conversions and non-contiguous arrays."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import remotevis
from remotevis import RemoteVisError, RemoteVisWarning

RNG = np.random.default_rng(8)
SHAPE = (20, 30, 40)


def random_volume(dtype, shape=SHAPE, order="C"):
    d = np.dtype(dtype)
    if d.kind in "ui":
        info = np.iinfo(d)
        a = RNG.integers(info.min, info.max, size=shape, dtype=d, endpoint=True)
    else:
        a = (RNG.standard_normal(shape) * 1000).astype(d)
    return np.asfortranarray(a) if order == "F" else np.ascontiguousarray(a)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", remotevis.VOLUME_DTYPES)
def test_roundtrip_byte_exact(rv, instance, sent_from, dtype, order):
    a = random_volume(dtype, order=order)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no copy, so no warning
        ready = rv.render_volume(a, spacing=(1, 0.5, 0.5), name=f"{dtype}-{order}", instance=instance)
    assert ready["shape"] == list(SHAPE) and ready["dtype"] == dtype and ready["bytes"] == a.nbytes
    assert sent_from == [(a.ctypes.data, a.nbytes)]  # sent from the array's own buffer
    b, meta = rv.retrieve_volume(with_meta=True)
    assert b.dtype == a.dtype and b.shape == a.shape
    assert meta["order"] == order and meta["spacing"] == [1, 0.5, 0.5]
    assert (b.flags.f_contiguous and not b.flags.c_contiguous) if order == "F" else b.flags.c_contiguous
    assert b.tobytes(order="A") == a.tobytes(order="A")  # the very bytes, in the very layout
    assert np.array_equal(a, b)


@pytest.mark.parametrize("order", ["C", "F"])
def test_box_and_step_equal_numpy_slicing(rv, instance, order):
    a = random_volume("uint16", order=order)
    rv.render_volume(a, instance=instance)
    cases = [
        (np.s_[0:20, 0:30, 0:40], 1),
        (np.s_[3:17, 5:29, 1:38], 1),
        (np.s_[3:17, 5:29, 1:38], 2),
        (np.s_[0:20, 0:30, 0:40], 3),
        (np.s_[2:19:2, 1:30:3, ::5], 1),   # per-axis steps from the slices, open ends
        (np.s_[19:20, 29:30, 39:40], 1),   # one voxel
        (np.s_[:, 7:8, :], 1),             # one plane
    ]
    for s, step in cases:
        expect = a[tuple(slice(x.start, x.stop, (x.step or 1) * step) for x in s)]
        got = rv.retrieve_volume(s, step=step)
        assert got.shape == expect.shape, s
        assert np.array_equal(got, expect), (s, step)
    # the same box as {lo, hi} and as (lo, hi), with a per-axis step
    expect = a[1:19:1, 2:28:2, 3:37:3]
    assert np.array_equal(rv.retrieve_volume({"lo": [1, 2, 3], "hi": [19, 28, 37]}, step=(1, 2, 3)), expect)
    assert np.array_equal(rv.retrieve_volume(([1, 2, 3], [19, 28, 37]), step=[1, 2, 3]), expect)


def test_box_out_of_range(rv, instance):
    rv.render_volume(random_volume("uint8"), instance=instance)
    with pytest.raises(RemoteVisError) as e:
        rv.retrieve_volume({"lo": [0, 0, 0], "hi": [21, 30, 40]})
    assert e.value.code == "out_of_range" and "0 <= lo < hi <= shape" in e.value.message


def test_2d_image_is_one_slice(rv, instance):
    img = random_volume("float32", shape=(30, 40))
    ready = rv.render_volume(img, instance=instance)
    assert ready["shape"] == [1, 30, 40]
    assert np.array_equal(rv.retrieve_volume()[0], img)


def test_non_contiguous_copied_once_or_refused(rv, instance, sent_from):
    base = random_volume("int16", shape=(20, 60, 40))
    view = base[:, ::2, :]  # strided: neither C- nor F-contiguous
    assert not (view.flags.c_contiguous or view.flags.f_contiguous)
    with pytest.warns(RemoteVisWarning, match="not contiguous"):
        rv.render_volume(view, instance=instance)
    assert len(sent_from) == 1 and sent_from[0][0] != base.ctypes.data
    assert np.array_equal(rv.retrieve_volume(), view)
    with pytest.raises(RemoteVisError) as e:
        rv.render_volume(view, instance=instance, copy=False)
    assert e.value.code == "copy_needed"
    assert "not contiguous" in e.value.message and "copy=False" in e.value.message
    # a transposed (F-contiguous) view goes in place, as order F
    t = base.transpose(2, 1, 0)[:, :30, :].copy(order="F").transpose(2, 1, 0)
    rv.render_volume(t.T, instance=instance, copy=False)
    assert np.array_equal(rv.retrieve_volume(), t.T)


@pytest.mark.parametrize("dtype,sent,warn", [
    ("bool", "uint8", False),     # the same bytes, no copy
    ("int8", "int16", True),      # widened exactly, like the TS client
    ("int32", "float64", True),
    ("float16", "float32", True),
    (">f4", "float32", True),     # big-endian: converted once
    (">u2", "uint16", True),
])
def test_converted_dtypes(rv, instance, sent_from, dtype, sent, warn):
    d = np.dtype(dtype)
    if d.kind == "b":
        a = RNG.integers(0, 2, size=SHAPE).astype(bool)
    elif d.kind in "iu":
        info = np.iinfo(d)
        a = RNG.integers(info.min, info.max, size=SHAPE, endpoint=True).astype(d)
    else:
        a = RNG.standard_normal(SHAPE).astype(d)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        ready = rv.render_volume(a, instance=instance)
    assert ready["dtype"] == sent
    assert bool([x for x in w if issubclass(x.category, RemoteVisWarning)]) == warn
    if not warn:
        assert sent_from[0][0] == a.ctypes.data
    b = rv.retrieve_volume()
    assert b.dtype == np.dtype(sent) and np.array_equal(b, a.astype(sent))
    if warn:
        with pytest.raises(RemoteVisError) as e:
            rv.render_volume(a, instance=instance, copy=False)
        assert e.value.code == "copy_needed"


@pytest.mark.parametrize("bad,code,words", [
    (np.zeros(SHAPE, np.complex128), "invalid_dtype", ["complex128", "np.abs"]),
    (np.zeros(SHAPE, np.int64), "invalid_dtype", ["int64", "astype"]),
    (np.array([["a"]]), "invalid_dtype", ["<U1"]),
    (np.zeros((2, 3, 4, 5), np.float32), "invalid_shape", ["3-D", "4 dimensions"]),
    (np.zeros(10, np.float32), "invalid_shape", ["1 dimension "]),
    (np.zeros((0, 3, 4), np.float32), "invalid_shape", ["at least 1"]),
])
def test_bad_arrays_are_refused_clearly(rv, instance, bad, code, words):
    with pytest.raises(RemoteVisError) as e:
        rv.render_volume(bad, instance=instance)
    assert e.value.code == code
    for w in words:
        assert w in e.value.message


def test_over_the_instance_limit(rv, instance):
    big = np.zeros((30, 40, 60), np.float64)  # larger than the instance was started for
    with pytest.raises(RemoteVisError) as e:
        rv.render_volume(big, instance=instance)
    assert e.value.code == "over_limit" and e.value.status == 413


def test_spacing_is_checked(rv, instance):
    with pytest.raises(RemoteVisError) as e:
        rv.render_volume(random_volume("uint8"), spacing=(1, 0, 1), instance=instance)
    assert e.value.code == "invalid_request" and "spacing" in e.value.message


def test_points(rv, instance):
    xyz = RNG.uniform(0, 20, size=(500, 3))  # float64: sent as float32
    values = RNG.uniform(0, 1, size=500)
    r = rv.render_points(xyz, values, instance=instance)
    assert isinstance(r, dict)
    with pytest.raises(RemoteVisError) as e:
        rv.render_points(xyz, values, instance=instance, copy=False)
    assert e.value.code == "copy_needed"
    with pytest.raises(RemoteVisError) as e:
        rv.render_points(xyz[:, :2], values, instance=instance)
    assert e.value.code == "invalid_points"
    rv.state(instance=instance)
    rv.instance(instance).clear_points()


@pytest.mark.parametrize("order", ["C", "F"])
def test_large_retrieves_land_in_prefaulted_memory(rv, instance, monkeypatch, order):
    monkeypatch.setattr(remotevis.instance, "PREFAULT_BYTES", 0)  # every retrieve takes that path
    a = random_volume("uint32", order=order)
    rv.render_volume(a, instance=instance)
    b = rv.retrieve_volume()
    assert b.base is not None and (b.flags.f_contiguous if order == "F" else b.flags.c_contiguous)
    assert b.ctypes.data % 4096 == 0 and b.flags.writeable
    assert np.array_equal(a, b)
    b[0, 0, 0] = 7  # ours to change
    del b
    import gc
    gc.collect()  # freed with ssc_free (no crash, no leak warning)
