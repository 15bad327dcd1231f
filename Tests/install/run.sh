#!/usr/bin/env bash
# make install-test: the C install, as a user of the installed library sees it.
#
#  1. make install PREFIX=<a temporary folder>; the files, modes, symlinks and the SONAME.
#  2. Tests/install/install_check.c built with `cc $(pkg-config --cflags --libs swiftcnn)`
#     and run; ldd shows it loads the installed libswiftcnn.so.MAJOR, not the build folder's.
#  3. The same program through a CMake project (Tests/install/CMakeLists.txt:
#     find_package(swiftcnn MAJOR.0 REQUIRED), target_link_libraries(... swiftcnn::swiftcnn)),
#     and a request for the next major version refused.
#  4. make uninstall: others' files beside ours stay, and nothing of ours is left.
#  5. A staged install (DESTDIR, PREFIX=/opt/..., a multiarch LIBDIR): the files land under
#     DESTDIR and their contents name PREFIX only; make uninstall with the same variables
#     leaves no file behind.
# pkg-config and cmake come from Debian: installed with apt-get where this runs as root,
# otherwise steps 2 and 3 are skipped with a message saying so.
#
# Environment (the Makefile's install-test sets it): MAKE, CC, VERSION, VERSION_MAJOR, LIB_SONAME.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

MAKE=${MAKE:-make}
CC=${CC:-cc}
: "${VERSION:?set VERSION (make install-test does)}"
: "${VERSION_MAJOR:?set VERSION_MAJOR}"
LIB_SONAME=${LIB_SONAME:-libswiftcnn.so.$VERSION_MAJOR}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/swiftcnn-install-test.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
passed=0
failed=0

check() {  # check DESCRIPTION COMMAND...: counts the command's success
    local what=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "install-test: FAILED: $what"
    fi
}

# make TARGET VARS...: quiet, its output shown only when it fails.
run_make() {
    local log=$tmp/make.log
    if "$MAKE" --no-print-directory -s "$@" >"$log" 2>&1; then
        return 0
    fi
    echo "install-test: make $* failed:"
    sed 's/^/    /' "$log"
    return 1
}

# provide COMMAND PACKAGE: COMMAND on PATH, installing Debian's PACKAGE when root.
provide() {
    command -v "$1" >/dev/null 2>&1 && return 0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "install-test: installing $2 (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "$2" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq "$2" >/dev/null 2>&1; }
    fi
    command -v "$1" >/dev/null 2>&1
}

# no_files DIR: DIR holds nothing but (empty) folders.
no_files() {
    local left
    left=$(find "$1" -mindepth 1 ! -type d 2>/dev/null)
    [ -z "$left" ] || { echo "install-test: left behind:"; echo "$left" | sed 's/^/    /'; return 1; }
}

# loads_installed PROGRAM LIBDIR: NEEDED is the SONAME, and ldd resolves it inside LIBDIR.
loads_installed() {
    # (Outputs are captured first: with pipefail, `cmd | grep -q` fails when grep stops early.)
    local needed ldd_out
    needed=$(readelf -d "$1")
    ldd_out=$(env -u LD_LIBRARY_PATH ldd "$1")
    grep -q "NEEDED.*\[$LIB_SONAME\]" <<<"$needed" || { echo "    $1 does not need $LIB_SONAME:"; grep NEEDED <<<"$needed"; return 1; }
    grep -qF "$LIB_SONAME => $2/$LIB_SONAME " <<<"$ldd_out" ||
        { echo "    ldd $1 does not show $2/$LIB_SONAME:"; echo "$ldd_out"; return 1; }
}

# runs PROGRAM: runs it with no LD_LIBRARY_PATH; its closing line says "0 failed".
runs() {
    local out
    out=$(env -u LD_LIBRARY_PATH "$1" "$VERSION" 2>&1)
    local rc=$?
    echo "    $out" | tail -1
    [ $rc -eq 0 ] && grep -q ' passed, 0 failed$' <<<"$out"
}

echo "install-test: make install PREFIX=$prefix"
if ! run_make install PREFIX="$prefix"; then
    echo "install-test: 0 passed, 1 failed"
    exit 1
fi
lib=$prefix/lib
check "the library is $lib/libswiftcnn.so.$VERSION, mode 755" \
    test "$(stat -c %a "$lib/libswiftcnn.so.$VERSION" 2>/dev/null)" = 755
check "$LIB_SONAME -> libswiftcnn.so.$VERSION" test "$(readlink "$lib/$LIB_SONAME")" = "libswiftcnn.so.$VERSION"
check "libswiftcnn.so -> $LIB_SONAME" test "$(readlink "$lib/libswiftcnn.so")" = "$LIB_SONAME"
check "the installed library's SONAME is $LIB_SONAME" \
    grep -q "SONAME.*\[$LIB_SONAME\]" <<<"$(readelf -d "$lib/libswiftcnn.so.$VERSION")"
check "swiftcnn.h is the repository's, mode 644" \
    bash -c "cmp -s Include/swiftcnn.h '$prefix/include/swiftcnn.h' && test \$(stat -c %a '$prefix/include/swiftcnn.h') = 644"
for f in pkgconfig/swiftcnn.pc cmake/swiftcnn/swiftcnnConfig.cmake cmake/swiftcnn/swiftcnnConfigVersion.cmake; do
    check "$lib/$f is there, mode 644" test "$(stat -c %a "$lib/$f" 2>/dev/null)" = 644
done

