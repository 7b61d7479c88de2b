#!/usr/bin/env bash
# Real test data for src/formats, made from Debian packages (fetched with `apt-get download`,
# unpacked with `dpkg -x`, never installed) and converted with Debian's python3-numpy and
# python3-h5py. Idempotent: what exists is kept; a finished run leaves data/.testdata-v1.
# Everything lands under data/ (git-ignored). Usage: scripts/testdata.sh [--quiet]
#
#   data/ct/        the InVesalius CT (int16, 108x256x256, z,y,x) as raw+json, npy (C, Fortran,
#                   big-endian), HDF5 (chunked+gzip /entry/data/data), multi-page TIFF
#                   (little-endian plain, big-endian deflate), a folder of slices, NIfTI-1 .nii.gz;
#                   the bone mask (uint8, 109x257x257) as raw+json
#   data/mri/       ch2better.nii.gz (NIfTI-1 MRI template) from mricron-data
#   data/pcd/       PCD files from python3-pcl (ascii, binary_compressed) + a binary copy
#   data/points/    table_scene_lms400 as LAS 1.2 (point format 1), XYZ and CSV
#   data/ccp4/      1jzv.ccp4 (electron density) from python3-griddataformats
#   data/hdf5/      NeXus / HDF5 files from python3-hyperspy
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DATA=$ROOT/data
PKGDIR=$DATA/.pkgs
STAMP=$DATA/.testdata-v1
PY=/usr/bin/python3
QUIET=${1:-}
say() { [ "$QUIET" = "--quiet" ] || echo "testdata: $*"; }

if [ -f "$STAMP" ]; then
  say "complete (remove $STAMP to check again)"
  [ "$QUIET" = "--quiet" ] || cat "$STAMP"
  exit 0
fi
mkdir -p "$PKGDIR"

PACKAGES=(invesalius-examples mricron-data python3-pcl python3-griddataformats python3-hyperspy)
updated=0
fetch() { # fetch NAME: download the .deb into data/.pkgs and unpack it into data/.pkgs/NAME
  local name=$1
  [ -f "$PKGDIR/$name/.done" ] && return 0
  ( cd "$PKGDIR" && ls "${name}"_*.deb >/dev/null 2>&1 ) || {
    if ! ( cd "$PKGDIR" && apt-get download -q "$name" >/dev/null 2>&1 ); then
      if [ $updated -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
        say "apt-get update (package lists were missing or old)"
        apt-get update -qq >/dev/null 2>&1 || true
        updated=1
      fi
      ( cd "$PKGDIR" && apt-get download -q "$name" >/dev/null 2>&1 ) || {
        echo "testdata: cannot download Debian package '$name' (is apt configured, and 'apt-get update' done?)" >&2
        exit 3
      }
    fi
  }
  rm -rf "${PKGDIR:?}/$name"
  mkdir -p "$PKGDIR/$name"
  dpkg -x "$PKGDIR"/"${name}"_*.deb "$PKGDIR/$name"
  touch "$PKGDIR/$name/.done"
  say "unpacked $name"
}
for p in "${PACKAGES[@]}"; do fetch "$p"; done

if ! "$PY" -c 'import numpy, h5py' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ]; then
    say "installing python3-numpy python3-h5py"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends python3-numpy python3-h5py >/dev/null 2>&1 || {
      apt-get update -qq >/dev/null 2>&1 || true
      apt-get install -y -qq --no-install-recommends python3-numpy python3-h5py >/dev/null
    }
  else
    echo "testdata: needs Debian python3-numpy and python3-h5py: sudo apt-get install python3-numpy python3-h5py" >&2
    exit 3
  fi
fi

"$PY" - "$PKGDIR" "$DATA" "$STAMP" <<'PY'
import gzip, json, os, plistlib, shutil, struct, sys, tarfile, zlib
import numpy as np
import h5py

pkgs, data, stamp = sys.argv[1:4]
made = []

