/*
 * swiftcnn._swiftcnn, retrieval part: the Index type (an scnn_index*, Include/swiftcnn.h's
 * "Retrieval" functions) and _model_embed (scnn_model_embed). The Pythonic layer (dtype
 * conversion, output arrays, ids, docstrings) is swiftcnn/retrieval.py and
 * swiftcnn/models.py's Model.embed.
 *
 * Arrays arrive as C-contiguous buffers the Python layer made: vectors and queries float32,
 * ids int64; search writes into caller-made int64 and float32 buffers of nq * k elements.
 *
 * Threads: the GIL is released around every library call. An index counts its users:
 * searches and saves are readers (any number at once), add, remove and reset the writer
 * (alone); a conflicting call from another thread raises RuntimeError instead of racing.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "swiftcnn.h"
#include "_retrieval.h"

static scnn_py_raise_fn raise_status;
static scnn_py_tensor_fn tensor_result;
static scnn_py_wrap_fn wrap_arg;
static scnn_py_release_fn release_arg;

typedef struct {
    PyObject_HEAD
    scnn_index *index;
    int readers; /* calls reading it with the GIL released */
    int writing; /* a call changing it with the GIL released */
} IndexObject;

static PyTypeObject IndexType;

static int begin_use(IndexObject *self, int write)
{
    if (self->index == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "swiftcnn: this Index was not created");
        return 0;
    }
    if (self->writing || (write && self->readers > 0)) {
        PyErr_SetString(PyExc_RuntimeError, "index: in use by another thread (add, remove and reset need it alone)");
        return 0;
    }
    if (write)
        self->writing = 1;
    else
        self->readers++;
    return 1;
}

static void end_use(IndexObject *self, int write)
{
    if (write)
        self->writing = 0;
    else
        self->readers--;
}

/* A C-contiguous buffer of `itemsize`-byte elements of format `fmt` (one of "f", "q"/"l"). */
static int get_buffer(PyObject *obj, const char *name, char kind, Py_buffer *view)
{
    const char *f;
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return 0;
    f = view->format != NULL ? view->format : "B";
    if (*f == '<' || *f == '=' || *f == '@')
        f++;
    if (kind == 'f' ? !(strcmp(f, "f") == 0 && view->itemsize == 4)
                    : !((strcmp(f, "q") == 0 || strcmp(f, "l") == 0) && view->itemsize == 8)) {
        PyErr_Format(PyExc_TypeError, "%s: expected a C-contiguous %s buffer, got format '%s'", name,
                     kind == 'f' ? "float32" : "int64", f);
        PyBuffer_Release(view);
        return 0;
    }
    return 1;
}

/* Index(dim, metric): scnn_index_create. */
static PyObject *index_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"dim", "metric", NULL};
    long long dim;
    int metric;
    scnn_index *index = NULL;
    scnn_status st;
    IndexObject *self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Li:Index", kwlist, &dim, &metric))
        return NULL;
    st = scnn_index_create((int64_t)dim, (int32_t)metric, &index);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    self = (IndexObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        scnn_index_destroy(index);
        return NULL;
    }
    self->index = index;
    return (PyObject *)self;
}

static void index_dealloc(IndexObject *self)
{
    scnn_index_destroy(self->index);
    self->index = NULL;
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* _add(vectors, n, ids_or_None): scnn_index_add. */
static PyObject *index_add(IndexObject *self, PyObject *args)
{
    PyObject *data_obj, *ids_obj;
    long long n;
    Py_buffer data, ids;
    int has_ids = 0;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "OLO:_add", &data_obj, &n, &ids_obj))
        return NULL;
    if (!get_buffer(data_obj, "vectors", 'f', &data))
        return NULL;
    if (ids_obj != Py_None) {
        if (!get_buffer(ids_obj, "ids", 'q', &ids)) {
            PyBuffer_Release(&data);
            return NULL;
        }
        has_ids = 1;
        if (ids.len / 8 != (Py_ssize_t)n) {
            PyErr_Format(PyExc_ValueError, "ids: expected %lld ids, got %zd", n, ids.len / 8);
            goto fail;
        }
    }
    if (n < 0 || data.len / 4 / (Py_ssize_t)(n > 0 ? n : 1) < (Py_ssize_t)(n > 0 ? scnn_index_dimension(self->index) : 0)) {
        PyErr_SetString(PyExc_ValueError, "vectors: buffer smaller than n rows");
        goto fail;
    }
    if (!begin_use(self, 1))
        goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_index_add(self->index, (const float *)data.buf, (int64_t)n, has_ids ? (const int64_t *)ids.buf : NULL);
    Py_END_ALLOW_THREADS
    end_use(self, 1);
    PyBuffer_Release(&data);
    if (has_ids)
        PyBuffer_Release(&ids);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&data);
    if (has_ids)
        PyBuffer_Release(&ids);
    return NULL;
}

