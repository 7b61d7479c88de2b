#!/usr/bin/env bash
# The test network of segmentation: trains scripts/train-segmentation.py on the real CT and
# writes data/models/{ct-unet.onnx,ct-unet.json,ct-targets.raw,...} (see the .py). Cached: a
# stamp holds the hash of the .py; a second run with the same script does nothing.
# Needs the CT (scripts/testdata.sh) and Debian's python3-torch, which is large (~1 GB with its
# dependencies) and so is NOT in scripts/deps.sh: this script installs it on demand when run as
# root (CI), else says what to install. Usage: scripts/train-segmentation.sh [--quiet]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=data/models
STAMP=$OUT/.trained
QUIET=${1:-}
say() { [ "$QUIET" = "--quiet" ] || echo "train-segmentation: $*"; }
hash=$(sha256sum scripts/train-segmentation.py | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$hash" ] && [ -f "$OUT/ct-unet.onnx" ] && [ -f "$OUT/ct-targets.raw" ]; then
  say "up to date ($OUT, remove $STAMP to train again)"
  exit 0
fi
[ -f data/ct/cranium.raw ] || scripts/testdata.sh --quiet
if ! /usr/bin/python3 -c 'import torch, numpy' >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "train-segmentation: needs Debian's python3-torch: sudo apt-get install -y python3-torch python3-numpy" >&2
    exit 3
  fi
  say "installing python3-torch (once; large)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends python3-torch python3-numpy >/dev/null
  }
fi
mkdir -p "$OUT"
rm -f "$STAMP"
if [ "$QUIET" = "--quiet" ]; then
  log=$(mktemp)
  /usr/bin/python3 scripts/train-segmentation.py "$OUT" >"$log" 2>&1 || { cat "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
else
  /usr/bin/python3 scripts/train-segmentation.py "$OUT"
fi
echo "$hash" >"$STAMP"
say "done: $OUT"