def out(rel):
    path = os.path.join(data, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    return path

def need(rel):
    """True when data/rel must be (re)made; a finished file is never half-written (tmp+rename)."""
    return not os.path.exists(os.path.join(data, rel))

def write_bytes(rel, b):
    path = out(rel); tmp = path + ".tmp"
    with open(tmp, "wb") as f: f.write(b)
    os.replace(tmp, path); made.append(rel)

def write_with(rel, fn):
    path = out(rel); tmp = path + ".tmp" + os.path.splitext(path)[1]
    fn(tmp); os.replace(tmp, path); made.append(rel)

def copy(src, rel):
    if need(rel):
        shutil.copyfile(src, out(rel) + ".tmp"); os.replace(out(rel) + ".tmp", out(rel)); made.append(rel)

# ---------------------------------------------------------------- CT (InVesalius project)
inv3 = os.path.join(pkgs, "invesalius-examples/usr/share/doc/invesalius-examples/examples/Cranium.inv3")
ct = mask = None; spacing_zyx = None; window = None
def load_ct():
    global ct, mask, spacing_zyx, window
    if ct is not None: return
    with tarfile.open(inv3, "r:gz") as t:
        members = {os.path.basename(m.name): m for m in t.getmembers() if m.isfile()}
        main = plistlib.loads(t.extractfile(members["main.plist"]).read())
        m = main["matrix"]
        assert m["dtype"] == "int16", m
        ct = np.frombuffer(t.extractfile(members[m["filename"]]).read(), dtype="<i2").reshape(m["shape"])
        sx, sy, sz = main["spacing"]                    # InVesalius stores x, y, z
        spacing_zyx = [float(sz), float(sy), float(sx)]
        window = {"level": float(main["window_level"]), "width": float(main["window_width"])}
        mp = plistlib.loads(t.extractfile(members["mask_0.plist"]).read())
        mask = np.frombuffer(t.extractfile(members[mp["mask_file"]]).read(), dtype="u1").reshape(mp["mask_shape"])
        mask.flags.writeable = False
        globals()["mask_threshold"] = list(mp["threshold_range"])

def sidecar(shape, dtype, spacing, **extra):
    return (json.dumps({"shape": list(shape), "dtype": dtype, "order": "C", "spacing": spacing, "unit": "mm", **extra}, indent=2) + "\n").encode()

def tiff_bytes(pages, bo="<", compression=1, rows_per_strip=None, sample_format=2):
    """Minimal baseline TIFF: one IFD per page, 1 sample/pixel, strips; compression 1 or 8 (deflate)."""
    out_ = bytearray(); h, w = pages[0].shape; bits = pages[0].dtype.itemsize * 8
    rps = rows_per_strip or h
    out_ += (b"II" if bo == "<" else b"MM") + struct.pack(bo + "HI", 42, 0)
    prev_next = 4
    for page in pages:
        raw = page.astype(page.dtype.newbyteorder(bo)).tobytes()
        row = w * page.dtype.itemsize
        offs, counts = [], []
        for r in range(0, h, rps):
            s = raw[r * row:min(h, r + rps) * row]
            if compression == 8: s = zlib.compress(s, 6)
            if len(out_) % 2: out_ += b"\0"
            offs.append(len(out_)); counts.append(len(s)); out_ += s
        def arr(vals):
            if len(vals) == 1: return None
            if len(out_) % 2: out_.extend(b"\0")
            at = len(out_); out_.extend(struct.pack(bo + "%dI" % len(vals), *vals)); return at
        off_at, cnt_at = arr(offs), arr(counts)
        entries = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, compression), (262, 3, 1, 1),
                   (273, 4, len(offs), offs[0] if off_at is None else off_at), (277, 3, 1, 1), (278, 4, 1, rps),
                   (279, 4, len(counts), counts[0] if cnt_at is None else cnt_at), (339, 3, 1, sample_format)]
        if len(out_) % 2: out_ += b"\0"
        ifd = len(out_)
        struct.pack_into(bo + "I", out_, prev_next, ifd)
        out_ += struct.pack(bo + "H", len(entries))
        for tag, typ, cnt, val in entries:
            v = struct.pack(bo + "H", val) + b"\0\0" if typ == 3 and cnt == 1 else struct.pack(bo + "I", val)
            out_ += struct.pack(bo + "HHI", tag, typ, cnt) + v
        prev_next = len(out_); out_ += struct.pack(bo + "I", 0)
    return bytes(out_)

