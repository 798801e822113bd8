#!/usr/bin/env bash
# End-to-end test of the real desktop app against the real dispatch server.
# Builds the UI, the app (debug, UI embedded) and the server; seeds a demo route; starts Xvfb (when
# there is no display) and tauri-driver; then runs tests/e2e/app.test.mjs with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT="$PWD"
OUT="$ROOT/test-output/e2e"; rm -rf "$OUT"; mkdir -p "$OUT"
WORK="$(mktemp -d)"
pids=()
# The app's WebKit helper processes may still be writing caches for a moment after the driver
# stops; removing the scratch folder must not turn a green run red.
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK" 2>/dev/null || { sleep 2; rm -rf "$WORK" 2>/dev/null || true; }
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "[e2e] building the UI, the app (debug, UI embedded) and the server"
npm --prefix ui run build >/dev/null
cargo build --locked --features custom-protocol --bin doorstep
cargo build --locked -p doorstep-server --bin doorstep-server
APP_BINARY="$ROOT/target/debug/doorstep"
SERVER_BIN="$ROOT/target/debug/doorstep-server"

SERVER_PORT="$(free_port)"
SERVER_DATA_DIR="$WORK/server"
SEED_JSON="$WORK/seed.json"
echo "[e2e] seeding a demo route in $SERVER_DATA_DIR (port $SERVER_PORT)"
"$SERVER_BIN" demo --data-dir "$SERVER_DATA_DIR" --host 127.0.0.1 --port "$SERVER_PORT" --seed-only --seed-json "$SEED_JSON" >"$OUT/seed.log" 2>&1 \
  || { cat "$OUT/seed.log"; exit 1; }

if [ -z "${DISPLAY:-}" ]; then
  export DISPLAY=":$((90 + RANDOM % 100))"
  echo "[e2e] no display: starting Xvfb on $DISPLAY"
  Xvfb "$DISPLAY" -screen 0 1024x900x24 -nolisten tcp >"$OUT/xvfb.log" 2>&1 &
  pids+=($!)
  sleep 1
fi

DRIVER_PORT="$(free_port)"; NATIVE_PORT="$(free_port)"
APP_DATA_HOME="$WORK/app-data"
echo "[e2e] starting tauri-driver on $DRIVER_PORT (the app keeps its data in $APP_DATA_HOME)"
# The app inherits its environment from the driver: a fresh data directory for each run.
XDG_DATA_HOME="$APP_DATA_HOME" XDG_CACHE_HOME="$WORK/app-cache" DOORSTEP_LOG="${DOORSTEP_LOG:-info}" tauri-driver --port "$DRIVER_PORT" --native-port "$NATIVE_PORT" --native-driver /usr/bin/WebKitWebDriver >"$OUT/tauri-driver.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fs "http://127.0.0.1:$DRIVER_PORT/status" >/dev/null 2>&1 && break; sleep 0.2; done

export WEBDRIVER_URL="http://127.0.0.1:$DRIVER_PORT" APP_BINARY SERVER_BIN SERVER_DATA_DIR SERVER_PORT SEED_JSON
export APP_DATA_HOME SCREENSHOT_DIR="$OUT/screens"
echo "[e2e] running the tests (screenshots in test-output/e2e/screens)"
node --test --test-reporter=tap tests/e2e/app.test.mjs
