#!/usr/bin/env bash
# Runs the libFuzzer targets built by mk/fuzz.mk: replays each target's committed
# regression inputs, then (unless SECONDS_PER_TARGET is 0) fuzzes it for that long from
# its committed seed corpus. Everything the fuzzer writes -- new corpus entries, crash,
# timeout, leak and OOM inputs, their minimized forms, logs, temporary files -- goes under
# WORK_DIR, never into the repository.
#
# Usage: Tests/fuzz/run.sh BIN_DIR WORK_DIR SECONDS_PER_TARGET TARGET...
#   BIN_DIR/fuzz-<target>               the fuzz binaries
#   Tests/fuzz/corpus/<target>/         seeds (read only)
#   Tests/fuzz/regressions/<target>/*   inputs that once crashed: each must now pass
#
# Prints one line per target and a closing summary line; exits 1 on any finding.
set -uo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 BIN_DIR WORK_DIR SECONDS_PER_TARGET TARGET..." >&2
    exit 2
fi
bin_dir=$1 work=$2 seconds=$3
shift 3
here=$(cd "$(dirname "$0")" && pwd)
findings=0
summary=()

# ASan reports end the run; leaks are reported. Swift's own crash backtracer is off: it
# reads the dying process's memory (ASan reports that) and, orphaned, keeps libFuzzer's
# output pipe open, which hangs -minimize_crash. libFuzzer and ASan print the stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:abort_on_error=0:detect_leaks=1:allocator_may_return_null=0}
export SWIFT_BACKTRACE=enable=no

# The first report in a log: from its first error line, 45 lines.
first_report() {
    local n
    n=$(grep -nE '==ERROR: |ERROR: libFuzzer|FUZZ ORACLE FAILED|Fatal error|deadly signal' "$1" | head -n 1 | cut -d: -f1)
    if [ -n "$n" ]; then sed -n "${n},$((n + 44))p" "$1"; else tail -n 45 "$1"; fi
}

for t in "$@"; do
    fuzzer=$bin_dir/fuzz-$t
    [ -x "$fuzzer" ] || { echo "fuzz $t: no binary $fuzzer" >&2; exit 2; }
    mkdir -p "$work/logs" "$work/artifacts/$t" "$work/corpus/$t" "$work/tmp/$t"
    export TMPDIR=$work/tmp/$t

    # 1. Regressions: run the binary on each committed input (no fuzzing).
    regressions=()
    if [ -d "$here/regressions/$t" ]; then
        while IFS= read -r -d '' f; do regressions+=("$f"); done \
            < <(find "$here/regressions/$t" -type f -print0 | sort -z)
    fi
    if [ ${#regressions[@]} -gt 0 ]; then
        log=$work/logs/$t-regressions.log
        if timeout 600 "$fuzzer" -timeout=30 "${regressions[@]}" > "$log" 2>&1; then
            echo "fuzz $t: ${#regressions[@]} regression inputs pass"
        else
            echo "fuzz $t: FAILED replaying a regression input (log: $log):"
            grep -E '^Running: ' "$log" | tail -n 1
            first_report "$log"
            findings=$((findings + 1))
            summary+=("$t: regression FAILED")
            continue
        fi
    fi
    [ "$seconds" -gt 0 ] || { summary+=("$t: ${#regressions[@]} regressions"); continue; }

    # 2. Fuzz: new entries go to the work corpus, findings to artifacts/.
    log=$work/logs/$t.log
    seeds=()
    [ -d "$here/corpus/$t" ] && seeds=("$here/corpus/$t")
    timeout $((seconds + 300)) "$fuzzer" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=4096 \
        -artifact_prefix="$work/artifacts/$t/" "$work/corpus/$t" "${seeds[@]}" > "$log" 2>&1
    status=$?
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -n 1 | grep -o '[0-9]*$')
    corpus=$(find "$work/corpus/$t" -type f | wc -l)
    artifact=$(grep -o 'Test unit written to .*' "$log" | tail -n 1 | sed 's/Test unit written to //')
    if [ $status -eq 0 ] && [ -z "$artifact" ]; then
        echo "fuzz $t: ${execs:-?} executions in ${seconds} s, work corpus $corpus inputs, no findings"
        summary+=("$t: ${execs:-?} execs")
        continue
    fi

    # A finding: show it, minimize it, say how to keep it as a regression input.
    findings=$((findings + 1))
    summary+=("$t: FINDING")
    echo "fuzz $t: FINDING after ${execs:-?} executions (exit $status; log: $log)"
    first_report "$log"
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
        minimized=$work/artifacts/$t/minimized-$(basename "$artifact")
        timeout 180 "$fuzzer" -minimize_crash=1 -max_total_time=60 -timeout=10 -exact_artifact_path="$minimized" \
            "$artifact" > "$work/logs/$t-minimize.log" 2>&1
        [ -f "$minimized" ] || minimized=$artifact
        echo "fuzz $t: input $(wc -c < "$minimized") bytes: $minimized"
        od -A d -t x1 -N 256 "$minimized" | head -n 17
        echo "fuzz $t: keep it: mkdir -p Tests/fuzz/regressions/$t && cp '$minimized' Tests/fuzz/regressions/$t/"
    fi
done

joined=$(IFS=';'; echo "${summary[*]}")
joined=${joined//;/, }
if [ $findings -eq 0 ]; then
    echo "fuzz summary: $# targets, no findings ($joined)"
else
    echo "fuzz summary: $findings of $# targets with FINDINGS ($joined)"
    exit 1
fi
