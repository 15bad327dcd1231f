"""No argument combination crashes the interpreter: every extension function is called with
random arguments in a child process, which must finish normally (a crash would kill it)."""
import subprocess
import sys
import textwrap

FUZZ = textwrap.dedent('''
    import itertools, random, sys
    import numpy as np
    import swiftcnn
    from swiftcnn import _swiftcnn as _c

    f = np.float32
    pool = [None, 0, -1, 1, 2, 3, 1 << 62, -(1 << 62), 1 << 40, 1.5, float("nan"), float("inf"), "x", b"",
            bytearray(4), bytes(64), np.zeros(0, f), np.ones((2, 3), f), np.ones((1, 3, 4, 4), f),
            np.ones((3, 3), f), np.ones(5, f), np.ones((3, 5, 5), f), np.ones((1, 1, 1, 1, 1), f),
            np.ones(3, np.float64), np.ones((4, 4), f)[:, ::2], [1, 2], (1, 2, 3, 4), (0, 0), (3, 3),
            [np.ones(3, f), np.ones(4, f)], [None], object()]
    names = [n for n in dir(_c) if callable(getattr(_c, n)) and not n[0].isupper()
             and n not in ("set_reference_kernels",)]
    rnd = random.Random(7)
    calls = errors = 0
    for name in names:
        fn = getattr(_c, name)
        for _ in range(150):
            args = [rnd.choice(pool) for _ in range(rnd.randint(0, 9))]
            calls += 1
            try:
                r = fn(*args)
                if isinstance(r, _c.TensorBuffer):
                    np.asarray(r).sum()
            except Exception:
                errors += 1
    print(calls, errors)
''')


def test_random_arguments_never_crash():
    r = subprocess.run([sys.executable, "-c", FUZZ], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"child exited with {r.returncode}: {r.stderr[-2000:]}"
    calls, errors = (int(v) for v in r.stdout.split())
    assert calls > 1000 and errors > 0
