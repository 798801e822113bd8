#!/usr/bin/env bash
# Cold start of the courier app to its first screen: starts the release binary N times (fresh data
# directory each time, under Xvfb when there is no display) and measures the time from exec until
# the webview has finished loading the UI (the app logs "ui loaded" from Tauri's page-load hook).
# Prints each run and the median. Also prints the release binary's size.
# Usage: scripts/bench-startup.sh [runs]   (builds the release app first if needed)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-7}"
npm --prefix ui run build >/dev/null
cargo build --release --locked --features custom-protocol --bin doorstep >/dev/null
bin=target/release/doorstep
if [ -z "${DISPLAY:-}" ]; then
  export DISPLAY=":$((200 + RANDOM % 50))"
  Xvfb "$DISPLAY" -screen 0 1024x900x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb=$!; trap 'kill $xvfb 2>/dev/null || true' EXIT
  sleep 1
fi
times=()
for i in $(seq 1 "$runs"); do
  dir="$(mktemp -d)"
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
  echo "run $i: ${ms} ms"
  times+=("$ms")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
echo "cold start to the first screen, median of $runs: ${median} ms"
echo "release binary: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1))"
