#!/usr/bin/env bash
# Runs one sanitizer or valgrind check for mk/sanitize.mk and judges its output.
#
# Usage: Tests/sanitize/run.sh LABEL LOG COMMAND [ARG...]
#
# The command's output goes to LOG. The check fails when the command exits non-zero or the
# log holds any sanitizer or valgrind report, whatever the exit status. It prints the
# XCTest totals, the workload's count of checks and valgrind's LEAK SUMMARY when present,
# the first report on failure, and ends with one line: "LABEL: passed ..." or
# "LABEL: FAILED ...".
set -uo pipefail

if [ $# -lt 3 ]; then
    echo "usage: $0 LABEL LOG COMMAND [ARG...]" >&2
    exit 2
fi
label=$1 log=$2
shift 2
mkdir -p "$(dirname "$log")"
# Swift's crash backtracer reads the dying process's memory (ASan reports that) and can
# outlive it; the sanitizers print the stacks themselves.
export SWIFT_BACKTRACE=enable=no

start=$(date +%s)
"$@" > "$log" 2>&1
status=$?
seconds=$(( $(date +%s) - start ))

reports='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|ERROR: ThreadSanitizer|runtime error: |Invalid (read|write|free)|Conditional jump or move depends|Mismatched free|Syscall param .* points to uninitialised'
found=$(grep -cE "$reports" "$log")

details=()
tests=$(grep -E 'Executed [0-9]+ tests?, with' "$log" | tail -n 1 | sed 's/^[[:space:]]*//')
[ -n "$tests" ] && details+=("$tests")
workload=$(grep -E '^workload: ' "$log" | tail -n 1)
[ -n "$workload" ] && details+=("$workload")

if grep -q 'LEAK SUMMARY' "$log"; then
    sed -n '/LEAK SUMMARY/,/suppressed:/p' "$log" | sed 's/^==[0-9]*== //'
elif grep -q 'All heap blocks were freed' "$log"; then
    grep 'All heap blocks were freed' "$log" | sed 's/^==[0-9]*== //'
fi
if grep -q 'ERROR SUMMARY' "$log"; then
    errors=$(grep 'ERROR SUMMARY' "$log" | tail -n 1 | sed 's/^==[0-9]*== //')
    details+=("valgrind $errors")
    definite=$(grep -o 'definitely lost: [0-9,]* bytes' "$log" | tail -n 1 | grep -o '[0-9,]* bytes')
    indirect=$(grep -o 'indirectly lost: [0-9,]* bytes' "$log" | tail -n 1 | grep -o '[0-9,]* bytes')
    if [ -n "$definite" ] && [ "$definite" != "0 bytes" ]; then found=$((found + 1)); fi
    if [ -n "$indirect" ] && [ "$indirect" != "0 bytes" ]; then found=$((found + 1)); fi
    details+=("definitely lost ${definite:-0 bytes}, indirectly lost ${indirect:-0 bytes}")
fi

joined=$(IFS=';'; echo "${details[*]:-}")
joined=${joined//;/; }
if [ $status -eq 0 ] && [ "$found" -eq 0 ]; then
    echo "$label: passed in ${seconds} s, no reports${joined:+ ($joined)}"
    exit 0
fi

echo "$label: output (log: $log):"
# The first report with its stack, or else the failing tests, or else the log's end.
first=$(grep -nE "$reports" "$log" | head -n 1 | cut -d: -f1)
if [ -n "$first" ]; then
    sed -n "$(( first > 3 ? first - 3 : 1 )),$(( first + 60 ))p" "$log"
elif grep -qE 'error: .*(failed|XCTAssert)' "$log"; then
    grep -E 'error: |failed \(' "$log" | head -n 40
else
    tail -n 40 "$log"
fi
echo "$label: FAILED after ${seconds} s (exit status $status, $found reports${joined:+; $joined})"
exit 1
