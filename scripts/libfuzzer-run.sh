#!/bin/sh
# Runs one libFuzzer binary: first every saved crash input of REGRESSIONS (each must now pass),
# then fuzzing for SECONDS from the seeds of SEEDS (copied into WORK/corpus, which grows between
# runs). Prints one line that tests/run.sh-style summaries count:
#   ok NAME: 1234567 runs in 20 s, 0 crashes (corpus 42 inputs)
#   FAIL NAME: crash, input saved as WORK/crash-... (reproduce: BIN that-file)
# Usage: scripts/libfuzzer-run.sh NAME BIN SECONDS SEEDS REGRESSIONS WORK [libFuzzer flags...]
set -u
name=$1 bin=$2 seconds=$3 seeds=$4 regressions=$5 work=$6
shift 6
mkdir -p "$work/corpus" "$work/artifacts"
log=$work/last.log

if [ -d "$regressions" ] && [ -n "$(ls -A "$regressions" 2>/dev/null)" ]; then
    if ! "$bin" -runs=1 "$@" "$regressions"/* >"$log" 2>&1; then
        tail -40 "$log"
        echo "FAIL $name: a saved regression input crashes again (log: $log)"
        exit 1
    fi
fi

[ -d "$seeds" ] && cp -n "$seeds"/* "$work/corpus/" 2>/dev/null
start=$(date +%s)
# -timeout: one input taking longer than 10 s is a hang and counts as a failure;
# -rss_limit_mb: an input that makes the code allocate absurdly counts as one too
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$@" "$work/corpus" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
inputs=$(ls "$work/corpus" | wc -l)
if [ "$rc" -ne 0 ]; then
    tail -40 "$log"
    crash=$(ls -t "$work/artifacts" 2>/dev/null | head -1)
    echo "FAIL $name: exit $rc after ${runs:-?} runs, input saved as $work/artifacts/$crash (reproduce: $bin that-file)"
    exit 1
fi
echo "ok $name: ${runs:-?} runs in $secs s, 0 crashes (corpus $inputs inputs)"
