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
 *
 * setup.py defines SCNN_HAS_<function> for every function Include/swiftcnn.h declares.
 * A group of functions whose header declarations are absent (a library older than the
 * binding) is compiled as stubs raising UnsupportedError and listed in MISSING.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "_models.h" /* the model zoo part: _models.c */

#define MAX_RANK 4

#if defined(__GNUC__) || defined(__clang__)
#define MAYBE_UNUSED __attribute__((unused))
#else
#define MAYBE_UNUSED
#endif

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

/* A Python argument wrapped as a tensor that borrows its buffer. */
typedef struct {
    Py_buffer view;
    int has_view;
    scnn_tensor *tensor;
} Arg;

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

/* ---- small argument helpers ---------------------------------------------------------- */

/* Reads exactly `n` integers from a sequence into dst; None gives *ptr = NULL. */
static int int64_array(PyObject *obj, const char *name, Py_ssize_t n, int64_t *dst, const int64_t **ptr)
{
    PyObject *seq;
    Py_ssize_t i, len;
    if (obj == Py_None) {
        *ptr = NULL;
        return 1;
    }
    seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a sequence of %zd integers or None, got %.200s",
                     name, n, Py_TYPE(obj)->tp_name);
        return 0;
    }
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
MAYBE_UNUSED static int float_list(PyObject *obj, const char *name, float **out, Py_ssize_t *count)
{
    PyObject *seq;
    Py_ssize_t i, n;
    float *values;
    *out = NULL;
    *count = -1;
    if (obj == Py_None)
        return 1;
    seq = PySequence_Fast(obj, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "%s: expected a sequence of numbers or None, got %.200s",
                     name, Py_TYPE(obj)->tp_name);
        return 0;
    }
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

MAYBE_UNUSED static PyObject *missing(const char *name)
{
    PyErr_Format(UnsupportedError,
                 "%s is not in the libswiftcnn this extension was built against "
                 "(Include/swiftcnn.h does not declare it)", name);
    return NULL;
}

#define STUB(pyname, cname) \
    static PyObject *py_##pyname(PyObject *self, PyObject *args) \
    { (void)self; (void)args; return missing(#cname); }

/* A unary tensor op: fn(input, &out). */
typedef scnn_status (*unary_fn)(const scnn_tensor *, scnn_tensor **);

MAYBE_UNUSED static PyObject *unary(PyObject *obj, unary_fn fn)
{
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!arg_wrap(obj, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
}

/* A tensor made from nothing: fn(&out). */
typedef scnn_status (*nullary_fn)(scnn_tensor **);

MAYBE_UNUSED static PyObject *nullary(nullary_fn fn)
{
    scnn_tensor *out = NULL;
    scnn_status st = fn(&out);
    return finish(st, out);
}

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
    arg_release(&x);
    return finish(st, out);
}

/* Reads a shape: a sequence of at most 4 ints (the library checks rank and dimensions). */
static int shape_arg(PyObject *obj, int64_t *dst, int32_t *rank)
{
    PyObject *seq = PySequence_Fast(obj, "");
    Py_ssize_t n;
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "shape: expected a sequence of integers, got %.200s", Py_TYPE(obj)->tp_name);
        return 0;
    }
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
    arg_release(&x);
    return finish(st, out);
}

/* ---- convolution, pooling, kernel dispatch (Area A) ----------------------------------- */

#define CONV_FUNCTIONS "scnn_conv2d", "scnn_convolve2d", "scnn_correlate1d", "scnn_convolve1d", \
    "scnn_max_pool2d", "scnn_avg_pool2d", "scnn_global_avg_pool2d", "scnn_adaptive_avg_pool2d", \
    "scnn_set_reference_kernels", "scnn_reference_kernels",

#ifdef SCNN_HAS_scnn_conv2d
#define CONV_MISSING

typedef scnn_status (*conv2d_fn)(const scnn_tensor *, const scnn_tensor *, const scnn_tensor *,
                                 const int64_t *, const int64_t *, const int64_t *, int64_t, scnn_tensor **);

