#!/usr/bin/env bash
# Packs what the benchmarks need on a GPU machine where nothing can be installed (see the
# recipes: Ubuntu, no compiler, no apt): the compiled executable (xz, it is over the 64 MiB
# that travels), the Debian runtime libraries it loads (unpacked there with dpkg -x, no
# install), and the CT for the render/segment cases. Output: .gpukit/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=.gpukit
mkdir -p "$KIT/debs"
make build >/dev/null
xz -T0 -6 -c dist/remotevis >"$KIT/remotevis.xz"
[ "${WITH_ORT:-0}" = 1 ] && tar -C dist -cJf "$KIT/onnxruntime.tar.xz" onnxruntime
(cd "$KIT/debs" && apt-get download -qq libucx0 ucx-utils libnuma1 librdmacm1 libibverbs1 libturbojpeg0 libhdf5-103-1 libaec0 libsz2 2>/dev/null)
# Open MPI's runtime for the distributed case (relocated there with OPAL_PREFIX).
if [ "${WITH_MPI:-0}" = 1 ]; then
  mkdir -p "$KIT/mpi"
  (cd "$KIT/mpi" && apt-get download -qq openmpi-bin openmpi-common libopenmpi3 libpmix2 libhwloc15 libhwloc-plugins \
    libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 \
    ocl-icd-libopencl1 libpciaccess0 libatomic1 libmunge2 libgfortran5 libquadmath0 2>/dev/null)
  make -C ffi/rvrmpi build/rvr_ranks build/rr_bench >/dev/null
  cp ffi/rvrmpi/build/rvr_ranks ffi/rvrmpi/build/rr_bench ffi/librvr/build/librvr.so "$KIT/mpi/"
fi
rm -rf "$KIT/data" && mkdir -p "$KIT/data"
# The kit must stay under the 64 MiB that travel: the CT goes xz-compressed, the models without
# their training targets.
[ "${WITH_DATA:-1}" = 1 ] && [ -f data/ct/cranium.raw ] && xz -T0 -c data/ct/cranium.raw >"$KIT/data/cranium.raw.xz" && cp data/ct/cranium.json "$KIT/data/"
if [ "${WITH_DATA:-1}" = 1 ] && [ -d data/models ]; then mkdir -p "$KIT/data/models" && cp data/models/*.onnx data/models/*.json "$KIT/data/models/" && rm -f "$KIT/data/models/ct-targets.json"; fi
du -sh "$KIT"
