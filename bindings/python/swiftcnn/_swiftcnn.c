/*
 * swiftcnn._swiftcnn -- the CPython extension of swiftcnn: plain C99 against
 * Include/swiftcnn.h, one thin function per scnn_* call. The Pythonic layer (defaults,
 * int-or-pair arguments, dtype conversions, docstrings) is swiftcnn/__init__.py.
 *
 * Arrays in: any object exporting a C-contiguous float32 buffer (PEP 3118, format "f")
 * of rank 1 to 4. It is wrapped with scnn_tensor_wrap -- no copy -- for the duration of
 * the call; the buffer export is held until the wrapped tensor is destroyed.
 *
 * Arrays out: a TensorBuffer, a small object that owns the result's scnn_tensor* and
 * exports its elements through the buffer protocol (format "f", C-contiguous, writable);
 * numpy.asarray(result) views it without a copy and keeps it alive.
 *
 * The GIL is released around every library call that computes on tensors. Every status
 * other than SCNN_STATUS_OK becomes an exception whose message is scnn_last_error():
 *   INVALID_ARGUMENT -> InvalidArgumentError (ValueError)
 *   SHAPE_MISMATCH   -> ShapeMismatchError   (ValueError)
 *   OUT_OF_MEMORY    -> OutOfMemoryError     (MemoryError)
 *   IO               -> SwiftCNNIOError      (OSError)
 *   FORMAT           -> FormatError          (ValueError)
 *   UNSUPPORTED      -> UnsupportedError     (NotImplementedError)
 *   anything else    -> InternalError        (RuntimeError)
 * all subclasses of SwiftCNNError; each instance has .status (the int) set.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "_models.h" /* the model zoo part: _models.c */
#include "_pictures.h" /* the pictures part: _pictures.c */
#include "_retrieval.h" /* the retrieval part: _retrieval.c */

#define MAX_RANK 4

/* ---- exceptions --------------------------------------------------------------------- */

static PyObject *SwiftCNNError;
static PyObject *InvalidArgumentError;
static PyObject *ShapeMismatchError;
static PyObject *OutOfMemoryError;
static PyObject *SwiftCNNIOError;
static PyObject *FormatError;
static PyObject *UnsupportedError;
static PyObject *InternalError;

static PyObject *exception_for(int status)
{
    switch (status) {
    case SCNN_STATUS_INVALID_ARGUMENT: return InvalidArgumentError;
    case SCNN_STATUS_SHAPE_MISMATCH: return ShapeMismatchError;
    case SCNN_STATUS_OUT_OF_MEMORY: return OutOfMemoryError;
    case SCNN_STATUS_IO: return SwiftCNNIOError;
    case SCNN_STATUS_FORMAT: return FormatError;
    case SCNN_STATUS_UNSUPPORTED: return UnsupportedError;
    default: return InternalError;
    }
}

/* Raises the exception for `status` with `message` (UTF-8), prefixed by "prefix: " when
 * prefix is not NULL. Always returns NULL. */
static PyObject *raise_message(int status, const char *prefix, const char *message)
{
    PyObject *type = exception_for(status);
    PyObject *text, *exc, *code;
    if (message == NULL || message[0] == '\0')
        message = scnn_status_string(status);
    text = PyUnicode_DecodeUTF8(message, (Py_ssize_t)strlen(message), "replace");
    if (text == NULL)
        return NULL;
    if (prefix != NULL) {
        PyObject *full = PyUnicode_FromFormat("%s: %U", prefix, text);
        Py_DECREF(text);
        if (full == NULL)
            return NULL;
        text = full;
    }
    exc = PyObject_CallFunctionObjArgs(type, text, NULL);
    Py_DECREF(text);
    if (exc == NULL)
        return NULL;
    code = PyLong_FromLong(status);
    if (code == NULL || PyObject_SetAttrString(exc, "status", code) < 0) {
        Py_XDECREF(code);
        Py_DECREF(exc);
        return NULL;
    }
    Py_DECREF(code);
    PyErr_SetObject(type, exc);
    Py_DECREF(exc);
    return NULL;
}

/* Raises the exception for a failed call, carrying this thread's scnn_last_error(). */
static PyObject *raise_status(scnn_status status, const char *prefix)
{
    return raise_message((int)status, prefix, scnn_last_error());
}

/* ---- TensorBuffer: a library tensor exported through the buffer protocol ------------- */

typedef struct {
    PyObject_HEAD
    scnn_tensor *tensor;
    float *data;
    int ndim;
    Py_ssize_t numel;
    Py_ssize_t shape[MAX_RANK];
    Py_ssize_t strides[MAX_RANK];
} TensorBufferObject;

static PyTypeObject TensorBufferType;

/* Takes ownership of `tensor` (destroyed on failure) and returns a new TensorBuffer. */
static PyObject *tensor_buffer_new(scnn_tensor *tensor)
{
    TensorBufferObject *self;
    int64_t shape[MAX_RANK];
    int32_t rank = scnn_tensor_rank(tensor);
    scnn_status st;
    int i;

    if (rank < 1 || rank > MAX_RANK) {
        scnn_tensor_destroy(tensor);
        PyErr_Format(InternalError, "swiftcnn: a result tensor has rank %d", (int)rank);
        return NULL;
    }
    st = scnn_tensor_shape(tensor, shape, MAX_RANK);
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(tensor);
        return raise_status(st, NULL);
    }
    self = PyObject_New(TensorBufferObject, &TensorBufferType);
    if (self == NULL) {
        scnn_tensor_destroy(tensor);
        return NULL;
    }
    self->tensor = tensor;
    /* Results own their storage, so this does not copy; the pointer stays valid until the
       tensor is destroyed, which only happens in dealloc. */
    self->data = scnn_tensor_mutable_data(tensor);
    if (self->data == NULL) {
        Py_DECREF(self);
        return raise_message(SCNN_STATUS_OUT_OF_MEMORY, NULL, scnn_last_error());
    }
    self->ndim = (int)rank;
    self->numel = (Py_ssize_t)scnn_tensor_numel(tensor);
    for (i = 0; i < rank; i++)
        self->shape[i] = (Py_ssize_t)shape[i];
    self->strides[rank - 1] = (Py_ssize_t)sizeof(float);
    for (i = (int)rank - 2; i >= 0; i--)
        self->strides[i] = self->strides[i + 1] * self->shape[i + 1];
    return (PyObject *)self;
}

static void tensor_buffer_dealloc(TensorBufferObject *self)
{
    scnn_tensor_destroy(self->tensor);
    PyObject_Free(self);
}

