#!/usr/bin/env bash
# A long shift (issue 22): the release courier app (under Xvfb when there is no display), driven
# through tauri-driver + WebKitWebDriver, hands over HANDOVERS parcels (default 200; one stop each,
# no code, created through the shipper API on the demo route's day) through its UI, and the memory
# of its whole process tree is compared before the first and after the last (tests/e2e/shift.mjs).
# Prints the growth in percent per run, then the median.
# Usage: scripts/bench-shift.sh [runs]   (default 1; builds the release app and server if needed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs="${1:-1}"
HANDOVERS="${HANDOVERS:-200}"

build_app --release
start_xvfb
use_scratch

growth_runs=()
for i in $(seq 1 "$runs"); do
  dir="$SCRATCH/run-$i"
  mkdir -p "$dir"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  "$SERVER_BIN" demo --data-dir "$dir/server" --host 127.0.0.1 --port "$port" \
    --seed-json "$dir/seed.json" >"$dir/server.log" 2>&1 &
  server=$!
  stop_at_exit "$server"
  wait_for_url "$url/v1/health" 30 "$dir/server.log" "$server"
  # The demo route has 10 stops of its own; HANDOVERS more, one parcel each.
  seeded="$(python3 -c 'import json,sys; print(len({p["stop_id"] for p in json.load(open(sys.argv[1]))["parcels"]}))' "$dir/seed.json")"
  add_route_parcels "$dir/seed.json" "$((seeded + HANDOVERS))" SHIFT "$dir/parcels.json" >/dev/null

  driver_port="$(free_port)"; native_port="$(free_port)"
  XDG_DATA_HOME="$dir/app" XDG_CACHE_HOME="$dir/cache" DOORSTEP_LOG=warn \
    tauri-driver --port "$driver_port" --native-port "$native_port" \
    --native-driver /usr/bin/WebKitWebDriver >"$dir/driver.log" 2>&1 &
  driver=$!
  stop_at_exit "$driver"
  wait_for_url "http://127.0.0.1:$driver_port/status" 30 "$dir/driver.log" "$driver"
  WEBDRIVER_URL="http://127.0.0.1:$driver_port" APP_BINARY="$APP_BIN" SEED_JSON="$dir/seed.json" \
    PARCELS="$dir/parcels.json" node tests/e2e/shift.mjs | tee "$dir/shift.log" \
    || { show_log "$dir/driver.log"; die "run $i: the shift failed"; }
  growth="$(sed -n 's/.*growth_percent=\([-0-9.]*\).*/\1/p' "$dir/shift.log")"
  [ -n "$growth" ] || die "run $i: no result"
  growth_runs+=("$growth")
  kill "$driver" "$server" 2>/dev/null || true
  wait "$driver" "$server" 2>/dev/null || true
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "after $HANDOVERS handovers the app's whole process tree grew $(median "${growth_runs[@]}") %" \
  "(median of $runs runs: ${growth_runs[*]})"
