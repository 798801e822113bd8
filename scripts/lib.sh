# Helpers shared by Doorstep's scripts (scripts/*.sh, tests/e2e/run.sh). Source it, don't run it:
#
#   source "$(dirname "$0")/lib.sh"         # from scripts/
#
# Sourcing sets ROOT to the repository root and changes to it; it sets no shell options (each
# script keeps its own `set -euo pipefail` or not). Everything that must be undone when the script
# ends (background processes, Xvfb, the scratch folder) is registered with `at_exit`, and runs
# newest first on any exit, Ctrl-C included.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

# say MESSAGE...: one progress line, tagged with the script's name ([demo], [e2e], ...; set
# SAY_TAG to choose another). Bold only on a terminal, so logs stay plain text.
say() {
  local tag="${SAY_TAG:-$(basename "$0" .sh)}"
  if [ -t 1 ]; then printf '\033[1m[%s]\033[0m %s\n' "$tag" "$*"; else printf '[%s] %s\n' "$tag" "$*"; fi
}

# die MESSAGE...: says what went wrong on stderr and ends the script with status 1.
die() {
  say "$*" >&2
  exit 1
}

# show_log FILE: the last lines of FILE on stderr, framed, for a failure message.
show_log() {
  local file="$1"
  if [ -s "$file" ]; then
    printf -- '----- last lines of %s\n' "$file" >&2
    tail -n 40 "$file" >&2
    printf -- '-----\n' >&2
  else
    printf -- '(%s is empty or missing)\n' "$file" >&2
  fi
}

_exit_hooks=()
# at_exit COMMAND: run COMMAND (a string, evaluated) when the script ends. Hooks run newest first,
# so what was started last is stopped first; a failing hook does not stop the others.
at_exit() { _exit_hooks=("$1" "${_exit_hooks[@]}"); }
_run_exit_hooks() {
  local status=$? hook
  for hook in "${_exit_hooks[@]}"; do eval "$hook" || true; done
  _exit_hooks=()
  return "$status"
}
trap _run_exit_hooks EXIT
# Ctrl-C and kill end the script through `exit`, so the EXIT hooks run for them too.
trap 'exit 130' INT
trap 'exit 143' TERM

# stop_at_exit PID: stop that background process when the script ends.
stop_at_exit() { at_exit "kill $1 2>/dev/null; wait $1 2>/dev/null"; }

# use_scratch: sets SCRATCH to a fresh temporary folder for this run (the same one on every call),
# removed when the script ends. Call it directly, not in $( ): a subshell's SCRATCH is lost.
use_scratch() {
  [ -n "${SCRATCH:-}" ] && return 0
  SCRATCH="$(mktemp -d "${TMPDIR:-/tmp}/doorstep.XXXXXX")"
  # The app's WebKit helper processes may still be writing caches for a moment after the app is
  # stopped; removing the folder must not turn a green run red.
  # shellcheck disable=SC2016 # expanded when the hook runs
  at_exit 'rm -rf "$SCRATCH" 2>/dev/null || { sleep 2; rm -rf "$SCRATCH" 2>/dev/null; }'
}

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_xvfb [LOG]: when there is no display (neither DISPLAY nor WAYLAND_DISPLAY), starts Xvfb,
# exports DISPLAY and stops Xvfb when the script ends. Xvfb picks a free display itself and writes
# its number to a pipe once it accepts connections (-displayfd), so there is no display number to
# collide on and no sleep. Ends the script with Xvfb's log if it does not come up within 30 s.
# shellcheck disable=SC2120 # its arguments are optional
start_xvfb() {
  if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then return 0; fi
  use_scratch
  local log="${1:-$SCRATCH/xvfb.log}" fifo="$SCRATCH/xvfb.displayfd" number=""
  mkfifo "$fifo"
  Xvfb -displayfd 3 -screen 0 1024x900x24 -nolisten tcp 3>"$fifo" >"$log" 2>&1 &
  stop_at_exit $!
  # Opening the pipe waits for Xvfb's end of it; the read ends at Xvfb's line, or empty-handed
  # when Xvfb exits (or is missing) without writing one.
  read -r -t 30 number <"$fifo" || true
  rm -f "$fifo"
  if ! [[ "$number" =~ ^[0-9]+$ ]]; then
    show_log "$log"
    die "Xvfb did not start: it gave no display number within 30 s (its log is above)"
  fi
  export DISPLAY=":$number"
}

