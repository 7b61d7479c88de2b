#!/usr/bin/env bash
# Runs every test suite (C tests of ffi/*, bun test, then pytest of python/tests) and prints one closing line
# "N passed, N failed" counting all of them; also written to build/test-summary.txt for .ci/run.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p build
passed=0 failed=0 skipped=0
log=$(mktemp)

# ffi/* and the libFuzzer smoke of libhdf5 (tests/fuzz/hdf5): each prints "C tests: N passed, M failed"
for lib in ffi/*/ tests/fuzz/hdf5/; do
  [ -f "$lib/Makefile" ] || continue
  echo "== C tests: $lib"
  make -s -C "$lib" test 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  line=$(grep -E '^C tests: [0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
  if [ -n "$line" ]; then
    passed=$((passed + $(sed -E 's/^C tests: ([0-9]+) passed.*/\1/' <<<"$line")))
    failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")))
  elif [ "$rc" -ne 0 ]; then
    echo "C test suite $lib did not run to its summary (exit $rc)"
    failed=$((failed + 1))
  fi
done

# Test data and the test networks, made once here (cached in data/): otherwise the first test that
# needs them pays the training inside its own time limit. A failure here only means those tests
# say they skip, as they do without python3-torch.
echo "== Test data and networks (scripts/testdata.sh, scripts/train-segmentation.sh)"
bash scripts/testdata.sh --quiet || echo "scripts/testdata.sh failed: the tests that need the data will say so"
bash scripts/train-segmentation.sh --quiet || echo "scripts/train-segmentation.sh failed: the segmentation tests will say so"

echo "== Bun tests"
node_modules/.bin/bun test --timeout 120000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
p=$(grep -E '^\s*[0-9]+ pass$' "$log" | tail -1 | tr -dc 0-9)
f=$(grep -E '^\s*[0-9]+ fail$' "$log" | tail -1 | tr -dc 0-9)
s=$(grep -E '^\s*[0-9]+ skip$' "$log" | tail -1 | tr -dc 0-9)
passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0})); skipped=$((skipped + ${s:-0}))
if [ -z "$p$f" ] && [ "$rc" -ne 0 ]; then
  echo "bun test did not run to its summary (exit $rc)"
  failed=$((failed + 1))
fi
echo "== Python tests (python/tests: the Python client and the C example)"
py=""
# Prefer an interpreter that can also run the example notebook (Debian python3-nbclient + ipykernel).
for mods in 'numpy, pytest, nbclient, ipykernel' 'numpy, pytest'; do
  for c in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null && "$c" -c "import $mods" 2>/dev/null; then py=$c; break 2; fi
  done
done
if [ -z "$py" ]; then
  echo "no python3 with numpy and pytest (Debian: python3-numpy python3-pytest; scripts/deps.sh install)"
  failed=$((failed + 1))
else
  "$py" -m pytest -q -p no:cacheprovider python/tests 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  # pytest's last line: "3 failed, 40 passed, 1 skipped, 2 errors in 20.1s" (any subset, any order)
  line=$(grep -E '^=*\s*([0-9]+ [a-z]+(, )?)+ in [0-9.]+s' "$log" | tail -1)
  count() { grep -oE "[0-9]+ $1" <<<"$line" | grep -oE '[0-9]+' || echo 0; }
  passed=$((passed + $(count passed)))
  failed=$((failed + $(count failed) + $(count error)))
  skipped=$((skipped + $(count skipped)))
  if [ -z "$line" ] && [ "$rc" -ne 0 ]; then
    echo "pytest did not run to its summary (exit $rc)"
    failed=$((failed + 1))
  fi
fi
rm -f "$log"

summary="$passed passed, $failed failed"
[ "$skipped" -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary" | tee build/test-summary.txt
[ "$failed" -eq 0 ]