def nifti1_gz(vol, spacing_zyx, path):
    nz, ny, nx = vol.shape
    h = bytearray(352)
    struct.pack_into("<i", h, 0, 348)
    struct.pack_into("<8h", h, 40, 3, nx, ny, nz, 1, 1, 1, 1)
    struct.pack_into("<hh", h, 70, 4, 16)                          # int16
    sz, sy, sx = spacing_zyx
    struct.pack_into("<8f", h, 76, 1.0, sx, sy, sz, 0, 0, 0, 0)
    struct.pack_into("<fff", h, 108, 352.0, 1.0, 0.0)               # vox_offset, scl_slope, scl_inter
    h[123] = 2                                                       # xyzt_units: mm
    struct.pack_into("<ff", h, 124, float(vol.max()), float(vol.min()))
    h[148:148 + 80] = b"RemoteVis test data: CT 51".ljust(80, b"\0")
    struct.pack_into("<hh", h, 252, 0, 1)                            # qform 0, sform 1
    struct.pack_into("<4f", h, 280, sx, 0, 0, 0); struct.pack_into("<4f", h, 296, 0, sy, 0, 0); struct.pack_into("<4f", h, 312, 0, 0, sz, 0)
    h[344:348] = b"n+1\0"
    with gzip.open(path, "wb", compresslevel=4) as f:
        f.write(bytes(h)); f.write(vol.astype("<i2").tobytes())

ct_outputs = ["ct/cranium.raw", "ct/cranium.json", "ct/cranium.npy", "ct/cranium_f.npy", "ct/cranium_be.npy",
              "ct/cranium.h5", "ct/cranium.tif", "ct/cranium_be_deflate.tif", "ct/slices/.done", "ct/cranium.nii.gz",
              "ct/cranium_bone_mask.raw", "ct/cranium_bone_mask.json"]
if any(need(r) for r in ct_outputs):
    load_ct()
    window_list = [window["level"], window["width"]]
    if need("ct/cranium.raw"): write_bytes("ct/cranium.raw", ct.astype("<i2").tobytes())
    if need("ct/cranium.json"):
        write_bytes("ct/cranium.json", sidecar(ct.shape, "i16", spacing_zyx, window=window,
                    source="invesalius-examples Cranium.inv3 matrix.dat", value_range=[int(ct.min()), int(ct.max())]))
    if need("ct/cranium.npy"): write_with("ct/cranium.npy", lambda p: np.save(p, np.ascontiguousarray(ct)))
    if need("ct/cranium_f.npy"): write_with("ct/cranium_f.npy", lambda p: np.save(p, np.asfortranarray(ct)))
    if need("ct/cranium_be.npy"): write_with("ct/cranium_be.npy", lambda p: np.save(p, ct.astype(">i2")))
    if need("ct/cranium.h5"):
        def h5(p):
            with h5py.File(p, "w") as f:
                f.attrs["NX_class"] = "NXroot"
                e = f.create_group("entry"); e.attrs["NX_class"] = "NXentry"
                d = e.create_group("data"); d.attrs["NX_class"] = "NXdata"; d.attrs["signal"] = "data"
                ds = d.create_dataset("data", data=ct, chunks=(8, 128, 128), compression="gzip", compression_opts=4, shuffle=True)
                ds.attrs["spacing"] = np.array(spacing_zyx, dtype="f8")
                ds.attrs["units"] = "mm"
                ds.attrs["window"] = np.array(window_list, dtype="f8")
                m = e.create_group("mask"); m.attrs["NX_class"] = "NXdata"
                ms = m.create_dataset("bone", data=mask, chunks=True, compression="gzip")
                ms.attrs["threshold"] = np.array(mask_threshold, dtype="i4")
                e.create_dataset("title", data="CT 51 (InVesalius example)")
        write_with("ct/cranium.h5", h5)
    if need("ct/cranium.tif"): write_bytes("ct/cranium.tif", tiff_bytes(list(ct), "<", 1))
    if need("ct/cranium_be_deflate.tif"): write_bytes("ct/cranium_be_deflate.tif", tiff_bytes(list(ct), ">", 8, rows_per_strip=32))
    if need("ct/slices/.done"):
        for z in range(ct.shape[0]):
            rel = "ct/slices/slice_%03d.tif" % z
            if need(rel): write_bytes(rel, tiff_bytes([ct[z]], "<", 1))
        made[:] = [m for m in made if not m.startswith("ct/slices/")] + ["ct/slices/ (%d files)" % ct.shape[0]]
        write_bytes("ct/slices/.done", b"")
    if need("ct/cranium.nii.gz"): write_with("ct/cranium.nii.gz", lambda p: nifti1_gz(ct, spacing_zyx, p))
    if need("ct/cranium_bone_mask.raw"): write_bytes("ct/cranium_bone_mask.raw", mask.tobytes())
    if need("ct/cranium_bone_mask.json"):
        write_bytes("ct/cranium_bone_mask.json", sidecar(mask.shape, "u8", spacing_zyx,
                    source="invesalius-examples Cranium.inv3 mask_0.dat (bone, threshold %d..%d); one voxel of border before each axis" % tuple(mask_threshold),
                    values={"0": "outside", "1": "border", "255": "bone"}))

