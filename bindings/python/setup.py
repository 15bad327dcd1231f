"""Builds the swiftcnn CPython extension (swiftcnn/_swiftcnn.c) against Include/swiftcnn.h.

The extension links against libswiftcnn, which is copied into the package directory beside
the extension under its SONAME (libswiftcnn.so today; libswiftcnn.so.MAJOR once the library
is versioned); the extension's rpath is $ORIGIN, so `import swiftcnn` needs no
LD_LIBRARY_PATH, from any directory. The header goes into the package too, as
swiftcnn/include/swiftcnn.h (swiftcnn.get_include()).

Where the library comes from:
- env SWIFTCNN_LIBRARY names an already built library (what `make python` and `make wheel`
  do), or
- otherwise the Makefile builds it: `make lib` runs in the folder holding Package.swift --
  the repository root (../../ from this file) in a checkout, or native/ inside an sdist,
  which carries the Swift sources, the header and the Makefile for exactly this. The build
  takes 2-4 minutes; its own output is shown as it goes (see build_output_stream).
  SWIFTCNN_TARGET_CPU, when set, is passed on as `make lib SWIFT_CPU=...`.

The sdist: `python -m build --sdist bindings/python` (or `make sdist`) adds native/ with
what `make lib` reads (SDIST_NATIVE below); pip installing the sdist builds from it.
"""
import collections
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.sdist import sdist

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
NATIVE = os.path.join(HERE, "native")

# What the sdist carries into native/ so that `make lib` can run there: the Swift package
# (its manifest names the test target, so the Swift test sources come too: 0.7 MB), the
# header, the Makefile with the mk/ files it includes, and scripts/ (the build's generators,
# e.g. gen_header.py). Anything else a future `make lib` reads must be listed here
# (make sdist-test checks with `make -n lib`).
SDIST_NATIVE = [
    "Package.swift", "Makefile", "mk", "Sources", "Include", "scripts",
    "Tests/SwiftCNNTests",
]


def source_root():
    """The folder holding Package.swift and the Makefile, or None: native/ in an unpacked
    sdist, else the repository around this file."""
    for root in (NATIVE, REPO):
        if os.path.isfile(os.path.join(root, "Package.swift")):
            return root
    return None


def header_path():
    for root in (NATIVE, REPO):
        path = os.path.join(root, "Include", "swiftcnn.h")
        if os.path.isfile(path):
            return path
    return os.path.join(REPO, "Include", "swiftcnn.h")


def read_version():
    """The library's version from Sources/SwiftCNN/Version.swift (falls back to 0.0.0)."""
    root = source_root() or REPO
    path = os.path.join(root, "Sources", "SwiftCNN", "Version.swift")
    try:
        with open(path, encoding="utf-8") as f:
            m = re.search(r'version\s*:\s*StaticString\s*=\s*"([^"]+)"', f.read())
        return m.group(1) if m else "0.0.0"
    except OSError:
        return "0.0.0"


def elf_soname(path):
    """The DT_SONAME of a 64-bit little-endian ELF shared library, or None when it has none.

    Read from the section headers: the SHT_DYNAMIC section's entries, with the string table
    its sh_link names."""
    import struct
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(shnum):
        base = shoff + i * shentsize
        if base + 64 > len(data):
            return None
        _, sh_type, _, _, offset, size, link = struct.unpack_from("<IIQQQQI", data, base)
        sections.append((sh_type, offset, size, link))
    for sh_type, offset, size, link in sections:
        if sh_type != 6 or link >= len(sections):  # SHT_DYNAMIC
            continue
        strtab = sections[link][1]
        for pos in range(offset, offset + size - 15, 16):
            tag, val = struct.unpack_from("<qQ", data, pos)
            if tag == 0:  # DT_NULL
                break
            if tag == 14:  # DT_SONAME
                end = data.index(b"\0", strtab + val)
                return data[strtab + val:end].decode("ascii", "replace")
    return None


def build_output_stream():
    """Where the Swift build's output goes while it runs, and a note for stdout.

    pip captures a build's stdout and shows it only with `pip install -v` (or on failure):
    when stdout is not a terminal but this process has one (/dev/tty), the build's output
    goes to the terminal, so a plain `pip install` shows its progress. Otherwise (a
    terminal, CI logs, SWIFTCNN_BUILD_OUTPUT=stdout) it goes to stdout."""
    if os.environ.get("SWIFTCNN_BUILD_OUTPUT", "") != "stdout" and not sys.stdout.isatty():
        try:
            tty = open("/dev/tty", "w", buffering=1, encoding="utf-8", errors="replace")
            return tty, "setup.py: the build's output goes to the terminal (/dev/tty)"
        except OSError:
            pass
    return sys.stdout, None


def run_streamed(cmd, cwd, banner):
    """Runs cmd with `banner` first and its output shown line by line (build_output_stream);
    on failure exits with the last lines repeated on stderr, where pip's error report shows
    them."""
    stream, note = build_output_stream()
    print(banner, flush=True)
    if note:
        print(note, flush=True)
        stream.write(banner + "\n")
        stream.flush()
    tail = collections.deque(maxlen=40)
    start = last = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace")
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    while True:
        try:
            line = lines.get(timeout=5)
        except queue.Empty:
            # The optimizer's whole-module step prints nothing for minutes: say it is alive.
            now = time.monotonic()
            if now - last >= 30:
                minutes, seconds = divmod(int(now - start), 60)
                line = f"setup.py: still building ({minutes}m{seconds:02d}s so far)\n"
                last = now
                stream.write(line)
                stream.flush()
            continue
        if line is None:
            break
        last = time.monotonic()
        stream.write(line)
        stream.flush()
        tail.append(line)
    rc = proc.wait()
    minutes, seconds = divmod(int(time.monotonic() - start), 60)
    if rc == 0:
        done = f"setup.py: libswiftcnn built in {minutes}m{seconds:02d}s"
        print(done, flush=True)
        if stream is not sys.stdout:
            stream.write(done + "\n")
    if stream is not sys.stdout:
        stream.close()
    if rc != 0:
        sys.stderr.write("".join(tail))
        sys.exit(f"setup.py: `{' '.join(cmd)}` failed (exit {rc}) in {cwd}")