# ---- pkg-config --------------------------------------------------------------------------
if provide pkg-config pkg-config; then
    export PKG_CONFIG_PATH=$lib/pkgconfig
    check "pkg-config --modversion swiftcnn is $VERSION" test "$(pkg-config --modversion swiftcnn)" = "$VERSION"
    flags=$(pkg-config --cflags --libs swiftcnn)
    libdir=$(pkg-config --variable=libdir swiftcnn)
    echo "install-test: $CC -std=c99 ... install_check.c $flags"
    # The prefix is not on the loader's path: the program carries it as its rpath.
    # shellcheck disable=SC2086
    if check "install_check builds with pkg-config's flags" \
        "$CC" -std=c99 -Wall -Wextra -Werror -pedantic Tests/install/install_check.c \
        -o "$tmp/install_check_pc" $flags -Wl,-rpath,"$libdir"; then
        check "the pkg-config build loads the installed library" loads_installed "$tmp/install_check_pc" "$lib"
        check "the pkg-config build runs and passes" runs "$tmp/install_check_pc"
    fi
    unset PKG_CONFIG_PATH
else
    echo "install-test: SKIPPED the pkg-config build: pkg-config is not installed and cannot be" \
        "(not root, or no apt-get); install pkg-config to run it"
fi

# ---- CMake -------------------------------------------------------------------------------
if provide cmake cmake; then
    echo "install-test: cmake -S Tests/install (find_package(swiftcnn $VERSION_MAJOR.0 REQUIRED), swiftcnn::swiftcnn)"
    build=$tmp/cmake-build
    if check "the CMake project configures and builds" bash -c "
        CC='$CC' cmake -S Tests/install -B '$build' -DCMAKE_PREFIX_PATH='$prefix' \
            -DSWIFTCNN_REQUIRE='$VERSION_MAJOR.0' >'$tmp/cmake.log' 2>&1 &&
        cmake --build '$build' >>'$tmp/cmake.log' 2>&1 || { sed 's/^/    /' '$tmp/cmake.log'; exit 1; }"; then
        check "CMake found version $VERSION" grep -q "found swiftcnn $VERSION: $prefix/include" "$tmp/cmake.log"
        check "the CMake build loads the installed library" loads_installed "$build/install_check" "$lib"
        check "the CMake build runs and passes" runs "$build/install_check"
    fi
    next=$((VERSION_MAJOR + 1)).0
    check "find_package(swiftcnn $next) is refused (same major version only)" bash -c "
        ! cmake -S Tests/install -B '$tmp/cmake-next' -DCMAKE_PREFIX_PATH='$prefix' \
            -DSWIFTCNN_REQUIRE='$next' >'$tmp/cmake-next.log' 2>&1 &&
        grep -q 'version: $VERSION' '$tmp/cmake-next.log'"
else
    echo "install-test: SKIPPED the CMake build: cmake is not installed and cannot be" \
        "(not root, or no apt-get); install cmake to run it"
fi

# ---- uninstall -----------------------------------------------------------------------------
# Files of others beside ours stay: uninstall removes exactly what install put there.
touch "$lib/libother.so.1" "$prefix/include/other.h" "$lib/cmake/swiftcnn/local-extra.cmake"
check "make uninstall succeeds" run_make uninstall PREFIX="$prefix"
check "make uninstall keeps others' files" test -f "$lib/libother.so.1" -a -f "$prefix/include/other.h" \
    -a -f "$lib/cmake/swiftcnn/local-extra.cmake"
rm -f "$lib/libother.so.1" "$prefix/include/other.h" "$lib/cmake/swiftcnn/local-extra.cmake"
check "make uninstall leaves no file of swiftcnn in the prefix" no_files "$prefix"
find "$prefix" -depth -type d -empty -delete 2>/dev/null
check "the prefix is empty once its empty folders go" test ! -e "$prefix"

# ---- a staged install (DESTDIR) with a multiarch LIBDIR -----------------------------------
stage=$tmp/stage
sprefix=/opt/swiftcnn-install-test
slibdir=$sprefix/lib/x86_64-linux-gnu
echo "install-test: make install DESTDIR=$stage PREFIX=$sprefix LIBDIR=$slibdir"
if check "the staged install succeeds" run_make install DESTDIR="$stage" PREFIX="$sprefix" LIBDIR="$slibdir"; then
    check "the staged library is under DESTDIR$slibdir" test -f "$stage$slibdir/libswiftcnn.so.$VERSION"
    check "the staged header is under DESTDIR$sprefix/include" test -f "$stage$sprefix/include/swiftcnn.h"
    check "nothing was written outside DESTDIR" test ! -e "$sprefix"
    check "the staged files never name DESTDIR" bash -c "! grep -rqF '$stage' '$stage$slibdir/pkgconfig' '$stage$slibdir/cmake'"
    check "swiftcnn.pc says prefix=$sprefix" grep -qx "prefix=$sprefix" "$stage$slibdir/pkgconfig/swiftcnn.pc"
    check "swiftcnn.pc's libdir is the multiarch one" grep -qx 'libdir=${prefix}/lib/x86_64-linux-gnu' "$stage$slibdir/pkgconfig/swiftcnn.pc"
    check "swiftcnnConfig.cmake names the installed library" \
        grep -qF "\"$slibdir/libswiftcnn.so.$VERSION\"" "$stage$slibdir/cmake/swiftcnn/swiftcnnConfig.cmake"
    check "the staged uninstall succeeds" run_make uninstall DESTDIR="$stage" PREFIX="$sprefix" LIBDIR="$slibdir"
    check "the staged uninstall leaves no file" no_files "$stage"
fi

echo "install-test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