static PyObject *conv2d_common(PyObject *args, conv2d_fn fn, const char *fmt)
{
    PyObject *xo, *wo, *bo, *so, *po, *dobj;
    long long groups;
    int64_t sv[2], pv[4], dv[2];
    const int64_t *sp, *pp, *dp;
    Arg x, w, b;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &xo, &wo, &bo, &so, &po, &dobj, &groups))
        return NULL;
    if (!int64_array(so, "stride", 2, sv, &sp) || !int64_array(po, "padding", 4, pv, &pp) ||
        !int64_array(dobj, "dilation", 2, dv, &dp))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    if (!arg_wrap(wo, "weight", 0, &w)) {
        arg_release(&x);
        return NULL;
    }
    if (!arg_wrap(bo, "bias", 1, &b)) {
        arg_release(&x);
        arg_release(&w);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, w.tensor, b.tensor, sp, pp, dp, (int64_t)groups, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    arg_release(&w);
    arg_release(&b);
    return finish(st, out);
}

static PyObject *py_conv2d(PyObject *self, PyObject *args)
{
    (void)self;
    return conv2d_common(args, scnn_conv2d, "OOOOOOL:conv2d");
}

static PyObject *py_convolve2d(PyObject *self, PyObject *args)
{
    (void)self;
    return conv2d_common(args, scnn_convolve2d, "OOOOOOL:convolve2d");
}

typedef scnn_status (*conv1d_fn)(const scnn_tensor *, const scnn_tensor *, int32_t, scnn_tensor **);

static PyObject *conv1d_common(PyObject *args, conv1d_fn fn, const char *fmt)
{
    PyObject *xo, *wo;
    int mode;
    Arg x, w;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &xo, &wo, &mode))
        return NULL;
    if (!arg_wrap(xo, "x", 0, &x))
        return NULL;
    if (!arg_wrap(wo, "w", 0, &w)) {
        arg_release(&x);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, w.tensor, (int32_t)mode, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    arg_release(&w);
    return finish(st, out);
}

static PyObject *py_correlate1d(PyObject *self, PyObject *args)
{
    (void)self;
    return conv1d_common(args, scnn_correlate1d, "OOi:correlate1d");
}

static PyObject *py_convolve1d(PyObject *self, PyObject *args)
{
    (void)self;
    return conv1d_common(args, scnn_convolve1d, "OOi:convolve1d");
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
    if (!PyArg_ParseTuple(args, "OOOOp:max_pool2d", &xo, &ko, &so, &po, &ceil_mode))
        return NULL;
    if (!int64_array(ko, "kernel_size", 2, kv, &kp) || !int64_array(so, "stride", 2, sv, &sp) ||
        !int64_array(po, "padding", 2, pv, &pp))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_max_pool2d(x.tensor, kp, sp, pp, (int32_t)ceil_mode, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
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
    if (!PyArg_ParseTuple(args, "OOOOpp:avg_pool2d", &xo, &ko, &so, &po, &ceil_mode, &count_include_pad))
        return NULL;
    if (!int64_array(ko, "kernel_size", 2, kv, &kp) || !int64_array(so, "stride", 2, sv, &sp) ||
        !int64_array(po, "padding", 2, pv, &pp))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_avg_pool2d(x.tensor, kp, sp, pp, (int32_t)ceil_mode, (int32_t)count_include_pad, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
}

static PyObject *py_global_avg_pool2d(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_global_avg_pool2d);
}

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
    if (!int64_array(oo, "output_size", 2, ov, &op))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_adaptive_avg_pool2d(x.tensor, op, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
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

#else
#define CONV_MISSING CONV_FUNCTIONS
STUB(conv2d, scnn_conv2d)
STUB(convolve2d, scnn_convolve2d)
STUB(correlate1d, scnn_correlate1d)
STUB(convolve1d, scnn_convolve1d)
STUB(max_pool2d, scnn_max_pool2d)
STUB(avg_pool2d, scnn_avg_pool2d)
STUB(global_avg_pool2d, scnn_global_avg_pool2d)
STUB(adaptive_avg_pool2d, scnn_adaptive_avg_pool2d)
STUB(set_reference_kernels, scnn_set_reference_kernels)
STUB(reference_kernels, scnn_reference_kernels)
#endif

/* ---- other layers (Area B) ----------------------------------------------------------- */

#define LAYER_FUNCTIONS "scnn_relu", "scnn_tanh", "scnn_sigmoid", "scnn_softmax", \
    "scnn_local_response_norm", "scnn_batch_norm", "scnn_linear", "scnn_flatten", "scnn_dropout", \
    "scnn_concat", "scnn_add",

#ifdef SCNN_HAS_scnn_relu
#define LAYER_MISSING

static PyObject *py_relu(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_relu);
}

static PyObject *py_tanh(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_tanh);
}