static int tensor_buffer_getbuffer(TensorBufferObject *self, Py_buffer *view, int flags)
{
    view->obj = (PyObject *)self;
    Py_INCREF(self);
    view->buf = self->data;
    view->len = self->numel * (Py_ssize_t)sizeof(float);
    view->readonly = 0;
    view->itemsize = (Py_ssize_t)sizeof(float);
    view->format = (flags & PyBUF_FORMAT) ? "f" : NULL;
    if ((flags & PyBUF_ND) == PyBUF_ND) {
        view->ndim = self->ndim;
        view->shape = self->shape;
    } else {
        view->ndim = 1;
        view->shape = NULL;
    }
    view->strides = ((flags & PyBUF_STRIDES) == PyBUF_STRIDES) ? self->strides : NULL;
    view->suboffsets = NULL;
    view->internal = NULL;
    return 0;
}

static PyBufferProcs tensor_buffer_as_buffer = {
    (getbufferproc)tensor_buffer_getbuffer,
    NULL,
};

static PyObject *tensor_buffer_shape(TensorBufferObject *self, void *closure)
{
    PyObject *t = PyTuple_New(self->ndim);
    int i;
    (void)closure;
    if (t == NULL)
        return NULL;
    for (i = 0; i < self->ndim; i++) {
        PyObject *d = PyLong_FromSsize_t(self->shape[i]);
        if (d == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, d);
    }
    return t;
}

static PyObject *tensor_buffer_ndim(TensorBufferObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->ndim);
}

static PyObject *tensor_buffer_address(TensorBufferObject *self, void *closure)
{
    (void)closure;
    return PyLong_FromVoidPtr(self->data);
}

static PyObject *tensor_buffer_repr(TensorBufferObject *self)
{
    PyObject *shape = tensor_buffer_shape(self, NULL);
    PyObject *r;
    if (shape == NULL)
        return NULL;
    r = PyUnicode_FromFormat("<swiftcnn._swiftcnn.TensorBuffer float32 shape=%R>", shape);
    Py_DECREF(shape);
    return r;
}

static PyGetSetDef tensor_buffer_getset[] = {
    {"shape", (getter)tensor_buffer_shape, NULL, "The tensor's dimensions.", NULL},
    {"ndim", (getter)tensor_buffer_ndim, NULL, "The tensor's rank (1 to 4).", NULL},
    {"address", (getter)tensor_buffer_address, NULL,
     "Address of the first element (what a zero-copy view of the buffer points at).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject TensorBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftcnn._swiftcnn.TensorBuffer",
    .tp_basicsize = sizeof(TensorBufferObject),
    .tp_dealloc = (destructor)tensor_buffer_dealloc,
    .tp_repr = (reprfunc)tensor_buffer_repr,
    .tp_as_buffer = &tensor_buffer_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A tensor made by libswiftcnn. It exports its float32 elements through the buffer\n"
              "protocol (C-contiguous, writable): numpy.asarray(t) views them without a copy.",
    .tp_getset = tensor_buffer_getset,
};

/* Turns the result of a call that made a tensor into a TensorBuffer or an exception. */
static PyObject *finish(scnn_status st, scnn_tensor *out)
{
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(out); /* NULL on failure; harmless either way */
        return raise_status(st, NULL);
    }
    if (out == NULL) {
        PyErr_SetString(InternalError, "swiftcnn: a call succeeded but returned no tensor");
        return NULL;
    }
    return tensor_buffer_new(out);
}

/* ---- arrays in ----------------------------------------------------------------------- */

/* A Python argument wrapped as a tensor that borrows its buffer (shared with _training.c). */
typedef scnn_py_arg Arg;

static int is_float32_format(const char *f)
{
    if (f == NULL)
        return 0;
    if (f[0] == '@' || f[0] == '=' || f[0] == '<')
        f++;
    return f[0] == 'f' && f[1] == '\0';
}

static void arg_release(Arg *a)
{
    scnn_tensor_destroy(a->tensor);
    a->tensor = NULL;
    if (a->has_view) {
        PyBuffer_Release(&a->view);
        a->has_view = 0;
    }
}

/* Wraps `obj` (a C-contiguous float32 buffer) as a borrowing tensor. With `optional`,
 * None gives a NULL tensor. Returns 0 with an exception set on failure. */
static int arg_wrap(PyObject *obj, const char *name, int optional, Arg *a)
{
    int64_t shape[PyBUF_MAX_NDIM > MAX_RANK ? PyBUF_MAX_NDIM : MAX_RANK];
    scnn_tensor *t = NULL;
    scnn_status st;
    int i;

    a->has_view = 0;
    a->tensor = NULL;
    if (obj == Py_None && optional)
        return 1;
    if (PyObject_GetBuffer(obj, &a->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyErr_Format(PyExc_TypeError,
                     "%s: expected a C-contiguous float32 buffer (e.g. a numpy array), got %.200s%s%S",
                     name, Py_TYPE(obj)->tp_name, value != NULL ? ": " : "",
                     value != NULL ? value : Py_None);
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return 0;
    }
    a->has_view = 1;
    if (!is_float32_format(a->view.format) || a->view.itemsize != (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_TypeError, "%s: expected float32 elements (buffer format 'f'), got format '%s'",
                     name, a->view.format != NULL ? a->view.format : "B");
        arg_release(a);
        return 0;
    }
    if (((uintptr_t)a->view.buf) % sizeof(float) != 0) {
        PyErr_Format(InvalidArgumentError, "%s: the buffer is not aligned to 4 bytes", name);
        arg_release(a);
        return 0;
    }
    for (i = 0; i < a->view.ndim && i < (int)(sizeof shape / sizeof shape[0]); i++)
        shape[i] = (int64_t)a->view.shape[i];
    if (a->view.ndim == 0)
        shape[0] = 1;
    /* The library validates the rank (1 to 4) and the dimensions (>= 1). */
    st = scnn_tensor_wrap((const float *)a->view.buf, (int64_t)(a->view.len / (Py_ssize_t)sizeof(float)),
                          shape, (int32_t)a->view.ndim, &t);
    if (st != SCNN_STATUS_OK) {
        scnn_tensor_destroy(t);
        raise_status(st, name);
        arg_release(a);
        return 0;
    }
    a->tensor = t;
    return 1;
}

static void args_release(Arg *a, int n)
{
    while (n-- > 0)
        arg_release(&a[n]);
}

/* Wraps objs[0..n) as tensors named names[i]; from index first_optional on, None gives a
 * NULL tensor (pass n for "none optional"). On failure releases what it wrapped and returns
 * 0 with an exception set. */
static int args_wrap(PyObject *const *objs, const char *const *names, int n, int first_optional, Arg *a)
{
    int i;
    for (i = 0; i < n; i++) {
        if (!arg_wrap(objs[i], names[i], i >= first_optional, &a[i])) {
            args_release(a, i);
            return 0;
        }
    }
    return 1;
}

/* Releases the n wrapped arguments, then finishes the call that made `out`. */
static PyObject *release_finish(Arg *a, int n, scnn_status st, scnn_tensor *out)
{
    args_release(a, n);
    return finish(st, out);
}

/* ---- small argument helpers ---------------------------------------------------------- */

/* PySequence_Fast(obj), or NULL with "name: expected <what>, got <type>" (TypeError). */
static PyObject *sequence_arg(PyObject *obj, const char *name, const char *what)
{
    PyObject *seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected %s, got %.200s", name, what, Py_TYPE(obj)->tp_name);
    }
    return seq;
}

