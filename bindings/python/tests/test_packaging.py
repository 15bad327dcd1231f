"""The installed package as a C user and a packager see it: the bundled header and library,
the extras, and setup.py's SONAME reader (the wheel, sdist and C install have their own
tests: make wheel-test, sdist-test, install-test)."""
import ast
import os
import subprocess
import sys

import pytest

import swiftcnn

HERE = os.path.dirname(os.path.abspath(__file__))
BINDINGS = os.path.dirname(HERE)
REPO = os.path.dirname(os.path.dirname(BINDINGS))
PKG = os.path.dirname(os.path.abspath(swiftcnn.__file__))


def test_get_include_holds_the_repositorys_header():
    inc = swiftcnn.get_include()
    assert os.path.isdir(inc)
    with open(os.path.join(inc, "swiftcnn.h"), "rb") as a, \
            open(os.path.join(REPO, "Include", "swiftcnn.h"), "rb") as b:
        assert a.read() == b.read()
    assert "get_include" in swiftcnn.__all__


def test_get_include_is_declared_in_the_stub():
    stub = ast.parse(open(os.path.join(PKG, "__init__.pyi")).read())
    names = {n.name for n in stub.body if isinstance(n, ast.FunctionDef)}
    assert "get_include" in names


def _setup_module():
    """setup.py's helpers, without running setup()."""
    path = os.path.join(BINDINGS, "setup.py")
    src = open(path).read().split("\nextension = Extension(")[0]
    ns = {"__file__": path, "__name__": "swiftcnn_setup_helpers"}
    exec(compile(src, path, "exec"), ns)
    return ns


def test_elf_soname_agrees_with_readelf():
    libs = [f for f in os.listdir(PKG) if f.startswith("libswiftcnn.so")]
    assert len(libs) == 1, libs
    lib = os.path.join(PKG, libs[0])
    readelf = subprocess.run(["readelf", "-d", lib], stdout=subprocess.PIPE, text=True, check=True).stdout
    soname = _setup_module()["elf_soname"](lib)
    assert soname is not None and f"[{soname}]" in readelf and "SONAME" in readelf
    # The library is installed under its SONAME, the name the extension's NEEDED entry asks for.
    assert libs[0] == soname
    ext = [f for f in os.listdir(PKG) if f.startswith("_swiftcnn.") and f.endswith(".so")][0]
    needed = subprocess.run(["readelf", "-d", os.path.join(PKG, ext)], stdout=subprocess.PIPE,
                            text=True, check=True).stdout
    assert "NEEDED" in needed and f"[{soname}]" in needed


def test_elf_soname_of_a_non_elf_file_is_none(tmp_path):
    p = tmp_path / "not.so"
    p.write_bytes(b"#!/bin/sh\n" + b"\0" * 100)
    assert _setup_module()["elf_soname"](str(p)) is None


@pytest.mark.skipif(sys.version_info < (3, 11), reason="tomllib is Python 3.11+")
def test_extras_are_declared():
    import tomllib
    with open(os.path.join(BINDINGS, "pyproject.toml"), "rb") as f:
        extras = tomllib.load(f)["project"]["optional-dependencies"]
    joined = {k: " ".join(v) for k, v in extras.items()}
    assert "scikit-learn" in joined["datasets"]
    assert "onnx" in joined["onnx"] and "onnxruntime" in joined["onnx"]
    assert "matplotlib" in joined["viz"] and "Pillow" in joined["viz"]
    assert "ray[data]" in joined["ray"]
    assert "pytest" in joined["test"]
