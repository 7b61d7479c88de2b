#!/usr/bin/env bash
# Starts munged (MUNGE authentication) with the Debian default paths, as the 'munge' user, so
# that `munge -n | unmunge` works on this machine. Idempotent: does nothing when a munged
# already answers. Needs root the first time (key, /run/munge); CI calls it before the tests.
#   scripts/munge-up.sh          start (or confirm) munged
#   scripts/munge-up.sh status   exit 0 when munged answers
set -euo pipefail
SOCKET=/run/munge/munge.socket.2
KEY=/etc/munge/munge.key

answers() { munge -n -S "$SOCKET" 2>/dev/null | unmunge -S "$SOCKET" >/dev/null 2>&1; }

if [ "${1:-}" = status ]; then answers; exit; fi
answers && exit 0

if ! command -v munged >/dev/null; then
  echo "munge is not installed: run 'scripts/deps.sh install' (Debian packages munge, libmunge-dev)" >&2
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "munged is not running and starting it needs root: sudo $0" >&2
  exit 1
fi

id munge >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin munge
install -d -o munge -g munge -m 0700 /etc/munge
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/lib/munge /var/log/munge
if [ ! -s "$KEY" ]; then
  if command -v mungekey >/dev/null; then mungekey --create --keyfile="$KEY"
  else dd if=/dev/urandom of="$KEY" bs=1 count=1024 status=none; fi
fi
chown munge:munge "$KEY"
chmod 0600 "$KEY"
# A stale pid file or socket from a killed munged makes the new one refuse to start.
if [ -f /run/munge/munged.pid ] && ! kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then
  rm -f /run/munge/munged.pid "$SOCKET" "$SOCKET.lock"
fi
runuser -u munge -- munged --socket="$SOCKET" --key-file="$KEY" --force

for _ in $(seq 50); do answers && exit 0; sleep 0.1; done
echo "munged did not come up; see /var/log/munge/munged.log:" >&2
tail -n 20 /var/log/munge/munged.log >&2 || true
exit 1
