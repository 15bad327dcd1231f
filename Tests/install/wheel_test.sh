#!/usr/bin/env bash
# make wheel-test: the manylinux wheel (make wheel) in a fresh venv, as a user gets it.
#
#   wheel_test.sh WHEEL
# Checks the wheel's manylinux tag and contents, creates a venv in a temporary folder,
# installs the wheel there (numpy from PyPI, downloaded once into WHEEL_DEPS and reused
# offline after that), then runs Tests/install/wheel_check.py with that venv's python from /
# with no LD_LIBRARY_PATH. Skips (exit 0, with a message) only when numpy cannot be had.
#
# Environment (the Makefile's wheel-test sets it): VPY (.venv's python, whose pip installs
# into the new venv), PYTHON (makes the venv), WHEEL_DEPS (the numpy download folder).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
repo=$(pwd)

wheel=${1:?usage: wheel_test.sh WHEEL}
[ $# -eq 1 ] || { echo "wheel-test: expected one wheel, got: $*"; exit 1; }
: "${VPY:?set VPY}" "${WHEEL_DEPS:?set WHEEL_DEPS}"
PYTHON=${PYTHON:-python3}

case $(basename "$wheel") in
    swiftcnn-*-manylinux_*_x86_64.whl) echo "wheel-test: $(basename "$wheel")" ;;
    *) echo "wheel-test: FAILED: $(basename "$wheel") has no manylinux tag"; exit 1 ;;
esac
# The tag covers the newest glibc the library and its embedded variants ask for (WHEEL_GLIBC,
# from objdump: auditwheel cannot see inside the portable library).
# The oldest glibc among the wheel's tags (a name may carry several: ...manylinux_2_34_x86_64.manylinux_2_35_x86_64).
tag_glibc=$(basename "$wheel" | grep -o 'manylinux_2_[0-9]*_x86_64' | sed 's/manylinux_2_\([0-9]*\)_x86_64/\1/' | sort -n | head -1)
if [ -n "${WHEEL_GLIBC:-}" ] && [ "${tag_glibc:-0}" -lt "$WHEEL_GLIBC" ]; then
    echo "wheel-test: FAILED: the tag says glibc 2.$tag_glibc, the library needs 2.$WHEEL_GLIBC"; exit 1
fi
contents=$(unzip -Z1 "$wheel") || exit 1
for f in swiftcnn/include/swiftcnn.h swiftcnn/__init__.pyi swiftcnn/py.typed; do
    grep -qx "$f" <<<"$contents" || { echo "wheel-test: FAILED: the wheel lacks $f"; exit 1; }
done
grep -q '^swiftcnn/libswiftcnn\.so' <<<"$contents" || { echo "wheel-test: FAILED: the wheel lacks the library"; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/swiftcnn-wheel-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
venv=$tmp/venv
"$PYTHON" -m venv --without-pip "$venv" || exit 1
vpip=("$VPY" -m pip --python "$venv/bin/python" --disable-pip-version-check)

mkdir -p "$WHEEL_DEPS"
if ! ls "$WHEEL_DEPS"/numpy-*.whl >/dev/null 2>&1; then
    echo "wheel-test: downloading numpy's wheel into $WHEEL_DEPS (once)"
    if ! "${vpip[@]}" download --quiet --only-binary=:all: -d "$WHEEL_DEPS" "numpy>=1.24"; then
        echo "wheel-test: SKIPPED: numpy's wheel cannot be downloaded (no network, no cache);" \
            "put a numpy wheel for $("$venv/bin/python" -V) into $WHEEL_DEPS to run it"
        exit 0
    fi
fi
echo "wheel-test: pip install $(basename "$wheel") into a fresh venv"
"${vpip[@]}" install --quiet --no-index --find-links "$WHEEL_DEPS" "$wheel" || {
    echo "wheel-test: FAILED: pip install of the wheel"; exit 1; }

echo "wheel-test: import swiftcnn from / with no LD_LIBRARY_PATH"
(cd / && env -u LD_LIBRARY_PATH -u PYTHONPATH "$venv/bin/python" "$repo/Tests/install/wheel_check.py" \
    "$venv" "$repo/Include/swiftcnn.h")
