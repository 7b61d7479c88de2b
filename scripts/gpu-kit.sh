#!/usr/bin/env bash
# Packs what the benchmarks need on a GPU machine where nothing can be installed (see the
# recipes: Ubuntu, no compiler, no apt): the compiled executable (xz, it is over the 64 MiB
# that travels), the Debian runtime libraries it loads (unpacked there with dpkg -x, no
# install), and the CT for the render/segment cases. Output: .gpukit/ (git-ignored; KIT=dir
# elsewhere). Also ONNX Runtime for `segment` (WITH_ORT=0 leaves it out) and librvr's C tests
# built here with nvcc for `cuda-tests` (WITH_RVR_TESTS=0 leaves them out).
# WITH_EXE=0 leaves the executable out (the C-only cases: cuda-tests, cuda-bench, distributed).
# Everything that travels (this kit + the working tree) must stay under 64 MiB: checked at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-.gpukit}
mkdir -p "$KIT/debs"
[ "${WITH_EXE:-1}" = 1 ] && make build >/dev/null
rm -f "$KIT/remotevis.xz"
[ "${WITH_EXE:-1}" = 1 ] && xz -T0 -6 -c dist/remotevis >"$KIT/remotevis.xz"
# ONNX Runtime (segment): onnxruntime-node's addon + libonnxruntime.so.1, beside the executable
# there as here (src/segment/ort.ts looks in dist/onnxruntime/). ~12 MiB xz'd.
rm -f "$KIT/onnxruntime.tar.xz"
[ "${WITH_ORT:-1}" = 1 ] && XZ_OPT=-T0 tar -C dist -cJf "$KIT/onnxruntime.tar.xz" onnxruntime
# librvr's scene tests + CUDA-vs-CPU image tests (cuda-tests) and its CUDA benchmark (cuda-bench):
# the binaries and their two libraries
# from ffi/librvr/build (rpath $ORIGIN), built with the CUDA backend (needs nvcc here).
rm -f "$KIT/librvr-tests.tar.xz"
if [ "${WITH_RVR_TESTS:-1}" = 1 ]; then
  command -v nvcc >/dev/null || { echo "gpu-kit: nvcc not found: librvr's tests would have no CUDA backend (WITH_RVR_TESTS=0 skips them)" >&2; exit 1; }
  make -C ffi/librvr build/rvr_tests build/rvr_bench_cuda >/dev/null
  # a librvr.so built without nvcc (NVCC=none) has no device code: its tests would only skip
  objdump -h ffi/librvr/build/librvr.so | grep -q nv_fatbin || { echo "gpu-kit: ffi/librvr/build/librvr.so has no CUDA code: rebuild it (make -C ffi/librvr clean all)" >&2; exit 1; }
  XZ_OPT=-T0 tar -C ffi/librvr/build -cJf "$KIT/librvr-tests.tar.xz" rvr_tests rvr_bench_cuda librvr.so librvr_ref.so
fi
# libsscrdma alone (transfer-sweep): ssc_xfer and the library beside it (rpath $ORIGIN)
make -C ffi/libsscrdma >/dev/null
XZ_OPT=-T0 tar -C ffi/libsscrdma/build -cJf "$KIT/sscrdma.tar.xz" ssc_xfer libsscrdma.so
(cd "$KIT/debs" && apt-get download -qq libucx0 ucx-utils libnuma1 librdmacm1 libibverbs1 libturbojpeg0 libhdf5-103-1 libaec0 libsz2 2>/dev/null)
# Open MPI's runtime for the distributed case (relocated there with OPAL_PREFIX).
rm -rf "$KIT/mpi"
if [ "${WITH_MPI:-0}" = 1 ]; then
  mkdir -p "$KIT/mpi"
  (cd "$KIT/mpi" && apt-get download -qq openmpi-bin openmpi-common libopenmpi3 libpmix2 libhwloc15 libhwloc-plugins \
    libevent-core-2.1-7 libevent-pthreads-2.1-7 libfabric1 libpsm2-2 libpsm-infinipath1 libnl-3-200 libnl-route-3-200 \
    ocl-icd-libopencl1 libpciaccess0 libatomic1 libmunge2 libgfortran5 libquadmath0 2>/dev/null)
  make -C ffi/rvrmpi build/rvr_ranks build/rr_bench build/rr_split >/dev/null
  cp ffi/rvrmpi/build/rvr_ranks ffi/rvrmpi/build/rr_bench ffi/rvrmpi/build/rr_split ffi/librvr/build/librvr.so "$KIT/mpi/"
fi
rm -rf "$KIT/data" && mkdir -p "$KIT/data"
# The kit must stay under the 64 MiB that travel: the CT goes xz-compressed, the models without
# their training targets.
[ "${WITH_DATA:-1}" = 1 ] && [ -f data/ct/cranium.raw ] && xz -T0 -c data/ct/cranium.raw >"$KIT/data/cranium.raw.xz" && cp data/ct/cranium.json "$KIT/data/"
if [ "${WITH_DATA:-1}" = 1 ] && [ -d data/models ]; then mkdir -p "$KIT/data/models" && cp data/models/*.onnx data/models/*.json "$KIT/data/models/" && rm -f "$KIT/data/models/ct-targets.json"; fi
du -sh "$KIT"
# The device tool refuses a call whose working tree (tracked + untracked-not-ignored files) plus
# carried paths exceed 64 MiB.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}')
kit=$(du -sb "$KIT" | cut -f1)
echo "gpu-kit: kit $((kit >> 20)) MiB + working tree $((tree >> 20)) MiB = $(((kit + tree) >> 20)) MiB of 64"
if [ $((kit + tree)) -ge $((64 << 20)) ]; then
  echo "gpu-kit: over the 64 MiB that travel: leave something out (WITH_EXE=0, WITH_MPI=0, WITH_ORT=0, WITH_DATA=0, WITH_RVR_TESTS=0)" >&2
  exit 1
fi
