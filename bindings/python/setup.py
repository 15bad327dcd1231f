"""Builds the swiftcnn CPython extension (swiftcnn/_swiftcnn.c) against Include/swiftcnn.h.

The extension links against libswiftcnn.so, which is copied into the package directory
beside the extension; the extension's rpath is $ORIGIN, so `import swiftcnn` needs no
LD_LIBRARY_PATH, from any directory.

Where the library comes from:
- env SWIFTCNN_LIBRARY names an already built libswiftcnn.so (what `make python` does), or
- otherwise `swift build -c release --product swiftcnn -Xswiftc -target-cpu -Xswiftc native`
  runs in the repository root (../../ from this file) and .build/release/libswiftcnn.so is used.
  SWIFTCNN_TARGET_CPU overrides `native` (e.g. `haswell` for a portable build).

The header is ../../Include/swiftcnn.h (committed, generated from the Swift sources).
"""
import os
import re
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
INCLUDE = os.path.join(ROOT, "Include")
HEADER = os.path.join(INCLUDE, "swiftcnn.h")
LIB_NAME = "libswiftcnn.so"


def read_version():
    """The library's version from Sources/SwiftCNN/Version.swift (falls back to 0.0.0)."""
    path = os.path.join(ROOT, "Sources", "SwiftCNN", "Version.swift")
    try:
        with open(path, encoding="utf-8") as f:
            m = re.search(r'version\s*:\s*StaticString\s*=\s*"([^"]+)"', f.read())
        return m.group(1) if m else "0.0.0"
    except OSError:
        return "0.0.0"


def locate_library():
    env = os.environ.get("SWIFTCNN_LIBRARY")
    if env:
        if not os.path.isfile(env):
            sys.exit(f"setup.py: SWIFTCNN_LIBRARY={env!r} is not a file")
        return os.path.abspath(env)
    if shutil.which("swift") is None:
        sys.exit("setup.py: building swiftcnn needs the Swift toolchain (`swift` on PATH), "
                 "or SWIFTCNN_LIBRARY naming a built libswiftcnn.so")
    cpu = os.environ.get("SWIFTCNN_TARGET_CPU", "native")
    cmd = ["swift", "build", "-c", "release", "--product", "swiftcnn",
           "-Xswiftc", "-target-cpu", "-Xswiftc", cpu]
    print("setup.py: " + " ".join(cmd) + f"  (in {ROOT})", flush=True)
    subprocess.check_call(cmd, cwd=ROOT)
    lib = os.path.join(ROOT, ".build", "release", LIB_NAME)
    if not os.path.isfile(lib):
        sys.exit(f"setup.py: swift build finished but {lib} is missing")
    return lib


# The library's SONAME (the Makefile gives it libswiftcnn.so.MAJOR).
SONAME = LIB_NAME + "." + read_version().split(".")[0]


class BuildExt(build_ext):
    """Copies libswiftcnn.so beside the extension and links against that copy."""

    def run(self):
        lib = locate_library()
        pkg_dir = os.path.join(os.path.abspath(self.build_lib), "swiftcnn")
        os.makedirs(pkg_dir, exist_ok=True)
        targets = [pkg_dir]
        if self.inplace:
            targets.append(os.path.join(HERE, "swiftcnn"))
        for d in targets:
            # Under its SONAME (libswiftcnn.so.MAJOR): the name the extension records
            # (DT_NEEDED) and the dynamic linker looks for. The link names that file exactly.
            dst = os.path.join(d, SONAME)
            if os.path.abspath(lib) != os.path.abspath(dst):
                shutil.copyfile(lib, dst)
        for ext in self.extensions:
            ext.library_dirs = [pkg_dir] + list(ext.library_dirs)
        super().run()


extension = Extension(
    "swiftcnn._swiftcnn",
    sources=["swiftcnn/_swiftcnn.c", "swiftcnn/_models.c", "swiftcnn/_training.c",
             "swiftcnn/_pictures.c", "swiftcnn/_segment.c", "swiftcnn/_retrieval.c",
             "swiftcnn/_tasks.c"],
    depends=[HEADER, "swiftcnn/_models.h", "swiftcnn/_pictures.h", "swiftcnn/_retrieval.h"],
    include_dirs=[INCLUDE],
    extra_link_args=["-l:" + SONAME],
    runtime_library_dirs=["$ORIGIN"],
    extra_compile_args=["-std=c99", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
)

setup(
    version=read_version(),
    packages=["swiftcnn", "swiftcnn.onnx", "swiftcnn.viz"],
    package_data={"swiftcnn": ["py.typed", "*.pyi"], "swiftcnn.viz": ["*.pyi"]},
    exclude_package_data={"swiftcnn": ["*.c"]},
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExt},
    zip_safe=False,
)
