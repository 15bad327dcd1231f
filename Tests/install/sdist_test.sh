#!/usr/bin/env bash
# make sdist-test: the sdist (make sdist) carries what building the library needs, without
# building it (that takes minutes; installing the sdist for real is in the README).
#
#   sdist_test.sh SDIST
# Unpacks it and checks: the extension's C sources and headers, the stubs, native/ with the
# Swift package whose manifest resolves (swift package describe: every target's folder is
# there), `make -n lib` in native/ (the Makefile parses and every prerequisite of the library
# exists), that print-lib-real points into native/, and that without make and swift on PATH
# setup.py refuses with a message naming them.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

sdist=${1:?usage: sdist_test.sh SDIST}
[ $# -eq 1 ] || { echo "sdist-test: expected one sdist, got: $*"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/swiftcnn-sdist-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0
check() {
    local what=$1
    shift
    if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "sdist-test: FAILED: $what"; fi
}

tar xzf "$sdist" -C "$tmp" || exit 1
top=$(find "$tmp" -mindepth 1 -maxdepth 1 -type d)
native=$top/native
echo "sdist-test: $(basename "$sdist")"

for f in setup.py pyproject.toml swiftcnn/__init__.pyi swiftcnn/py.typed \
         native/Package.swift native/Makefile native/Include/swiftcnn.h; do
    check "the sdist holds $f" test -f "$top/$f"
done
# Every C source and header the extension compiles (setup.py's list, the .h files beside them).
for f in bindings/python/swiftcnn/*.c bindings/python/swiftcnn/*.h; do
    check "the sdist holds swiftcnn/$(basename "$f")" test -f "$top/swiftcnn/$(basename "$f")"
done
check "the bundled header is the repository's" cmp -s Include/swiftcnn.h "$native/Include/swiftcnn.h"
check "the bundled Swift sources are the repository's" diff -rq Sources "$native/Sources"
if command -v swift >/dev/null 2>&1; then
    check "swift package describe resolves native/'s manifest" \
        bash -c "cd '$native' && swift package describe >'$tmp/describe.log' 2>&1 || { cat '$tmp/describe.log'; exit 1; }"
else
    echo "sdist-test: SKIPPED the manifest check: swift is not on PATH"
fi
check "make -n lib finds everything the library is built from" \
    bash -c "make --no-print-directory -C '$native' -n lib >'$tmp/make-n.log' 2>&1 || { cat '$tmp/make-n.log'; exit 1; }"
lib=$(make --no-print-directory -s -C "$native" print-lib-real 2>/dev/null)
check "print-lib-real points into native/ ($lib)" test "${lib#"$native"/}" != "$lib"

# Without the toolchain, setup.py says what is missing instead of failing obscurely.
python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)')
out=$(cd "$top" && env -u SWIFTCNN_LIBRARY PATH="$tmp/no-tools" "$python" \
    setup.py -q build_ext --build-temp "$tmp/bt" --build-lib "$tmp/bl" 2>&1)
check "without make and swift, setup.py refuses naming them" grep -q "needs make and swift on PATH" <<<"$out"
[ "$failed" -eq 0 ] || echo "$out" | tail -5

echo "sdist-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
