#!/usr/bin/env bash
# Type-checks the app crate, including its mobile-only code (#[cfg(mobile)], the barcode scanner
# plugin, the mobile entry point), for Android on arm64. This machine has no Android NDK/SDK, so no
# APK is built here: that happens on hosted CI runners (see README). C code inside dependencies
# (SQLite, ring) is compiled with Debian's aarch64 cross compiler in place of the NDK's clang; only
# object files are made (cargo check never links), so this proves the Rust code compiles for Android.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ensure_rust_target aarch64-linux-android
if [ -z "${ANDROID_NDK_HOME:-}" ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null \
    || die "aarch64-linux-gnu-gcc missing: apt-get install gcc-aarch64-linux-gnu (or set ANDROID_NDK_HOME)"
  export CC_aarch64_linux_android=aarch64-linux-gnu-gcc AR_aarch64_linux_android=aarch64-linux-gnu-ar
fi
cargo check --locked --target aarch64-linux-android -p doorstep --lib
echo "android check: ok (cargo check --target aarch64-linux-android -p doorstep)"
