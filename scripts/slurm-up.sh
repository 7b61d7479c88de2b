#!/usr/bin/env bash
# A single-node slurm on 127.0.0.1 for tests, CI and `remotevis bench slurm`: slurmctld +
# slurmd (Debian's slurm-wlm 22.05) for one node "rvnode" with fake GPUs as gres, partition
# "rv", no systemd, no slurmdbd. munged comes from scripts/munge-up.sh (the same daemon and key
# the middleware uses). Idempotent: when slurm already runs with the same configuration it only
# confirms that the node is up; a different configuration restarts both daemons with a clean
# state. Needs root.
#   scripts/slurm-up.sh           start (or confirm) slurm
#   scripts/slurm-up.sh status    exit 0 when the node answers and is usable
# Environment: NODE_CPUS (default 8, may exceed the real count), NODE_GPUS (default 4, fake
# /dev/null devices), NODE_MEM (MiB, default 4096).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE=rvnode
PARTITION=rv
CPUS=${NODE_CPUS:-8}
GPUS=${NODE_GPUS:-4}
MEM=${NODE_MEM:-4096}
CONF=/etc/slurm
RUN=/run/slurm
LOGS=/var/log/slurm
t0=$(date +%s%N)
elapsed() { echo "$(( ($(date +%s%N) - t0) / 1000000 )) ms"; }

node_state() { sinfo --noheader --nodes="$NODE" --format=%T 2>/dev/null | head -n 1; }
usable() { case "$(node_state)" in idle | mixed | allocated | completing) return 0 ;; *) return 1 ;; esac; }
daemon_alive() { [ -s "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

if [ "${1:-}" = status ]; then usable; exit; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm-up.sh needs root (it writes $CONF and starts slurmctld/slurmd)" >&2
  exit 1
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
  echo "installing slurm (scripts/deps.sh install: slurmctld slurmd slurm-client)"
  scripts/deps.sh install
fi
scripts/munge-up.sh

# The configuration, written to a temporary file first: unchanged + running = nothing to do.
new=$(mktemp)
trap 'rm -f "$new"' EXIT
cat >"$new" <<EOF
# Written by RemoteVis scripts/slurm-up.sh: one node on loopback for tests.
ClusterName=remotevis-ci
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=$RUN/slurmctld.pid
SlurmdPidFile=$RUN/slurmd.pid
SlurmctldLogFile=$LOGS/slurmctld.log
SlurmdLogFile=$LOGS/slurmd.log
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$LOGS/jobcomp.log
# Finished jobs stay visible to squeue/scontrol for 10 minutes (there is no sacct here).
MinJobAge=600
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=1,sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
KillWait=2
MessageTimeout=5
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM Gres=gpu:$GPUS State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF

if cmp -s "$new" "$CONF/slurm.conf" && daemon_alive slurmctld && daemon_alive slurmd && usable; then
  echo "slurm already up (node $NODE $(node_state), partition $PARTITION)"
  exit 0
fi

# Stop what runs (a different configuration, or a half-started slurm), by pid file.
for d in slurmd slurmctld; do
  if daemon_alive "$d"; then
    pid=$(cat "$RUN/$d.pid")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$RUN/$d.pid"
done

install -d -m 0755 "$CONF"
install -d -o slurm -g slurm -m 0755 /var/lib/slurm/slurmctld /var/lib/slurm/slurmd "$LOGS" "$RUN"
install -m 0644 "$new" "$CONF/slurm.conf"
# slurmd 22.05 always loads a cgroup plugin; the autodetected cgroup/v2 dies without systemd.
echo "CgroupPlugin=cgroup/v1" >"$CONF/cgroup.conf"
# A gpu gres needs File= that stats as a device: /dev/null stands in for each GPU. slurm then
# sets CUDA_VISIBLE_DEVICES for a job's GPUs, as it would on a real GPU node.
install -d -m 0755 "$CONF/fakegpu"
for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "$CONF/fakegpu/gpu$i"; done
printf 'AutoDetect=off\nNodeName=%s Name=gpu File=%s/fakegpu/gpu[0-%d]\n' "$NODE" "$CONF" $((GPUS - 1)) >"$CONF/gres.conf"
chmod 0644 "$CONF/cgroup.conf" "$CONF/gres.conf"

/usr/sbin/slurmctld -c   # -c: start from a clean state (no jobs of an earlier configuration)
/usr/sbin/slurmd -N "$NODE"

# Both daemonize before they write their pid files: a missing pid file in the first seconds
# means "not yet", not "died" (CI on a fresh machine failed on exactly that race).
end=$((SECONDS + 60))
while [ $SECONDS -lt $end ]; do
  for d in slurmctld slurmd; do
    [ -s "$RUN/$d.pid" ] || [ $SECONDS -ge $((end - 50)) ] || continue
    if ! daemon_alive "$d"; then
      echo "$d died; last lines of $LOGS/$d.log:" >&2
      tail -n 20 "$LOGS/$d.log" >&2 || true
      exit 1
    fi
  done
  [ "$(node_state)" = idle ] && break
  sleep 0.2
done
if [ "$(node_state)" != idle ]; then
  echo "node $NODE is not idle after 60 s (state: $(node_state)); see $LOGS/slurmctld.log and slurmd.log" >&2
  exit 1
fi
echo "slurm up after $(elapsed): node $NODE ($CPUS CPUs, $GPUS fake GPUs), partition $PARTITION"