/* Reads exactly `n` integers from a sequence into dst; None gives *ptr = NULL. */
static int int64_array(PyObject *obj, const char *name, Py_ssize_t n, int64_t *dst, const int64_t **ptr)
{
    PyObject *seq;
    Py_ssize_t i, len;
    char what[64];
    if (obj == Py_None) {
        *ptr = NULL;
        return 1;
    }
    PyOS_snprintf(what, sizeof what, "a sequence of %zd integers or None", n);
    if ((seq = sequence_arg(obj, name, what)) == NULL)
        return 0;
    len = PySequence_Fast_GET_SIZE(seq);
    if (len != n) {
        Py_DECREF(seq);
        PyErr_Format(InvalidArgumentError, "%s: expected %zd integers, got %zd", name, n, len);
        return 0;
    }
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *index = PyNumber_Index(item);
        long long v;
        if (index == NULL) {
            Py_DECREF(seq);
            PyErr_Format(PyExc_TypeError, "%s: expected integers, got %.200s", name, Py_TYPE(item)->tp_name);
            return 0;
        }
        v = PyLong_AsLongLong(index);
        Py_DECREF(index);
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return 0;
        }
        dst[i] = (int64_t)v;
    }
    Py_DECREF(seq);
    *ptr = dst;
    return 1;
}

/* A list of floats (None gives *out = NULL, *count = -1). The caller frees *out. */
static int float_list(PyObject *obj, const char *name, float **out, Py_ssize_t *count)
{
    PyObject *seq;
    Py_ssize_t i, n;
    float *values;
    *out = NULL;
    *count = -1;
    if (obj == Py_None)
        return 1;
    if ((seq = sequence_arg(obj, name, "a sequence of numbers or None")) == NULL)
        return 0;
    n = PySequence_Fast_GET_SIZE(seq);
    values = (float *)PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (values == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return 0;
    }
    for (i = 0; i < n; i++) {
        double v = PyFloat_AsDouble(PySequence_Fast_GET_ITEM(seq, i));
        if (v == -1.0 && PyErr_Occurred()) {
            PyMem_Free(values);
            Py_DECREF(seq);
            return 0;
        }
        values[i] = (float)v;
    }
    Py_DECREF(seq);
    *out = values;
    *count = n;
    return 1;
}

/* A unary tensor op: fn(input, &out). */
typedef scnn_status (*unary_fn)(const scnn_tensor *, scnn_tensor **);

