"""Versions, errors, the buffer protocol in and out, dtype conversion, threads, install."""
import gc
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import swiftcnn
from swiftcnn import _swiftcnn as _c


# ---- versions ---------------------------------------------------------------------------

def test_version_matches_library():
    assert swiftcnn.__version__ == _c.version()
    parts = swiftcnn.__version__.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts)


def test_abi_version_checked():
    assert swiftcnn.abi_version() == swiftcnn.ABI_VERSION == _c.ABI_VERSION >= 1


HEADER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "Include", "swiftcnn.h")

# C functions the extension reaches under another Python name.
RENAMED = {"scnn_tensor_from_data": "from_buffer", "scnn_tensor_create": "zeros",
           "scnn_tensor_reshape": "reshape",
           # the model zoo (swiftcnn/_models.c): the Model type and its members
           "scnn_model_count": "model_names", "scnn_model_name": "model_names",
           "scnn_model_create": "Model", "scnn_model_get_name": "Model.name",
           "scnn_model_num_classes": "Model.num_classes", "scnn_model_num_parameters": "Model.num_parameters",
           "scnn_model_input_shape": "Model.input_shape", "scnn_model_output_shape": "Model._output_shape",
           "scnn_model_forward": "Model._forward", "scnn_model_forward_tensor": "Model._forward",
           "scnn_model_summary": "Model._summary", "scnn_model_macs": "Model._macs",
           "scnn_model_workspace_bytes": "Model._workspace_bytes", "scnn_model_load": "Model._load",
           "scnn_model_save": "Model._save", "scnn_model_init_seeded": "Model._init_seeded",
           "scnn_model_parameter_count": "Model._state_dict", "scnn_model_parameter_name": "Model._state_dict",
           "scnn_model_parameter_is_buffer": "Model._state_dict", "scnn_model_get_parameter": "Model._state_dict",
           "scnn_model_set_parameter": "Model._load_state_dict",
           "scnn_model_load_state_dict": "Model._load_state_dict",
           "scnn_imagenet_class_count": "imagenet_classes", "scnn_imagenet_class": "imagenet_classes",
           # the graph engine (swiftcnn/_models.c): Model members behind models.Model's methods
           "scnn_model_to_json": "Model._to_json", "scnn_model_io_shape": "Model.input_shape",
           "scnn_model_node_count": "Model._node_names", "scnn_model_node_name": "Model._node_names",
           "scnn_model_input_count": "Model._io_names", "scnn_model_input_name": "Model._io_names",
           "scnn_model_output_count": "Model._io_names", "scnn_model_output_name": "Model._io_names",
           "scnn_model_forward_outputs": "Model._forward_outputs", "scnn_model_freeze": "Model._freeze",
           "scnn_model_unfreeze": "Model._unfreeze", "scnn_model_is_frozen": "Model._is_frozen",
           "scnn_model_replace": "Model._replace",
           # training (swiftcnn/_training.c): model calls and the Optimizer type
           "scnn_model_set_training": "set_training", "scnn_model_is_training": "is_training",
           "scnn_model_train_step": "train_step", "scnn_model_fit": "fit", "scnn_model_evaluate": "evaluate",
           "scnn_model_predict": "predict", "scnn_optimizer_create": "Optimizer",
           "scnn_optimizer_set_lr": "Optimizer.lr", "scnn_optimizer_get_lr": "Optimizer.lr",
           "scnn_optimizer_progress": "Optimizer.progress", "scnn_optimizer_set_schedule": "Optimizer._set_schedule",
           "scnn_checkpoint_save": "Optimizer._checkpoint", "scnn_checkpoint_load": "Optimizer._checkpoint",
           # the split training step (data-parallel training)
           "scnn_model_compute_gradients": "compute_gradients",
           "scnn_optimizer_gradient_count": "Optimizer._gradient_layout",
           "scnn_optimizer_gradient_info": "Optimizer._gradient_layout",
           "scnn_optimizer_gradient_size": "Optimizer._gradient_size",
           "scnn_optimizer_get_gradients": "Optimizer._get_gradients",
           "scnn_optimizer_set_gradients": "Optimizer._set_gradients",
           "scnn_optimizer_apply_gradients": "Optimizer._apply_gradients",
           "scnn_optimizer_clear_gradients": "Optimizer._clear_gradients",
           # segmentation (swiftcnn/_segment.c, issue 12)
           "scnn_model_segment": "segment_image", "scnn_model_segment_batch": "segment_batch",
           "scnn_voc_class_count": "voc_classes", "scnn_voc_class": "voc_classes",
           # detection (swiftcnn/_tasks.c)
           "scnn_model_detect": "detect", "scnn_coco_class_count": "coco_classes", "scnn_coco_class": "coco_classes",
           # retrieval (swiftcnn/_retrieval.c)
           "scnn_index_create": "Index", "scnn_index_destroy": "Index", "scnn_index_add": "Index._add",
           "scnn_index_count": "Index.count", "scnn_index_dimension": "Index.dimension",
           "scnn_index_get_metric": "Index._metric", "scnn_index_search": "Index._search",
           "scnn_index_remove": "Index._remove", "scnn_index_reset": "Index.reset", "scnn_index_save": "Index._save",
           "scnn_index_load": "Index._load", "scnn_model_embed": "_model_embed",
           # per-layer profiler (swiftcnn/_models.c): _profile reads the entries into rows
           "scnn_model_profile": "Model._profile", "scnn_profile_count": "Model._profile",
           "scnn_profile_entry": "Model._profile", "scnn_profile_total_ms": "Model._profile",
           "scnn_profile_text": "Model._profile_text", "scnn_model_summary_profiled": "Model._summary_profiled"}

