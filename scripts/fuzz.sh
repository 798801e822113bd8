#!/usr/bin/env bash
# Fuzzes the protocol crate's parsers of outside input with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [seconds-per-target] [target...]
#
# Targets: barcode, code, token, wire (all by default). Exits non-zero if any target finds a
# crash; the crashing input is left in crates/protocol/fuzz/artifacts/<target>/.
#
# cargo-fuzz passes nightly-only flags (-Zsanitizer=address, ...) to rustc. This machine has
# stable Rust only, so RUSTC_BOOTSTRAP=1 lets stable rustc accept them; the AddressSanitizer
# runtime ships with the stable x86_64-unknown-linux-gnu standard library.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    targets=(barcode code token wire)
fi

fuzz_dir="$ROOT/crates/protocol/fuzz"

ensure_cargo_fuzz

export RUSTC_BOOTSTRAP=1
cd "$fuzz_dir"

failed=()
for target in "${targets[@]}"; do
    corpus="$fuzz_dir/corpus/$target"
    mkdir -p "$corpus"
    # Seed inputs live in seeds/<target>; libFuzzer only adds to the first corpus folder.
    seeds=()
    if [ -d "$fuzz_dir/seeds/$target" ]; then
        seeds=("$fuzz_dir/seeds/$target")
    fi
    echo "=== fuzzing $target for ${seconds}s"
    if ! cargo fuzz run "$target" "$corpus" "${seeds[@]}" -- \
        -max_total_time="$seconds" -max_len=4096 -rss_limit_mb=2048 -print_final_stats=1; then
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz: crashes found in: ${failed[*]} (inputs in $fuzz_dir/artifacts/)" >&2
    exit 1
fi
echo "fuzz: ${#targets[@]} targets, ${seconds}s each, no crashes"