static PyObject *unary(PyObject *obj, unary_fn fn)
{
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!arg_wrap(obj, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

/* A tensor made from nothing: fn(&out). */
typedef scnn_status (*nullary_fn)(scnn_tensor **);

static PyObject *nullary(nullary_fn fn)
{
    scnn_tensor *out = NULL;
    scnn_status st = fn(&out);
    return finish(st, out);
}

/* Thin wrappers: py_<name> calls scnn_<name> through one of the shared call shapes above
 * (or below: conv2d_call, conv1d_call, axis_call, sized, filter_n). */
#define UNARY_WRAPPER(name) \
    static PyObject *py_##name(PyObject *self, PyObject *obj) { (void)self; return unary(obj, scnn_##name); }
#define NULLARY_WRAPPER(name) \
    static PyObject *py_##name(PyObject *self, PyObject *args) \
    { (void)self; (void)args; return nullary(scnn_##name); }
#define VARARGS_WRAPPER(name, helper, format) \
    static PyObject *py_##name(PyObject *self, PyObject *args) \
    { (void)self; return helper(args, scnn_##name, format ":" #name); }

/* ---- versions, errors, tensors ------------------------------------------------------- */

static PyObject *py_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(scnn_version());
}

static PyObject *py_abi_version(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong((long)scnn_abi_version());
}

static PyObject *py_cpu_features(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyUnicode_FromString(scnn_cpu_features());
}

static PyObject *py_status_string(PyObject *self, PyObject *args)
{
    int status;
    (void)self;
    if (!PyArg_ParseTuple(args, "i:status_string", &status))
        return NULL;
    return PyUnicode_FromString(scnn_status_string(status));
}

/* from_buffer(x) -> TensorBuffer: a copy of x's elements (scnn_tensor_from_data). */
static PyObject *py_from_buffer(PyObject *self, PyObject *obj)
{
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    int64_t shape[MAX_RANK];
    int32_t rank;
    (void)self;
    if (!arg_wrap(obj, "input", 0, &x))
        return NULL;
    rank = scnn_tensor_rank(x.tensor);
    st = scnn_tensor_shape(x.tensor, shape, MAX_RANK);
    if (st == SCNN_STATUS_OK) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_tensor_from_data(scnn_tensor_data(x.tensor), scnn_tensor_numel(x.tensor), shape, rank, &out);
        Py_END_ALLOW_THREADS
    }
    return release_finish(&x, 1, st, out);
}

/* Reads a shape: a sequence of at most 4 ints (the library checks rank and dimensions). */
static int shape_arg(PyObject *obj, int64_t *dst, int32_t *rank)
{
    PyObject *seq = sequence_arg(obj, "shape", "a sequence of integers");
    Py_ssize_t n;
    if (seq == NULL)
        return 0;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > MAX_RANK) {
        Py_DECREF(seq);
        PyErr_Format(InvalidArgumentError, "shape: rank must be 1 to %d; got %zd", MAX_RANK, n);
        return 0;
    }
    Py_DECREF(seq);
    if (n == 0) {
        *rank = 0;
        dst[0] = 1;
        return 1;
    }
    {
        const int64_t *p;
        if (!int64_array(obj, "shape", n, dst, &p))
            return 0;
    }
    *rank = (int32_t)n;
    return 1;
}

/* zeros(shape) -> TensorBuffer (scnn_tensor_create). */
static PyObject *py_zeros(PyObject *self, PyObject *obj)
{
    int64_t shape[MAX_RANK];
    int32_t rank;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!shape_arg(obj, shape, &rank))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_tensor_create(shape, rank, &out);
    Py_END_ALLOW_THREADS
    return finish(st, out);
}

/* reshape(x, shape) -> TensorBuffer (scnn_tensor_reshape). */
static PyObject *py_reshape(PyObject *self, PyObject *args)
{
    PyObject *xo, *so;
    int64_t shape[MAX_RANK];
    int32_t rank;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:reshape", &xo, &so))
        return NULL;
    if (!shape_arg(so, shape, &rank))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_tensor_reshape(x.tensor, shape, rank, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

/* ---- convolution, pooling, kernel dispatch (Area A) ----------------------------------- */

typedef scnn_status (*conv2d_fn)(const scnn_tensor *, const scnn_tensor *, const scnn_tensor *,
                                 const int64_t *, const int64_t *, const int64_t *, int64_t, scnn_tensor **);

/* fn(x, weight, bias|None, stride[2]|None, padding[4]|None, dilation[2]|None, groups) */
static PyObject *conv2d_call(PyObject *args, conv2d_fn fn, const char *fmt)
{
    static const char *const names[3] = {"input", "weight", "bias"};
    PyObject *o[3], *so, *po, *dobj;
    long long groups;
    int64_t sv[2], pv[4], dv[2];
    const int64_t *sp, *pp, *dp;
    Arg a[3];
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &o[0], &o[1], &o[2], &so, &po, &dobj, &groups))
        return NULL;
    if (!int64_array(so, "stride", 2, sv, &sp) || !int64_array(po, "padding", 4, pv, &pp) ||
        !int64_array(dobj, "dilation", 2, dv, &dp) || !args_wrap(o, names, 3, 2, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(a[0].tensor, a[1].tensor, a[2].tensor, sp, pp, dp, (int64_t)groups, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 3, st, out);
}

VARARGS_WRAPPER(conv2d, conv2d_call, "OOOOOOL")
VARARGS_WRAPPER(convolve2d, conv2d_call, "OOOOOOL")

typedef scnn_status (*conv1d_fn)(const scnn_tensor *, const scnn_tensor *, int32_t, scnn_tensor **);

/* fn(x, w, mode) */
static PyObject *conv1d_call(PyObject *args, conv1d_fn fn, const char *fmt)
{
    static const char *const names[2] = {"x", "w"};
    PyObject *o[2];
    int mode;
    Arg a[2];
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &o[0], &o[1], &mode) || !args_wrap(o, names, 2, 2, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(a[0].tensor, a[1].tensor, (int32_t)mode, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 2, st, out);
}

VARARGS_WRAPPER(correlate1d, conv1d_call, "OOi")
VARARGS_WRAPPER(convolve1d, conv1d_call, "OOi")

/* Reads a pooling window: kernel_size[2], stride[2]|None, padding[2]|None. */
static int pool_window(PyObject *ko, PyObject *so, PyObject *po, int64_t kv[2], int64_t sv[2], int64_t pv[2],
                       const int64_t **kp, const int64_t **sp, const int64_t **pp)
{
    return int64_array(ko, "kernel_size", 2, kv, kp) && int64_array(so, "stride", 2, sv, sp) &&
           int64_array(po, "padding", 2, pv, pp);
}

/* max_pool2d(x, kernel[2], stride[2]|None, padding[2]|None, ceil_mode) */
static PyObject *py_max_pool2d(PyObject *self, PyObject *args)
{
    PyObject *xo, *ko, *so, *po;
    int ceil_mode;
    int64_t kv[2], sv[2], pv[2];
    const int64_t *kp, *sp, *pp;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOp:max_pool2d", &xo, &ko, &so, &po, &ceil_mode) ||
        !pool_window(ko, so, po, kv, sv, pv, &kp, &sp, &pp) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_max_pool2d(x.tensor, kp, sp, pp, (int32_t)ceil_mode, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

/* avg_pool2d(x, kernel[2], stride[2]|None, padding[2]|None, ceil_mode, count_include_pad) */
static PyObject *py_avg_pool2d(PyObject *self, PyObject *args)
{
    PyObject *xo, *ko, *so, *po;
    int ceil_mode, count_include_pad;
    int64_t kv[2], sv[2], pv[2];
    const int64_t *kp, *sp, *pp;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOpp:avg_pool2d", &xo, &ko, &so, &po, &ceil_mode, &count_include_pad) ||
        !pool_window(ko, so, po, kv, sv, pv, &kp, &sp, &pp) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_avg_pool2d(x.tensor, kp, sp, pp, (int32_t)ceil_mode, (int32_t)count_include_pad, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

UNARY_WRAPPER(global_avg_pool2d)

/* adaptive_avg_pool2d(x, output_size[2]) */
static PyObject *py_adaptive_avg_pool2d(PyObject *self, PyObject *args)
{
    PyObject *xo, *oo;
    int64_t ov[2];
    const int64_t *op;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:adaptive_avg_pool2d", &xo, &oo))
        return NULL;
    if (oo == Py_None) {
        PyErr_SetString(PyExc_TypeError, "output_size: expected 2 integers, got None");
        return NULL;
    }
    if (!int64_array(oo, "output_size", 2, ov, &op) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_adaptive_avg_pool2d(x.tensor, op, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

static PyObject *py_set_reference_kernels(PyObject *self, PyObject *obj)
{
    int enable = PyObject_IsTrue(obj);
    (void)self;
    if (enable < 0)
        return NULL;
    scnn_set_reference_kernels((int32_t)enable);
    Py_RETURN_NONE;
}

static PyObject *py_reference_kernels(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyBool_FromLong(scnn_reference_kernels() != 0);
}

/* ---- other layers (Area B) ----------------------------------------------------------- */

UNARY_WRAPPER(relu)
UNARY_WRAPPER(tanh)
UNARY_WRAPPER(sigmoid)

typedef scnn_status (*axis_fn)(const scnn_tensor *, int32_t, scnn_tensor **);

/* fn(x, axis) */
static PyObject *axis_call(PyObject *args, axis_fn fn, const char *fmt)
{
    PyObject *xo;
    int axis;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &xo, &axis) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, (int32_t)axis, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

VARARGS_WRAPPER(softmax, axis_call, "Oi")   /* (x, axis) */
VARARGS_WRAPPER(flatten, axis_call, "Oi")   /* (x, start_axis) */

/* local_response_norm(x, size, alpha, beta, k) */
static PyObject *py_local_response_norm(PyObject *self, PyObject *args)
{
    PyObject *xo;
    long long size;
    float alpha, beta, k;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OLfff:local_response_norm", &xo, &size, &alpha, &beta, &k) ||
        !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_local_response_norm(x.tensor, (int64_t)size, alpha, beta, k, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

/* batch_norm(x, running_mean, running_var, weight|None, bias|None, eps) */
static PyObject *py_batch_norm(PyObject *self, PyObject *args)
{
    static const char *const names[5] = {"input", "running_mean", "running_var", "weight", "bias"};
    PyObject *o[5];
    float eps;
    Arg a[5];
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOf:batch_norm", &o[0], &o[1], &o[2], &o[3], &o[4], &eps) ||
        !args_wrap(o, names, 5, 3, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_batch_norm(a[0].tensor, a[1].tensor, a[2].tensor, a[3].tensor, a[4].tensor, eps, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 5, st, out);
}

/* linear(x, weight, bias|None) */
static PyObject *py_linear(PyObject *self, PyObject *args)
{
    static const char *const names[3] = {"input", "weight", "bias"};
    PyObject *o[3];
    Arg a[3];
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:linear", &o[0], &o[1], &o[2]) || !args_wrap(o, names, 3, 2, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_linear(a[0].tensor, a[1].tensor, a[2].tensor, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 3, st, out);
}

/* dropout(x, p) -- inference: identity */
static PyObject *py_dropout(PyObject *self, PyObject *args)
{
    PyObject *xo;
    float p;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Of:dropout", &xo, &p) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_dropout(x.tensor, p, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

/* concat(sequence of arrays, axis) */
static PyObject *py_concat(PyObject *self, PyObject *args)
{
    PyObject *seqo, *seq;
    int axis;
    Py_ssize_t n, i, done = 0;
    Arg *a = NULL;
    const scnn_tensor **ts = NULL;
    scnn_tensor *out = NULL;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi:concat", &seqo, &axis))
        return NULL;
    if ((seq = sequence_arg(seqo, "tensors", "a sequence of arrays")) == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(seq);
    if (n > INT32_MAX) {
        Py_DECREF(seq);
        PyErr_SetString(PyExc_OverflowError, "tensors: too many arrays");
        return NULL;
    }
    a = (Arg *)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(Arg));
    ts = (const scnn_tensor **)PyMem_Calloc((size_t)(n > 0 ? n : 1), sizeof(scnn_tensor *));
    if (a == NULL || ts == NULL) {
        PyMem_Free(a);
        PyMem_Free(ts);
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    for (i = 0; i < n; i++, done++) {
        char name[48];
        PyOS_snprintf(name, sizeof name, "tensors[%zd]", i);
        if (!arg_wrap(PySequence_Fast_GET_ITEM(seq, i), name, 0, &a[i]))
            break;
        ts[i] = a[i].tensor;
    }
    if (done == n) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_concat(ts, (int32_t)n, (int32_t)axis, &out);
        Py_END_ALLOW_THREADS
    }
    args_release(a, (int)done);
    PyMem_Free(a);
    PyMem_Free(ts);
    Py_DECREF(seq);
    if (done != n)
        return NULL;
    return finish(st, out);
}

/* add(a, b) */
static PyObject *py_add(PyObject *self, PyObject *args)
{
    static const char *const names[2] = {"a", "b"};
    PyObject *o[2];
    Arg a[2];
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:add", &o[0], &o[1]) || !args_wrap(o, names, 2, 2, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_add(a[0].tensor, a[1].tensor, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 2, st, out);
}

/* ---- shape analysis and counts (Area B) ---------------------------------------------- */

static PyObject *int64_result(scnn_status st, int64_t value)
{
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyLong_FromLongLong((long long)value);
}

/* output_size(n, kernel, stride, padding, dilation, mode) -> int */
static PyObject *py_output_size(PyObject *self, PyObject *args)
{
    long long n, k, s, p, d;
    int mode;
    int64_t out = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "LLLLLi:output_size", &n, &k, &s, &p, &d, &mode))
        return NULL;
    scnn_status st = scnn_output_size((int64_t)n, (int64_t)k, (int64_t)s, (int64_t)p, (int64_t)d,
                                         (int32_t)mode, &out);
    return int64_result(st, out);
}

/* receptive_field(kernels, strides, dilations|None) -> (size, jump) */
static PyObject *py_receptive_field(PyObject *self, PyObject *args)
{
    static const char *const names[3] = {"kernels", "strides", "dilations"};
    PyObject *o[3], *first;
    int64_t *arrays[3] = {NULL, NULL, NULL};
    Py_ssize_t n;
    int j, ok = 1;
    int64_t size = 0, jump = 0;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:receptive_field", &o[0], &o[1], &o[2]))
        return NULL;
    if ((first = sequence_arg(o[0], names[0], "a sequence of integers")) == NULL)
        return NULL;
    n = PySequence_Fast_GET_SIZE(first);
    Py_DECREF(first);
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "receptive_field: too many layers");
        return NULL;
    }
    for (j = 0; j < 3 && ok; j++) {
        const int64_t *p;
        if (o[j] == Py_None) {
            if (j == 2)
                continue; /* dilations default to 1 */
            PyErr_Format(PyExc_TypeError, "%s: expected a sequence of integers, got None", names[j]);
            ok = 0;
        } else if ((arrays[j] = (int64_t *)PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t))) == NULL) {
            PyErr_NoMemory();
            ok = 0;
        } else {
            arrays[j][0] = 1;
            ok = int64_array(o[j], names[j], n, arrays[j], &p);
        }
    }
    if (ok)
        st = scnn_receptive_field(arrays[0], arrays[1], arrays[2], (int32_t)n, &size, &jump);
    for (j = 0; j < 3; j++)
        PyMem_Free(arrays[j]);
    if (!ok)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return Py_BuildValue("(LL)", (long long)size, (long long)jump);
}

/* conv2d_parameter_count(in, out, kh, kw, groups, bias) -> int */
static PyObject *py_conv2d_parameter_count(PyObject *self, PyObject *args)
{
    long long ic, oc, kh, kw, g;
    int bias;
    int64_t out = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "LLLLLp:conv2d_parameter_count", &ic, &oc, &kh, &kw, &g, &bias))
        return NULL;
    scnn_status st = scnn_conv2d_parameter_count((int64_t)ic, (int64_t)oc, (int64_t)kh, (int64_t)kw,
                                                    (int64_t)g, (int32_t)bias, &out);
    return int64_result(st, out);
}

/* linear_parameter_count(in, out, bias) -> int */
static PyObject *py_linear_parameter_count(PyObject *self, PyObject *args)
{
    long long i, o;
    int bias;
    int64_t out = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "LLp:linear_parameter_count", &i, &o, &bias))
        return NULL;
    scnn_status st = scnn_linear_parameter_count((int64_t)i, (int64_t)o, (int32_t)bias, &out);
    return int64_result(st, out);
}

/* conv2d_macs(in, out, kh, kw, groups, out_h, out_w) -> int */
static PyObject *py_conv2d_macs(PyObject *self, PyObject *args)
{
    long long ic, oc, kh, kw, g, oh, ow;
    int64_t out = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "LLLLLLL:conv2d_macs", &ic, &oc, &kh, &kw, &g, &oh, &ow))
        return NULL;
    scnn_status st = scnn_conv2d_macs((int64_t)ic, (int64_t)oc, (int64_t)kh, (int64_t)kw, (int64_t)g,
                                         (int64_t)oh, (int64_t)ow, &out);
    return int64_result(st, out);
}

/* linear_macs(in, out) -> int */
static PyObject *py_linear_macs(PyObject *self, PyObject *args)
{
    long long i, o;
    int64_t out = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "LL:linear_macs", &i, &o))
        return NULL;
    scnn_status st = scnn_linear_macs((int64_t)i, (int64_t)o, &out);
    return int64_result(st, out);
}

/* ---- images and filters (Area C) ----------------------------------------------------- */

/* Checks that an optional per-channel list has `channels` values. */
static int check_channel_count(const char *name, Py_ssize_t count, long long channels)
{
    if (count >= 0 && channels >= 1 && count != channels) {
        PyErr_Format(ShapeMismatchError, "%s: expected %lld values (one per channel), got %zd",
                     name, channels, count);
        return 0;
    }
    return 1;
}

/* Reads the optional per-channel mean and std lists (None gives NULL) and checks that each
 * has `channels` values (channels < 1: not checked). The caller frees *mean and *std;
 * on failure both are NULL and an exception is set. */
static int mean_std_args(PyObject *mo, PyObject *so, long long channels, float **mean, float **std)
{
    Py_ssize_t nmean, nstd;
    *std = NULL;
    if (!float_list(mo, "mean", mean, &nmean))
        return 0;
    if (float_list(so, "std", std, &nstd) && check_channel_count("mean", nmean, channels) &&
        check_channel_count("std", nstd, channels))
        return 1;
    PyMem_Free(*mean);
    PyMem_Free(*std);
    *mean = *std = NULL;
    return 0;
}

/* Gets a contiguous byte buffer (writable with `writable`) or raises TypeError. */
static int byte_buffer(PyObject *obj, int writable, Py_buffer *view)
{
    if (PyObject_GetBuffer(obj, view, writable ? PyBUF_SIMPLE | PyBUF_WRITABLE : PyBUF_SIMPLE) == 0)
        return 1;
    PyErr_Clear();
    PyErr_Format(PyExc_TypeError, "pixels: expected a %scontiguous byte buffer, got %.200s",
                 writable ? "writable " : "", Py_TYPE(obj)->tp_name);
    return 0;
}

/* Whether `view` holds the (height-1)*row_stride + width*channels bytes an image of these
 * sizes needs; raises ShapeMismatchError and returns 0 if not. Sizes the library would
 * refuse anyway pass (it refuses them before reading anything). */
static int pixel_buffer_fits(const Py_buffer *view, long long width, long long height, long long channels,
                             long long row_stride)
{
    if (width >= 1 && height >= 1 && channels >= 1 && channels <= 4 && row_stride >= 0) {
        /* Sizes the library may accept: make sure it cannot read past the buffer. */
        int overflow = width > LLONG_MAX / channels;
        unsigned long long row = overflow ? 0 : (unsigned long long)width * (unsigned long long)channels;
        unsigned long long rs = row_stride == 0 ? row : (unsigned long long)row_stride;
        if (overflow || rs >= row) {
            unsigned long long h1 = (unsigned long long)(height - 1);
            unsigned long long have = (unsigned long long)view->len;
            /* need = (height-1)*rs + row, compared without overflow */
            int too_small = overflow || (h1 != 0 && rs > have / h1) || have - h1 * rs < row;
            if (too_small) {
                PyErr_Format(ShapeMismatchError,
                             "pixels: a %lldx%lld image with %lld channels and row stride %llu needs "
                             "(height-1)*row_stride + width*channels bytes, but the buffer has %zd",
                             width, height, channels, rs, view->len);
                return 0;
            }
        }
    }
    return 1;
}

/* image_to_tensor(pixels, width, height, channels, row_stride, scale, mean|None, std|None)
 * pixels: any contiguous byte buffer; it must hold (height-1)*row_stride + width*channels
 * bytes (checked here, since the C function takes no length). */
static PyObject *py_image_to_tensor(PyObject *self, PyObject *args)
{
    PyObject *po, *mo, *so;
    long long width, height, channels, row_stride;
    float scale;
    float *mean, *std;
    Py_buffer view;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OLLLLfOO:image_to_tensor", &po, &width, &height, &channels, &row_stride,
                          &scale, &mo, &so))
        return NULL;
    if (!mean_std_args(mo, so, channels, &mean, &std))
        return NULL;
    if (!byte_buffer(po, 0, &view)) {
        PyMem_Free(mean);
        PyMem_Free(std);
        return NULL;
    }
    if (!pixel_buffer_fits(&view, width, height, channels, row_stride)) {
        PyBuffer_Release(&view);
        PyMem_Free(mean);
        PyMem_Free(std);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_image_to_tensor((const uint8_t *)view.buf, (int64_t)width, (int64_t)height, (int64_t)channels,
                              (int64_t)row_stride, scale, mean, std, &out);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyMem_Free(mean);
    PyMem_Free(std);
    return finish(st, out);
}

