#!/usr/bin/env bash
# The fleet page in Chromium (issue 8): builds the dispatch server, starts `doorstep-server demo`
# on a free loopback port with its data in a scratch folder, and runs tests/fleet/fleet.test.mjs
# (node's test runner, playwright-core from ui/node_modules, Debian's Chromium) against it: publish
# an Android build through the page's upload form, stage a second one and raise its rollout, then a
# phone enrolls and reports its version, and the page counts it and lists it as not updated; then the
# console's inbox, a search and a parcel's proof of delivery, and the import page, without JavaScript.
# Then, on the same server, tests/customer/customer.test.mjs: the customer's page (/c/{ref}) at a
# phone's width — the choices, a refused one, a neighbour saved and the form replayed, instructions,
# the Spanish page, too late to change, the live part refreshed without a reload, a bad link — each
# passing axe under the page's CSP.
#
# Usage: scripts/test-fleet-page.sh
# Environment: CHROMIUM_PATH  the browser (default /usr/bin/chromium)
# The screenshots are written to ui/docs/screens/ (fleet-releases.png, console-inbox.png,
# console-proof.png, console-inbox-tablet.png, and the customer's page: customer-choices.png,
# customer-refused.png, customer-saved.png, customer-es.png, customer-too-late.png,
# customer-bad-link.png); the server's log is left in test-output/fleet/.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
[ -x "$chromium" ] || die "Chromium is missing ($chromium): run scripts/bootstrap.sh test (or: apt-get install chromium)"
[ -f ui/node_modules/playwright-core/index.mjs ] \
  || die "playwright-core is missing: run scripts/bootstrap.sh test (or: npm ci --prefix ui)"

build_server
out="$ROOT/test-output/fleet"; rm -rf "$out"; mkdir -p "$out"

start_demo_server "$out/server.log"
FLEET_URL="$DEMO_URL"

DOORSTEP_ADMIN_TOKEN="$(seed admin_token)"
DOORSTEP_ENROLLMENT_CODE="$(seed enrollment_code)"
export FLEET_URL DOORSTEP_ADMIN_TOKEN DOORSTEP_ENROLLMENT_CODE CHROMIUM_PATH="$chromium"
export SCREENSHOT="$ROOT/ui/docs/screens/fleet-releases.png"
say "the fleet page in Chromium against $FLEET_URL"
node --test --test-reporter=spec tests/fleet/fleet.test.mjs \
  || { show_log "$out/server.log"; die "the fleet page test failed (the server's log is above)"; }

# The customer's page, on the same demo day (the fleet test changes none of its stops).
export DOORSTEP_SEED_JSON="$SCRATCH/seed.json" SCREENSHOT_DIR="$ROOT/ui/docs/screens"
say "the customer's page in Chromium at a phone's width against $FLEET_URL"
node --test --test-reporter=spec tests/customer/customer.test.mjs \
  || { show_log "$out/server.log"; die "the customer page test failed (the server's log is above)"; }
say "passed; screenshots: ui/docs/screens/fleet-releases.png, console-*.png, customer-*.png"
