#!/usr/bin/env bash
# `make demo`: the main job on embedded defaults. Starts the middleware (local mode) unless one
# already answers, sends the real head CT of Debian's invesalius-examples to a new instance
# (the synthetic sample where the package cannot be had), and prints the viewer URL and a
# screenshot. The middleware and the instance keep running so the URL works; the last lines
# say how to stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
EXE=$PWD/dist/remotevis
PORT=${REMOTEVIS_PORT:-8470}
MW=http://127.0.0.1:$PORT
STATE=$PWD/build/demo
mkdir -p "$STATE"
export UCX_LOG_LEVEL=${UCX_LOG_LEVEL:-error} REMOTEVIS_MIDDLEWARE=$MW

# Identity: as root, munge (started here), the way cluster users prove who they are; as a normal
# user the middleware serves only you and leaves a session token the client picks up.
if [ "$(id -u)" -eq 0 ] && ! scripts/munge-up.sh status 2>/dev/null; then
  scripts/munge-up.sh || { echo "demo: munged did not start (scripts/munge-up.sh)" >&2; exit 1; }
fi

if ! curl -fsS "$MW/api/v1/health" >/dev/null 2>&1; then
  echo "starting the middleware on $MW (log: $STATE/middleware.log)"
  nohup "$EXE" serve --port "$PORT" --state-dir "$STATE/state" >"$STATE/middleware.log" 2>&1 &
  echo $! >"$STATE/middleware.pid"
  for _ in $(seq 100); do curl -fsS "$MW/api/v1/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fsS "$MW/api/v1/health" >/dev/null || { echo "demo: the middleware did not start:" >&2; cat "$STATE/middleware.log" >&2; exit 1; }
fi

if scripts/testdata.sh --quiet >"$STATE/testdata.log" 2>&1 && [ -f data/ct/cranium.raw ]; then
  SOURCE=(data/ct/cranium.raw --preset ct-bone --azimuth 200 --elevation 20)
else
  echo "(the CT of invesalius-examples could not be had, see $STATE/testdata.log: sending a synthetic sample)"
  SOURCE=(--demo)
fi
"$EXE" client render "${SOURCE[@]}" --shading S1 --screenshot "$STATE/screenshot.png" | tee "$STATE/render.txt"
echo
echo "Open the URL above in a browser. 'dist/remotevis client list' shows your instances;"
echo "'dist/remotevis client stop ID' stops one; 'kill \$(cat $STATE/middleware.pid)' stops the middleware."
