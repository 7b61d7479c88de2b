#!/usr/bin/env bash
# Two test hosts on this machine: network namespaces rvA (10.203.77.1) and rvB (10.203.77.2)
# joined by a veth pair. Used by the network tests and the veth case of `remotevis bench
# transfer`. Needs root. Traffic never leaves the machine: the namespaces have no other link.
#   scripts/netns.sh up | down | status
set -euo pipefail
A=${RV_NETNS_A:-rvA}
B=${RV_NETNS_B:-rvB}
case "${1:-}" in
  up)
    "$0" down >/dev/null 2>&1 || true
    ip netns add "$A"
    ip netns add "$B"
    ip link add "$A-veth" type veth peer name "$B-veth"
    ip link set "$A-veth" netns "$A"
    ip link set "$B-veth" netns "$B"
    ip -n "$A" addr add 10.203.77.1/24 dev "$A-veth"
    ip -n "$B" addr add 10.203.77.2/24 dev "$B-veth"
    for ns in "$A" "$B"; do
      ip -n "$ns" link set lo up
      ip -n "$ns" link set "$ns-veth" up
    done
    ;;
  down)
    ip netns del "$A" 2>/dev/null || true
    ip netns del "$B" 2>/dev/null || true
    ;;
  status)
    ip netns list | grep -E "^($A|$B)( |$)" || { echo "no test namespaces"; exit 1; }
    ;;
  *)
    echo "usage: $0 up|down|status" >&2
    exit 2
    ;;
esac
