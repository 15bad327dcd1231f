#!/usr/bin/env bash
# Runs an XCTest bundle's test suites in JOBS processes at once (make swift-test,
# sanitize-asan and sanitize-tsan): most tests keep one core busy, so on a 2-core machine two
# processes take about half the time of `swift test`'s one.
#
#   run_xctest.sh BUNDLE JOBS [SKIP_REGEX [ONLY_REGEX]]
#
# BUNDLE is the .xctest executable (`swift build --build-tests` makes it). Each suite is one
# process running that suite's tests whose "Module.Suite/test" name matches ONLY_REGEX (empty
# or absent: every test), minus those matching SKIP_REGEX (empty skips nothing); both are
# extended regexes that may match anywhere in the name, like `swift test --filter` and
# `--skip`. Suites with more tests start first, and
# a free process takes the next suite. Each suite's output goes to its own log, and the
# logs are printed in suite order once all have run, then one line of totals in XCTest's
# words ("Executed N tests, with F failures ..."). The exit status is non-zero when any
# suite failed or crashed, or when no test ran. The environment passes through (ASAN_OPTIONS,
# SCNN_TEST_SWEEP, ...). Tests that write files name them by process id, so suites running
# side by side never share a path.
set -uo pipefail

usage="usage: run_xctest.sh BUNDLE JOBS [SKIP_REGEX [ONLY_REGEX]]"
bundle=${1:?$usage}
jobs=${2:?$usage}
skip=${3:-}
only=${4:-}
[ -x "$bundle" ] || { echo "run_xctest: $bundle is not an executable test bundle (swift build --build-tests)"; exit 2; }
case $jobs in ''|*[!0-9]*|0) echo "run_xctest: JOBS must be a positive integer, got '$jobs'"; exit 2;; esac

work=$(mktemp -d "${TMPDIR:-/tmp}/swiftcnn-xctest.XXXXXX") || exit 2
trap 'rm -rf "$work"' EXIT

# "Module.Suite/test" lines.
"$bundle" --list-tests 2>/dev/null | grep -E '^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*/[A-Za-z_][A-Za-z0-9_]*$' \
    > "$work/all" || true
if [ -n "$only" ]; then grep -E "$only" "$work/all" > "$work/only" || true; else cp "$work/all" "$work/only"; fi
if [ -n "$skip" ]; then grep -Ev "$skip" "$work/only" > "$work/selected" || true; else cp "$work/only" "$work/selected"; fi
total=$(wc -l < "$work/all")
selected=$(wc -l < "$work/selected")
[ "$selected" -gt 0 ] || { echo "run_xctest: no tests listed by $bundle${only:+ match '$only'}${skip:+ after skipping '$skip'}"; exit 1; }

# One line per suite: "count suite test1,test2,...", most tests first.
awk -F/ '{ n[$1]++; t[$1] = (t[$1] == "" ? "" : t[$1] ",") $0 } END { for (s in n) print n[s], s, t[s] }' \
    "$work/selected" | sort -k1,1nr -k2,2 > "$work/suites"
suites=$(wc -l < "$work/suites")
echo "run_xctest: $selected of $total tests in $suites suites, $jobs at a time${only:+, those matching '$only'}${skip:+, skipping '$skip'}"

mkdir -p "$work/logs"
start=$(date +%s)
# Each job runs one suite's tests (a comma-separated list), keeps the output and the status.
cut -d' ' -f3 "$work/suites" | xargs -d '\n' -P "$jobs" -n 1 bash -c '
    suite=${2%%/*}
    "$0" "$2" > "$1/$suite.log" 2>&1
    echo $? > "$1/$suite.status"
' "$bundle" "$work/logs"
seconds=$(( $(date +%s) - start ))

failed_suites=()
executed=0 failures=0
for suite in $(cut -d' ' -f3 "$work/suites" | sed 's|/.*||' | sort); do
    cat "$work/logs/$suite.log"
    status=$(cat "$work/logs/$suite.status" 2>/dev/null || echo missing)
    [ "$status" = 0 ] || failed_suites+=("$suite (exit status $status)")
    line=$(grep -E "^[[:space:]]*Executed [0-9]+ tests?, with" "$work/logs/$suite.log" | tail -n 1)
    n=$(sed -nE 's/^[[:space:]]*Executed ([0-9]+) tests?.*/\1/p' <<<"$line")
    f=$(sed -nE 's/.* ([0-9]+) failures? .*/\1/p' <<<"$line")
    executed=$(( executed + ${n:-0} ))
    failures=$(( failures + ${f:-0} ))
done

echo
echo "run_xctest: Executed $executed tests, with $failures failures in $suites suites, $jobs at a time, in $seconds seconds"
if [ ${#failed_suites[@]} -gt 0 ]; then
    printf 'run_xctest: FAILED: %s\n' "${failed_suites[@]}"
    exit 1
fi
if [ "$executed" -ne "$selected" ]; then
    echo "run_xctest: FAILED: $selected tests selected, $executed reported as executed"
    exit 1
fi
echo "run_xctest: all $executed tests passed"