# wait_for_url URL SECONDS [LOG [PID]]: polls URL with curl until it answers with a success status.
# Ends the script, naming URL and showing the end of LOG, when it has not answered within SECONDS,
# or as soon as process PID (the one that should serve it) has exited.
wait_for_url() {
  local url="$1" seconds="$2" log="${3:-}" pid="${4:-}" why
  local deadline=$((SECONDS + seconds))
  while true; do
    curl -fs -o /dev/null --max-time 2 "$url" && return 0
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then why="its process ($pid) exited"; break; fi
    if [ "$SECONDS" -ge "$deadline" ]; then why="no answer within $seconds s"; break; fi
    sleep 0.2
  done
  [ -n "$log" ] && show_log "$log"
  die "$url never answered: $why"
}

# build_app [--release] [--no-server]: brings what the app scripts run up to date, and sets
#   APP_BIN     the courier app, with the UI embedded (Tauri's custom-protocol feature)
#   SERVER_BIN  the dispatch server (unless --no-server; see build_server)
# The UI is rebuilt only when a file it is built from is newer than ui/dist; cargo rebuilds only
# what is stale. The binaries are linked into this run's scratch folder, so a build in the shared
# target dir (say, `cargo test`, which builds the app without custom-protocol) cannot swap them
# while the script uses them.
# shellcheck disable=SC2120,SC2034 # optional arguments; APP_BIN, SERVER_BIN are for the caller
build_app() {
  local profile=debug server=1 arg
  for arg in "$@"; do
    case "$arg" in
      --release) profile=release ;;
      --no-server) server=0 ;;
      *) die "build_app: unknown option $arg" ;;
    esac
  done
  local cargo_profile=() app_profile=() app_dir="$profile"
  # The release app builds with its own size profile (Cargo.toml [profile.release-app]); the
  # server keeps `release`.
  [ "$profile" = release ] && cargo_profile=(--release) app_profile=(--profile release-app) app_dir=release-app

  if _ui_is_fresh; then
    say "UI: up to date (ui/dist)"
  else
    say "building the UI (ui/dist)"
    npm --prefix ui run build >/dev/null || die "the UI build failed (npm --prefix ui run build)"
  fi
  say "building the courier app ($app_dir, UI embedded)"
  cargo build --locked "${app_profile[@]}" --features custom-protocol --bin doorstep \
    || die "building the courier app failed"
  use_scratch
  mkdir -p "$SCRATCH/bin"
  _pin_binary "$TARGET_DIR/$app_dir/doorstep"; APP_BIN="$PINNED"
  # The desktop barcode reader's wasm (a Tauri resource); the app also looks for it beside itself.
  _pin_binary "$TARGET_DIR/$app_dir/zxing_reader.wasm"
  if [ "$server" = 1 ]; then build_server "${cargo_profile[@]}"; fi
}
# build_server [--release]: brings the dispatch server up to date and sets SERVER_BIN to this run's
# own copy of it (as build_app does), for scripts that need the server without the app.
# shellcheck disable=SC2120,SC2034 # optional argument; SERVER_BIN is for the caller
build_server() {
  local profile=debug cargo_profile=()
  case "${1:-}" in
    "") ;;
    --release) profile=release cargo_profile=(--release) ;;
    *) die "build_server: unknown option $1" ;;
  esac
  say "building the dispatch server ($profile)"
  cargo build --locked "${cargo_profile[@]}" -p doorstep-server --bin doorstep-server \
    || die "building the dispatch server failed"
  use_scratch
  mkdir -p "$SCRATCH/bin"
  _pin_binary "$TARGET_DIR/$profile/doorstep-server"; SERVER_BIN="$PINNED"
}
# start_demo_server LOG: starts `$SERVER_BIN demo` (see build_server) on a free loopback port with
# its data in this run's scratch folder and its output in LOG, waits for its seed JSON and its
# health check, and sets DEMO_URL and DEMO_PID (the server is stopped when the script exits).
# `seed KEY` then reads a value of the seed JSON (admin_token, enrollment_code, ...).
# shellcheck disable=SC2034 # DEMO_URL, DEMO_PID are for the caller
start_demo_server() {
  local log="$1"
  say "starting the demo server (data in $SCRATCH/data)"
  "$SERVER_BIN" demo --data-dir "$SCRATCH/data" --port 0 \
    --seed-json "$SCRATCH/seed.json" >"$log" 2>&1 &
  DEMO_PID=$!
  stop_at_exit "$DEMO_PID"
  for _ in $(seq 150); do
    [ -s "$SCRATCH/seed.json" ] && break
    kill -0 "$DEMO_PID" 2>/dev/null || { show_log "$log"; die "the demo server exited"; }
    sleep 0.2
  done
  [ -s "$SCRATCH/seed.json" ] || { show_log "$log"; die "the demo server wrote no seed JSON in 30 s"; }
  DEMO_URL="$(seed server_url)"
  wait_for_url "$DEMO_URL/v1/health" 30 "$log" "$DEMO_PID"
}
seed() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$SCRATCH/seed.json" "$1"; }
# _ui_is_fresh: true when ui/dist was built after every file the UI is built from changed
# (vite always rebuilds, and a rewritten ui/dist makes cargo recompile the app that embeds it).
_ui_is_fresh() {
  [ -f ui/dist/index.html ] || return 1
  local newer
  newer="$(find ui/src ui/public ui/index.html ui/package.json ui/package-lock.json \
    ui/node_modules/.package-lock.json ui/vite.config.ts ui/tsconfig.json \
    -newer ui/dist/index.html -print -quit 2>/dev/null)"
  [ -z "$newer" ]
}
# _pin_binary FILE: sets PINNED to this run's own name for FILE: a hard link where the scratch
# folder shares the target dir's file system (cargo replaces files, it does not rewrite them), else
# a copy.
_pin_binary() {
  PINNED="$SCRATCH/bin/$(basename "$1")"
  ln -f "$1" "$PINNED" 2>/dev/null || cp "$1" "$PINNED" || die "cannot copy $1"
}

