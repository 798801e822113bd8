#!/usr/bin/env bash
# Sync over a poor link: N queued deliveries (default 10,000) sent from a device core in a network
# namespace to the dispatch server (release build, demo seed) over an emulated link of
# 300 ms round trip, 1 Mbit/s each way and 2 % packet loss. Prints, per run and as the median of
# the runs: the sync's wall time (target < 60 s) and the bytes that crossed the device's veth in
# both directions per delivery (target <= 300; Ethernet frames: headers, ACKs, retransmissions,
# handshakes included).
#
# Usage (as root: it makes namespaces, veths, qdiscs and nftables tables):
#   scripts/bench-poor-link.sh [runs]          # default 3 runs
# Environment: BENCH_N (deliveries, 10000), LOSS_PCT (loss in EACH direction, 2), DELAY_MS
# (one-way delay, 150), RATE (tc rate, 1mbit); BENCH_BATCH_EVENTS / BENCH_BATCH_BYTES override
# the device's batch limits; POOR_LINK_SERVER_BIN runs another doorstep-server binary (e.g. an
# older release, which takes no gzip: the device then sends plain JSON) instead of building one.
#
# The link (this kernel has no netem, so the parts are built from what it has):
#
#   device ns                     wire ns                            root ns
#   benchmark ── DEV_IF ══ veth ══ WIRE_A  [poor_link_wire.py]  WIRE_B ══ veth ══ HOST_IF ── server
#                tbf 1mbit (up)    150 ms per frame each way, in order        tbf 1mbit (down)
#                loss in (down)                                               loss in (up)
#
# - bandwidth: tbf on the egress of both ends (rate 1mbit, burst 32kbit, latency 400ms);
# - latency: every frame waits DELAY_MS in a userspace wire (scripts/poor_link_wire.py) in its
#   own namespace, so both TCP stacks see the 300 ms round trip in their own timers;
# - loss: nftables `numgen random` drops at the ingress hook of the receiving end, LOSS_PCT of
#   the frames in each direction (2 % each way: a link that loses 2 % of packets loses them both
#   ways; one direction only would be the milder reading). Dropped at the receiver, a lost frame
#   is one the sender has put on the wire and cannot know about, as on a real link.
# - the device's TCP uses reno (see below); the server keeps this machine's congestion control.
# Bytes are counted at the device's veth (DEV_IF: tx = up, rx = down, lost frames included).
# Each run starts a fresh server and a fresh device; the sync phase includes the app's route
# check (a 304) that precedes it, so the first connection's handshake is in the time too.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

runs="${1:-3}"
N="${BENCH_N:-10000}"
LOSS_PCT="${LOSS_PCT:-2}"
DELAY_MS="${DELAY_MS:-150}"
RATE="${RATE:-1mbit}"
export BENCH_N="$N"

[ "$(id -u)" = 0 ] || die "run as root (namespaces, veths, tc, nftables)"
for tool in ip tc nft ethtool python3 curl; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install iproute2 nftables ethtool python3 curl)"
done
loss_permille=$(awk -v p="$LOSS_PCT" 'BEGIN { printf "%d", p * 10 + 0.5 }')

use_scratch
if [ -n "${POOR_LINK_SERVER_BIN:-}" ]; then
  SERVER_BIN="$POOR_LINK_SERVER_BIN"
  [ -x "$SERVER_BIN" ] || die "POOR_LINK_SERVER_BIN=$SERVER_BIN is not an executable"
else
  build_server --release
