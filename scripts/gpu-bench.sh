#!/usr/bin/env bash
# Runs on the GPU machine (the device tool), from the repository root, with .gpukit carried:
# unpacks the kit, then the benchmarks whose figures need that machine. Every result line goes
# to $OUT/bench.jsonl, the rest of the output to $OUT/log.txt.
#   scripts/gpu-bench.sh [transfer] [e2e] [e2e-cpu] [io] [segment] [render] [cuda-tests] [cuda-bench]
#                        [transfer-diag] [transfer-sweep] [distributed] [split]
# cuda-tests: librvr's C tests on the CUDA backend (the CUDA-vs-CPU image comparisons, labels
# included); full output in $OUT/cuda-tests.txt, its last line ("C tests: N passed, M failed")
# in log.txt. E2E_REPS=n repeats e2e-cpu; RR_DETAIL=1 adds a line per frame of distributed to log.txt.
# segment needs the kit's ONNX Runtime and data/models (gpu-kit.sh packs both).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
K=$PWD/.gpukit
U=$K/u
mkdir -p "$U"
for d in "$K"/debs/*.deb; do dpkg -x "$d" "$U"; done
LIB=$U/usr/lib/x86_64-linux-gnu
export LD_LIBRARY_PATH=$LIB:$LIB/hdf5/serial${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export UCX_MODULE_DIR=$LIB/ucx UCX_LOG_LEVEL=error PATH=$U/usr/bin:$PATH
mkdir -p dist data/ct
[ -f "$K/remotevis.xz" ] && xz -dc "$K/remotevis.xz" >dist/remotevis && chmod +x dist/remotevis
[ -f "$K/onnxruntime.tar.xz" ] && tar -C dist -xJf "$K/onnxruntime.tar.xz"
[ -f "$K/data/cranium.raw.xz" ] && xz -dc "$K/data/cranium.raw.xz" >data/ct/cranium.raw && cp "$K/data/cranium.json" data/ct/
[ -d "$K/data/models" ] && cp -r "$K/data/models" data/
{ echo "== $(date -u) $(hostname) $(nproc) cores"; nvidia-smi -L; } >>"$OUT/log.txt" 2>&1
run() { echo "== $*" >>"$OUT/log.txt"; timeout "${T:-240}" dist/remotevis "$@" 2>>"$OUT/log.txt" | tee -a "$OUT/bench.jsonl" >>"$OUT/log.txt"; }
[ $# -eq 0 ] && set -- transfer e2e
for what in "$@"; do
  case $what in
    transfer) run bench transfer --size 1GiB --reps 3 --cases "${CASES:-tcp,shm}" ;;
    # issue 9: 8 GiB float32 over shared memory (native buffers: above one JS buffer's 4 GiB)
    # (E2E_BIG=0 leaves the 8 GiB case out)
    e2e) [ "${E2E_BIG:-1}" = 1 ] && T=400 run bench e2e --size 8GiB --dtype float32 --tls sm,tcp --renderer cuda
      run bench e2e --size 1GiB --renderer cuda ;;
    io) run bench io ;;
    segment) run bench segment ;;
    cuda-tests)
      mkdir -p "$K/rvr" && tar -C "$K/rvr" -xJf "$K/librvr-tests.tar.xz"
      echo "== librvr C tests on the CUDA backend" >>"$OUT/log.txt"
      if "$K/rvr/rvr_tests" --has-cuda; then
        RVR_TEST_BACKEND=cuda OMP_NUM_THREADS=$(nproc) timeout "${T:-300}" "$K/rvr/rvr_tests" >"$OUT/cuda-tests.txt" 2>&1
      else
        echo "cuda-tests: no CUDA renderer could be made (no usable GPU or driver)" >"$OUT/cuda-tests.txt"
      fi
      tail -n 1 "$OUT/cuda-tests.txt" >>"$OUT/log.txt" ;;
    render) run bench render --reps 3 ;;
    # issue 9: librvr's CUDA backend against the plain CUDA caster and cudaMemcpy (bench/RESULTS.md)
    cuda-bench)
      mkdir -p "$K/rvr" && tar -C "$K/rvr" -xJf "$K/librvr-tests.tar.xz"
      RVR_BENCH_CUDA=$K/rvr/rvr_bench_cuda run bench render --renderer cuda ;;
    # issue 5 on 16 cores: the CPU renderer, with min/max taken while the volume lands
    e2e-cpu) for _ in $(seq "${E2E_REPS:-1}"); do run bench e2e --size 1GiB --renderer cpu; done ;;
    # issue 3: why shared memory is below memcpy here: which single-copy transports UCX has
    # (CMA needs process_vm_readv, which Yama or a container's seccomp may forbid)
    transfer-diag)
      { echo "== transfer-diag"; cat /proc/sys/kernel/yama/ptrace_scope 2>&1; grep -i seccomp /proc/self/status
        ucx_info -d 2>&1 | grep -E "Transport|Device" | tr -s ' ' | paste -sd' ' | head -c 2000; echo
        for tls in cma,sm posix,self sysv,self; do
          ucx_perftest -p 13400 >/dev/null 2>&1 & sleep 1
          echo "perftest UCX_TLS=$tls: $(UCX_TLS=$tls timeout 60 ucx_perftest 127.0.0.1 -p 13400 -t tag_bw -s 1073741824 -n 4 2>&1 | grep Final)"
          wait
        done; } >>"$OUT/log.txt" 2>&1 ;;
    # issue 3: libsscrdma alone (ssc_xfer, no Bun) with 1..4 lanes over TCP and shared memory,
    # and 1..4 independent pairs at once (what several copying threads can reach here)
    transfer-sweep)
      mkdir -p "$K/ssc" && tar -C "$K/ssc" -xJf "$K/sscrdma.tar.xz"
      X=$K/ssc/ssc_xfer
      xfer() { # TLS PORT: 5 transfers of 1 GiB; the sender's rates
        UCX_TLS=$1 "$X" -n 5 recv "$2" 1G >/dev/null 2>&1 &
        sleep 0.5
        UCX_TLS=$1 "$X" -n 5 send 127.0.0.1 "$2" 1G 2>&1 | grep -o '[0-9.]* GB/s' | tr '\n' ' '
        wait
      }
      { echo "== transfer-sweep"
        for l in 1 2 3 4; do
          echo "ssc_xfer tcp SSC_LANES=$l: $(SSC_LANES=$l xfer tcp 13500)"
          echo "ssc_xfer sm,tcp SSC_LANES=$l: $(SSC_UCX_ERR_MODE=none SSC_LANES=$l xfer sm,tcp 13501)"
        done
        for n in 2 4; do
          for i in $(seq "$n"); do SSC_LANES=1 SSC_UCX_ERR_MODE=none UCX_TLS=sm,tcp "$X" -n 5 recv $((13600 + i)) 1G >/dev/null 2>&1 & done
          sleep 0.5
          for i in $(seq "$n"); do SSC_LANES=1 SSC_UCX_ERR_MODE=none UCX_TLS=sm,tcp "$X" -n 5 send 127.0.0.1 $((13600 + i)) 1G >"$OUT/pair$i.txt" 2>&1 & done
          wait
          echo "$n pairs at once (1 lane each), sender rates: $(cat "$OUT"/pair*.txt | grep -o '[0-9.]* GB/s' | tr '\n' ' ')"
          rm -f "$OUT"/pair*.txt
        done
      } >>"$OUT/log.txt" 2>&1 ;;
    # issue 12: one rank's render against the whole volume's on one GPU, no MPI (rr_split.c;
    # RR_SPLIT="s1 s1-noert s0-noert" renders those variants)
    split) (cd "$K/mpi" && timeout "${T:-280}" ./rr_split 2048 "${RR_VIEWS:-16}" 128 ${RR_SPLIT:-s1}) 2>>"$OUT/log.txt" | tee -a "$OUT/bench.jsonl" >>"$OUT/log.txt" ;;
    distributed)
      # issue 12 (ffi/rvrmpi/tests/rr_bench.c), 1920x1080: 1 vs 2 GPUs on a 2048^3 float32 volume
      # (32 GiB) received the instance's way (one /dev/shm file, slabs mapped from it); then
      # 3400^3 float32 (146 GiB, more than one H200) on 2 GPUs, each rank generating only its slab
      # (+ghosts) in page-locked memory: no whole-volume buffer (it would not fit /dev/shm).
      # the lent machine boots for each call: wait (at most 60 s) until its boot jobs leave the
      # cores idle; a busy host woke idle ranks late (frames 1-10 ms behind, issue 12)
      for i in $(seq 60); do
        u1=$(awk '/^cpu /{print $2+$3+$4+$7+$8" "$2+$3+$4+$5+$6+$7+$8}' /proc/stat); sleep 1
        u2=$(awk '/^cpu /{print $2+$3+$4+$7+$8" "$2+$3+$4+$5+$6+$7+$8}' /proc/stat)
        pct=$(echo "$u1 $u2" | awk '{d = $4 - $2; print (d > 0 ? int(100 * ($3 - $1) / d) : 0)}')
        [ "$pct" -lt 5 ] && break
      done
      echo "== cores ${pct}% busy after waiting ${i} s for the host to settle" >>"$OUT/log.txt"
      for d in "$K"/mpi/*.deb; do dpkg -x "$d" "$U"; done
      ln -sf mpirun.openmpi "$U/usr/bin/mpirun" # an alternatives link, made by dpkg on install
      export OPAL_PREFIX=$U/usr PATH=$U/usr/bin:$PATH LD_LIBRARY_PATH=$K/mpi:$LIB/openmpi/lib:$LD_LIBRARY_PATH RR_EXE=./rvr_ranks
      { free -g; df -h /dev/shm; } >>"$OUT/log.txt" 2>&1
      # (RR_BIG=0 leaves the big case out; RR_CASES="args;args" runs those rr_bench cases instead)
      IFS=';' read -r -a cases <<<"${RR_CASES:-2048 2 cuda auto 1 file;${RR_BIG:-3400} 2 cuda auto 0 slabs}"
      for args in "${cases[@]}"; do
        [ "${args%% *}" = 0 ] && continue
        echo "== rr_bench $args" >>"$OUT/log.txt"
        (cd "$K/mpi" && RR_GPUS=${RR_GPUS:-2} timeout "${T:-280}" ./rr_bench $args) 2>>"$OUT/log.txt" | tee -a "$OUT/bench.jsonl" >>"$OUT/log.txt"
      done ;;
  esac
done
