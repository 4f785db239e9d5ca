#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after another, and fails if any of
# them crashed (a panic, a failed assertion, a timeout or running out of memory). cargo-fuzz is
# installed when missing; libFuzzer's flags need nightly features, enabled on stable with
# RUSTC_BOOTSTRAP=1. Crashing inputs are kept in fuzz/artifacts/TARGET/; see fuzz/README.md.
#
#   fuzz/run-all.sh            # 30 s each
#   fuzz/run-all.sh 60         # 60 s each
#   FUZZ_TARGET_DIR=/var/cache/class-sync-fuzz fuzz/run-all.sh 20   # the build kept there
set -uo pipefail
seconds=${1:-30}
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked || exit 1
fi

# The build flags every run must repeat, or the targets are built again: no sanitizer (class-sync
# has no unsafe code; its C dependencies are not instrumented either way, and a sanitizer slows
# every run) but debug assertions, so an arithmetic overflow is a crash.
flags=(--sanitizer none --debug-assertions)
# FUZZ_TARGET_DIR: where that build goes (default fuzz/target). A folder kept across runs (CI's
# clone is fresh each time) leaves only class-sync and the targets to build again.
if [ -n "${FUZZ_TARGET_DIR:-}" ]; then
  flags+=(--target-dir "$FUZZ_TARGET_DIR")
fi
# Each input at most 8 KiB (a zip of that size expands to a few MB at most); one input taking
# more than 10 s, or the process more than 2 GiB, is a crash.
libfuzzer=(-max_len=8192 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1)

started=$(date +%s)
cargo fuzz build "${flags[@]}" || exit 1
echo "built every target in $(($(date +%s) - started)) s"

failed=()
summary=()
for target in $(cargo fuzz list); do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  echo "== $target: ${seconds} s"
  cargo fuzz run "${flags[@]}" "$target" "corpus/$target" -- \
    "${libfuzzer[@]}" -max_total_time="$seconds" >"$log" 2>&1
  status=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    tail -n 60 "$log"
    summary+=("$target: CRASHED (exit $status) after ${execs:-?} execs; input in fuzz/artifacts/$target/")
  else
    summary+=("$target: ${execs:-?} execs, ${rate:-?} execs/s, 0 crashes")
  fi
  rm -f "$log"
done

echo "== summary"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -ne 0 ]; then
  echo "crashed: ${failed[*]}"
  exit 1
fi
