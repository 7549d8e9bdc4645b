#!/usr/bin/env bash
# Fuzzes the manifest loader, the state loader, the saved-plan loader, the emulator's request handling
# the NCCO reader and the scenario reader with cargo-fuzz (libFuzzer) on the stable toolchain.
#
#   bash scripts/fuzz.sh [RUNS]        # RUNS inputs per target, 1000000 by default
#
# Environment: FUZZ_TARGETS (default: all seven, space-separated), FUZZ_NICE (niceness, default 10).
#
# Stable Rust has no sanitizers, so the targets are built with `--sanitizer none`; everything else
# cargo-fuzz does (coverage instrumentation, `cfg(fuzzing)`) works on stable. Builds are optimised,
# with debug assertions and overflow checks on.
#
# A dictionary per target (fuzz/dicts, from tools/make_dicts.py) gives libFuzzer the field names and
# syntax of its format.
#
# Each target's working corpus is fuzz/corpus/<target> (not checked in); it starts from the checked-in
# seeds in fuzz/seeds/<target> and grows from run to run. Inputs that once failed are kept in
# fuzz/regressions/<target> and replayed first. Crashes, timeouts and out-of-memory inputs land in
# fuzz/artifacts/<target>; full libFuzzer logs in fuzz/logs/<target>.log.
#
# Exits 1 if any target crashed, timed out or ran out of memory (or a regression input still fails).
set -euo pipefail

RUNS="${1:-1000000}"
if ! [[ "$RUNS" =~ ^[0-9]+$ ]]; then
    echo "usage: bash scripts/fuzz.sh [RUNS]" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ="$ROOT/fuzz"
TARGETS=(${FUZZ_TARGETS:-manifest state saved_plan emulator_request ncco scenario policy})
NICE=(nice -n "${FUZZ_NICE:-10}")
# Optimised, with debug assertions and overflow checks, without a sanitizer (those need nightly).
FLAGS=(--sanitizer none --release --debug-assertions)
# A panic's backtrace in the log (libFuzzer cannot symbolise without a sanitizer runtime).
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

max_len() {
    case "$1" in
        manifest | scenario | policy) echo 8192 ;;
        state | saved_plan | ncco) echo 16384 ;;
        emulator_request) echo 4096 ;;
        *) echo 4096 ;;
    esac
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    "${NICE[@]}" cargo install cargo-fuzz --locked
fi

cd "$FUZZ"
echo "== building ${TARGETS[*]} ($(rustc --version))"
"${NICE[@]}" cargo fuzz build "${FLAGS[@]}"
BIN="$FUZZ/target/$(rustc -vV | sed -n 's/^host: //p')/release"

mkdir -p logs
failed=()
summary=()
for target in "${TARGETS[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    cp -R "seeds/$target/." "corpus/$target/"

    # Inputs that failed before: each must now pass (libFuzzer runs a given file once).
    if [ -d "regressions/$target" ]; then
        for input in regressions/"$target"/*; do
            [ -f "$input" ] || continue
            rlog="logs/$target.regression.$(basename "$input").log"
            if "${NICE[@]}" "$BIN/$target" "$input" >"$rlog" 2>&1; then
                echo "== $target: $input passes"
            else
                echo "== $target: $input STILL FAILS: $(grep -m1 -A1 'panicked at' "$rlog" | tail -1 | cut -c1-150)"
                failed+=("$target ($input)")
            fi
        done
    fi

    echo "== $target: $RUNS runs"
    log="logs/$target.log"
    start=$(date +%s.%N)
    status=0
    dict=()
    [ -f "dicts/$target.dict" ] && dict=(-dict="$FUZZ/dicts/$target.dict")
    # What `cargo fuzz run` runs, without its rebuild: every target fuzzes the one build made above, and
    # the wall time is fuzzing only.
    "${NICE[@]}" "$BIN/$target" -artifact_prefix="$FUZZ/artifacts/$target/" \
        -runs="$RUNS" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        "${dict[@]}" -print_final_stats=1 "$FUZZ/corpus/$target" >"$log" 2>&1 || status=$?
    end=$(date +%s.%N)
    wall=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    per_sec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    corpus=$(find "corpus/$target" -type f | wc -l)
    line=$(printf '%-17s executions %-9s exec/s %-7s wall %7ss  peak RSS %sMB  corpus %s' \
        "$target" "${execs:-?}" "${per_sec:-?}" "$wall" "${rss:-?}" "$corpus")
    if [ "$status" -ne 0 ]; then
        artifact=$(grep -o -E "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //')
        line="$line  FAILED (exit $status) ${artifact:-}"
        failed+=("$target")
        { grep -m1 -A1 "panicked at" "$log" || grep -m1 "ERROR: libFuzzer" "$log"; } | cut -c1-200 | sed 's/^/   /' || true
    fi
    echo "   $line"
    summary+=("$line")
done

echo
echo "== summary ($RUNS runs per target requested)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs in fuzz/artifacts/<target>/, logs in fuzz/logs/)"
    exit 1
fi
