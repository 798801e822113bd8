#!/usr/bin/env bash
# The end-to-end scenario of tests/e2e/app.test.mjs against the debug APK on a running Android
# emulator (or a USB phone that `adb` sees), instead of the desktop app. Runs on a hosted runner
# (.github/workflows/android-e2e.yml); these machines have no Android SDK.
#
# Usage: tests/e2e/run-android.sh APK SERVER_BIN
#   APK         the debug APK (debug: cleartext HTTP to the host, WebView debugging for Appium)
#   SERVER_BIN  a doorstep-server binary built for this machine
# Needs adb, and Appium with the UiAutomator2 driver on PATH (`appium`). Seeds a demo route whose
# enrollment link names http://10.0.2.2:<port>, the emulator's address for this machine's
# loopback, starts Appium, then runs the same test file as tests/e2e/run.sh. Logs and screenshots
# go to test-output/e2e-android/.
set -euo pipefail
SAY_TAG=e2e-android
source "$(dirname "$0")/../../scripts/lib.sh"
[ "$#" -eq 2 ] || die "usage: tests/e2e/run-android.sh APK SERVER_BIN"
ANDROID_APK="$(realpath "$1")"; SERVER_BIN="$(realpath "$2")"
[ -f "$ANDROID_APK" ] || die "no APK at $1"
[ -x "$SERVER_BIN" ] || die "no doorstep-server binary at $2"
command -v adb >/dev/null || die "adb is not on PATH (Android SDK platform-tools)"
command -v appium >/dev/null || die "appium is not on PATH (npm install -g appium; appium driver install uiautomator2)"
OUT="$ROOT/test-output/e2e-android"; rm -rf "$OUT"; mkdir -p "$OUT"
use_scratch

adb wait-for-device
say "device: $(adb shell getprop ro.product.model | tr -d '\r'), Android $(adb shell getprop ro.build.version.release | tr -d '\r')"

SERVER_PORT="$(free_port)"
PUBLIC_URL="http://10.0.2.2:$SERVER_PORT"
SERVER_DATA_DIR="$SCRATCH/server"
SEED_JSON="$SCRATCH/seed.json"
say "seeding a demo route in $SERVER_DATA_DIR (port $SERVER_PORT, phones use $PUBLIC_URL)"
"$SERVER_BIN" demo --data-dir "$SERVER_DATA_DIR" --host 127.0.0.1 --port "$SERVER_PORT" \
  --public-url "$PUBLIC_URL" --seed-only --seed-json "$SEED_JSON" >"$OUT/seed.log" 2>&1 \
  || { show_log "$OUT/seed.log"; die "seeding the demo route failed"; }

APPIUM_PORT="$(free_port)"
say "starting Appium on $APPIUM_PORT"
# Chromedriver must match the emulator's WebView version: Appium downloads the matching one.
appium --address 127.0.0.1 --port "$APPIUM_PORT" --log-no-colors \
  --allow-insecure uiautomator2:chromedriver_autodownload >"$OUT/appium.log" 2>&1 &
appium_pid=$!
stop_at_exit "$appium_pid"
wait_for_url "http://127.0.0.1:$APPIUM_PORT/status" 60 "$OUT/appium.log" "$appium_pid"

export WEBDRIVER_URL="http://127.0.0.1:$APPIUM_PORT" ANDROID_APK SERVER_BIN SERVER_DATA_DIR SERVER_PORT
export SEED_JSON PUBLIC_URL SCREENSHOT_DIR="$OUT/screens"
say "running the tests (screenshots in test-output/e2e-android/screens)"
adb logcat -c || true
status=0
node --test --test-reporter=tap tests/e2e/app.test.mjs || status=$?
adb logcat -d >"$OUT/logcat.txt" 2>&1 || true
exit "$status"
