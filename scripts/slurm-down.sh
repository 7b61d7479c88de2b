#!/usr/bin/env bash
# Stops the test slurm of scripts/slurm-up.sh: cancels every job, stops slurmd and slurmctld
# (by their pid files) and clears their state. munged keeps running: it belongs to
# scripts/munge-up.sh and the middleware uses it too. Needs root.
set -uo pipefail
RUN=/run/slurm
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-down.sh needs root" >&2
  exit 1
fi
if [ -s "$RUN/slurmctld.pid" ] && kill -0 "$(cat "$RUN/slurmctld.pid")" 2>/dev/null; then
  mapfile -t jobs < <(squeue --noheader --format=%i 2>/dev/null)
  [ ${#jobs[@]} -gt 0 ] && scancel "${jobs[@]}" 2>/dev/null && sleep 1
fi
pids=()
for d in slurmd slurmctld; do
  [ -s "$RUN/$d.pid" ] || continue
  pid=$(cat "$RUN/$d.pid")
  rm -f "$RUN/$d.pid"
  kill "$pid" 2>/dev/null && pids+=("$pid")
done
for _ in $(seq 100); do
  alive=()
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
  [ ${#alive[@]} -eq 0 ] && break
  sleep 0.1
done
[ ${#alive[@]} -gt 0 ] && kill -9 "${alive[@]}" 2>/dev/null
rm -rf /var/lib/slurm/slurmctld/* /var/lib/slurm/slurmd/*
echo "slurm stopped"
