#!/usr/bin/env bash
# Attacks the dispatch server through its own OpenAPI document with schemathesis (PyPI):
# builds and starts `doorstep-server demo` on a free loopback port with its data in a scratch
# folder, enrolls a phone through the API (a fixed Ed25519 public key) for a device token, takes
# the admin token and the shipper key from the seed JSON, and runs schemathesis against
# /v1/openapi.json with the three credentials (scripts/schemathesis.toml gives each operation the
# one its security scheme names; scripts/schemathesis_hooks.py puts ids of the demo route into
# half of the requests). Fails on any 5xx, and on any answer the document does not describe: its
# status, its content type or its body.
#
# Usage: scripts/schemathesis.sh                             # CI: 20 examples per operation
#        SCHEMATHESIS_EXAMPLES=500 scripts/schemathesis.sh   # a longer run (a few minutes)
# Environment: SCHEMATHESIS_EXAMPLES  examples per operation and phase (default 20)
#              SCHEMATHESIS_MAX_TIME  seconds before the run is stopped and failed (default 900)
#              SCHEMATHESIS_SEED      replay a run with the seed it printed
# The junit report and the server's log are left in test-output/schemathesis/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

examples="${SCHEMATHESIS_EXAMPLES:-20}"
max_time="${SCHEMATHESIS_MAX_TIME:-900}"
# The checks: no 5xx, and every answer as the document describes it. Not the
# positive/negative data checks: they would need the schemas to repeat every rule the server
# checks (barcode check digits, E.164, ...), which only the server can decide.
checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
# RFC 8032's first test key: any valid Ed25519 public key enrolls; nothing is signed with it.
device_key=d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a

command -v schemathesis >/dev/null 2>&1 \
  || die "schemathesis is missing: run scripts/bootstrap.sh test (or: python3 -m pip install schemathesis)"

build_server
out="$ROOT/test-output/schemathesis"; rm -rf "$out"; mkdir -p "$out"
start_demo_server "$out/server.log"
url="$DEMO_URL" server="$DEMO_PID"

say "enrolling a phone through the API"
curl -fsS -X POST "$url/v1/devices/enroll" -H 'content-type: application/json' \
  -d "{\"enrollment_code\": \"$(seed enrollment_code)\", \"device_public_key\": \"$device_key\", \"app_version\": \"0.1.0\", \"platform\": \"linux\"}" \
  -o "$SCRATCH/enroll.json" || die "the enrollment failed"
DOORSTEP_DEVICE_TOKEN="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["device_token"])' "$SCRATCH/enroll.json")"
DOORSTEP_ADMIN_TOKEN="$(seed admin_token)"
DOORSTEP_SHIPPER_KEY="$(seed shipper_api_key)"
export DOORSTEP_DEVICE_TOKEN DOORSTEP_ADMIN_TOKEN DOORSTEP_SHIPPER_KEY
# scripts/schemathesis_hooks.py gives half of the requests ids of the demo route.
export DOORSTEP_SEED_JSON="$SCRATCH/seed.json" SCHEMATHESIS_HOOKS="$ROOT/scripts/schemathesis_hooks.py"

say "schemathesis: $examples examples per operation against $url/v1/openapi.json"
seed_args=()
[ -n "${SCHEMATHESIS_SEED:-}" ] && seed_args=(--seed "$SCHEMATHESIS_SEED")
start=$SECONDS
status=0
timeout --signal=INT --kill-after=30 "$max_time" \
  schemathesis --config-file "$ROOT/scripts/schemathesis.toml" run "$url/v1/openapi.json" \
    --url "$url" --checks "$checks" --max-examples "$examples" "${seed_args[@]}" \
    --report junit --report-junit-path "$out/junit.xml" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 130 ]; then
  die "schemathesis did not finish within $max_time s (SCHEMATHESIS_MAX_TIME)"
fi
kill -0 "$server" 2>/dev/null || { show_log "$out/server.log"; die "the server died during the run"; }
[ "$status" -eq 0 ] || die "schemathesis found problems (above; the server's log is $out/server.log)"
say "passed in $((SECONDS - start)) s"