/* tensor_to_image(x, scale, mean|None, std|None, pixels (writable bytes), row_stride) -> None */
static PyObject *py_tensor_to_image(PyObject *self, PyObject *args)
{
    PyObject *xo, *mo, *so, *po;
    float scale;
    long long row_stride;
    float *mean, *std;
    long long channels = -1;
    Py_buffer view;
    Arg x;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OfOOOL:tensor_to_image", &xo, &scale, &mo, &so, &po, &row_stride))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    {
        int64_t shape[MAX_RANK];
        int32_t rank = scnn_tensor_rank(x.tensor);
        if (scnn_tensor_shape(x.tensor, shape, MAX_RANK) == SCNN_STATUS_OK) {
            if (rank == 3)
                channels = (long long)shape[0];
            else if (rank == 4)
                channels = (long long)shape[1];
        }
    }
    if (!mean_std_args(mo, so, channels, &mean, &std)) {
        arg_release(&x);
        return NULL;
    }
    if (!byte_buffer(po, 1, &view)) {
        arg_release(&x);
        PyMem_Free(mean);
        PyMem_Free(std);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_tensor_to_image(x.tensor, scale, mean, std, (uint8_t *)view.buf, (int64_t)view.len,
                              (int64_t)row_stride);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    arg_release(&x);
    PyMem_Free(mean);
    PyMem_Free(std);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* image_imagenet_preprocess(pixels, width, height, channels, row_stride) -> [3, 224, 224]
 * pixels: any contiguous byte buffer holding the image (checked here, as image_to_tensor). */
static PyObject *py_image_imagenet_preprocess(PyObject *self, PyObject *args)
{
    PyObject *po;
    long long width, height, channels, row_stride;
    Py_buffer view;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OLLLL:image_imagenet_preprocess", &po, &width, &height, &channels, &row_stride))
        return NULL;
    if (!byte_buffer(po, 0, &view))
        return NULL;
    if (!pixel_buffer_fits(&view, width, height, channels, row_stride)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_image_imagenet_preprocess((const uint8_t *)view.buf, (int64_t)width, (int64_t)height,
                                        (int64_t)channels, (int64_t)row_stride, &out);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return finish(st, out);
}

UNARY_WRAPPER(rgb_to_hsv)
UNARY_WRAPPER(hsv_to_rgb)
UNARY_WRAPPER(rgb_to_grayscale)

typedef scnn_status (*size_fn)(const scnn_tensor *, int64_t, int64_t, scnn_tensor **);

static PyObject *sized(PyObject *args, size_fn fn, const char *fmt)
{
    PyObject *xo;
    long long h, w;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &xo, &h, &w) || !arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, (int64_t)h, (int64_t)w, &out);
    Py_END_ALLOW_THREADS
    return release_finish(&x, 1, st, out);
}

