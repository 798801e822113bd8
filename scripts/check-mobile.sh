#!/usr/bin/env bash
# Checks the mobile app as far as a Linux machine without the Android SDK/NDK or Xcode can:
#  1. gen/android is exactly what scripts/gen-mobile.sh generates (the Tauri CLI's project plus
#     Doorstep's permissions, debug-only cleartext and signing); fails naming the files that drift;
#  2. the app crate type-checks for Android (aarch64-linux-android) and iOS (aarch64-apple-ios),
#     mobile-only code included (#[cfg(mobile)], the barcode scanner, geolocation, haptics and
#     opener plugins, the mobile entry point). Both targets go through one cargo run, so the build
#     scripts and proc macros, which run on this machine, are compiled once for both.
# Nothing is linked (cargo check), so no APK or IPA is made: hosted runners do that
# (.github/workflows/release.yml, docs/mobile.md). Build scripts still compile the C code inside
# dependencies (SQLite, ring): for Android with Debian's aarch64 cross compiler in place of the
# NDK's clang. For iOS that C code needs the iOS SDK's headers, which only Xcode has, so a
# stand-in compiler gives each C file an empty iOS object (Debian's clang compiling an empty
# file; llvm-ar archives them): the Rust is checked, the C code of the dependencies is not.
# SDKROOT names an empty folder so that the cc crate does not ask xcrun (macOS only) for the SDK.
# Both live in the target folder at a path that does not change, because the cc crate reruns its
# build scripts (and so cargo rechecks everything above them) whenever CC_*, AR_* or SDKROOT change.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

bash scripts/gen-mobile.sh --check

ensure_rust_target aarch64-linux-android
ensure_rust_target aarch64-apple-ios
if [ -z "${ANDROID_NDK_HOME:-}" ]; then
  command -v aarch64-linux-gnu-gcc >/dev/null \
    || die "aarch64-linux-gnu-gcc missing: apt-get install gcc-aarch64-linux-gnu (or set ANDROID_NDK_HOME)"
  export CC_aarch64_linux_android=aarch64-linux-gnu-gcc AR_aarch64_linux_android=aarch64-linux-gnu-ar
fi
if [ "$(uname -s)" != Darwin ]; then
  for tool in clang llvm-ar; do
    command -v "$tool" >/dev/null || die "$tool missing: apt-get install clang llvm"
  done
  stand_in="$TARGET_DIR/mobile-check"
  mkdir -p "$stand_in/no-ios-sdk"
  cat >"$stand_in/ios-cc.new" <<'CC'
#!/bin/sh
# Written by scripts/check-mobile.sh: for `cc ... -c SOURCE -o OBJECT`, an empty iOS object file;
# anything else (the cc crate's probes) goes to clang as it is.
out="" compile="" prev=""
for arg in "$@"; do
  [ "$prev" = "-o" ] && out="$arg"
  [ "$arg" = "-c" ] && compile=1
  prev="$arg"
done
if [ -n "$compile" ] && [ -n "$out" ]; then
  exec clang --target=arm64-apple-ios -x c -c /dev/null -o "$out"
fi
exec clang "$@"
CC
  if cmp -s "$stand_in/ios-cc.new" "$stand_in/ios-cc"; then
    rm "$stand_in/ios-cc.new"
  else
    mv "$stand_in/ios-cc.new" "$stand_in/ios-cc"
  fi
  chmod +x "$stand_in/ios-cc"
  export CC_aarch64_apple_ios="$stand_in/ios-cc" AR_aarch64_apple_ios=llvm-ar SDKROOT="$stand_in/no-ios-sdk"
fi
cargo check --locked --target aarch64-linux-android --target aarch64-apple-ios -p doorstep --lib
echo "mobile check: ok (gen/android as generated; cargo check -p doorstep for aarch64-linux-android and aarch64-apple-ios)"
