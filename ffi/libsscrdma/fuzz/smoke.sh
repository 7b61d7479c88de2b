#!/bin/sh
# The libFuzzer targets of fuzz/ as a test (tests/run.sh counts the "ok"/"FAIL" lines): each
# runs its saved regression inputs, then fuzzes for FUZZ_SECONDS (default 15; the long run is
# `make fuzz-run FUZZ_SECONDS=600`). Without clang and libFuzzer it says so and is skipped.
cd "$(dirname "$0")/.." || exit 1
: "${FUZZ_SECONDS:=15}"
if ! command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "SKIP libsscrdma fuzz smoke: ${FUZZ_CC:-clang} not found (Debian: clang libclang-rt-dev; scripts/deps.sh install)"
    exit 0
fi
if ! make -s fuzz >build/fuzz-build.log 2>&1; then
    cat build/fuzz-build.log
    echo "FAIL libsscrdma fuzz targets do not build (clang without libFuzzer? Debian: libclang-rt-dev)"
    exit 1
fi
status=0
for bin in build/fuzz/fuzz_*; do
    t=$(basename "$bin")
    ../../scripts/libfuzzer-run.sh "$t" "$bin" "$FUZZ_SECONDS" "fuzz/corpus/${t#fuzz_}" \
        "fuzz/regressions/${t#fuzz_}" "build/fuzz/work-${t#fuzz_}" || status=1
done
exit $status
