#!/usr/bin/env bash
# Runs every Doorstep test: formatting and lints, the Rust crates' tests (protocol, device core,
# dispatch server; the server's suite on SQLite and again on PostgreSQL), the fleet page in Chromium, the UI's unit and screen tests, brief fuzzing of the parsers, a check of the
# mobile projects (gen/android as generated, the mobile-only Rust code for Android and iOS), the CI
# workflows (actionlint), and the end-to-end run of the real desktop app by WebDriver.
# Installs what is missing first (scripts/bootstrap.sh test). Exit code 0 only if every stage passed.
# Usage: scripts/test.sh [stage ...]   (default: all stages; see `all_stages` below)
set -uo pipefail
source "$(dirname "$0")/lib.sh"
all_stages=(fmt layers workflows clippy rust postgres schemathesis fleet-page ui-unit ui-build ui-screens fuzz mobile e2e)
stages=("${all_stages[@]}")
[ "$#" -gt 0 ] && stages=("$@")
for s in "${stages[@]}"; do
  [[ " ${all_stages[*]} " == *" $s "* ]] || { echo "unknown stage $s (stages: ${all_stages[*]})"; exit 2; }
done

# One log per stage of this run; the totals below are counted over them, so no old log may stay.
LOGS="$ROOT/test-output/logs"; rm -rf "$LOGS"; mkdir -p "$LOGS"

bash scripts/bootstrap.sh test || die "bootstrap failed"
export CARGO_TERM_COLOR=never

declare -A result
run_stage() {
  local name="$1"; shift
  printf '\n\033[1m==> %s\033[0m: %s\n' "$name" "$*"
  local start=$SECONDS
  if "$@" 2>&1 | tee "$LOGS/$name.log"; then result[$name]="ok"; else result[$name]="FAILED"; fi
  result[$name]+=" ($((SECONDS - start)) s)"
}

for s in "${stages[@]}"; do
  case "$s" in
    fmt)        run_stage fmt cargo fmt --all --check ;;
    layers)     run_stage layers python3 scripts/check-layers.py ;;
    workflows)  run_stage workflows node scripts/lint-workflows.mjs ;;
    clippy)     run_stage clippy cargo clippy --workspace --all-targets --locked -- -D warnings ;;
    rust)       run_stage rust cargo test --workspace --locked ;;
    postgres)   run_stage postgres bash scripts/test-postgres.sh ;;
    schemathesis) run_stage schemathesis bash scripts/schemathesis.sh ;;
    fleet-page) run_stage fleet-page bash scripts/test-fleet-page.sh ;;
    ui-unit)    run_stage ui-unit npm --prefix ui test ;;
    # The courier app's UI, then the console's scripts: the committed, embedded assets are the
    # ones their sources build (ui/console/build.mjs).
    ui-build)   run_stage ui-build bash -c 'npm --prefix ui run build && node ui/console/build.mjs --check' ;;
    ui-screens) run_stage ui-screens npm --prefix ui run test:screens ;;
    fuzz)       run_stage fuzz bash scripts/fuzz.sh "${FUZZ_SECONDS:-15}" ;;
    mobile)     run_stage mobile bash scripts/check-mobile.sh ;;
    e2e)        run_stage e2e bash tests/e2e/run.sh ;;
  esac
done

# Totals over the runners' own summary lines (cargo test, vitest, the node test runners).
passed=0; failed=0
for f in "$LOGS"/*.log; do
  [ -e "$f" ] || continue
  while read -r p q; do passed=$((passed + p)); failed=$((failed + q)); done < <(
    grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$f" | awk '{print $4, $6}')
  while read -r p; do passed=$((passed + p)); done < <(grep -aoE '^ +Tests +[0-9]+ passed' "$f" | awk '{print $2}')
  while read -r q; do failed=$((failed + q)); done < <(grep -aoE '^ +Tests +[0-9]+ failed' "$f" | awk '{print $2}')
  while read -r p; do passed=$((passed + p)); done < <(grep -aoE '^# pass [0-9]+' "$f" | awk '{print $3}')
  while read -r q; do failed=$((failed + q)); done < <(grep -aoE '^# fail [0-9]+' "$f" | awk '{print $3}')
done

echo
echo "Stages:"
status=0
for s in "${stages[@]}"; do
  printf '  %-11s %s\n' "$s" "${result[$s]}"
  [[ "${result[$s]}" == ok* ]] || status=1
done
echo "Logs: test-output/logs/"
[ "$status" -eq 0 ] || echo "Some stages FAILED (see above)."
echo "tests: $passed passed, $failed failed"
exit $status
