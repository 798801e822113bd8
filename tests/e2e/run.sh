#!/usr/bin/env bash
# End-to-end test of the real desktop app against the real dispatch server.
# Builds the UI, the app (debug, UI embedded) and the server (scripts/lib.sh build_app); seeds a demo
# route; starts Xvfb (when there is no display) and tauri-driver; then runs tests/e2e/app.test.mjs
# with node's test runner. Logs and screenshots go to test-output/e2e/.
set -euo pipefail
SAY_TAG=e2e
source "$(dirname "$0")/../../scripts/lib.sh"
OUT="$ROOT/test-output/e2e"; rm -rf "$OUT"; mkdir -p "$OUT"
use_scratch

build_app
APP_BINARY="$APP_BIN"

SERVER_PORT="$(free_port)"
SERVER_DATA_DIR="$SCRATCH/server"
SEED_JSON="$SCRATCH/seed.json"
say "seeding a demo route in $SERVER_DATA_DIR (port $SERVER_PORT)"
"$SERVER_BIN" demo --data-dir "$SERVER_DATA_DIR" --host 127.0.0.1 --port "$SERVER_PORT" --seed-only \
  --seed-json "$SEED_JSON" >"$OUT/seed.log" 2>&1 || { show_log "$OUT/seed.log"; die "seeding the demo route failed"; }

start_xvfb "$OUT/xvfb.log"
say "display: $DISPLAY"

DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
APP_DATA_HOME="$SCRATCH/app-data"
say "starting tauri-driver on $DRIVER_PORT (the app keeps its data in $APP_DATA_HOME)"
# The app inherits its environment from the driver: a fresh data directory for each run.
XDG_DATA_HOME="$APP_DATA_HOME" XDG_CACHE_HOME="$SCRATCH/app-cache" DOORSTEP_LOG="${DOORSTEP_LOG:-info}" \
  tauri-driver --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" --native-driver /usr/bin/WebKitWebDriver \
  >"$OUT/tauri-driver.log" 2>&1 &
driver=$!
stop_at_exit "$driver"
wait_for_url "http://127.0.0.1:$DRIVER_PORT/status" 30 "$OUT/tauri-driver.log" "$driver"

export WEBDRIVER_URL="http://127.0.0.1:$DRIVER_PORT" APP_BINARY SERVER_BIN SERVER_DATA_DIR SERVER_PORT SEED_JSON
export APP_DATA_HOME SCREENSHOT_DIR="$OUT/screens"
say "running the tests (screenshots in test-output/e2e/screens)"
node --test --test-reporter=tap tests/e2e/app.test.mjs
