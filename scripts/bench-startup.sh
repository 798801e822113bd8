#!/usr/bin/env bash
# Cold start of the courier app to its first screen: starts the release binary N times (fresh data
# directory each time, under Xvfb when there is no display) and measures the time from exec until
# the webview has finished loading the UI (the app logs "ui loaded" from Tauri's page-load hook).
# Prints each run and the median. Also prints the release binary's size.
# Usage: scripts/bench-startup.sh [runs]   (builds the release app first if needed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs="${1:-7}"
build_app --release --no-server
bin="$APP_BIN"
start_xvfb
times=()
for i in $(seq 1 "$runs"); do
  dir="$SCRATCH/run-$i"; mkdir -p "$dir"
  ms=$(python3 - "$bin" "$dir" <<'PY'
import os, subprocess, sys, time
binary, home = sys.argv[1], sys.argv[2]
env = dict(os.environ, XDG_DATA_HOME=home, XDG_CACHE_HOME=home + "/cache", DOORSTEP_LOG="info", NO_COLOR="1")
start = time.monotonic()
p = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
ms = None
for line in p.stdout:
    if "ui loaded" in line:
        ms = (time.monotonic() - start) * 1000
        break
p.kill(); p.wait()
print(f"{ms:.0f}" if ms is not None else "none")
PY
)
  rm -rf "$dir" 2>/dev/null || true
  [ "$ms" != none ] || die "run $i: the app exited without logging \"ui loaded\""
  echo "run $i: ${ms} ms"
  times+=("$ms")
done
median=$(printf '%s\n' "${times[@]}" | sort -n \
  | awk '{a[NR]=$1} END {printf "%.0f\n", NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}')
echo "cold start to the first screen, median of $runs: ${median} ms"
echo "release binary: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1))"