# ---------------------------------------------------------------- MRI
copy(os.path.join(pkgs, "mricron-data/usr/share/mricron/templates/ch2better.nii.gz"), "mri/ch2better.nii.gz")

# ---------------------------------------------------------------- point clouds
pcl = os.path.join(pkgs, "python3-pcl/usr/share/doc/python3-pcl/examples")
copy(os.path.join(pcl, "pcldata/tutorials/table_scene_lms400.pcd"), "pcd/table_scene_lms400.pcd")
copy(os.path.join(pcl, "pcldata/tutorials/lamppost.pcd"), "pcd/lamppost.pcd")
copy(os.path.join(pcl, "pcldata/tutorials/correspondence_grouping/milk.pcd"), "pcd/milk.pcd")
copy(os.path.join(pcl, "official/Surface/bun0.pcd"), "pcd/bun0.pcd")
copy(os.path.join(pcl, "pcldata/tutorials/table_scene_mug_stereo_textured.pcd"), "pcd/table_scene_mug_stereo_textured.pcd")

def lzf_decompress(src, out_len):
    o = bytearray(out_len); ip = op = 0; n = len(src)
    while ip < n:
        ctrl = src[ip]; ip += 1
        if ctrl < 32:
            L = ctrl + 1; o[op:op + L] = src[ip:ip + L]; ip += L; op += L
        else:
            L = ctrl >> 5; ref = op - ((ctrl & 0x1f) << 8) - 1
            if L == 7: L += src[ip]; ip += 1
            ref -= src[ip]; ip += 1; L += 2
            if ref + L <= op: o[op:op + L] = o[ref:ref + L]
            else:
                for k in range(L): o[op + k] = o[ref + k]
            op += L
    if op != out_len: raise ValueError("LZF size mismatch")
    return bytes(o)

def read_pcd_compressed(path):
    raw = open(path, "rb").read()
    end = raw.index(b"\nDATA binary_compressed\n") + len(b"\nDATA binary_compressed\n")
    header = raw[:end].decode()
    kv = {l.split()[0]: l.split()[1:] for l in header.splitlines() if l and not l.startswith("#")}
    n = int(kv["POINTS"][0]); fields = kv["FIELDS"]
    assert all(t == "F" for t in kv["TYPE"]) and all(s == "4" for s in kv["SIZE"]) and all(c == "1" for c in kv["COUNT"])
    c, u = struct.unpack_from("<II", raw, end)
    soa = np.frombuffer(lzf_decompress(raw[end + 8:end + 8 + c], u), dtype="<f4").reshape(len(fields), n)
    return header, fields, soa

