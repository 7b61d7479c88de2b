#!/bin/sh
# Run every test binary given as argument; each prints "ok NAME" or
# "FAIL NAME: reason" per case. Prints the total as the last line:
#   C tests: N passed, M failed
# and exits non-zero if anything failed (a crashing binary counts as one
# failure).
: "${UCX_LOG_LEVEL:=error}"
export UCX_LOG_LEVEL
passed=0
failed=0
out=$(mktemp)
for t in "$@"; do
    timeout 300 "$t" > "$out" 2>&1
    status=$?
    cat "$out"
    p=$(grep -c '^ok ' "$out")
    f=$(grep -c '^FAIL ' "$out")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $(basename "$t"): exited with status $status"
        f=1
    fi
    passed=$((passed + p))
    failed=$((failed + f))
done
rm -f "$out"
echo "C tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