def locate_library():
    env = os.environ.get("SWIFTCNN_LIBRARY")
    if env:
        if not os.path.isfile(env):
            sys.exit(f"setup.py: SWIFTCNN_LIBRARY={env!r} is not a file")
        return os.path.abspath(env)
    root = source_root()
    if root is None or not os.path.isfile(os.path.join(root, "Makefile")):
        sys.exit("setup.py: cannot build libswiftcnn here: neither the swiftcnn repository "
                 f"({REPO}) nor a native/ folder (an sdist's) holds Package.swift and the Makefile. "
                 "Install from a swiftcnn checkout (pip install ./bindings/python), from the sdist "
                 "(make sdist), or a wheel (make wheel); or set SWIFTCNN_LIBRARY to a built library.")
    missing = [tool for tool in ("make", "swift") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"setup.py: building libswiftcnn needs {' and '.join(missing)} on PATH (the Swift "
                 "6 toolchain from swift.org, and GNU make); or set SWIFTCNN_LIBRARY to a built "
                 "libswiftcnn, or install a wheel (make wheel)")
    make = ["make", "--no-print-directory", "-C", root]
    cpu = os.environ.get("SWIFTCNN_TARGET_CPU")
    variables = [f"SWIFT_CPU={cpu}"] if cpu else []
    banner = (f"setup.py: building libswiftcnn with the Swift toolchain (make lib in {root}): "
              "2-4 minutes per CPU variant of the library; the Swift build's own output follows")
    run_streamed(make + ["lib"] + variables, root, banner)
    out = subprocess.run(make + ["-s", "print-lib-real"] + variables, check=True,
                         stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()
    lib = out[-1] if out else ""
    if not os.path.isfile(lib):
        sys.exit(f"setup.py: make lib finished but the library ({lib!r}) is missing")
    return lib


class BuildExt(build_ext):
    """Copies the library (under its SONAME) and the header into the package, and links the
    extension against that copy of the library."""

    def run(self):
        lib = locate_library()
        soname = elf_soname(lib) or "libswiftcnn.so"
        pkg_dir = os.path.join(os.path.abspath(self.build_lib), "swiftcnn")
        targets = [pkg_dir]
        if self.inplace:
            targets.append(os.path.join(HERE, "swiftcnn"))
        for d in targets:
            os.makedirs(os.path.join(d, "include"), exist_ok=True)
            for name in os.listdir(d):  # a library of an earlier build under another name
                if name.startswith("libswiftcnn.so") and name != soname:
                    os.remove(os.path.join(d, name))
            dst = os.path.join(d, soname)
            if os.path.abspath(lib) != os.path.abspath(dst):
                shutil.copyfile(lib, dst)
            shutil.copyfile(header_path(), os.path.join(d, "include", "swiftcnn.h"))
        for ext in self.extensions:
            ext.library_dirs = [pkg_dir] + list(ext.library_dirs)
            ext.include_dirs = [os.path.dirname(header_path())] + list(ext.include_dirs)
            # -l:NAME links the file by its name (libswiftcnn.so.MAJOR has no plain .so beside it).
            ext.extra_link_args = list(ext.extra_link_args) + [f"-l:{soname}"]
        super().run()


class SDist(sdist):
    """Adds native/ (SDIST_NATIVE, from the repository) to the sdist, so that installing it
    builds the library from its own contents."""

    def make_release_tree(self, base_dir, files):
        super().make_release_tree(base_dir, files)
        if os.path.isdir(NATIVE):  # an sdist made from an unpacked sdist
            shutil.copytree(NATIVE, os.path.join(base_dir, "native"), dirs_exist_ok=True)
            return
        for rel in SDIST_NATIVE:
            src = os.path.join(REPO, rel)
            dst = os.path.join(base_dir, "native", rel)
            if os.path.isdir(src):
                shutil.copytree(src, dst, dirs_exist_ok=True,
                                ignore=shutil.ignore_patterns(".build*", "__pycache__", "*.pyc"))
            elif os.path.isfile(src):
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                shutil.copy2(src, dst)
            else:
                sys.exit(f"setup.py sdist: {src} is missing (SDIST_NATIVE lists it)")


extension = Extension(
    "swiftcnn._swiftcnn",
    sources=["swiftcnn/_swiftcnn.c", "swiftcnn/_models.c", "swiftcnn/_training.c",
             "swiftcnn/_pictures.c", "swiftcnn/_segment.c", "swiftcnn/_retrieval.c",
             "swiftcnn/_tasks.c"],
    depends=[header_path(), "swiftcnn/_models.h", "swiftcnn/_pictures.h", "swiftcnn/_retrieval.h"],
    runtime_library_dirs=["$ORIGIN"],
    extra_compile_args=["-std=c99", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
)

setup(
    version=read_version(),
    packages=["swiftcnn", "swiftcnn.onnx", "swiftcnn.viz", "swiftcnn.ray"],
    package_data={"swiftcnn": ["py.typed", "*.pyi"], "swiftcnn.viz": ["*.pyi"], "swiftcnn.ray": ["*.pyi"]},
    exclude_package_data={"swiftcnn": ["*.c"]},
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExt, "sdist": SDist},
    zip_safe=False,
)
