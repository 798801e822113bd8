#!/usr/bin/env bash
# The main job in one command: a dispatch server on its embedded SQLite with a fresh demo route, and
# the courier app pointed at it. Installs what is missing first (scripts/bootstrap.sh).
# Options (environment): PORT (default 8080), DEMO_DIR (default .doorstep-demo, wiped each run).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
PORT="${PORT:-8080}"
DEMO_DIR="${DEMO_DIR:-$ROOT/.doorstep-demo}"

bash scripts/bootstrap.sh run
echo "[demo] building the UI, the dispatch server and the courier app (first time: a few minutes)"
npm --prefix ui run build >/dev/null
cargo build --locked -p doorstep-server --bin doorstep-server
cargo build --locked --features custom-protocol --bin doorstep

rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

echo "[demo] starting the dispatch server on http://127.0.0.1:$PORT (data in $DEMO_DIR)"
target/debug/doorstep-server demo --data-dir "$DEMO_DIR/server" --host 127.0.0.1 --port "$PORT" \
  --seed-json "$DEMO_DIR/seed.json" &
pids+=($!)
for _ in $(seq 1 100); do
  [ -s "$DEMO_DIR/seed.json" ] && curl -fs "http://127.0.0.1:$PORT/.well-known/doorstep-keys" >/dev/null 2>&1 && break
  sleep 0.2
done
ENROLL_URI="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["enrollment_uri"])' "$DEMO_DIR/seed.json")"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  export DISPLAY=":$((90 + RANDOM % 100))"
  Xvfb "$DISPLAY" -screen 0 1024x900x24 -nolisten tcp >/dev/null 2>&1 &
  pids+=($!)
  echo "[demo] no display here: the app runs under Xvfb on $DISPLAY (see it with e.g. x11vnc -display $DISPLAY,"
  echo "       or screenshot it: import -window root -display $DISPLAY shot.png)"
  sleep 1
fi

echo "[demo] starting the courier app; it enrolls itself at start (DOORSTEP_ENROLL_URI) with:"
echo "       $ENROLL_URI"
echo "[demo] fleet page: http://127.0.0.1:$PORT/fleet   dev outbox (codes \"sent\"): http://127.0.0.1:$PORT/dev/outbox"
echo "[demo] labels to scan (Code 128 + QR): http://127.0.0.1:$PORT/dev/labels"
echo "[demo] close the app window (or press Ctrl-C) to stop both."
XDG_DATA_HOME="$DEMO_DIR/app" DOORSTEP_ENROLL_URI="$ENROLL_URI" target/debug/doorstep