static PyObject *py_sigmoid(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_sigmoid);
}

/* softmax(x, axis) */
static PyObject *py_softmax(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int axis;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi:softmax", &xo, &axis))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_softmax(x.tensor, (int32_t)axis, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
}

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
    if (!PyArg_ParseTuple(args, "OLfff:local_response_norm", &xo, &size, &alpha, &beta, &k))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_local_response_norm(x.tensor, (int64_t)size, alpha, beta, k, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
}

/* batch_norm(x, running_mean, running_var, weight|None, bias|None, eps) */
static PyObject *py_batch_norm(PyObject *self, PyObject *args)
{
    PyObject *o[5];
    static const char *names[5] = {"input", "running_mean", "running_var", "weight", "bias"};
    float eps;
    Arg a[5];
    int i, n = 0;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOOOf:batch_norm", &o[0], &o[1], &o[2], &o[3], &o[4], &eps))
        return NULL;
    for (i = 0; i < 5; i++, n++) {
        if (!arg_wrap(o[i], names[i], i >= 3, &a[i])) {
            while (n-- > 0)
                arg_release(&a[n]);
            return NULL;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_batch_norm(a[0].tensor, a[1].tensor, a[2].tensor, a[3].tensor, a[4].tensor, eps, &out);
    Py_END_ALLOW_THREADS
    for (i = 0; i < 5; i++)
        arg_release(&a[i]);
    return finish(st, out);
}

/* linear(x, weight, bias|None) */
static PyObject *py_linear(PyObject *self, PyObject *args)
{
    PyObject *xo, *wo, *bo;
    Arg x, w, b;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:linear", &xo, &wo, &bo))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    if (!arg_wrap(wo, "weight", 0, &w)) {
        arg_release(&x);
        return NULL;
    }
    if (!arg_wrap(bo, "bias", 1, &b)) {
        arg_release(&x);
        arg_release(&w);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_linear(x.tensor, w.tensor, b.tensor, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    arg_release(&w);
    arg_release(&b);
    return finish(st, out);
}

/* flatten(x, start_axis) */
static PyObject *py_flatten(PyObject *self, PyObject *args)
{
    PyObject *xo;
    int start_axis;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Oi:flatten", &xo, &start_axis))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_flatten(x.tensor, (int32_t)start_axis, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
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
    if (!PyArg_ParseTuple(args, "Of:dropout", &xo, &p))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_dropout(x.tensor, p, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
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
    seq = PySequence_Fast(seqo, "");
    if (seq == NULL) {
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "tensors: expected a sequence of arrays, got %.200s", Py_TYPE(seqo)->tp_name);
        return NULL;
    }
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
    for (i = 0; i < done; i++)
        arg_release(&a[i]);
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
    PyObject *ao, *bo;
    Arg a, b;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OO:add", &ao, &bo))
        return NULL;
    if (!arg_wrap(ao, "a", 0, &a))
        return NULL;
    if (!arg_wrap(bo, "b", 0, &b)) {
        arg_release(&a);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_add(a.tensor, b.tensor, &out);
    Py_END_ALLOW_THREADS
    arg_release(&a);
    arg_release(&b);
    return finish(st, out);
}

#else
#define LAYER_MISSING LAYER_FUNCTIONS
STUB(relu, scnn_relu)
STUB(tanh, scnn_tanh)
STUB(sigmoid, scnn_sigmoid)
STUB(softmax, scnn_softmax)
STUB(local_response_norm, scnn_local_response_norm)
STUB(batch_norm, scnn_batch_norm)
STUB(linear, scnn_linear)
STUB(flatten, scnn_flatten)
STUB(dropout, scnn_dropout)
STUB(concat, scnn_concat)
STUB(add, scnn_add)
#endif

/* ---- shape analysis and counts (Area B) ---------------------------------------------- */

#define ANALYSIS_FUNCTIONS "scnn_output_size", "scnn_receptive_field", "scnn_conv2d_parameter_count", \
    "scnn_linear_parameter_count", "scnn_conv2d_macs", "scnn_linear_macs",

#ifdef SCNN_HAS_scnn_output_size
#define ANALYSIS_MISSING

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
    PyObject *ko, *so, *dobj, *seqs[3] = {NULL, NULL, NULL};
    int64_t *arrays[3] = {NULL, NULL, NULL};
    static const char *names[3] = {"kernels", "strides", "dilations"};
    Py_ssize_t n = 0, i;
    int j, ok = 0;
    int64_t size = 0, jump = 0;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOO:receptive_field", &ko, &so, &dobj))
        return NULL;
    seqs[0] = ko;
    seqs[1] = so;
    seqs[2] = dobj;
    {
        PyObject *first = PySequence_Fast(ko, "");
        if (first == NULL) {
            PyErr_Clear();
            PyErr_Format(PyExc_TypeError, "kernels: expected a sequence of integers, got %.200s",
                         Py_TYPE(ko)->tp_name);
            return NULL;
        }
        n = PySequence_Fast_GET_SIZE(first);
        Py_DECREF(first);
    }
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "receptive_field: too many layers");
        return NULL;
    }
    for (j = 0; j < 3; j++) {
        const int64_t *p;
        if (j == 2 && dobj == Py_None)
            continue;
        arrays[j] = (int64_t *)PyMem_Malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
        if (arrays[j] == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        arrays[j][0] = 1;
        if (n > 0 && !int64_array(seqs[j], names[j], n, arrays[j], &p))
            goto done;
        if (n == 0) {
            /* Still check that it is an (empty) sequence. */
            PyObject *s = PySequence_Fast(seqs[j], "");
            Py_ssize_t len;
            if (s == NULL) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "%s: expected a sequence of integers", names[j]);
                goto done;
            }
            len = PySequence_Fast_GET_SIZE(s);
            Py_DECREF(s);
            if (len != 0) {
                PyErr_Format(InvalidArgumentError, "%s: expected %zd integers, got %zd", names[j], n, len);
                goto done;
            }
        }
    }
    st = scnn_receptive_field(arrays[0], arrays[1], arrays[2], (int32_t)n, &size, &jump);
    ok = 1;
done:
    for (i = 0; i < 3; i++)
        PyMem_Free(arrays[i]);
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

#else
#define ANALYSIS_MISSING ANALYSIS_FUNCTIONS
STUB(output_size, scnn_output_size)
STUB(receptive_field, scnn_receptive_field)
STUB(conv2d_parameter_count, scnn_conv2d_parameter_count)
STUB(linear_parameter_count, scnn_linear_parameter_count)
STUB(conv2d_macs, scnn_conv2d_macs)
STUB(linear_macs, scnn_linear_macs)
#endif

/* ---- images and filters (Area C) ----------------------------------------------------- */

#define IMAGE_FUNCTIONS "scnn_image_to_tensor", "scnn_tensor_to_image", "scnn_rgb_to_hsv", \
    "scnn_hsv_to_rgb", "scnn_rgb_to_grayscale", "scnn_resize_bilinear", "scnn_center_crop", \
    "scnn_filter_box", "scnn_filter_horizontal_blur", "scnn_filter_vertical_blur", \
    "scnn_filter_sharpen", "scnn_filter_sobel_x", "scnn_filter_sobel_y", "scnn_filter_edge", \
    "scnn_filter_gaussian", "scnn_filter_apply",

#ifdef SCNN_HAS_scnn_image_to_tensor
#define IMAGE_MISSING

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

/* image_to_tensor(pixels, width, height, channels, row_stride, scale, mean|None, std|None)
 * pixels: any contiguous byte buffer; it must hold (height-1)*row_stride + width*channels
 * bytes (checked here, since the C function takes no length). */
static PyObject *py_image_to_tensor(PyObject *self, PyObject *args)
{
    PyObject *po, *mo, *so;
    long long width, height, channels, row_stride;
    float scale;
    float *mean = NULL, *std = NULL;
    Py_ssize_t nmean, nstd;
    Py_buffer view;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OLLLLfOO:image_to_tensor", &po, &width, &height, &channels, &row_stride,
                          &scale, &mo, &so))
        return NULL;
    if (!float_list(mo, "mean", &mean, &nmean))
        return NULL;
    if (!float_list(so, "std", &std, &nstd)) {
        PyMem_Free(mean);
        return NULL;
    }
    if (!check_channel_count("mean", nmean, channels) || !check_channel_count("std", nstd, channels)) {
        PyMem_Free(mean);
        PyMem_Free(std);
        return NULL;
    }
    if (PyObject_GetBuffer(po, &view, PyBUF_SIMPLE) < 0) {
        PyMem_Free(mean);
        PyMem_Free(std);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "pixels: expected a contiguous byte buffer, got %.200s",
                     Py_TYPE(po)->tp_name);
        return NULL;
    }
    if (width >= 1 && height >= 1 && channels >= 1 && channels <= 4 && row_stride >= 0) {
        /* Sizes the library may accept: make sure it cannot read past the buffer. Other
           sizes are refused by the library before it reads anything. */
        int overflow = width > LLONG_MAX / channels;
        unsigned long long row = overflow ? 0 : (unsigned long long)width * (unsigned long long)channels;
        unsigned long long rs = row_stride == 0 ? row : (unsigned long long)row_stride;
        if (overflow || rs >= row) {
            unsigned long long h1 = (unsigned long long)(height - 1);
            unsigned long long have = (unsigned long long)view.len;
            /* need = (height-1)*rs + row, compared without overflow */
            int too_small = overflow || (h1 != 0 && rs > have / h1) || have - h1 * rs < row;
            if (too_small) {
                PyErr_Format(ShapeMismatchError,
                             "pixels: a %lldx%lld image with %lld channels and row stride %llu needs "
                             "(height-1)*row_stride + width*channels bytes, but the buffer has %zd",
                             width, height, channels, rs, view.len);
                PyBuffer_Release(&view);
                PyMem_Free(mean);
                PyMem_Free(std);
                return NULL;
            }
        }
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
    float *mean = NULL, *std = NULL;
    Py_ssize_t nmean, nstd;
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
    if (!float_list(mo, "mean", &mean, &nmean)) {
        arg_release(&x);
        return NULL;
    }
    if (!float_list(so, "std", &std, &nstd) || !check_channel_count("mean", nmean, channels) ||
        !check_channel_count("std", nstd, channels)) {
        arg_release(&x);
        PyMem_Free(mean);
        PyMem_Free(std);
        return NULL;
    }
    if (PyObject_GetBuffer(po, &view, PyBUF_SIMPLE | PyBUF_WRITABLE) < 0) {
        arg_release(&x);
        PyMem_Free(mean);
        PyMem_Free(std);
        PyErr_Clear();
        PyErr_Format(PyExc_TypeError, "pixels: expected a writable contiguous byte buffer, got %.200s",
                     Py_TYPE(po)->tp_name);
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

static PyObject *py_rgb_to_hsv(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_rgb_to_hsv);
}

static PyObject *py_hsv_to_rgb(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_hsv_to_rgb);
}