VARARGS_WRAPPER(resize_bilinear, sized, "OLL")   /* (x, height, width) */
VARARGS_WRAPPER(center_crop, sized, "OLL")       /* (x, height, width) */
VARARGS_WRAPPER(resize_bilinear_antialias, sized, "OLL")   /* (x, height, width) */
VARARGS_WRAPPER(center_crop_padded, sized, "OLL")          /* (x, height, width) */

typedef scnn_status (*filter_n_fn)(int64_t, scnn_tensor **);

static PyObject *filter_n(PyObject *args, filter_n_fn fn, const char *fmt)
{
    long long n;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &n))
        return NULL;
    st = fn((int64_t)n, &out); /* before finish(): argument order is unspecified */
    return finish(st, out);
}

VARARGS_WRAPPER(filter_box, filter_n, "L")
VARARGS_WRAPPER(filter_horizontal_blur, filter_n, "L")
VARARGS_WRAPPER(filter_vertical_blur, filter_n, "L")
NULLARY_WRAPPER(filter_sharpen)
NULLARY_WRAPPER(filter_sobel_x)
NULLARY_WRAPPER(filter_sobel_y)
NULLARY_WRAPPER(filter_edge)

/* filter_gaussian(size, sigma) */
static PyObject *py_filter_gaussian(PyObject *self, PyObject *args)
{
    long long size;
    float sigma;
    scnn_tensor *out = NULL;
    (void)self;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "Lf:filter_gaussian", &size, &sigma))
        return NULL;
    st = scnn_filter_gaussian((int64_t)size, sigma, &out);
    return finish(st, out);
}

