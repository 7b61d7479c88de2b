"""Seed files for fuzz_hdf5: small HDF5 files with the shapes RemoteVis reads (written with
Debian's python3-h5py, as scripts/testdata.sh writes the real ones), plus the small real
NeXus files of data/hdf5 when scripts/testdata.sh made them. Usage: seeds.py OUT_DIR [DATA_DIR]"""
import os
import shutil
import sys

import h5py
import numpy as np

out = sys.argv[1]
data = sys.argv[2] if len(sys.argv) > 2 else None
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(13)


def vol(shape, dtype):
    return (rng.random(shape) * 100).astype(dtype)


def write(name, fn):
    with h5py.File(os.path.join(out, name), "w", libver="earliest") as f:
        fn(f)


def nexus(f):
    d = f.create_dataset("entry/data/data", data=vol((4, 6, 5), "<i2"), chunks=(2, 6, 5), compression="gzip")
    d.attrs["spacing"] = np.array([2.0, 1.0, 1.0])
    d.attrs["units"] = "um"
    d.attrs["window"] = np.array([10, 90], dtype="<i4")
    f["entry"].attrs["NX_class"] = "NXentry"


def contiguous(f):
    d = f.create_dataset("volume", data=vol((3, 4, 4), "<f4"))
    d.attrs["element_size_um"] = np.array([0.5, 0.5, 0.5], dtype="<f4")
    f.create_dataset("scalar", data=3)
    f.create_dataset("labels", data=np.array([b"a", b"bc"]))


def shuffle_be(f):
    f.create_dataset("exchange/data", data=vol((2, 3, 8), ">u2"), chunks=(1, 3, 8), shuffle=True, compression="gzip")
    f["exchange"].attrs["units"] = "mm"  # h5py writes a str attribute as a variable-length string


def many(f):
    g = f.create_group("a/b/c")
    g.create_dataset("u8", data=vol((5, 5), "u1"))
    g.create_dataset("f64", data=vol((2, 2, 2), "<f8"), chunks=(1, 2, 2), fletcher32=True)
    g.create_dataset("i32", data=vol((1, 3, 3, 3), "<i4"))
    f["link"] = h5py.SoftLink("/a/b/c/u8")
    f.create_dataset("compact", data=vol((2, 2), "<i1"), compression=None)


def latest(f):
    d = f.create_dataset("data", data=vol((3, 3, 3), "<u4"), chunks=(1, 3, 3), maxshape=(None, 3, 3))
    d.attrs["spacing"] = np.array([1.0, 2.0, 3.0])


write("nexus.h5", nexus)
write("contiguous.h5", contiguous)
write("shuffle_be.h5", shuffle_be)
write("many.h5", many)
with h5py.File(os.path.join(out, "latest.h5"), "w", libver="latest") as f:
    latest(f)

if data:
    for name in ("simple_signal.nxs", "saved_multi_signal.nxs"):
        src = os.path.join(data, "hdf5", name)
        if os.path.exists(src):
            shutil.copyfile(src, os.path.join(out, name))
print(f"seeds.py: {len(os.listdir(out))} seed files in {out}")