# C functions the extension uses as plumbing (wrapping arguments, exporting results,
# reporting errors) rather than as calls of their own; results are zero-copy views, so
# scnn_tensor_copy_to has no use in Python.
PLUMBING = {"scnn_last_error", "scnn_tensor_wrap", "scnn_tensor_destroy", "scnn_tensor_data",
            "scnn_tensor_mutable_data", "scnn_tensor_rank", "scnn_tensor_shape", "scnn_tensor_numel",
            "scnn_tensor_copy_to", "scnn_model_destroy", "scnn_string_free", "scnn_optimizer_destroy",
            "scnn_profile_free"}
# Pictures cross into Python as (width, height, bytes) (swiftcnn/_pictures.c): these make,
# read and free the picture handles behind that; a blank picture in Python is a numpy array.
PLUMBING |= {"scnn_picture_create", "scnn_picture_from_rgb", "scnn_picture_data", "scnn_picture_width",
             "scnn_picture_height", "scnn_picture_destroy"}


def _reachable(dotted):
    obj = _c
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj is not None and (callable(obj) or hasattr(obj, "__get__"))


def declared_c_functions():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r"//[^\n]*", "", text)
    return sorted(set(re.findall(r"\b(scnn_[a-z0-9_]+)\s*\(", text)))


def test_every_c_function_is_reachable_from_python():
    # Every function Include/swiftcnn.h declares has a callable in the extension (named
    # after it without the scnn_ prefix, or as RENAMED says), unless it is PLUMBING.
    declared = declared_c_functions()
    assert "scnn_conv2d" in declared and len(declared) > 40
    unreachable = [f for f in declared if f not in PLUMBING
                   and not _reachable(RENAMED.get(f, f[len("scnn_"):]))]
    assert unreachable == [], "not wrapped by swiftcnn/_swiftcnn.c: " + ", ".join(unreachable)
    assert PLUMBING <= set(declared), "PLUMBING names a function the header does not declare"


def test_status_strings():
    assert _c.status_string(0) == "ok"
    assert _c.status_string(1) == "invalid argument"
    assert _c.status_string(99) == "unknown status"


# ---- exceptions -------------------------------------------------------------------------

@pytest.mark.parametrize("name, builtin", [
    ("InvalidArgumentError", ValueError),
    ("ShapeMismatchError", ValueError),
    ("OutOfMemoryError", MemoryError),
    ("SwiftCNNIOError", OSError),
    ("FormatError", ValueError),
    ("UnsupportedError", NotImplementedError),
    ("InternalError", RuntimeError),
])
def test_exception_hierarchy(name, builtin):
    exc = getattr(swiftcnn, name)
    assert issubclass(exc, swiftcnn.SwiftCNNError)
    assert issubclass(exc, builtin)
    assert exc.__module__ == "swiftcnn"


def test_library_error_carries_message_and_status():
    with pytest.raises(swiftcnn.InvalidArgumentError) as info:
        _c.zeros((2, 0))
    assert "dimension" in str(info.value) and "[2, 0]" in str(info.value)
    assert info.value.status == 1
    assert isinstance(info.value, ValueError)