/* filter_apply(image, kernel, border) */
static PyObject *py_filter_apply(PyObject *self, PyObject *args)
{
    static const char *const names[2] = {"image", "kernel"};
    PyObject *o[2];
    int border;
    Arg a[2];
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOi:filter_apply", &o[0], &o[1], &border) || !args_wrap(o, names, 2, 2, a))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_filter_apply(a[0].tensor, a[1].tensor, (int32_t)border, &out);
    Py_END_ALLOW_THREADS
    return release_finish(a, 2, st, out);
}

/* ---- threads --------------------------------------------------------------------------- */

static PyObject *py_set_num_threads(PyObject *self, PyObject *obj)
{
    long n = PyLong_AsLong(obj);
    scnn_status st;
    (void)self;
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0 || n > 0x7fffffffL) {
        PyErr_Format(PyExc_ValueError, "set_num_threads: the thread count must be in 0...2147483647 (0 = the number of CPUs); got %ld", n);
        return NULL;
    }
    st = scnn_set_num_threads((int32_t)n);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, "set_num_threads");
    Py_RETURN_NONE;
}

static PyObject *py_get_num_threads(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong((long)scnn_get_num_threads());
}

static PyObject *py_default_num_threads(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return PyLong_FromLong((long)scnn_default_num_threads());
}

/* ---- module ---------------------------------------------------------------------------- */

#define M_O(name, doc) {#name, (PyCFunction)py_##name, METH_O, doc}
#define M_V(name, doc) {#name, (PyCFunction)py_##name, METH_VARARGS, doc}
#define M_N(name, doc) {#name, (PyCFunction)py_##name, METH_NOARGS, doc}