fi
say "building the device side (benches/poor_link.rs, release)"
bench_exe=$(cargo bench --locked --no-run --message-format=json-render-diagnostics \
  -p doorstep-courier --bench poor_link \
  | python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "poor_link" and m.get("executable"):
        print(m["executable"])') || die "building the poor-link bench failed"
[ -x "$bench_exe" ] || die "no poor_link bench executable"
mkdir -p "$SCRATCH/bin"
_pin_binary "$bench_exe"; BENCH_BIN="$PINNED"

# ---- the link -----------------------------------------------------------------------------------
id=$(($$ % 100000))
NS_DEV="doorstep-pl-dev-$id"
NS_WIRE="doorstep-pl-wire-$id"
DEV_IF="dpl${id}d"; WIRE_A="dpl${id}a"; WIRE_B="dpl${id}b"; HOST_IF="dpl${id}h"
TABLE="doorstep_poor_link_$id"
# A /30 of 10.200.0.0/16 that no interface on this machine uses.
subnet=""
for third in $(seq $((id % 200)) 255) $(seq 0 $((id % 200))); do
  if ! ip -4 -o addr show | grep -q " 10\.200\.$third\."; then subnet="10.200.$third"; break; fi
done
[ -n "$subnet" ] || die "no free /30 in 10.200.0.0/16"
HOST_IP="$subnet.1"; DEV_IP="$subnet.2"

# Cleanup, newest first: the wire and the server (registered later) stop before the link goes.
at_exit "ip netns del $NS_DEV 2>/dev/null; ip netns del $NS_WIRE 2>/dev/null; ip link del $HOST_IF 2>/dev/null; nft delete table netdev $TABLE 2>/dev/null"

say "building the link: $RATE each way, ${DELAY_MS} ms each way, ${LOSS_PCT} % loss each way ($DEV_IP -> $HOST_IP)"
ip netns add "$NS_DEV"
ip netns add "$NS_WIRE"
for ns in "$NS_DEV" "$NS_WIRE"; do
  # No IPv6 chatter (router solicitations, MLD) in the byte counts.
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
# Phones run cubic; a namespace may only pick from the host's allowed list (here reno and bbr),
# and at this bandwidth-delay product (37 KB) cubic runs in its Reno-friendly region anyway.
ip netns exec "$NS_DEV" sysctl -qw net.ipv4.tcp_congestion_control=reno
ip link add "$DEV_IF" type veth peer name "$WIRE_A"
ip link add "$HOST_IF" type veth peer name "$WIRE_B"
sysctl -qw "net.ipv6.conf.$HOST_IF.disable_ipv6=1"
ip link set "$DEV_IF" netns "$NS_DEV"
ip link set "$WIRE_A" netns "$NS_WIRE"
ip link set "$WIRE_B" netns "$NS_WIRE"
# The wire copies frames in userspace: no segmentation offload (frames stay <= MTU) and no
# checksum offload (each frame carries its real checksum).
ip netns exec "$NS_DEV" ethtool -K "$DEV_IF" tx off tso off gso off gro off >/dev/null 2>&1 || true
ethtool -K "$HOST_IF" tx off tso off gso off gro off >/dev/null 2>&1 || true
for dev in "$WIRE_A" "$WIRE_B"; do
  ip netns exec "$NS_WIRE" ethtool -K "$dev" tx off tso off gso off gro off >/dev/null 2>&1 || true
  ip netns exec "$NS_WIRE" ip link set "$dev" up
done
ip netns exec "$NS_DEV" ip addr add "$DEV_IP/30" dev "$DEV_IF"
ip netns exec "$NS_DEV" ip link set "$DEV_IF" up
ip netns exec "$NS_DEV" ip link set lo up
ip addr add "$HOST_IP/30" dev "$HOST_IF"
ip link set "$HOST_IF" up

shape="root tbf rate $RATE burst 32kbit latency 400ms"
# shellcheck disable=SC2086 # $shape is a list of words
ip netns exec "$NS_DEV" tc qdisc add dev "$DEV_IF" $shape
# shellcheck disable=SC2086
tc qdisc add dev "$HOST_IF" $shape

loss_table() { # IFACE: an nftables netdev table that drops LOSS_PCT of what IFACE receives
  cat <<EOF
table netdev $TABLE {
  chain lossy_ingress {
    type filter hook ingress device "$1" priority 0; policy accept;
    numgen random mod 1000 < $loss_permille counter drop
  }
}
EOF
}
if [ "$loss_permille" -gt 0 ]; then
  loss_table "$DEV_IF" | ip netns exec "$NS_DEV" nft -f -
  loss_table "$HOST_IF" | nft -f -
fi

wire_log="$SCRATCH/wire.log"
ip netns exec "$NS_WIRE" python3 -u scripts/poor_link_wire.py "$WIRE_A" "$WIRE_B" "$DELAY_MS" >"$wire_log" 2>&1 &
stop_at_exit $!
wire_pid=$!
for _ in $(seq 1 100); do
  grep -q '^ready' "$wire_log" 2>/dev/null && break
  kill -0 "$wire_pid" 2>/dev/null || { show_log "$wire_log"; die "the wire did not start"; }
  sleep 0.1
done
grep -q '^ready' "$wire_log" || { show_log "$wire_log"; die "the wire did not start within 10 s"; }

# The round trip as TCP sees it: the median time of 15 connects (SYN out, SYN-ACK back).
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind((sys.argv[1], 9)); s.listen(64); s.settimeout(60)
for _ in range(15): s.accept()[0].close()' "$HOST_IP" 2>/dev/null &
probe_pid=$!
sleep 0.3
rtt=$(timeout 90 ip netns exec "$NS_DEV" python3 -c 'import socket, statistics, sys, time
times = []
for _ in range(15):
    t = time.monotonic(); socket.create_connection((sys.argv[1], 9), timeout=10).close()
    times.append(time.monotonic() - t)
print(round(statistics.median(times) * 1000))' "$HOST_IP") || rtt="?"
wait "$probe_pid" 2>/dev/null || true
say "round trip on the link (median TCP connect of 15): $rtt ms"

# bounded SECONDS OUT COMMAND...: runs COMMAND with its output in OUT for at most SECONDS. In the
# background with `wait`, because bash runs its traps only between foreground commands: Ctrl-C
# or kill then ends the script (and the exit hooks stop COMMAND) at once, not after the run.
bounded() {
  local secs="$1" out="$2" pid
  shift 2
  timeout "$secs" "$@" >"$out" 2>&1 &
  pid=$!
  at_exit "kill $pid 2>/dev/null"
  wait "$pid"
}

counter() { # rx|tx: bytes DEV_IF has received / sent
  ip netns exec "$NS_DEV" cat "/sys/class/net/$DEV_IF/statistics/$1_bytes"
}

# ---- the runs -----------------------------------------------------------------------------------
secs_all=(); per_delivery_all=()
for run in $(seq 1 "$runs"); do
  dir="$SCRATCH/run-$run"; mkdir -p "$dir"
  log="$dir/server.log"
  "$SERVER_BIN" demo --data-dir "$dir/server" --host "$HOST_IP" --port 8080 \
    --seed-json "$dir/seed.json" >"$log" 2>&1 &
  server_pid=$!
  stop_at_exit "$server_pid"
  wait_for_url "http://$HOST_IP:8080/v1/health" 60 "$log" "$server_pid"

  say "run $run/$runs: enrolling and committing $N deliveries offline"
  POOR_LINK_PHASE=prepare POOR_LINK_SEED="$dir/seed.json" POOR_LINK_DIR="$dir/device" \
    bounded 900 "$dir/prepare.out" ip netns exec "$NS_DEV" "$BENCH_BIN" \
    || { cat "$dir/prepare.out"; show_log "$log"; die "run $run: prepare failed"; }
  cat "$dir/prepare.out"

  rx0=$(counter rx); tx0=$(counter tx)
  say "run $run/$runs: syncing $N deliveries over the link"
  POOR_LINK_PHASE=sync POOR_LINK_DIR="$dir/device" \
    bounded 600 "$dir/sync.out" ip netns exec "$NS_DEV" "$BENCH_BIN" \
    || { cat "$dir/sync.out"; show_log "$log"; die "run $run: sync failed"; }
  rx1=$(counter rx); tx1=$(counter tx)
  grep -v '^RESULT' "$dir/sync.out"
  secs=$(sed -n 's/^RESULT seconds=\([0-9.]*\).*/\1/p' "$dir/sync.out")
  up=$((tx1 - tx0)); down=$((rx1 - rx0))
  per=$(awk -v u="$up" -v d="$down" -v n="$N" 'BEGIN { printf "%.1f", (u + d) / n }')
  say "run $run/$runs: ${secs} s, $up bytes up + $down bytes down = $per bytes per delivery"
  secs_all+=("$secs"); per_delivery_all+=("$per")

  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  rm -rf "$dir"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.1f", NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
say "runs: ${secs_all[*]} s; ${per_delivery_all[*]} bytes per delivery"
echo "sync of $N queued deliveries over the poor link (${DELAY_MS} ms each way, $RATE, ${LOSS_PCT} % loss each way), median of $runs:" \
  "$(median "${secs_all[@]}") s (target < 60 s), $(median "${per_delivery_all[@]}") bytes per delivery (target <= 300)"
if [ "$loss_permille" -gt 0 ]; then
  say "frames dropped by the loss rules (down, up):" \
    "$(ip netns exec "$NS_DEV" nft list table netdev "$TABLE" | grep -o 'packets [0-9]*' | head -1)," \
    "$(nft list table netdev "$TABLE" | grep -o 'packets [0-9]*' | head -1)"
fi
