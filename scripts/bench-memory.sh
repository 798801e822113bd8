#!/usr/bin/env bash
# Memory of the courier app with a long route on screen: the release app (under Xvfb when there is
# no display) enrolled against a demo dispatch server whose route has STOPS stops (default 200),
# measured over its whole process tree: the app and every process it started (WebKitWebProcess,
# WebKitNetworkProcess, ...). Per run: the server seeds the demo route (10 stops) and the rest of
# the stops are created through the shipper API (POST /v1/parcels, one recipient and address
# each); the app enrolls itself at start (DOORSTEP_ENROLL_URI), logs "ui loaded", downloads the
# manifest and shows the route. Once the manifest is in the app's database and the UI has had
# SETTLE seconds (default 3) to draw it, the tree is sampled every 0.5 s for SAMPLE seconds
# (default 10). Each run prints the largest sum seen of
#   PSS  (proportional set size, /proc/<pid>/smaps_rollup: shared pages split between the
#         processes that map them, so the sum is what the tree really holds), and of
#   RSS  (VmRSS, /proc/<pid>/status: counts a shared library once per process, so it overstates),
# with the per-process split at that moment. Then, the route still on screen and nothing to
# sync, the tree's CPU time (utime + stime of every process, /proc/<pid>/stat) is read before and
# after IDLE seconds (default 60): the share of one core the waiting app uses. The medians over
# the runs come last.
# Usage: scripts/bench-memory.sh [runs]   (default 3; builds the release app and server if needed)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
runs="${1:-3}"
STOPS="${STOPS:-200}"
SETTLE="${SETTLE:-3}"
SAMPLE="${SAMPLE:-10}"
IDLE="${IDLE:-60}"

build_app --release
start_xvfb
use_scratch

# manifest_stops DATA_HOME: the number of stops in the manifest the app saved, or nothing yet.
manifest_stops() {
  python3 - "$1" <<'PY'
import glob, json, sqlite3, sys
for path in glob.glob(sys.argv[1] + "/**/doorstep.sqlite3", recursive=True):
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        row = db.execute("SELECT body FROM manifest ORDER BY date DESC LIMIT 1").fetchone()
    except sqlite3.Error:
        continue
    if row:
        print(len(json.loads(row[0])["stops"]))
PY
}

# sample_tree PID SECONDS: samples the memory of PID and its descendants; prints one line
# "pss_kb rss_kb" with the largest sums seen, then the per-process split at the largest PSS.
sample_tree() {
  python3 - "$1" "$2" <<'PY'
import os, sys, time
root, seconds = int(sys.argv[1]), float(sys.argv[2])

def tree():
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(p))
    pids, i = [root], 0
    while i < len(pids):
        pids += children.get(pids[i], [])
        i += 1
    return pids

def field(path, name):
    with open(path) as f:
        for line in f:
            if line.startswith(name):
                return int(line.split()[1])
    return 0

best, best_rss, split = 0, 0, []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    rows = []
    for pid in tree():
        try:
            with open(f"/proc/{pid}/comm") as f:
                name = f.read().strip()
            rows.append((name, pid, field(f"/proc/{pid}/smaps_rollup", "Pss:"),
                         field(f"/proc/{pid}/status", "VmRSS:")))
        except OSError:
            continue
    if not rows or rows[0][1] != root:
        sys.exit("the app exited while it was being measured")
    pss, rss = sum(r[2] for r in rows), sum(r[3] for r in rows)
    best_rss = max(best_rss, rss)
    if pss > best:
        best, split = pss, rows
    time.sleep(0.5)
print(best, best_rss)
for name, pid, pss, rss in sorted(split, key=lambda r: -r[2]):
    print(f"    {name:<22} pid {pid:<8} PSS {pss / 1024:7.1f} MiB   RSS {rss / 1024:7.1f} MiB")
PY
}

