"""Run by Tests/install/wheel_test.sh from / in a fresh venv holding only the wheel and numpy:
the installed package imports without LD_LIBRARY_PATH, loads its bundled library, runs a zoo
forward, and ships the header (get_include()) and the type stubs.

    python wheel_check.py VENV_DIR REPO_HEADER
Prints each failed check and "wheel_check: N passed, N failed"; exits non-zero on a failure.
"""
import os
import sys

venv, repo_header = os.path.realpath(sys.argv[1]), sys.argv[2]
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"wheel_check: FAILED: {what}")


check("LD_LIBRARY_PATH" not in os.environ, "runs without LD_LIBRARY_PATH")
check(os.getcwd() == "/", "runs from /")

import numpy as np  # noqa: E402
import swiftcnn  # noqa: E402
from swiftcnn import models  # noqa: E402

pkg = os.path.dirname(os.path.realpath(swiftcnn.__file__))
check(pkg.startswith(venv + os.sep), f"swiftcnn is imported from the venv ({pkg})")

# The library mapped into this process is the package's own copy.
with open("/proc/self/maps") as f:
    libs = {line.split()[-1] for line in f if "libswiftcnn.so" in line}
check(len(libs) == 1 and all(os.path.dirname(p) == pkg for p in libs),
      f"the loaded libswiftcnn is the package's ({sorted(libs)})")
check(swiftcnn.abi_version() == swiftcnn.ABI_VERSION, "ABI versions agree")

# A zoo forward: lenet5 on two different images gives finite [2, 10] logits that differ.
m = models.lenet5()
x = np.linspace(-1, 1, 2 * 32 * 32, dtype=np.float32).reshape(2, 1, 32, 32)
x[1] = x[1, :, ::-1]
y = np.asarray(m(x))
check(y.shape == (2, 10) and y.dtype == np.float32, f"lenet5 gives float32 [2, 10] (got {y.shape})")
check(bool(np.isfinite(y).all()), "the logits are finite")
check(not np.allclose(y[0], y[1]), "two different images give different logits")
# The same forward through a single conv + relu against numpy.
w = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3) / 9
img = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
ref = np.array([[sum(img[0, 0, i + a, j + b] * w[0, 0, a, b] for a in range(3) for b in range(3))
                 for j in range(3)] for i in range(3)], dtype=np.float32)
check(np.allclose(swiftcnn.conv2d(img, w)[0, 0], ref, atol=1e-4), "conv2d matches numpy")

inc = swiftcnn.get_include()
header = os.path.join(inc, "swiftcnn.h")
check(os.path.realpath(inc).startswith(pkg + os.sep), f"get_include() is inside the package ({inc})")
check(os.path.isfile(header), "get_include() holds swiftcnn.h")
if os.path.isfile(header):
    with open(header, "rb") as a, open(repo_header, "rb") as b:
        check(a.read() == b.read(), "the bundled header is the repository's Include/swiftcnn.h")
for stub in ("__init__.pyi", "_swiftcnn.pyi", "models.pyi", "image.pyi", "py.typed"):
    check(os.path.isfile(os.path.join(pkg, stub)), f"the package ships {stub}")

print(f"wheel_check: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