def test_shape_mismatch_status():
    with pytest.raises(swiftcnn.ShapeMismatchError) as info:
        _c.reshape(np.zeros(6, np.float32), (4, 2))
    assert info.value.status == 2
    assert "6" in str(info.value) and "8" in str(info.value)


def test_out_of_memory_is_an_exception():
    with pytest.raises((swiftcnn.OutOfMemoryError, swiftcnn.InvalidArgumentError)) as info:
        _c.zeros((1 << 20, 1 << 20, 1 << 20, 1 << 20))   # overflows int64 element counts
    assert str(info.value)


def test_huge_but_representable_allocation_is_out_of_memory():
    # 2^40 floats = 4 TiB: the library must refuse it with OUT_OF_MEMORY, not abort.
    with pytest.raises(swiftcnn.OutOfMemoryError) as info:
        _c.zeros((1 << 20, 1 << 20))
    assert isinstance(info.value, MemoryError) and str(info.value)


# ---- arrays in ----------------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(5,), (2, 3), (2, 3, 4), (1, 2, 3, 4)])
def test_from_buffer_round_trip(shape):
    a = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) * 0.5 - 3
    t = _c.from_buffer(a)
    assert t.shape == shape and t.ndim == len(shape)
    np.testing.assert_array_equal(np.asarray(t), a)


@pytest.mark.parametrize("bad, fragment", [
    (np.float32(3.0), "rank"),                       # rank 0
    (np.zeros((1, 1, 1, 1, 1), np.float32), "rank"),  # rank 5
    (np.zeros((3, 0), np.float32), "dimension"),      # empty
])
def test_bad_tensor_shapes_raise_library_message(bad, fragment):
    with pytest.raises(swiftcnn.InvalidArgumentError, match=fragment):
        _c.from_buffer(bad)


def test_extension_refuses_non_float32_buffers():
    with pytest.raises(TypeError, match="float32"):
        _c.from_buffer(np.zeros(3, np.float64))
    with pytest.raises(TypeError, match="float32"):
        _c.from_buffer(b"abcd")
    with pytest.raises(TypeError, match="C-contiguous"):
        _c.from_buffer(np.zeros((4, 4), np.float32)[:, ::2])
    with pytest.raises(TypeError, match="buffer"):
        _c.from_buffer([1.0, 2.0])
    with pytest.raises(TypeError):
        _c.from_buffer(None)


def test_extension_refuses_misaligned_buffers():
    raw = np.zeros(17, np.uint8)
    mis = raw[1:].view(np.float32)   # 16 bytes starting at an odd address
    assert not mis.flags.aligned
    with pytest.raises(swiftcnn.InvalidArgumentError, match="aligned"):
        _c.from_buffer(mis)


def test_python_layer_converts_dtypes_and_layouts():
    from swiftcnn._core import as_f32
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    assert as_f32(a) is a                                   # no copy
    for conv in (a.astype(np.float64), a.astype(np.int64), a.astype(np.uint8), a.astype(np.float16),
                 a.T.copy().T, a[:, ::2], a.astype(">f4"), a.tolist()):
        b = as_f32(conv)
        assert b.dtype == np.float32 and b.flags.c_contiguous and b.flags.aligned
        np.testing.assert_array_equal(b, np.asarray(conv, dtype=np.float32))
    raw = np.zeros(49, np.uint8)
    mis = raw[1:].view(np.float32)
    assert as_f32(mis).flags.aligned


@pytest.mark.parametrize("bad", [
    np.array([True, False]), np.array([1 + 2j]), np.array(["a"]), np.array([object()], dtype=object),
    np.array(["2020-01-01"], dtype="datetime64[D]"),
])
def test_python_layer_refuses_non_real_dtypes(bad):
    from swiftcnn._core import as_f32
    with pytest.raises(TypeError, match="dtype"):
        as_f32(bad, "x")


def test_wrapped_input_is_not_modified():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    before = a.copy()
    t = _c.reshape(a, (3, 2))
    r = np.asarray(t)
    r[:] = -1                                  # the result has its own storage
    np.testing.assert_array_equal(a, before)


# ---- arrays out -------------------------------------------------------------------------

