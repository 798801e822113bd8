#!/usr/bin/env bash
# Installs what Doorstep needs to build, run and test, and says what it does.
# Usage: scripts/bootstrap.sh [run|test]   (test also installs test-only tools)
# Safe to run again: each step checks first and skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
want="${1:-run}"

say() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

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
  # headless browser for the UI screen tests; Python for the test SMTP server
  DEBIAN_PACKAGES+=(chromium python3 python3-pip python3-venv gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
fi

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${DEBIAN_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  # node/npm may come from elsewhere (nvm, NodeSource): accept any node >= 18
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
  say "and Rust (https://rustup.rs), Node.js >= 18."
fi

if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' 2>/dev/null; then
  say "Node.js $(node --version 2>/dev/null || echo 'is missing'): the UI's build tools (Vite 7) need Node.js >= 20.19."
  say "Install it from nodesource.com or with nvm (Debian 12's own nodejs package is 18), then run again."
  exit 1
fi

if ! command -v cargo >/dev/null 2>&1; then
  say "Rust is missing: install it from https://rustup.rs (rustup), then run again"; exit 1
fi

say "UI dependencies: npm ci in ui/"
if [ ! -d ui/node_modules ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
  npm --prefix ui ci --no-audit --no-fund --loglevel=error
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
  if command -v rustup >/dev/null 2>&1 && ! rustup target list --installed | grep -q aarch64-linux-android; then
    say "adding the aarch64-linux-android Rust target (to check the mobile code)"
    rustup target add aarch64-linux-android >/dev/null
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
  fi
fi
say "done"
