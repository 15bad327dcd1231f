"""Regression tests of the hardening issue, through Python: each failed before its fix (the
interpreter killed by a trap, a hang, two paths aliasing one file, NaNs without an error,
debris left by a killed save)."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import swiftcnn
from swiftcnn import models


def _run(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout)


def test_workspace_bytes_of_an_overflowing_batch_raises():
    # Trapped (SIGILL) before: run in a child so that a regression fails this test instead of
    # killing the test run.
    r = _run("""
        import swiftcnn
        m = swiftcnn.models.create("resnet18")
        for n in (2**50, 2**62):
            try:
                m.workspace_bytes([n, 3, 224, 224])
            except ValueError as e:
                assert "overflows" in str(e), e
            else:
                raise SystemExit("no error")
        print("ok")
    """)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stderr[-2000:])


def _finishes(fn, fifo, seconds=10.0):
    """Runs fn on a thread; if it blocks, opens the FIFO for writing (releasing a reader
    blocked in open) and fails."""
    box = {}

    def body():
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            box["error"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    if t.is_alive():
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        t.join(30)
        pytest.fail("blocked on a special file")
    if "error" in box:
        raise box["error"]


def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "w.fifo"
    os.mkfifo(fifo)
    m = models.create("lenet5")
    opt = swiftcnn.optim.SGD(m, lr=0.1)
    for path, kind in ((fifo, "FIFO"), ("/dev/zero", "character device"), (tmp_path, "directory")):
        def attempt():
            with pytest.raises(OSError, match=f"{kind}.*not a regular file"):
                m.load(path)
            with pytest.raises(OSError, match="not a regular file"):
                opt.load_checkpoint(path)
        _finishes(attempt, fifo)
    with pytest.raises(OSError, match="FIFO.*refusing to replace"):
        m.save(fifo)
    assert os.listdir(tmp_path) == ["w.fifo"]


@pytest.mark.parametrize("kind", ["bytes", "surrogateescape str", "PathLike"])
def test_non_utf8_paths_are_taken_byte_for_byte(tmp_path, kind):
    raw = os.fsencode(tmp_path) + b"/w\xff.safetensors"
    path = {"bytes": raw, "surrogateescape str": os.fsdecode(raw),
            "PathLike": __import__("pathlib").Path(os.fsdecode(raw))}[kind]
    m = models.create("lenet5")
    m.save(path)
    assert os.listdir(os.fsencode(tmp_path)) == [b"w\xff.safetensors"]
    again = models.create("lenet5")
    again.reset_parameters(seed=1)
    again.load(path)
    for k, v in m.state_dict().items():
        assert np.array_equal(again.state_dict()[k], v)
    with pytest.raises(OSError, match="No such file"):
        again.load(os.fsencode(tmp_path) + b"/w\xef\xbf\xbd.safetensors")
    opt = swiftcnn.optim.SGD(m, lr=0.1)
    opt.save_checkpoint(os.fsencode(tmp_path) + b"/c\xfe")
    opt.load_checkpoint(os.fsencode(tmp_path) + b"/c\xfe")
    assert sorted(os.listdir(os.fsencode(tmp_path))) == [b"c\xfe", b"w\xff.safetensors"]


def test_seeded_tensor_refuses_bounds_that_give_non_finite_values():
    for lo, hi in ((-1e300, 1e300), (-3e38, 3e38), (0.0, 1e39), (0.0, float("inf")), (1.0, 0.0)):
        with pytest.raises(ValueError, match="seeded tensor"):
            models.seeded_tensor("x", (16,), lo, hi)
    assert np.isfinite(models.seeded_tensor("x", (4096,), 0.0, 3.4e38)).all()


SAVER = """
import os, sys, swiftcnn
m = swiftcnn.models.create("alexnet")        # 244 MB of weights: a save takes a while
path = sys.argv[1]
m.save(path)
print("saved", flush=True)
while True:
    m.save(path)
"""


def test_save_killed_midway_leaves_no_debris(tmp_path):
    # Before the fix a killed save left its "<path>.tmp-<pid>-<n>" file, as large as the model.
    path = tmp_path / "alexnet.safetensors"
    for attempt in range(3):
        p = subprocess.Popen([sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert p.stdout.readline().strip() == "saved"
            time.sleep(0.05 + 0.15 * attempt)   # somewhere inside a later save
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        assert os.listdir(tmp_path) == ["alexnet.safetensors"], os.listdir(tmp_path)
        # The file is always a complete model.
        models.create("alexnet").load(path)


def test_next_save_removes_temporaries_of_dead_processes(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path = tmp_path / "m.safetensors"
    stale = tmp_path / f"m.safetensors.tmp-{dead.pid}-5eed"
    live = tmp_path / f"m.safetensors.tmp-{os.getpid()}-5eed"
    stale.write_bytes(b"partial")
    live.write_bytes(b"in progress")
    models.create("lenet5").save(path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.safetensors", live.name])


def test_unknown_fields_in_a_safetensors_entry_are_ignored(tmp_path):
    import json
    import struct
    header = json.dumps({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "note": {"by": "tool"}}}).encode()
    path = tmp_path / "extra.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header + np.array([1, 2], np.float32).tobytes())
    assert swiftcnn.read_safetensors(path, "w").tolist() == [1.0, 2.0]


def test_header_states_the_contracts():
    # The contracts the audit found unstated, each in the header, the API's documentation.
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
    text = open(os.path.join(root, "Include", "swiftcnn.h"), encoding="utf-8").read()
    flat = " ".join(text.replace("///", " ").replace(" * ", " ").split())
    for phrase in [
        "Paths (char const *path) are byte strings, passed to the operating system exactly as given",
        "a directory, FIFO, device or socket is refused with SCNN_STATUS_IO before it is opened",
        "must be 1 to 2^31 - 1 (2147483647)",
        "`epochs` and `batch_size` must be 1 to 2^31 - 1",
        "`steps` is at most 2^31 - 1",
        "a forward already running may finish some of its layers with either kind",
        "scnn_model_evaluate and scnn_model_predict (they run in evaluation mode and change nothing)",
        "An optimizer may be destroyed while other threads run reads",
        "fields of a tensor entry other than dtype, shape and data_offsets are ignored",
        "A process killed mid-save leaves no partial file",
    ]:
        assert phrase in flat, phrase
