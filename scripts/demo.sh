#!/usr/bin/env bash
# The main job in one command: a dispatch server on its embedded SQLite with a fresh demo route, and
# the courier app pointed at it. Installs what is missing first (scripts/bootstrap.sh).
# Options (environment): PORT (default 8080), DEMO_DIR (default .doorstep-demo, wiped each run).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
PORT="${PORT:-8080}"
DEMO_DIR="${DEMO_DIR:-$ROOT/.doorstep-demo}"

bash scripts/bootstrap.sh run
say "building the UI, the dispatch server and the courier app (first time: a few minutes)"
build_app

rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR"
URL="http://127.0.0.1:$PORT"
say "starting the dispatch server on $URL (data in $DEMO_DIR)"
"$SERVER_BIN" demo --data-dir "$DEMO_DIR/server" --host 127.0.0.1 --port "$PORT" \
  --seed-json "$DEMO_DIR/seed.json" &
server=$!
stop_at_exit "$server"
# The server writes seed.json before it starts serving, so once it answers the file is complete.
# Its own output (and so any error) is on this terminal already: no log to show.
wait_for_url "$URL/.well-known/doorstep-keys" 30 "" "$server"
ENROLL_URI="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["enrollment_uri"])' "$DEMO_DIR/seed.json")"

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  start_xvfb "$DEMO_DIR/xvfb.log"
  say "no display here: the app runs under Xvfb on $DISPLAY (see it with e.g. x11vnc -display $DISPLAY,"
  say "or screenshot it: import -window root -display $DISPLAY shot.png)"
fi

say "starting the courier app; it enrolls itself at start (DOORSTEP_ENROLL_URI) with:"
say "  $ENROLL_URI"
say "fleet page: $URL/fleet   dev outbox (codes \"sent\"): $URL/dev/outbox"
say "labels to scan (GS1-128 / Code 128 + QR): $URL/dev/labels"
say "close the app window (or press Ctrl-C) to stop both."
XDG_DATA_HOME="$DEMO_DIR/app" DOORSTEP_ENROLL_URI="$ENROLL_URI" "$APP_BIN"