pts_outputs = ["pcd/table_scene_lms400_binary.pcd", "points/table_scene_lms400.xyz", "points/table_scene_lms400.csv", "points/table_scene_lms400.las"]
if any(need(r) for r in pts_outputs):
    header, fields, soa = read_pcd_compressed(os.path.join(data, "pcd/table_scene_lms400.pcd"))
    n = soa.shape[1]
    xyz = soa[:3].T.copy(); inten = soa[fields.index("intensity")]
    if need("pcd/table_scene_lms400_binary.pcd"):
        hb = header.replace("DATA binary_compressed", "DATA binary").encode()
        write_bytes("pcd/table_scene_lms400_binary.pcd", hb + soa.T.astype("<f4").tobytes())
    if need("points/table_scene_lms400.xyz"):
        write_with("points/table_scene_lms400.xyz", lambda p: np.savetxt(p, xyz, fmt="%.9g"))
    if need("points/table_scene_lms400.csv"):
        write_with("points/table_scene_lms400.csv", lambda p: np.savetxt(p, np.column_stack([xyz, inten]), fmt="%.9g", delimiter=",", header="x,y,z,intensity", comments=""))
    if need("points/table_scene_lms400.las"):
        scale = 1e-5
        lo = xyz.min(axis=0).astype("f8"); hi = xyz.max(axis=0).astype("f8")
        offset = np.floor(lo * 100) / 100
        rec = np.dtype([("X", "<i4"), ("Y", "<i4"), ("Z", "<i4"), ("intensity", "<u2"), ("bits", "u1"), ("cls", "u1"),
                        ("angle", "i1"), ("user", "u1"), ("src", "<u2"), ("gps", "<f8")])
        p = np.zeros(n, dtype=rec)
        q = np.round((xyz.astype("f8") - offset) / scale).astype("<i4")
        p["X"], p["Y"], p["Z"] = q[:, 0], q[:, 1], q[:, 2]
        p["intensity"] = np.clip(np.round(inten), 0, 65535).astype("<u2"); p["bits"] = 0b00001001; p["cls"] = 1
        p["gps"] = np.arange(n, dtype="f8")
        real = q * scale + offset
        h = bytearray(227)
        h[0:4] = b"LASF"
        struct.pack_into("<BB", h, 24, 1, 2)
        h[26:26 + 32] = b"RemoteVis testdata".ljust(32, b"\0")
        h[58:58 + 32] = b"scripts/testdata.sh".ljust(32, b"\0")
        struct.pack_into("<HHHIIBHI", h, 90, 1, 2024, 227, 227, 0, 1, rec.itemsize, n)
        struct.pack_into("<5I", h, 111, n, 0, 0, 0, 0)
        struct.pack_into("<3d3d", h, 131, scale, scale, scale, *offset)
        mx, mn = real.max(axis=0), real.min(axis=0)
        struct.pack_into("<6d", h, 179, mx[0], mn[0], mx[1], mn[1], mx[2], mn[2])
        write_bytes("points/table_scene_lms400.las", bytes(h) + p.tobytes())

# ---------------------------------------------------------------- density map, HDF5 / NeXus
copy(os.path.join(pkgs, "python3-griddataformats/usr/lib/python3/dist-packages/gridData/tests/datafiles/1jzv.ccp4"), "ccp4/1jzv.ccp4")
hs = os.path.join(pkgs, "python3-hyperspy/usr/lib/python3/dist-packages/hyperspy")
for rel in ["tests/io/nexus_files/nexus_dls_example.nxs", "tests/io/nexus_files/saved_multi_signal.nxs",
            "tests/io/nexus_files/simple_signal.nxs", "misc/holography/example_signals/01_holo_Vbp_130V_0V_bin2_crop.hdf5"]:
    copy(os.path.join(hs, rel), "hdf5/" + os.path.basename(rel))

files = sorted(os.path.relpath(os.path.join(d, f), data) for d, _, fs in os.walk(data) if "/.pkgs" not in d + "/" and not d.endswith(".pkgs")
               for f in fs if not f.startswith(".") and "/slices/" not in os.path.join(d, f))
summary = "\n".join("  %-45s %10d bytes" % (f, os.path.getsize(os.path.join(data, f))) for f in files)
summary += "\n  %-45s %10d files\n" % ("ct/slices/", len([f for f in os.listdir(os.path.join(data, "ct/slices")) if f.endswith(".tif")]))
with open(stamp, "w") as f: f.write(summary)
print("testdata: made %d file(s) under data/:" % len(made) if made else "testdata: nothing new to make; data/:")
print(summary, end="")
PY