/* _search(queries, nq, k, ids_out, scores_out): scnn_index_search into caller buffers. */
static PyObject *index_search(IndexObject *self, PyObject *args)
{
    PyObject *q_obj, *ids_obj, *scores_obj;
    long long nq, k;
    Py_buffer q, ids, scores;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "OLLOO:_search", &q_obj, &nq, &k, &ids_obj, &scores_obj))
        return NULL;
    if (!get_buffer(q_obj, "queries", 'f', &q))
        return NULL;
    if (!get_buffer(ids_obj, "ids", 'q', &ids)) {
        PyBuffer_Release(&q);
        return NULL;
    }
    if (!get_buffer(scores_obj, "scores", 'f', &scores)) {
        PyBuffer_Release(&q);
        PyBuffer_Release(&ids);
        return NULL;
    }
    if (ids.readonly || scores.readonly || nq < 0 || k < 1 ||
        (nq > 0 && (ids.len / 8 / nq < k || scores.len / 4 / nq < k ||
                    q.len / 4 / nq < (Py_ssize_t)scnn_index_dimension(self->index)))) {
        PyErr_SetString(PyExc_ValueError, "search: buffers do not match nq, k and the dimension");
        goto fail;
    }
    if (!begin_use(self, 0))
        goto fail;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_index_search(self->index, (const float *)q.buf, (int64_t)nq, (int64_t)k, (int64_t *)ids.buf,
                           (float *)scores.buf);
    Py_END_ALLOW_THREADS
    end_use(self, 0);
    PyBuffer_Release(&q);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&scores);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&q);
    PyBuffer_Release(&ids);
    PyBuffer_Release(&scores);
    return NULL;
}

/* _remove(ids) -> int: scnn_index_remove. */
static PyObject *index_remove(IndexObject *self, PyObject *args)
{
    PyObject *ids_obj;
    Py_buffer ids;
    int64_t removed = 0;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "O:_remove", &ids_obj))
        return NULL;
    if (!get_buffer(ids_obj, "ids", 'q', &ids))
        return NULL;
    if (!begin_use(self, 1)) {
        PyBuffer_Release(&ids);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_index_remove(self->index, (const int64_t *)ids.buf, (int64_t)(ids.len / 8), &removed);
    Py_END_ALLOW_THREADS
    end_use(self, 1);
    PyBuffer_Release(&ids);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return PyLong_FromLongLong((long long)removed);
}