static PyObject *py_rgb_to_grayscale(PyObject *self, PyObject *obj)
{
    (void)self;
    return unary(obj, scnn_rgb_to_grayscale);
}

typedef scnn_status (*size_fn)(const scnn_tensor *, int64_t, int64_t, scnn_tensor **);

static PyObject *sized(PyObject *args, size_fn fn, const char *fmt)
{
    PyObject *xo;
    long long h, w;
    Arg x;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, fmt, &xo, &h, &w))
        return NULL;
    if (!arg_wrap(xo, "input", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = fn(x.tensor, (int64_t)h, (int64_t)w, &out);
    Py_END_ALLOW_THREADS
    arg_release(&x);
    return finish(st, out);
}

/* resize_bilinear(x, height, width) */
static PyObject *py_resize_bilinear(PyObject *self, PyObject *args)
{
    (void)self;
    return sized(args, scnn_resize_bilinear, "OLL:resize_bilinear");
}

/* center_crop(x, height, width) */
static PyObject *py_center_crop(PyObject *self, PyObject *args)
{
    (void)self;
    return sized(args, scnn_center_crop, "OLL:center_crop");
}

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

static PyObject *py_filter_box(PyObject *self, PyObject *args)
{
    (void)self;
    return filter_n(args, scnn_filter_box, "L:filter_box");
}

static PyObject *py_filter_horizontal_blur(PyObject *self, PyObject *args)
{
    (void)self;
    return filter_n(args, scnn_filter_horizontal_blur, "L:filter_horizontal_blur");
}

static PyObject *py_filter_vertical_blur(PyObject *self, PyObject *args)
{
    (void)self;
    return filter_n(args, scnn_filter_vertical_blur, "L:filter_vertical_blur");
}

static PyObject *py_filter_sharpen(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return nullary(scnn_filter_sharpen);
}

static PyObject *py_filter_sobel_x(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return nullary(scnn_filter_sobel_x);
}

static PyObject *py_filter_sobel_y(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return nullary(scnn_filter_sobel_y);
}

static PyObject *py_filter_edge(PyObject *self, PyObject *args)
{
    (void)self;
    (void)args;
    return nullary(scnn_filter_edge);
}

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
    PyObject *io, *ko;
    int border;
    Arg img, k;
    scnn_tensor *out = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOi:filter_apply", &io, &ko, &border))
        return NULL;
    if (!arg_wrap(io, "image", 0, &img))
        return NULL;
    if (!arg_wrap(ko, "kernel", 0, &k)) {
        arg_release(&img);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_filter_apply(img.tensor, k.tensor, (int32_t)border, &out);
    Py_END_ALLOW_THREADS
    arg_release(&img);
    arg_release(&k);
    return finish(st, out);
}

#else
#define IMAGE_MISSING IMAGE_FUNCTIONS
STUB(image_to_tensor, scnn_image_to_tensor)
STUB(tensor_to_image, scnn_tensor_to_image)
STUB(rgb_to_hsv, scnn_rgb_to_hsv)
STUB(hsv_to_rgb, scnn_hsv_to_rgb)
STUB(rgb_to_grayscale, scnn_rgb_to_grayscale)
STUB(resize_bilinear, scnn_resize_bilinear)
STUB(center_crop, scnn_center_crop)
STUB(filter_box, scnn_filter_box)
STUB(filter_horizontal_blur, scnn_filter_horizontal_blur)
STUB(filter_vertical_blur, scnn_filter_vertical_blur)
STUB(filter_sharpen, scnn_filter_sharpen)
STUB(filter_sobel_x, scnn_filter_sobel_x)
STUB(filter_sobel_y, scnn_filter_sobel_y)
STUB(filter_edge, scnn_filter_edge)
STUB(filter_gaussian, scnn_filter_gaussian)
STUB(filter_apply, scnn_filter_apply)
#endif

/* ---- module ---------------------------------------------------------------------------- */

static const char *const missing_functions[] = {CONV_MISSING LAYER_MISSING ANALYSIS_MISSING IMAGE_MISSING NULL};

#define M_O(name, doc) {#name, (PyCFunction)py_##name, METH_O, doc}
#define M_V(name, doc) {#name, (PyCFunction)py_##name, METH_VARARGS, doc}
#define M_N(name, doc) {#name, (PyCFunction)py_##name, METH_NOARGS, doc}

static PyMethodDef methods[] = {
    M_N(version, "version() -> str: scnn_version()."),
    M_N(abi_version, "abi_version() -> int: scnn_abi_version()."),
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
    M_V(filter_box, "filter_box(n)"),
    M_V(filter_horizontal_blur, "filter_horizontal_blur(n)"),
    M_V(filter_vertical_blur, "filter_vertical_blur(n)"),
    M_N(filter_sharpen, "filter_sharpen()"),
    M_N(filter_sobel_x, "filter_sobel_x()"),
    M_N(filter_sobel_y, "filter_sobel_y()"),
    M_N(filter_edge, "filter_edge()"),
    M_V(filter_gaussian, "filter_gaussian(size, sigma)"),
    M_V(filter_apply, "filter_apply(image, kernel, border)"),
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
    PyObject *m, *missing_tuple;
    Py_ssize_t n = 0, i;

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

    while (missing_functions[n] != NULL)
        n++;
    missing_tuple = PyTuple_New(n);
    if (missing_tuple == NULL)
        goto fail;
    for (i = 0; i < n; i++) {
        PyObject *s = PyUnicode_FromString(missing_functions[i]);
        if (s == NULL) {
            Py_DECREF(missing_tuple);
            goto fail;
        }
        PyTuple_SET_ITEM(missing_tuple, i, s);
    }
    if (PyModule_AddObject(m, "MISSING", missing_tuple) < 0) {
        Py_DECREF(missing_tuple);
        goto fail;
    }
    if (scnn_py_add_models(m, raise_status, tensor_buffer_new) < 0)
        goto fail;
    return m;

fail:
    Py_DECREF(m);
    return NULL;
}
