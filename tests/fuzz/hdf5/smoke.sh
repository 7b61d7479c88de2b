#!/bin/sh
# libFuzzer on libhdf5 (fuzz_hdf5.c) for FUZZ_SECONDS (default 15), in fork mode so that it
# goes on after libhdf5 crashes: those are counted and their inputs kept under
# build/work/artifacts (libhdf5's bugs, not ours: tests/fuzz/hdf5-containment.test.ts checks
# that an instance survives them). The run fails only when the harness cannot run or when a
# crash has no libhdf5 frame in its stack (then it is the harness's own). Prints the lines
# tests/run.sh-style summaries count, then "C tests: N passed, M failed".
cd "$(dirname "$0")" || exit 1
: "${FUZZ_SECONDS:=15}"
summary() { echo "C tests: $1 passed, $2 failed"; [ "$2" -eq 0 ]; }
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "SKIP libhdf5 fuzz smoke: ${FUZZ_CC:-clang} not found (Debian: clang libclang-rt-dev; scripts/deps.sh install)"
    summary 0 0
    exit 0
fi
mkdir -p build
if ! make -s fuzz >build/build.log 2>&1; then
    cat build/build.log
    echo "FAIL fuzz_hdf5 does not build"
    summary 0 1
    exit 1
fi
if ! /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    echo "SKIP libhdf5 fuzz smoke: seeds need Debian python3-h5py (scripts/deps.sh install)"
    summary 0 0
    exit 0
fi
[ -d build/seeds ] || /usr/bin/python3 seeds.py build/seeds ../../../data >/dev/null || exit 1
work=build/work
mkdir -p "$work/corpus" "$work/artifacts" "$work/logs"
cp -n build/seeds/* "$work/corpus/" 2>/dev/null
ls "$work/artifacts" >"$work/before.txt"
start=$(date +%s)
# allocator_may_return_null: a huge malloc fails as it does in production (libhdf5 then
# reports an error) instead of ASan aborting; leaks of libhdf5's error paths are not counted
ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 ./build/fuzz_hdf5 -fork=1 -ignore_crashes=1 \
    -ignore_timeouts=1 -ignore_ooms=1 -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/last.log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
runs=$(grep -oE '^#[0-9]+' "$work/last.log" | tail -1 | tr -d '#')
crashes=$(grep -cE 'ERROR: (AddressSanitizer|libFuzzer)' "$work/last.log")
# In fork mode the stacks stay in the jobs' logs: each new crash input is run again alone to
# see whose it is (a libhdf5 frame in the stack), or that it needs the state earlier inputs left.
libhdf5=0 alone=0 ours=0
for a in $(ls "$work/artifacts" | grep -vxFf "$work/before.txt"); do
    ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=0 ./build/fuzz_hdf5 -timeout=10 -rss_limit_mb=2048 "$work/artifacts/$a" >"$work/logs/$a.log" 2>&1
    if [ $? -eq 0 ]; then alone=$((alone + 1))
    elif grep -qE '^ +#[0-9]+ .*libhdf5' "$work/logs/$a.log"; then libhdf5=$((libhdf5 + 1))
    else ours=$((ours + 1)); echo "crash without a libhdf5 frame: $work/artifacts/$a (log $work/logs/$a.log)"; fi
done
# the input file of each fuzz process that crashed (fuzz_hdf5.c names them by pid)
for f in /dev/shm/fuzz_hdf5.*.h5 /tmp/fuzz_hdf5.*.h5; do
    [ -e "$f" ] || continue
    pid=${f##*/fuzz_hdf5.}; pid=${pid%.h5}
    kill -0 "$pid" 2>/dev/null || rm -f "$f"
done
# exit 70 is libFuzzer's timeout code: an input libhdf5 took over 10 s on (a loaded machine, or
# libhdf5 looping on a corrupt file), which -ignore_timeouts=1 lets the run go on after
if [ -z "$runs" ] || { [ "$rc" -ne 0 ] && [ "$rc" -ne 70 ] && [ "$crashes" -eq 0 ]; }; then
    tail -30 "$work/last.log"
    echo "FAIL fuzz_hdf5: the fuzzer did not run (exit $rc)"
    summary 0 1
    exit 1
fi
if [ "$ours" -gt 0 ]; then
    echo "FAIL fuzz_hdf5: $ours crashes without a libhdf5 frame (the harness's own bug)"
    summary 0 1
    exit 1
fi
echo "ok fuzz_hdf5: ${runs} runs in $secs s; libhdf5 crashed $crashes times: $libhdf5 inputs crash it again alone (stack in libhdf5), $alone only after earlier inputs; 0 in the harness (inputs in $work/artifacts)"
summary 1 0