/* reset(): scnn_index_reset. */
static PyObject *index_reset(IndexObject *self, PyObject *Py_UNUSED(ignored))
{
    scnn_status st;
    if (!begin_use(self, 1))
        return NULL;
    st = scnn_index_reset(self->index);
    end_use(self, 1);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* _save(path): scnn_index_save. */
static PyObject *index_save(IndexObject *self, PyObject *args)
{
    PyObject *path_obj, *bytes = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "O:_save", &path_obj))
        return NULL;
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return NULL;
    if (!begin_use(self, 0)) {
        Py_DECREF(bytes);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_index_save(self->index, PyBytes_AS_STRING(bytes));
    Py_END_ALLOW_THREADS
    end_use(self, 0);
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* _load(cls, path) -> instance of cls: scnn_index_load. */
static PyObject *index_load(PyObject *cls, PyObject *args)
{
    PyObject *path_obj, *bytes = NULL;
    scnn_index *index = NULL;
    scnn_status st;
    IndexObject *self;
    if (!PyArg_ParseTuple(args, "O:_load", &path_obj))
        return NULL;
    if (!PyUnicode_FSConverter(path_obj, &bytes))
        return NULL;
    if (memchr(PyBytes_AS_STRING(bytes), 0, (size_t)PyBytes_GET_SIZE(bytes)) != NULL) {
        Py_DECREF(bytes);
        PyErr_SetString(PyExc_ValueError, "path: embedded NUL character");
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_index_load(PyBytes_AS_STRING(bytes), &index);
    Py_END_ALLOW_THREADS
    Py_DECREF(bytes);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    self = (IndexObject *)((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (self == NULL) {
        scnn_index_destroy(index);
        return NULL;
    }
    self->index = index;
    return (PyObject *)self;
}

static PyObject *index_get_count(IndexObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong((long long)scnn_index_count(self->index));
}

static PyObject *index_get_dimension(IndexObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLongLong((long long)scnn_index_dimension(self->index));
}

static PyObject *index_get_metric(IndexObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromLong((long)scnn_index_get_metric(self->index));
}

static PyMethodDef index_methods[] = {
    {"_add", (PyCFunction)index_add, METH_VARARGS, "_add(vectors, n, ids): scnn_index_add."},
    {"_search", (PyCFunction)index_search, METH_VARARGS, "_search(queries, nq, k, ids, scores): scnn_index_search."},
    {"_remove", (PyCFunction)index_remove, METH_VARARGS, "_remove(ids) -> int: scnn_index_remove."},
    {"reset", (PyCFunction)index_reset, METH_NOARGS, "Empties the index (ids start again from 0)."},
    {"_save", (PyCFunction)index_save, METH_VARARGS, "_save(path): scnn_index_save."},
    {"_load", (PyCFunction)index_load, METH_VARARGS | METH_CLASS, "_load(path): scnn_index_load."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef index_getset[] = {
    {"count", (getter)index_get_count, NULL, "Number of vectors in the index.", NULL},
    {"dimension", (getter)index_get_dimension, NULL, "Length of the vectors.", NULL},
    {"_metric", (getter)index_get_metric, NULL, "The scnn_index_metric (0 cosine, 1 l2).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject IndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "swiftcnn._swiftcnn.Index",
    .tp_basicsize = sizeof(IndexObject),
    .tp_dealloc = (destructor)index_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Index(dim, metric): an scnn_index (see swiftcnn.retrieval.Index).",
    .tp_methods = index_methods,
    .tp_getset = index_getset,
    .tp_new = index_new,
};

/* _model_embed(model, x, node_or_None) -> TensorBuffer: scnn_model_embed. */
static PyObject *model_embed(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *model_obj, *x, *node_obj;
    const char *node = NULL;
    Py_ssize_t len = 0;
    scnn_py_arg input;
    scnn_model *model;
    scnn_tensor *out = NULL;
    scnn_status st;
    if (!PyArg_ParseTuple(args, "OOO:_model_embed", &model_obj, &x, &node_obj))
        return NULL;
    if (node_obj != Py_None) {
        if (!PyUnicode_Check(node_obj)) {
            PyErr_Format(PyExc_TypeError, "node: expected a str or None, got %.200s", Py_TYPE(node_obj)->tp_name);
            return NULL;
        }
        node = PyUnicode_AsUTF8AndSize(node_obj, &len);
        if (node == NULL)
            return NULL;
        if ((size_t)len != strlen(node)) {
            PyErr_SetString(PyExc_ValueError, "node: embedded NUL character");
            return NULL;
        }
    }
    if (!wrap_arg(x, "images", 0, &input))
        return NULL;
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL) {
        release_arg(&input);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_model_embed(model, input.tensor, node, &out);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 0);
    release_arg(&input);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return tensor_result(out);
}

static PyMethodDef retrieval_functions[] = {
    {"_model_embed", model_embed, METH_VARARGS, "_model_embed(model, images, node) -> TensorBuffer: scnn_model_embed."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_retrieval(PyObject *module, scnn_py_raise_fn raise, scnn_py_tensor_fn tensor, scnn_py_wrap_fn wrap,
                          scnn_py_release_fn release)
{
    raise_status = raise;
    tensor_result = tensor;
    wrap_arg = wrap;
    release_arg = release;
    if (PyType_Ready(&IndexType) < 0)
        return -1;
    Py_INCREF(&IndexType);
    if (PyModule_AddObject(module, "Index", (PyObject *)&IndexType) < 0) {
        Py_DECREF(&IndexType);
        return -1;
    }
    return PyModule_AddFunctions(module, retrieval_functions);
}