static PyMethodDef methods[] = {
    M_N(version, "version() -> str: scnn_version()."),
    M_N(abi_version, "abi_version() -> int: scnn_abi_version()."),
    M_N(cpu_features, "cpu_features() -> str: scnn_cpu_features()."),
    M_V(status_string, "status_string(status) -> str: scnn_status_string()."),
    M_O(from_buffer, "from_buffer(x) -> TensorBuffer: a copy of a float32 buffer (scnn_tensor_from_data)."),
    M_O(zeros, "zeros(shape) -> TensorBuffer: scnn_tensor_create."),
    M_V(reshape, "reshape(x, shape) -> TensorBuffer: scnn_tensor_reshape."),
    M_V(conv2d, "conv2d(x, weight, bias|None, stride[2]|None, padding[4]|None, dilation[2]|None, groups)"),
    M_V(convolve2d, "convolve2d(x, weight, bias|None, stride[2]|None, padding[4]|None, dilation[2]|None, groups)"),
    M_V(correlate1d, "correlate1d(x, w, mode)"),
    M_V(convolve1d, "convolve1d(x, w, mode)"),
    M_V(max_pool2d, "max_pool2d(x, kernel[2], stride[2]|None, padding[2]|None, ceil_mode)"),
    M_V(avg_pool2d, "avg_pool2d(x, kernel[2], stride[2]|None, padding[2]|None, ceil_mode, count_include_pad)"),
    M_O(global_avg_pool2d, "global_avg_pool2d(x)"),
    M_V(adaptive_avg_pool2d, "adaptive_avg_pool2d(x, output_size[2])"),
    M_O(set_reference_kernels, "set_reference_kernels(enable)"),
    M_N(reference_kernels, "reference_kernels() -> bool"),
    M_O(relu, "relu(x)"),
    M_O(tanh, "tanh(x)"),
    M_O(sigmoid, "sigmoid(x)"),
    M_V(softmax, "softmax(x, axis)"),
    M_V(local_response_norm, "local_response_norm(x, size, alpha, beta, k)"),
    M_V(batch_norm, "batch_norm(x, running_mean, running_var, weight|None, bias|None, eps)"),
    M_V(linear, "linear(x, weight, bias|None)"),
    M_V(flatten, "flatten(x, start_axis)"),
    M_V(dropout, "dropout(x, p)"),
    M_V(concat, "concat(tensors, axis)"),
    M_V(add, "add(a, b)"),
    M_V(output_size, "output_size(n, kernel, stride, padding, dilation, mode) -> int"),
    M_V(receptive_field, "receptive_field(kernels, strides, dilations|None) -> (size, jump)"),
    M_V(conv2d_parameter_count, "conv2d_parameter_count(in, out, kh, kw, groups, bias) -> int"),
    M_V(linear_parameter_count, "linear_parameter_count(in, out, bias) -> int"),
    M_V(conv2d_macs, "conv2d_macs(in, out, kh, kw, groups, out_h, out_w) -> int"),
    M_V(linear_macs, "linear_macs(in, out) -> int"),
    M_V(image_to_tensor, "image_to_tensor(pixels, width, height, channels, row_stride, scale, mean|None, std|None)"),
    M_V(tensor_to_image, "tensor_to_image(x, scale, mean|None, std|None, pixels, row_stride) -> None"),
    M_O(rgb_to_hsv, "rgb_to_hsv(x)"),
    M_O(hsv_to_rgb, "hsv_to_rgb(x)"),
    M_O(rgb_to_grayscale, "rgb_to_grayscale(x)"),
    M_V(resize_bilinear, "resize_bilinear(x, height, width)"),
    M_V(center_crop, "center_crop(x, height, width)"),
    M_V(resize_bilinear_antialias, "resize_bilinear_antialias(x, height, width)"),
    M_V(center_crop_padded, "center_crop_padded(x, height, width)"),
    M_V(image_imagenet_preprocess, "image_imagenet_preprocess(pixels, width, height, channels, row_stride) -> [3, 224, 224]"),
    M_V(filter_box, "filter_box(n)"),
    M_V(filter_horizontal_blur, "filter_horizontal_blur(n)"),
    M_V(filter_vertical_blur, "filter_vertical_blur(n)"),
    M_N(filter_sharpen, "filter_sharpen()"),
    M_N(filter_sobel_x, "filter_sobel_x()"),
    M_N(filter_sobel_y, "filter_sobel_y()"),
    M_N(filter_edge, "filter_edge()"),
    M_V(filter_gaussian, "filter_gaussian(size, sigma)"),
    M_V(filter_apply, "filter_apply(image, kernel, border)"),
    M_O(set_num_threads, "set_num_threads(n) -> None: scnn_set_num_threads (0 = the number of CPUs)."),
    M_N(get_num_threads, "get_num_threads() -> int: scnn_get_num_threads()."),
    M_N(default_num_threads, "default_num_threads() -> int: scnn_default_num_threads()."),
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "swiftcnn._swiftcnn",
    "The CPython extension of swiftcnn: thin wrappers of the scnn_* C functions.\n"
    "Use the swiftcnn package, which adds defaults, argument normalisation and numpy conversion.",
    -1,
    methods,
    NULL, NULL, NULL, NULL,
};

static PyObject *new_exception(PyObject *m, const char *name, PyObject *base2, const char *doc)
{
    char qualified[96];
    PyObject *bases, *exc;
    PyOS_snprintf(qualified, sizeof qualified, "swiftcnn.%s", name);
    if (base2 == NULL)
        bases = PyTuple_Pack(1, PyExc_Exception);
    else
        bases = PyTuple_Pack(2, SwiftCNNError, base2);
    if (bases == NULL)
        return NULL;
    exc = PyErr_NewExceptionWithDoc(qualified, doc, bases, NULL);
    Py_DECREF(bases);
    if (exc == NULL)
        return NULL;
    Py_INCREF(exc);
    if (PyModule_AddObject(m, name, exc) < 0) {
        Py_DECREF(exc);
        Py_DECREF(exc);
        return NULL;
    }
    return exc;
}

PyMODINIT_FUNC PyInit__swiftcnn(void)
{
    PyObject *m;

    if (scnn_abi_version() != SCNN_ABI_VERSION) {
        PyErr_Format(PyExc_ImportError,
                     "swiftcnn: libswiftcnn.so implements ABI version %d but this extension was built "
                     "for version %d; rebuild the extension against the library",
                     (int)scnn_abi_version(), (int)SCNN_ABI_VERSION);
        return NULL;
    }
    if (PyType_Ready(&TensorBufferType) < 0)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;

    if ((SwiftCNNError = new_exception(m, "SwiftCNNError", NULL,
            "Base of every error reported by libswiftcnn; .status is the scnn_status code.")) == NULL ||
        (InvalidArgumentError = new_exception(m, "InvalidArgumentError", PyExc_ValueError,
            "SCNN_STATUS_INVALID_ARGUMENT: an argument is out of its domain.")) == NULL ||
        (ShapeMismatchError = new_exception(m, "ShapeMismatchError", PyExc_ValueError,
            "SCNN_STATUS_SHAPE_MISMATCH: shapes that must agree do not.")) == NULL ||
        (OutOfMemoryError = new_exception(m, "OutOfMemoryError", PyExc_MemoryError,
            "SCNN_STATUS_OUT_OF_MEMORY: memory could not be allocated.")) == NULL ||
        (SwiftCNNIOError = new_exception(m, "SwiftCNNIOError", PyExc_OSError,
            "SCNN_STATUS_IO: a file could not be read or written.")) == NULL ||
        (FormatError = new_exception(m, "FormatError", PyExc_ValueError,
            "SCNN_STATUS_FORMAT: a file's contents are malformed.")) == NULL ||
        (UnsupportedError = new_exception(m, "UnsupportedError", PyExc_NotImplementedError,
            "SCNN_STATUS_UNSUPPORTED: the request is well formed but not supported.")) == NULL ||
        (InternalError = new_exception(m, "InternalError", PyExc_RuntimeError,
            "SCNN_STATUS_INTERNAL (or an unknown status): a bug in swiftcnn.")) == NULL)
        goto fail;

    Py_INCREF(&TensorBufferType);
    if (PyModule_AddObject(m, "TensorBuffer", (PyObject *)&TensorBufferType) < 0) {
        Py_DECREF(&TensorBufferType);
        goto fail;
    }
    if (PyModule_AddIntConstant(m, "ABI_VERSION", SCNN_ABI_VERSION) < 0 ||
        PyModule_AddStringConstant(m, "__version__", scnn_version()) < 0)
        goto fail;
    if (scnn_py_add_models(m, raise_status, tensor_buffer_new) < 0)
        goto fail;
    if (scnn_py_add_training(m, raise_status, tensor_buffer_new, arg_wrap, arg_release) < 0)
        goto fail;
    if (scnn_py_add_pictures(m, raise_status, arg_wrap, arg_release) < 0)
        goto fail;
    if (scnn_py_add_segment(m, raise_status) < 0)
        goto fail;
    if (scnn_py_add_retrieval(m, raise_status, tensor_buffer_new, arg_wrap, arg_release) < 0)
        goto fail;
    if (scnn_py_add_tasks(m, raise_status) < 0)
        goto fail;
    return m;

fail:
    Py_DECREF(m);
    return NULL;
}