def test_result_is_a_zero_copy_writable_float32_view():
    t = _c.zeros((2, 3))
    a = np.asarray(t)
    assert a.dtype == np.float32 and a.shape == (2, 3) and a.flags.c_contiguous and a.flags.writeable
    assert a.__array_interface__["data"][0] == t.address
    a[1, 2] = 7
    assert np.asarray(t)[1, 2] == 7            # same memory
    m = memoryview(t)
    assert m.format == "f" and m.itemsize == 4 and m.shape == (2, 3) and m.strides == (12, 4)
    assert m.nbytes == 24 and not m.readonly
    assert "TensorBuffer" in repr(t) and "(2, 3)" in repr(t)


def test_result_outlives_its_owner():
    a = np.asarray(_c.from_buffer(np.arange(1000, dtype=np.float32)))
    gc.collect()
    np.testing.assert_array_equal(a, np.arange(1000, dtype=np.float32))
    b = a[10:20]
    del a
    gc.collect()
    np.testing.assert_array_equal(b, np.arange(10, 20, dtype=np.float32))


def test_buffer_export_without_format_or_shape():
    t = _c.from_buffer(np.arange(4, dtype=np.float32))
    assert bytes(t) == np.arange(4, dtype=np.float32).tobytes()


def test_no_leak_over_many_calls():
    # Each result is freed with its last reference: resident memory must not grow by the
    # ~400 MB that leaking these 1 MB results would take.
    def rss_kb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0
    x = np.ones((256, 1024), np.float32)
    for _ in range(20):
        np.asarray(_c.reshape(x, (1024, 256)))
    before = rss_kb()
    for _ in range(400):
        np.asarray(_c.reshape(x, (1024, 256)))
    assert rss_kb() - before < 100_000


# ---- threads ----------------------------------------------------------------------------

def test_concurrent_calls_from_threads(rng):
    from swiftcnn import filters
    x = rng.standard_normal((3, 64, 64)).astype(np.float32)
    k = rng.standard_normal((5, 5)).astype(np.float32)
    expected = filters.apply(x, k, "reflect")
    results, errors = [None] * 8, []
    barrier = threading.Barrier(8)

    def work(i):
        try:
            barrier.wait()
            for _ in range(10):
                results[i] = filters.apply(x, k, "reflect")
                # each thread sees its own error message (scnn_last_error is per thread)
                if i % 2:
                    with pytest.raises(ValueError, match="odd"):
                        filters.gaussian(4, 1.0)
                else:
                    with pytest.raises(ValueError, match="sigma"):
                        filters.gaussian(3, -1.0)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_readonly_and_foreign_buffers_are_accepted():
    import array
    a = np.arange(6, dtype=np.float32)
    a.flags.writeable = False
    np.testing.assert_array_equal(np.asarray(_c.from_buffer(a)), a)
    arr = array.array("f", [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(np.asarray(_c.from_buffer(arr)), [1, 2, 3])
    np.testing.assert_array_equal(np.asarray(_c.from_buffer(memoryview(arr))), [1, 2, 3])


def test_gil_is_released_while_computing():
    # Another thread must run Python code *during* a long library call: a tick stamped
    # in the middle half of a call is only possible if the call released the GIL.
    x = np.ones((8192, 4096), np.float32)            # 128 MB copied per call
    done = threading.Event()
    stamps = []

    def ticker():
        while not done.is_set():
            stamps.append(time.perf_counter())

    t = threading.Thread(target=ticker)
    t.start()
    calls = []
    try:
        for _ in range(4):
            t0 = time.perf_counter()
            r = _c.from_buffer(x)
            t1 = time.perf_counter()
            del r
            calls.append((t0, t1))
    finally:
        done.set()
        t.join()
    inside = [s for (t0, t1) in calls for s in stamps
              if t0 + 0.25 * (t1 - t0) < s < t1 - 0.25 * (t1 - t0)]
    assert inside, f"no Python tick during {len(calls)} calls of {[round(b - a, 4) for a, b in calls]} s"


# ---- installation ------------------------------------------------------------------------

def test_import_from_another_directory_without_ld_library_path(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "PYTHONPATH")}
    code = ("import swiftcnn, os, numpy as np; "
            "print(swiftcnn.__version__, os.path.dirname(swiftcnn._swiftcnn.__file__))")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    version, where = r.stdout.split()
    assert version == swiftcnn.__version__
    assert any(f.startswith("libswiftcnn.so") for f in os.listdir(where))


def test_extension_rpath_is_origin():
    ext = _c.__file__
    r = subprocess.run(["readelf", "-d", ext], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("readelf not available")
    assert "$ORIGIN" in r.stdout
    assert "libswiftcnn.so" in r.stdout
