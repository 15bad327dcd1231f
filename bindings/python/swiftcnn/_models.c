/*
 * swiftcnn._swiftcnn, model zoo part: the Model type (an scnn_model*) and the zoo functions,
 * thin wrappers of the scnn_model_* calls of Include/swiftcnn.h. Added to the extension
 * module by scnn_py_add_models(), called from _swiftcnn.c's module init. The Pythonic layer
 * (defaults, dtype conversion, dicts, docstrings) is swiftcnn/models.py, whose Model class
 * subclasses this type.
 *
 * Errors are raised through _swiftcnn.c's raise_status (the library's message, the
 * SwiftCNNError subclass of the status); results are its TensorBuffers (zero copy).
 *
 * Threads: the GIL is released around every call that computes, reads or writes weights
 * or files. The library lets forward, summary, save and weight reads run concurrently on one
 * model but forbids anything concurrent with a call that changes it (load, load_state_dict,
 * init_seeded). Each Model therefore counts its readers and its writer (both changed only
 * while holding the GIL): a changing call while another thread uses the model, or any call
 * while another thread changes it, raises RuntimeError instead of racing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "swiftcnn.h"
#include "_models.h"

static scnn_py_raise_fn raise_status;
static scnn_py_tensor_fn tensor_result;

/* ---- Model ---------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    scnn_model *model;
    Py_ssize_t readers; /* calls using the model with the GIL released */
    int writing;        /* a call changing the model is running with the GIL released */
} ModelObject;

static PyTypeObject ModelType;

static const char *model_name(ModelObject *self)
{
    const char *n = scnn_model_get_name(self->model);
    return n != NULL ? n : "model";
}

static int check_model(ModelObject *self)
{
    if (self->model == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "swiftcnn: this Model was not created (Model.__new__ was not called)");
        return 0;
    }
    return 1;
}

static int begin_read(ModelObject *self)
{
    if (!check_model(self))
        return 0;
    if (self->writing) {
        PyErr_Format(PyExc_RuntimeError, "%s: the model's weights are being changed by another thread",
                     model_name(self));
        return 0;
    }
    self->readers++;
    return 1;
}

static void end_read(ModelObject *self)
{
    self->readers--;
}

static int begin_write(ModelObject *self)
{
    if (!check_model(self))
        return 0;
    if (self->writing || self->readers > 0) {
        PyErr_Format(PyExc_RuntimeError,
                     "%s: cannot change the model's weights while another thread uses the model", model_name(self));
        return 0;
    }
    self->writing = 1;
    return 1;
}

static void end_write(ModelObject *self)
{
    self->writing = 0;
}

scnn_model *scnn_py_model_begin(PyObject *obj, int write)
{
    ModelObject *self;
    if (!PyObject_TypeCheck(obj, &ModelType)) {
        PyErr_Format(PyExc_TypeError, "model: expected a swiftcnn.models.Model, got %.200s", Py_TYPE(obj)->tp_name);
        return NULL;
    }
    self = (ModelObject *)obj;
    if (!(write ? begin_write(self) : begin_read(self)))
        return NULL;
    return self->model;
}

void scnn_py_model_end(PyObject *obj, int write)
{
    if (write)
        end_write((ModelObject *)obj);
    else
        end_read((ModelObject *)obj);
}

/* A new instance of `type` (a subclass of Model) owning `model`. */
static PyObject *wrap_model(PyObject *type, scnn_model *model)
{
    ModelObject *self;
    if (!PyType_Check(type) || !PyType_IsSubtype((PyTypeObject *)type, &ModelType)) {
        scnn_model_destroy(model);
        PyErr_SetString(PyExc_TypeError, "cls: expected a subclass of Model");
        return NULL;
    }
    self = (ModelObject *)((PyTypeObject *)type)->tp_alloc((PyTypeObject *)type, 0);
    if (self == NULL) {
        scnn_model_destroy(model);
        return NULL;
    }
    self->model = model;
    self->readers = 0;
    self->writing = 0;
    return (PyObject *)self;
}

/* Model(name, num_classes): scnn_model_create. */
static PyObject *model_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"name", "num_classes", NULL};
    const char *name;
    Py_ssize_t name_len;
    long long num_classes;
    scnn_model *model = NULL;
    scnn_status st;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "s#L:Model", kwlist, &name, &name_len, &num_classes))
        return NULL;
    if ((size_t)name_len != strlen(name)) {
        PyErr_SetString(PyExc_ValueError, "name: embedded NUL character");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_create(name, (int64_t)num_classes, &model);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK) {
        scnn_model_destroy(model);
        return raise_status(st, NULL);
    }
    return wrap_model((PyObject *)type, model);
}

static void model_dealloc(ModelObject *self)
{
    scnn_model_destroy(self->model);
    self->model = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Up to PyBUF_MAX_NDIM integers from a sequence; returns the count or -1 with an exception. */
static int int64_sequence(PyObject *obj, const char *what, int64_t *dst, int capacity)
{
    PyObject *seq = PySequence_Fast(obj, "");
    Py_ssize_t n, i;
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a sequence of integers, got %.200s", what, Py_TYPE(obj)->tp_name);
        return -1;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > capacity) {
        Py_DECREF(seq);
        PyErr_Format(PyExc_ValueError, "%s: expected at most %d integers, got %zd", what, capacity, n);
        return -1;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *index = PyNumber_Index(item);
        long long v;
        if (index == NULL) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_TypeError, "%s: expected integers, got %.200s", what, Py_TYPE(item)->tp_name);
            return -1;
        }
        v = PyLong_AsLongLong(index);
        Py_DECREF(index);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        dst[i] = (int64_t)v;
    }
    Py_DECREF(seq);
    return (int)n;
}