# idle_cpu PID SECONDS: the share of one core (percent, two decimals) PID and its descendants
# used over SECONDS, from their CPU time in /proc/<pid>/stat (a process that exits in between
# is counted up to its last reading).
idle_cpu() {
  python3 - "$1" "$2" <<'PY'
import os, sys, time
root, seconds = int(sys.argv[1]), float(sys.argv[2])
hz = os.sysconf("SC_CLK_TCK")

def ticks():
    children, times = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(rest[1]), []).append(int(p))
        times[int(p)] = int(rest[11]) + int(rest[12])
    pids, i = [root], 0
    while i < len(pids):
        pids += children.get(pids[i], [])
        i += 1
    return {p: times.get(p, 0) for p in pids}

before = ticks()
if root not in before:
    sys.exit("the app is not running")
start = time.monotonic()
time.sleep(seconds)
after = ticks()
elapsed = time.monotonic() - start
used = sum(max(0, t - before.get(p, 0)) for p, t in after.items())
print(f"{100 * used / hz / elapsed:.2f}")
PY
}

# mb KIB: /proc's kB (KiB) as MiB, one decimal.
mb() { awk -v kb="$1" 'BEGIN { printf "%.1f MiB", kb / 1024 }'; }

pss_runs=()
rss_runs=()
cpu_runs=()
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
  stops="$(add_route_parcels "$dir/seed.json" "$STOPS" ROUTE "$dir/parcels.json" mixed)"
  enroll_uri="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["enrollment_uri"])' "$dir/seed.json")"

  XDG_DATA_HOME="$dir/app" XDG_CACHE_HOME="$dir/cache" DOORSTEP_ENROLL_URI="$enroll_uri" \
    DOORSTEP_LOG=info NO_COLOR=1 "$APP_BIN" >"$dir/app.log" 2>&1 &
  app=$!
  stop_at_exit "$app"
  deadline=$((SECONDS + 60))
  shown=""
  while [ -z "$shown" ]; do
    kill -0 "$app" 2>/dev/null || { show_log "$dir/app.log"; die "run $i: the app exited"; }
    [ "$SECONDS" -lt "$deadline" ] || { show_log "$dir/app.log"; die "run $i: no route after 60 s"; }
    grep -q "ui loaded" "$dir/app.log" && shown="$(manifest_stops "$dir/app")"
    [ -n "$shown" ] || sleep 0.2
  done
  sleep "$SETTLE"
  sample="$(sample_tree "$app" "$SAMPLE")" || { show_log "$dir/app.log"; die "run $i: sampling failed"; }
  cpu="$(idle_cpu "$app" "$IDLE")" || { show_log "$dir/app.log"; die "run $i: the CPU reading failed"; }
  kill "$app" "$server" 2>/dev/null || true
  wait "$app" "$server" 2>/dev/null || true
  read -r pss rss <<<"$(head -n1 <<<"$sample")"
  printf 'run %s: route of %s stops (server: %s) on screen; whole tree PSS %s, RSS %s\n' \
    "$i" "$shown" "$stops" "$(mb "$pss")" "$(mb "$rss")"
  tail -n +2 <<<"$sample"
  printf '  waiting on the route screen for %s s: %s %% of one core (whole tree)\n' "$IDLE" "$cpu"
  cpu_runs+=("$cpu")
  pss_runs+=("$pss")
  rss_runs+=("$rss")
  rm -rf "$dir" 2>/dev/null || true
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
echo "app with a $STOPS-stop route, whole process tree, median of $runs runs:" \
  "PSS $(mb "$(median "${pss_runs[@]}")"), RSS $(mb "$(median "${rss_runs[@]}")")" \
  "(runs: PSS ${pss_runs[*]} KiB; RSS ${rss_runs[*]} KiB)"
echo "the app waiting on the route screen, whole process tree, median of $runs runs:" \
  "$(median "${cpu_runs[@]}") % of one core over $IDLE s (runs: ${cpu_runs[*]})"