# ensure_rust_target TRIPLE: adds a Rust target with rustup unless it is installed.
ensure_rust_target() {
  rustup target list --installed | grep -x "$1" >/dev/null && return 0
  say "adding the $1 Rust target"
  rustup target add "$1" >/dev/null
}

# ensure_cargo_fuzz: installs cargo-fuzz unless `cargo fuzz` already works.
ensure_cargo_fuzz() {
  cargo fuzz --version >/dev/null 2>&1 && return 0
  say "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
}

# add_route_parcels SEED_JSON STOPS PREFIX OUT [mixed]: through the shipper API, parcels for new
# recipients (one stop each, on the demo route's day and courier) until the route has STOPS stops;
# their barcodes go to OUT as JSON, and the route's stop count is printed. With `mixed` the declared
# values run from 20 to 919 (some parcels then need a code, as on a real route); without, every
# parcel is worth 20.00 and needs neither a code nor a photo.
add_route_parcels() {
  python3 - "$@" <<'PY'
import json, sys, urllib.request
seed, want, prefix, out = json.load(open(sys.argv[1])), int(sys.argv[2]), sys.argv[3], sys.argv[4]
mixed = len(sys.argv) > 5 and sys.argv[5] == "mixed"
stops = {p["stop_id"] for p in seed["parcels"]}
barcodes, i = [], 0
while len(stops) < want:
    i += 1
    value = 20 + (i * 37) % 900 if mixed else 20
    body = {
        "barcode": f"{prefix}-{i:05d}",
        "recipient": {"name": f"Recipient {i}", "email": f"r{i}@example.com"},
        "address": f"Bench Street {i}, Amsterdam",
        "postal_code": "1015 AA",
        "location": {"lat": 52.37 + i * 1e-4, "lon": 4.89 + i * 1e-4},
        "declared_value": {"amount": f"{value}.00", "currency": "EUR"},
        "method": "hand_to_recipient",
        "delivery_date": seed["date"],
        "courier_id": seed["courier_id"],
        "description": f"Bench parcel {i}",
    }
    req = urllib.request.Request(
        seed["server_url"] + "/v1/parcels", data=json.dumps(body).encode(), method="POST",
        headers={"Authorization": "Bearer " + seed["shipper_api_key"],
                 "Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        made = json.load(r)
    stops.add(made["stop_id"])
    barcodes.append(made["barcode"])
json.dump(barcodes, open(out, "w"))
print(len(stops))
PY
}