static int is_float32_format(const char *f)
{
    if (f == NULL)
        return 0;
    if (f[0] == '@' || f[0] == '=' || f[0] == '<')
        f++;
    return f[0] == 'f' && f[1] == '\0';
}

/* A C-contiguous, aligned float32 buffer of `obj`; 0 with an exception set on failure. */
static int float_buffer(PyObject *obj, const char *what, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a C-contiguous float32 buffer (e.g. a numpy array), got %.200s",
                     what, Py_TYPE(obj)->tp_name);
        return 0;
    }
    if (!is_float32_format(view->format) || view->itemsize != (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_TypeError, "%s: expected float32 elements (buffer format 'f'), got format '%s'", what,
                     view->format != NULL ? view->format : "B");
        PyBuffer_Release(view);
        return 0;
    }
    if (((uintptr_t)view->buf) % sizeof(float) != 0) {
        PyErr_Format(PyExc_ValueError, "%s: the buffer is not aligned to 4 bytes", what);
        PyBuffer_Release(view);
        return 0;
    }
    return 1;
}

/* _forward(x) -> TensorBuffer [N, num_classes]: scnn_model_forward on x's buffer (no copy). */
static PyObject *model_forward(ModelObject *self, PyObject *x)
{
    Py_buffer view;
    int64_t shape[PyBUF_MAX_NDIM + 1];
    int64_t out_shape[PyBUF_MAX_NDIM + 1];
    int64_t out_count = 1;
    int32_t rank, out_rank = 0;
    scnn_tensor *out = NULL;
    float *dst;
    scnn_status st;
    int i;

    if (!check_model(self))
        return NULL;
    if (!float_buffer(x, "input", &view))
        return NULL;
    rank = (int32_t)view.ndim;
    for (i = 0; i < view.ndim; i++)
        shape[i] = (int64_t)view.shape[i];
    shape[view.ndim] = 0;
    /* Validates the shape (the message says what the model expects) before any allocation. */
    st = scnn_model_io_shape(self->model, 1, 0, NULL, 0, &out_rank);
    if (out_rank >= 1 && out_rank <= PyBUF_MAX_NDIM)
        st = scnn_model_output_shape(self->model, shape, rank, out_shape);
    if (st == SCNN_STATUS_OK) {
        for (i = 0; i < out_rank; i++)
            out_count *= out_shape[i];
        st = scnn_tensor_create(out_shape, out_rank, &out);
    }
    if (st != SCNN_STATUS_OK) {
        PyBuffer_Release(&view);
        scnn_tensor_destroy(out);
        return raise_status(st, NULL);
    }
    dst = scnn_tensor_mutable_data(out);
    if (!begin_read(self)) {
        PyBuffer_Release(&view);
        scnn_tensor_destroy(out);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_forward(self->model, (const float *)view.buf, shape, rank, dst, out_count);
    Py_END_ALLOW_THREADS
    end_read(self);
    PyBuffer_Release(&view);
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(out);
        return raise_status(st, NULL);
    }
    return tensor_result(out);
}

/* A tuple of `n` int64 values. */
static PyObject *int_tuple(const int64_t *v, int n)
{
    PyObject *t = PyTuple_New(n);
    int i;
    if (t == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *x = PyLong_FromLongLong((long long)v[i]);
        if (x == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, x);
    }
    return t;
}

/* _output_shape(input_shape) -> the output shape: scnn_model_output_shape. */
static PyObject *model_output_shape(ModelObject *self, PyObject *obj)
{
    int64_t shape[PyBUF_MAX_NDIM + 1], out[PyBUF_MAX_NDIM + 1];
    int32_t out_rank = 0;
    int n;
    scnn_status st;
    if (!check_model(self))
        return NULL;
    n = int64_sequence(obj, "input_shape", shape, PyBUF_MAX_NDIM);
    if (n < 0)
        return NULL;
    shape[n] = 0;
    st = scnn_model_io_shape(self->model, 1, 0, NULL, 0, &out_rank);
    if (out_rank < 1 || out_rank > PyBUF_MAX_NDIM)
        return raise_status(st, NULL);
    st = scnn_model_output_shape(self->model, shape, (int32_t)n, out);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return int_tuple(out, out_rank);
}

