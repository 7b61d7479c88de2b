#!/usr/bin/env bash
# The long fuzz runs (make fuzz): every libFuzzer target (ffi/libsscrdma/fuzz, tests/fuzz/hdf5)
# and every TS fuzz target (tests/fuzz) for FUZZ_SECONDS each (default 600), FUZZ_JOBS at a time
# (default 2), niced. Each run's log goes to build/fuzz/logs/TARGET.log; the closing table has
# one line per target (runs, seconds, crashes) and the exit status says whether all passed.
# Usage: scripts/fuzz.sh [TARGET...]   (default: all; names as in the table)
set -uo pipefail
cd "$(dirname "$0")/.."
export FUZZ_SECONDS=${FUZZ_SECONDS:-600}
JOBS=${FUZZ_JOBS:-2}
LOGS=build/fuzz/logs
mkdir -p "$LOGS"

TS_TARGETS=(npy nifti pcd tiff mrc las xyz raw protocol header)
ALL=(libsscrdma-messages libhdf5 "${TS_TARGETS[@]}")
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ALL[@]}")

run_one() { # run_one TARGET: the long run of one target, its log in $LOGS/TARGET.log
  local t=$1 log=$LOGS/$1.log
  case $t in
    libsscrdma-messages) nice make -s -C ffi/libsscrdma fuzz-run >"$log" 2>&1 ;;
    libhdf5) nice make -s -C tests/fuzz/hdf5 fuzz-run >"$log" 2>&1 ;;
    *) FUZZ_TARGETS=$t nice node_modules/.bin/bun test tests/fuzz/fuzz.test.ts --timeout $(((FUZZ_SECONDS + 120) * 1000)) >"$log" 2>&1 ;;
  esac
  echo "$t exit $?" >>"$log"
}
export -f run_one
export LOGS

echo "fuzzing ${targets[*]}: $FUZZ_SECONDS s each, $JOBS at a time (logs in $LOGS)"
printf '%s\n' "${targets[@]}" | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

status=0
echo
printf '%-22s %s\n' TARGET RESULT
for t in "${targets[@]}"; do
  log=$LOGS/$t.log
  line=$(grep -hE '^(ok|FAIL) fuzz_|^fuzz [a-z]+: ' "$log" | tail -1)
  grep -qE "^$t exit 0$" "$log" || status=1
  printf '%-22s %s\n' "$t" "${line:-no result (see $log)}"
done
exit $status
