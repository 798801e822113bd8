#!/usr/bin/env bash
# Installs what Doorstep needs to build, run and test, and says what it does.
# Usage: scripts/bootstrap.sh [run|test]   (test also installs test-only tools)
# Safe to run again: each step checks first and skips what is already there.
# Enforces Node.js >= 20.19, the minimum in ui/package.json's "engines" (Vite 7 needs it); it does
# not install Node itself, since Debian 12's nodejs package is too old.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
want="${1:-run}"

# The one place the minimum Node.js version is written is ui/package.json ("node": ">=X.Y").
NODE_MIN="$(grep -oE '"node": *">= *[0-9]+\.[0-9]+' ui/package.json | grep -oE '[0-9]+\.[0-9]+$')" \
  || die "no \"node\": \">=X.Y\" in ui/package.json's engines"

DEBIAN_PACKAGES=(
  build-essential pkg-config curl ca-certificates
  # Tauri 2 on Linux (WebKitGTK 4.1)
  libwebkit2gtk-4.1-dev libssl-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev
  libgtk-3-dev libsoup-3.0-dev libjavascriptcoregtk-4.1-dev
  # running the desktop app without a screen, and driving it by WebDriver
  xvfb xauth webkit2gtk-driver
  # Node for the UI
  nodejs npm
)
if [ "$want" = test ]; then
  # headless browser for the UI screen tests; Python for the test SMTP server; C compilers for the
  # mobile check's C code in dependencies (aarch64 gcc for Android, clang + llvm-ar for iOS)
  DEBIAN_PACKAGES+=(chromium python3 python3-pip python3-venv gcc-aarch64-linux-gnu libc6-dev-arm64-cross clang llvm)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node/npm may come from elsewhere (nvm, NodeSource): their version is checked below
  if command -v node >/dev/null && command -v npm >/dev/null; then
    missing=("${missing[@]/nodejs/}"); missing=("${missing[@]/npm/}")
  fi
  if command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; then
    missing=("${missing[@]/python3-pip/}"); missing=("${missing[@]/python3-venv/}"); missing=("${missing[@]/python3/}")
  fi
  read -r -a missing <<< "${missing[*]}"
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    say "Debian packages: all present"
  fi
else
  say "not a Debian/Ubuntu system: install these yourself (names are Debian's), then run again:"
  printf '  %s\n' "${DEBIAN_PACKAGES[@]}"
  say "and Rust (https://rustup.rs), Node.js >= $NODE_MIN."
fi

if ! node -e '
  const [a, b] = process.versions.node.split(".").map(Number);
  const [x, y] = process.argv[1].split(".").map(Number);
  process.exit(a > x || (a === x && b >= y) ? 0 : 1);' "$NODE_MIN" 2>/dev/null; then
  say "Node.js $(node --version 2>/dev/null || echo 'is missing'): the UI's build tools (Vite 7) need Node.js >= $NODE_MIN."
  die "Install it from nodesource.com or with nvm (Debian 12's own nodejs package is 18), then run again."
fi
say "Node.js $(node --version): >= $NODE_MIN, as ui/package.json asks"

if ! command -v cargo >/dev/null 2>&1; then
  die "Rust is missing: install it from https://rustup.rs (rustup), then run again"
fi

if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  say "UI dependencies: npm ci in ui/"
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
else
  say "UI dependencies: up to date (ui/node_modules)"
fi

if [ "$want" = test ]; then
  if ! command -v tauri-driver >/dev/null 2>&1; then
    say "installing tauri-driver (WebDriver bridge for the real app)"
    cargo install tauri-driver --locked --quiet
  fi
  if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    say "installing aiosmtpd (a real SMTP server for the notification tests)"
    python3 -m pip install --quiet aiosmtpd 2>/dev/null || python3 -m pip install --quiet --break-system-packages aiosmtpd
  fi
  if ! command -v schemathesis >/dev/null 2>&1; then
    say "installing schemathesis 4 (attacks the server through its OpenAPI document: scripts/schemathesis.sh)"
    python3 -m pip install --quiet 'schemathesis>=4.32,<5' 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages 'schemathesis>=4.32,<5'
  fi
  # to check the mobile code
  if command -v rustup >/dev/null 2>&1; then
    ensure_rust_target aarch64-linux-android
    ensure_rust_target aarch64-apple-ios
  fi
  ensure_cargo_fuzz
fi
say "done"