/* _load(path): scnn_model_load. path: str, bytes or os.PathLike. */
static PyObject *model_load(ModelObject *self, PyObject *arg)
{
    PyObject *bytes = NULL;
    scnn_status st;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    if (!begin_write(self)) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_load(self->model, PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS
    end_write(self);
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* _save(path): scnn_model_save (atomic). */
static PyObject *model_save(ModelObject *self, PyObject *arg)
{
    PyObject *bytes = NULL;
    scnn_status st;
    if (!PyUnicode_FSConverter(arg, &bytes))
        return NULL;
    if (!begin_read(self)) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_save(self->model, PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS
    end_read(self);
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* _summary(input_shape | None) -> str: scnn_model_summary. */
static PyObject *model_summary(ModelObject *self, PyObject *obj)
{
    int64_t shape[PyBUF_MAX_NDIM + 1];
    const int64_t *ptr = NULL;
    char *text = NULL;
    PyObject *result;
    scnn_status st;
    int32_t in_rank = 4;
    if (obj != Py_None) {
        int n = int64_sequence(obj, "input_shape", shape, PyBUF_MAX_NDIM);
        if (n < 0)
            return NULL;
        (void)scnn_model_io_shape(self->model, 0, 0, NULL, 0, &in_rank);
        if (n != in_rank) {
            PyErr_Format(PyExc_ValueError, "input_shape: expected %d integers (the batch size, then the input's shape), got %d",
                         (int)in_rank, n);
            return NULL;
        }
        ptr = shape;
    }
    if (!begin_read(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_summary(self->model, ptr, &text);
    Py_END_ALLOW_THREADS
    end_read(self);
    if (st != SCNN_STATUS_OK) {
        scnn_string_free(text);
        return raise_status(st, NULL);
    }
    result = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    scnn_string_free(text);
    return result;
}

/* ---- per-layer profiler ---- */

/* The capsule name of an scnn_profile (freed with the capsule). */
#define PROFILE_CAPSULE "swiftcnn._profile"

static void profile_capsule_free(PyObject *capsule)
{
    scnn_profile_free((scnn_profile *)PyCapsule_GetPointer(capsule, PROFILE_CAPSULE));
}

/* The scnn_profile in a capsule made by _profile, or NULL with TypeError. */
static scnn_profile *profile_from_capsule(PyObject *capsule)
{
    if (!PyCapsule_IsValid(capsule, PROFILE_CAPSULE)) {
        PyErr_SetString(PyExc_TypeError, "profile: expected a profile made by Model.profile");
        return NULL;
    }
    return (scnn_profile *)PyCapsule_GetPointer(capsule, PROFILE_CAPSULE);
}

/* _profile(x, runs, warmup) -> (capsule, total_ms, [(node, op, kernel, fused, steps, ms,
   share, macs, flops, gflops, bytes, gbps), ...]): scnn_model_profile. */
static PyObject *model_profile(ModelObject *self, PyObject *args)
{
    PyObject *x, *capsule = NULL, *rows = NULL, *result = NULL;
    long long runs, warmup;
    Py_buffer view;
    int64_t shape[PyBUF_MAX_NDIM + 1];
    scnn_profile *profile = NULL;
    scnn_status st;
    int64_t i, count;
    int d;

    if (!PyArg_ParseTuple(args, "OLL", &x, &runs, &warmup))
        return NULL;
    if (!check_model(self))
        return NULL;
    if (!float_buffer(x, "input", &view))
        return NULL;
    for (d = 0; d < view.ndim; d++)
        shape[d] = (int64_t)view.shape[d];
    shape[view.ndim] = 0;
    if (!begin_read(self)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_profile(self->model, (const float *)view.buf, shape, (int32_t)view.ndim, (int64_t)runs,
                            (int64_t)warmup, &profile);
    Py_END_ALLOW_THREADS
    end_read(self);
    PyBuffer_Release(&view);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    capsule = PyCapsule_New(profile, PROFILE_CAPSULE, profile_capsule_free);
    if (capsule == NULL) {
        scnn_profile_free(profile);
        return NULL;
    }
    count = scnn_profile_count(profile);
    rows = PyList_New((Py_ssize_t)count);
    if (rows == NULL)
        goto done;
    for (i = 0; i < count; i++) {
        scnn_profile_node e;
        PyObject *row;
        st = scnn_profile_entry(profile, i, &e);
        if (st != SCNN_STATUS_OK) {
            raise_status(st, NULL);
            goto done;
        }
        row = Py_BuildValue("(ssssLddLLdLd)", e.node, e.op, e.kernel, e.fused, (long long)e.steps, e.ms, e.share,
                            (long long)e.macs, (long long)e.flops, e.gflops, (long long)e.bytes, e.gbps);
        if (row == NULL)
            goto done;
        PyList_SET_ITEM(rows, (Py_ssize_t)i, row);
    }
    result = Py_BuildValue("(OdO)", capsule, scnn_profile_total_ms(profile), rows);
done:
    Py_XDECREF(rows);
    Py_DECREF(capsule);
    return result;
}

/* _profile_text(capsule, limit) -> str: scnn_profile_text. */
static PyObject *model_profile_text(ModelObject *self, PyObject *args)
{
    PyObject *capsule, *result;
    long long limit;
    scnn_profile *profile;
    char *text = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OL", &capsule, &limit))
        return NULL;
    if ((profile = profile_from_capsule(capsule)) == NULL)
        return NULL;
    st = scnn_profile_text(profile, (int64_t)limit, &text);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    result = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    scnn_string_free(text);
    return result;
}

/* _summary_profiled(capsule) -> str: scnn_model_summary_profiled. */
static PyObject *model_summary_profiled(ModelObject *self, PyObject *capsule)
{
    scnn_profile *profile;
    char *text = NULL;
    PyObject *result;
    scnn_status st;
    if (!check_model(self))
        return NULL;
    if ((profile = profile_from_capsule(capsule)) == NULL)
        return NULL;
    if (!begin_read(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_summary_profiled(self->model, profile, &text);
    Py_END_ALLOW_THREADS
    end_read(self);
    if (st != SCNN_STATUS_OK) {
        scnn_string_free(text);
        return raise_status(st, NULL);
    }
    result = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "replace");
    scnn_string_free(text);
    return result;
}

/* A model query that takes an optional [N, C, H, W] shape and writes one int64. */
typedef scnn_status (*shape_query)(scnn_model const *, int64_t const *, int64_t *);

static PyObject *model_shape_query(ModelObject *self, PyObject *obj, shape_query query)
{
    int64_t shape[4], value = 0;
    const int64_t *ptr = NULL;
    scnn_status st;
    if (obj != Py_None) {
        int n = int64_sequence(obj, "input_shape", shape, 4);
        if (n < 0)
            return NULL;
        if (n != 4) {
            PyErr_Format(PyExc_ValueError, "input_shape: expected 4 integers [N, C, H, W], got %d", n);
            return NULL;
        }
        ptr = shape;
    }
    if (!begin_read(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = query(self->model, ptr, &value);
    Py_END_ALLOW_THREADS
    end_read(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyLong_FromLongLong((long long)value);
}

/* _macs(input_shape | None) -> int: scnn_model_macs (per example). */
static PyObject *model_macs(ModelObject *self, PyObject *obj)
{
    return model_shape_query(self, obj, scnn_model_macs);
}

/* _workspace_bytes(input_shape | None) -> int: scnn_model_workspace_bytes. */
static PyObject *model_workspace_bytes(ModelObject *self, PyObject *obj)
{
    return model_shape_query(self, obj, scnn_model_workspace_bytes);
}

/* _state_dict(buffers_only=False) -> [(key, TensorBuffer, is_buffer), ...] in PyTorch's
 * order (copies); buffers_only: the batch-norm running statistics alone. */
static PyObject *model_state_dict(ModelObject *self, PyObject *args)
{
    int64_t count, i;
    int buffers_only = 0;
    PyObject *list;
    if (!PyArg_ParseTuple(args, "|p:_state_dict", &buffers_only))
        return NULL;
    if (!check_model(self))
        return NULL;
    count = scnn_model_parameter_count(self->model);
    list = PyList_New(0);
    if (list == NULL)
        return NULL;
    for (i = 0; i < count; i++) {
        const char *key = scnn_model_parameter_name(self->model, i);
        int32_t is_buffer = scnn_model_parameter_is_buffer(self->model, i);
        scnn_tensor *t = NULL;
        scnn_status st;
        PyObject *buf, *item;
        if (buffers_only && is_buffer != 1)
            continue;
        if (key == NULL) {
            Py_DECREF(list);
            PyErr_Format(PyExc_RuntimeError, "%s: state-dict entry %lld has no name", model_name(self), (long long)i);
            return NULL;
        }
        if (!begin_read(self)) {
            Py_DECREF(list);
            return NULL;
        }
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_get_parameter(self->model, key, &t);
        Py_END_ALLOW_THREADS
        end_read(self);
        if (st != SCNN_STATUS_OK) {
            scnn_tensor_destroy(t);
            Py_DECREF(list);
            return raise_status(st, NULL);
        }
        buf = tensor_result(t);
        if (buf == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        item = Py_BuildValue("(sNO)", key, buf, is_buffer == 1 ? Py_True : Py_False);
        if (item == NULL || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

/* _load_state_dict(keys: list[str], arrays: list[float32 buffer], strict: bool):
 * scnn_model_load_state_dict; the arrays are wrapped without a copy (the library copies). */
static PyObject *model_load_state_dict(ModelObject *self, PyObject *args)
{
    PyObject *keys, *arrays, *result = NULL;
    int strict;
    Py_ssize_t n, i, wrapped = 0;
    const char **names = NULL;
    scnn_tensor **tensors = NULL;
    Py_buffer *views = NULL;
    scnn_status st;

    if (!PyArg_ParseTuple(args, "O!O!p:_load_state_dict", &PyList_Type, &keys, &PyList_Type, &arrays, &strict))
        return NULL;
    if (!check_model(self))
        return NULL;
    n = PyList_GET_SIZE(keys);
    if (PyList_GET_SIZE(arrays) != n) {
        PyErr_Format(PyExc_ValueError, "load_state_dict: %zd keys but %zd arrays", n, PyList_GET_SIZE(arrays));
        return NULL;
    }
    names = (const char **)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *names);
    tensors = (scnn_tensor **)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *tensors);
    views = (Py_buffer *)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof *views);
    if (names == NULL || tensors == NULL || views == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_ssize_t len;
        int64_t shape[PyBUF_MAX_NDIM + 1];
        int d;
        if (!PyUnicode_Check(key)) {
            PyErr_Format(PyExc_TypeError, "load_state_dict: keys must be str, got %.200s", Py_TYPE(key)->tp_name);
            goto done;
        }
        names[i] = PyUnicode_AsUTF8AndSize(key, &len); /* owned by the key, which the list holds */
        if (names[i] == NULL)
            goto done;
        if ((size_t)len != strlen(names[i])) {
            PyErr_SetString(PyExc_ValueError, "load_state_dict: a key contains a NUL character");
            goto done;
        }
        if (!float_buffer(PyList_GET_ITEM(arrays, i), names[i], &views[i]))
            goto done;
        for (d = 0; d < views[i].ndim; d++)
            shape[d] = (int64_t)views[i].shape[d];
        shape[views[i].ndim] = 0;
        st = scnn_tensor_wrap((const float *)views[i].buf, (int64_t)(views[i].len / (Py_ssize_t)sizeof(float)),
                              shape, (int32_t)views[i].ndim, &tensors[i]);
        wrapped = i + 1;
        if (st != SCNN_STATUS_OK) {
            raise_status(st, names[i]);
            goto done;
        }
    }
    if (!begin_write(self))
        goto done;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_load_state_dict(self->model, names, (const scnn_tensor *const *)tensors, (int64_t)n, strict);
    Py_END_ALLOW_THREADS
    end_write(self);
    if (st != SCNN_STATUS_OK) {
        raise_status(st, NULL);
        goto done;
    }
    Py_INCREF(Py_None);
    result = Py_None;
done:
    for (i = 0; i < wrapped; i++) {
        scnn_tensor_destroy(tensors[i]);
        PyBuffer_Release(&views[i]);
    }
    PyMem_Free(names);
    PyMem_Free(tensors);
    PyMem_Free(views);
    return result;
}

/* _init_seeded(seed): scnn_model_init_seeded. */
static PyObject *model_init_seeded(ModelObject *self, PyObject *arg)
{
    unsigned long long seed = PyLong_AsUnsignedLongLong(arg);
    scnn_status st;
    if (seed == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    if (!begin_write(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_init_seeded(self->model, (uint64_t)seed);
    Py_END_ALLOW_THREADS
    end_write(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *model_get_name(ModelObject *self, void *closure)
{
    (void)closure;
    if (!check_model(self))
        return NULL;
    return PyUnicode_FromString(model_name(self));
}

static PyObject *model_get_num_classes(ModelObject *self, void *closure)
{
    (void)closure;
    if (!check_model(self))
        return NULL;
    return PyLong_FromLongLong((long long)scnn_model_num_classes(self->model));
}

static PyObject *model_get_num_parameters(ModelObject *self, void *closure)
{
    (void)closure;
    if (!check_model(self))
        return NULL;
    return PyLong_FromLongLong((long long)scnn_model_num_parameters(self->model));
}


static PyObject *model_shapes(ModelObject *self, int want_min)
{
    int64_t shape[PyBUF_MAX_NDIM + 1], min_hw[2];
    int32_t rank = 0;
    scnn_status st;
    if (!check_model(self))
        return NULL;
    st = scnn_model_io_shape(self->model, 0, 0, shape, PyBUF_MAX_NDIM, &rank);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    if (want_min) {
        if (rank != 4)
            Py_RETURN_NONE;
        st = scnn_model_input_shape(self->model, shape, min_hw);
        if (st != SCNN_STATUS_OK)
            return raise_status(st, NULL);
        return Py_BuildValue("(LL)", (long long)min_hw[0], (long long)min_hw[1]);
    }
    return int_tuple(shape, rank);
}

/* _to_json() -> str: scnn_model_to_json. */
static PyObject *model_to_json(ModelObject *self, PyObject *unused)
{
    char *text = NULL;
    PyObject *r;
    scnn_status st;
    (void)unused;
    if (!begin_read(self))
        return NULL;
    st = scnn_model_to_json(self->model, &text);
    end_read(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    r = PyUnicode_DecodeUTF8(text, (Py_ssize_t)strlen(text), "strict");
    scnn_string_free(text);
    return r;
}

/* A tuple of the C strings get(model, i) for i in 0 ..< n. */
static PyObject *name_tuple(scnn_model *m, Py_ssize_t n, const char *(*get)(scnn_model const *, int64_t))
{
    PyObject *t = PyTuple_New(n);
    Py_ssize_t i;
    if (t == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *c = get(m, (int64_t)i);
        PyObject *s = PyUnicode_DecodeUTF8(c != NULL ? c : "", c != NULL ? (Py_ssize_t)strlen(c) : 0, "replace");
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static const char *input_name64(scnn_model const *m, int64_t i) { return scnn_model_input_name(m, (int32_t)i); }
static const char *output_name64(scnn_model const *m, int64_t i) { return scnn_model_output_name(m, (int32_t)i); }

/* _node_names() -> tuple[str]: scnn_model_node_name for every node. */
static PyObject *model_node_names(ModelObject *self, PyObject *unused)
{
    (void)unused;
    if (!check_model(self))
        return NULL;
    return name_tuple(self->model, (Py_ssize_t)scnn_model_node_count(self->model), scnn_model_node_name);
}

/* _io_names() -> (inputs, outputs). */
static PyObject *model_io_names(ModelObject *self, PyObject *unused)
{
    PyObject *a, *b;
    (void)unused;
    if (!check_model(self))
        return NULL;
    a = name_tuple(self->model, scnn_model_input_count(self->model), input_name64);
    if (a == NULL)
        return NULL;
    b = name_tuple(self->model, scnn_model_output_count(self->model), output_name64);
    if (b == NULL) {
        Py_DECREF(a);
        return NULL;
    }
    return Py_BuildValue("(NN)", a, b);
}

/* _forward_outputs(x, names) -> tuple[TensorBuffer]: scnn_model_forward_outputs. */
static PyObject *model_forward_outputs(ModelObject *self, PyObject *args)
{
    PyObject *x, *names, *seq = NULL, *result = NULL;
    Py_buffer view;
    int64_t shape[PyBUF_MAX_NDIM + 1];
    scnn_tensor *input = NULL, **outs = NULL;
    const char **cnames = NULL;
    Py_ssize_t n, i;
    scnn_status st;
    int k;
    if (!PyArg_ParseTuple(args, "OO:_forward_outputs", &x, &names))
        return NULL;
    if (!check_model(self))
        return NULL;
    seq = PySequence_Fast(names, "outputs: expected a sequence of node names");
    if (seq == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n < 1 || n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "outputs: expected at least one node name");
        Py_DECREF(seq);
        return NULL;
    }
    cnames = PyMem_Calloc((size_t)n, sizeof(char *));
    outs = PyMem_Calloc((size_t)n, sizeof(scnn_tensor *));
    if (cnames == NULL || outs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t len;
        if (!PyUnicode_Check(item)) {
            PyErr_Format(PyExc_TypeError, "outputs: expected str node names, got %.200s", Py_TYPE(item)->tp_name);
            goto done;
        }
        cnames[i] = PyUnicode_AsUTF8AndSize(item, &len);
        if (cnames[i] == NULL)
            goto done;
        if ((size_t)len != strlen(cnames[i])) {
            PyErr_SetString(PyExc_ValueError, "outputs: embedded NUL character");
            goto done;
        }
    }
    if (!float_buffer(x, "input", &view))
        goto done;
    for (k = 0; k < view.ndim; k++)
        shape[k] = (int64_t)view.shape[k];
    st = scnn_tensor_wrap((const float *)view.buf, (int64_t)(view.len / (Py_ssize_t)sizeof(float)), shape, (int32_t)view.ndim, &input);
    if (st != SCNN_STATUS_OK) {
        PyBuffer_Release(&view);
        raise_status(st, NULL);
        goto done;
    }
    if (!begin_read(self)) {
        scnn_tensor_destroy(input);
        PyBuffer_Release(&view);
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_forward_outputs(self->model, input, (int32_t)n, cnames, outs);
    Py_END_ALLOW_THREADS
    end_read(self);
    scnn_tensor_destroy(input);
    PyBuffer_Release(&view);
    if (st != SCNN_STATUS_OK) {
        raise_status(st, NULL);
        goto done;
    }
    result = PyTuple_New(n);
    if (result == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        PyObject *t = tensor_result(outs[i]);
        outs[i] = NULL;
        if (t == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, i, t);
    }
done:
    if (outs != NULL)
        for (i = 0; i < n; i++)
            scnn_tensor_destroy(outs[i]);
    PyMem_Free(outs);
    PyMem_Free((void *)cnames);
    Py_DECREF(seq);
    return result;
}

typedef scnn_status (*freeze_fn)(scnn_model *, const char *, int64_t *);

static PyObject *model_freeze_common(ModelObject *self, PyObject *arg, freeze_fn fn)
{
    const char *prefix;
    Py_ssize_t len;
    int64_t count = 0;
    scnn_status st;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "prefix: expected a str, got %.200s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    prefix = PyUnicode_AsUTF8AndSize(arg, &len);
    if (prefix == NULL)
        return NULL;
    if ((size_t)len != strlen(prefix)) {
        PyErr_SetString(PyExc_ValueError, "prefix: embedded NUL character");
        return NULL;
    }
    if (!begin_write(self))
        return NULL;
    st = fn(self->model, prefix, &count);
    end_write(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyLong_FromLongLong((long long)count);
}

static PyObject *model_freeze(ModelObject *self, PyObject *arg) { return model_freeze_common(self, arg, scnn_model_freeze); }
static PyObject *model_unfreeze(ModelObject *self, PyObject *arg) { return model_freeze_common(self, arg, scnn_model_unfreeze); }

static PyObject *model_is_frozen(ModelObject *self, PyObject *arg)
{
    const char *name;
    if (!check_model(self))
        return NULL;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "name: expected a str, got %.200s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    name = PyUnicode_AsUTF8(arg);
    if (name == NULL)
        return NULL;
    return PyBool_FromLong(scnn_model_is_frozen(self->model, name));
}

/* _replace(path, node_json): scnn_model_replace. */
static PyObject *model_replace(ModelObject *self, PyObject *args)
{
    const char *path, *json;
    Py_ssize_t plen, jlen;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "s#s#:_replace", &path, &plen, &json, &jlen))
        return NULL;
    if ((size_t)plen != strlen(path) || (size_t)jlen != strlen(json)) {
        PyErr_SetString(PyExc_ValueError, "embedded NUL character");
        return NULL;
    }
    if (!begin_write(self))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_replace(self->model, path, json);
    Py_END_ALLOW_THREADS
    end_write(self);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyObject *model_get_input_shape(ModelObject *self, void *closure)
{
    (void)closure;
    return model_shapes(self, 0);
}

static PyObject *model_get_min_input_size(ModelObject *self, void *closure)
{
    (void)closure;
    return model_shapes(self, 1);
}

static PyMethodDef model_methods[] = {
    {"_forward", (PyCFunction)model_forward, METH_O, "_forward(x) -> TensorBuffer: scnn_model_forward."},
    {"_output_shape", (PyCFunction)model_output_shape, METH_O,
     "_output_shape(input_shape) -> (N, num_classes): scnn_model_output_shape."},
    {"_load", (PyCFunction)model_load, METH_O, "_load(path): scnn_model_load."},
    {"_save", (PyCFunction)model_save, METH_O, "_save(path): scnn_model_save."},
    {"_summary", (PyCFunction)model_summary, METH_O, "_summary(input_shape|None) -> str: scnn_model_summary."},
    {"_profile", (PyCFunction)model_profile, METH_VARARGS,
     "_profile(x, runs, warmup) -> (capsule, total_ms, rows): scnn_model_profile."},
    {"_profile_text", (PyCFunction)model_profile_text, METH_VARARGS, "_profile_text(capsule, limit) -> str: scnn_profile_text."},
    {"_summary_profiled", (PyCFunction)model_summary_profiled, METH_O,
     "_summary_profiled(capsule) -> str: scnn_model_summary_profiled."},
    {"_macs", (PyCFunction)model_macs, METH_O, "_macs(input_shape|None) -> int: scnn_model_macs (per example)."},
    {"_workspace_bytes", (PyCFunction)model_workspace_bytes, METH_O,
     "_workspace_bytes(input_shape|None) -> int: scnn_model_workspace_bytes."},
    {"_state_dict", (PyCFunction)model_state_dict, METH_VARARGS,
     "_state_dict(buffers_only=False) -> [(key, TensorBuffer, is_buffer)]: scnn_model_get_parameter for every key "
     "(every buffer)."},
    {"_load_state_dict", (PyCFunction)model_load_state_dict, METH_VARARGS,
     "_load_state_dict(keys, arrays, strict): scnn_model_load_state_dict."},
    {"_init_seeded", (PyCFunction)model_init_seeded, METH_O, "_init_seeded(seed): scnn_model_init_seeded."},
    {"_to_json", (PyCFunction)model_to_json, METH_NOARGS, "_to_json() -> str: scnn_model_to_json."},
    {"_node_names", (PyCFunction)model_node_names, METH_NOARGS, "_node_names() -> tuple[str]: scnn_model_node_name."},
    {"_io_names", (PyCFunction)model_io_names, METH_NOARGS, "_io_names() -> (inputs, outputs)."},
    {"_forward_outputs", (PyCFunction)model_forward_outputs, METH_VARARGS,
     "_forward_outputs(x, names) -> tuple[TensorBuffer]: scnn_model_forward_outputs."},
    {"_freeze", (PyCFunction)model_freeze, METH_O, "_freeze(prefix) -> int: scnn_model_freeze."},
    {"_unfreeze", (PyCFunction)model_unfreeze, METH_O, "_unfreeze(prefix) -> int: scnn_model_unfreeze."},
    {"_is_frozen", (PyCFunction)model_is_frozen, METH_O, "_is_frozen(name) -> bool: scnn_model_is_frozen."},
    {"_replace", (PyCFunction)model_replace, METH_VARARGS, "_replace(path, node_json): scnn_model_replace."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef model_getset[] = {
    {"name", (getter)model_get_name, NULL, "The zoo name, e.g. 'resnet50'.", NULL},
    {"num_classes", (getter)model_get_num_classes, NULL, "Number of outputs per example.", NULL},
    {"num_parameters", (getter)model_get_num_parameters, NULL,
     "Trainable parameters (batch-norm running statistics not counted), as PyTorch counts them.", NULL},
    {"input_shape", (getter)model_get_input_shape, NULL,
     "The input the model was designed for, batch 1: (1, C, H, W).", NULL},
    {"min_input_size", (getter)model_get_min_input_size, NULL,
     "The smallest (H, W) the model accepts (the design size for fixed-size models).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftcnn._swiftcnn.Model",
    .tp_basicsize = sizeof(ModelObject),
    .tp_dealloc = (destructor)model_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Model(name, num_classes): a zoo model of libswiftcnn (scnn_model_create).\n"
              "Use swiftcnn.models, whose Model subclasses this.",
    .tp_methods = model_methods,
    .tp_getset = model_getset,
    .tp_new = model_new,
};

/* ---- module functions ----------------------------------------------------------------- */

static PyObject *py_model_names(PyObject *self, PyObject *unused)
{
    const char *const *names = scnn_model_names();
    Py_ssize_t n = 0, i;
    PyObject *t;
    (void)self;
    (void)unused;
    while (names != NULL && names[n] != NULL)
        n++;
    t = PyTuple_New(n);
    if (t == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(names[i]);
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyObject *py_model_default_num_classes(PyObject *self, PyObject *args)
{
    const char *name;
    Py_ssize_t len;
    int64_t n = 0;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "s#:model_default_num_classes", &name, &len))
        return NULL;
    if ((size_t)len != strlen(name)) {
        PyErr_SetString(PyExc_ValueError, "name: embedded NUL character");
        return NULL;
    }
    st = scnn_model_default_num_classes(name, &n);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyLong_FromLongLong((long long)n);
}

PyObject *scnn_py_class_names(int32_t (*count)(void), const char *(*name)(int32_t))
{
    int32_t n = count(), i;
    PyObject *t = PyTuple_New(n > 0 ? n : 0);
    if (t == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        const char *label = name(i);
        PyObject *s = PyUnicode_FromString(label != NULL ? label : "");
        if (s == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, s);
    }
    return t;
}

static PyObject *py_imagenet_classes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return scnn_py_class_names(scnn_imagenet_class_count, scnn_imagenet_class);
}

/* seeded_tensor(name, shape, lo, hi, seed) -> TensorBuffer: scnn_seeded_tensor. */
static PyObject *py_seeded_tensor(PyObject *self, PyObject *args)
{
    const char *name;
    Py_ssize_t len;
    PyObject *shape_obj, *seed_obj;
    double lo, hi;
    int64_t shape[PyBUF_MAX_NDIM + 1];
    unsigned long long seed;
    scnn_tensor *out = NULL;
    scnn_status st;
    int n;
    (void)self;
    if (!PyArg_ParseTuple(args, "s#OddO:seeded_tensor", &name, &len, &shape_obj, &lo, &hi, &seed_obj))
        return NULL;
    if ((size_t)len != strlen(name)) {
        PyErr_SetString(PyExc_ValueError, "name: embedded NUL character");
        return NULL;
    }
    n = int64_sequence(shape_obj, "shape", shape, PyBUF_MAX_NDIM);
    if (n < 0)
        return NULL;
    shape[n] = 0;
    seed = PyLong_AsUnsignedLongLong(seed_obj);
    if (seed == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_seeded_tensor(name, shape, (int32_t)n, lo, hi, (uint64_t)seed, &out);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(out);
        return raise_status(st, NULL);
    }
    return tensor_result(out);
}


/* model_open(cls, path) -> cls: scnn_model_open. */
static PyObject *py_model_open(PyObject *self, PyObject *args)
{
    PyObject *type, *path, *bytes = NULL;
    scnn_model *model = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:model_open", &type, &path))
        return NULL;
    if (!PyUnicode_FSConverter(path, &bytes))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_open(PyBytes_AS_STRING(bytes), &model);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return wrap_model(type, model);
}

/* model_open_memory(cls, buffer) -> cls: scnn_model_open_memory. */
static PyObject *py_model_open_memory(PyObject *self, PyObject *args)
{
    PyObject *type;
    Py_buffer view;
    scnn_model *model = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oy*:model_open_memory", &type, &view))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_open_memory(view.buf != NULL ? view.buf : (const void *)"", (int64_t)view.len, &model);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return wrap_model(type, model);
}

/* model_from_json(cls, json) -> cls: scnn_model_from_json. */
static PyObject *py_model_from_json(PyObject *self, PyObject *args)
{
    PyObject *type;
    const char *json;
    Py_ssize_t len;
    scnn_model *model = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Os#:model_from_json", &type, &json, &len))
        return NULL;
    if ((size_t)len != strlen(json)) {
        PyErr_SetString(PyExc_ValueError, "json: embedded NUL character");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_from_json(json, &model);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return wrap_model(type, model);
}

static PyMethodDef model_functions[] = {
    {"model_open", (PyCFunction)py_model_open, METH_VARARGS, "model_open(cls, path) -> cls: scnn_model_open."},
    {"model_open_memory", (PyCFunction)py_model_open_memory, METH_VARARGS,
     "model_open_memory(cls, data) -> cls: scnn_model_open_memory."},
    {"model_from_json", (PyCFunction)py_model_from_json, METH_VARARGS,
     "model_from_json(cls, json) -> cls: scnn_model_from_json."},
    {"model_names", (PyCFunction)py_model_names, METH_NOARGS, "model_names() -> tuple[str]: scnn_model_names."},
    {"model_default_num_classes", (PyCFunction)py_model_default_num_classes, METH_VARARGS,
     "model_default_num_classes(name) -> int: scnn_model_default_num_classes."},
    {"imagenet_classes", (PyCFunction)py_imagenet_classes, METH_NOARGS,
     "imagenet_classes() -> tuple[str]: scnn_imagenet_class for 0 ..< scnn_imagenet_class_count()."},
    {"seeded_tensor", (PyCFunction)py_seeded_tensor, METH_VARARGS,
     "seeded_tensor(name, shape, lo, hi, seed) -> TensorBuffer: scnn_seeded_tensor."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_models(PyObject *module, scnn_py_raise_fn raise, scnn_py_tensor_fn tensor)
{
    raise_status = raise;
    tensor_result = tensor;
    if (PyType_Ready(&ModelType) < 0)
        return -1;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(module, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        return -1;
    }
    return PyModule_AddFunctions(module, model_functions);
}
