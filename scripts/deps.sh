#!/usr/bin/env bash
# Debian packages RemoteVis needs to build, test and run. `scripts/deps.sh check` lists what
# is missing; `scripts/deps.sh install` installs it (root only; otherwise prints the command).
set -euo pipefail
PKGS=(
  build-essential pkg-config          # C libraries under ffi/
  libucx-dev ucx-utils                # SSC-RDMA transport + ucx_perftest baseline
  iproute2                            # network namespaces for the veth tests
  procps psmisc curl                  # process checks in tests, health checks in scripts
  libgomp1                            # OpenMP runtime of the built-in renderer (ffi/librvr)
  munge libmunge-dev                  # identity of middleware callers (munge -n / unmunge)
  util-linux passwd                   # setpriv (instances as their user), useradd (test users)
  libhdf5-103-1                       # HDF5 reader (src/formats/hdf5.ts, dlopen libhdf5_serial.so.103)
  python3-numpy python3-h5py          # scripts/testdata.sh writes the test volumes as npy and HDF5
  slurmctld slurmd slurm-client       # slurm mode: scripts/slurm-up.sh (one node on loopback), tests, bench
  libturbojpeg0                       # viewer frames: JPEG through FFI (src/render/jpeg.ts)
  libopenmpi-dev openmpi-bin          # distributed renderer: ffi/rvrmpi (rvr_ranks under mpirun / srun)
  chromium                            # browser tests of the viewer and `bench viewer` (playwright-core)
  python3-pytest python3-venv python3-pip  # python/tests: the Python client, pip install ./python into a venv
  python3-nbclient python3-ipykernel  # python/tests/test_notebook.py runs examples/jupyter/remotevis.ipynb
  libpam0g libpam-runtime libpam-modules  # portal logins: libpam through FFI, /etc/pam.d/common-*, pam_unix
  clang libclang-rt-dev               # libFuzzer targets (ffi/libsscrdma/fuzz, tests/fuzz/hdf5): make fuzz, smoke in make test
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
case "${1:-check}" in
  check)
    [ ${#missing[@]} -eq 0 ] && exit 0
    echo "missing Debian packages: ${missing[*]}"
    exit 1
    ;;
  install)
    [ ${#missing[@]} -eq 0 ] && exit 0
    if [ "$(id -u)" -ne 0 ]; then
      echo "RemoteVis needs these Debian packages. Run this once, then 'make demo' again:" >&2
      echo "  sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
    echo "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Package scripts must not start daemons (munged, slurmctld, slurmd with a default
    # configuration): scripts/munge-up.sh and scripts/slurm-up.sh start them. A policy-rc.d
    # that answers 101 tells invoke-rc.d "not now"; one already there is left as it is.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
      trap 'rm -f "$policy"' EXIT
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    ;;
  list)
    echo "${PKGS[@]}"
    ;;
esac
