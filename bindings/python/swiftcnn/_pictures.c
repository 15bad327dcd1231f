/*
 * swiftcnn._swiftcnn, pictures part: thin wrappers of Include/swiftcnn.h's "Pictures"
 * section (scnn_picture_*), added to the extension module by scnn_py_add_pictures(), called
 * from _swiftcnn.c's module init. The Pythonic layer (numpy arrays, dtype conversion,
 * defaults, the command line) is swiftcnn/viz.py.
 *
 * Pictures cross this boundary as (width, height, pixels): pixels is a bytearray of
 * height * width * 3 bytes, RGB interleaved, rows top to bottom (viz.py views it as a numpy
 * uint8 array [height, width, 3] without a copy). Pictures going in arrive the same way, as
 * any C-contiguous buffer of exactly width * height * 3 bytes. Boxes and scores are float32
 * buffers, labels int64 buffers (viz.py converts); sizes are checked here against the
 * buffers' lengths before the library reads them.
 *
 * Threads: the GIL is released around every library call; model calls register as readers
 * of the model (_models.c's use counts).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "_pictures.h"

static scnn_py_raise_fn raise_status;
static scnn_py_wrap_fn wrap_arg;
static scnn_py_release_fn release_arg;

/* (width, height, bytearray of the pixels) for a picture, which is destroyed. */
static PyObject *picture_result(scnn_picture *pic)
{
    int64_t w = scnn_picture_width(pic), h = scnn_picture_height(pic);
    const uint8_t *data = scnn_picture_data(pic);
    PyObject *bytes, *result;
    if (pic == NULL || data == NULL || w < 1 || h < 1) {
        scnn_picture_destroy(pic);
        PyErr_SetString(PyExc_RuntimeError, "swiftcnn: a picture call succeeded but returned no picture");
        return NULL;
    }
    bytes = PyByteArray_FromStringAndSize((const char *)data, (Py_ssize_t)(w * h * 3));
    scnn_picture_destroy(pic);
    if (bytes == NULL)
        return NULL;
    result = Py_BuildValue("(LLN)", (long long)w, (long long)h, bytes);
    return result;
}

/* A picture made from `buf` (exactly width * height * 3 bytes); NULL with an exception. */
static scnn_picture *picture_from_buffer(const Py_buffer *buf, long long width, long long height, const char *name)
{
    scnn_picture *pic = NULL;
    scnn_status st;
    if (width < 1 || height < 1 || width > 32768 || height > 32768) {
        PyErr_Format(PyExc_ValueError, "%s: width and height must be 1 to 32768; got %lldx%lld", name, width,
                     height);
        return NULL;
    }
    if (buf->len != (Py_ssize_t)(width * height * 3)) {
        PyErr_Format(PyExc_ValueError, "%s: a %lldx%lld RGB picture has %lld bytes; the buffer has %zd", name,
                     width, height, width * height * 3, buf->len);
        return NULL;
    }
    st = scnn_picture_from_rgb((const uint8_t *)buf->buf, width, height, 0, &pic);
    if (st != SCNN_STATUS_OK) {
        raise_status(st, name);
        return NULL;
    }
    return pic;
}

/* names: None or a sequence of str -> a malloc'd array of UTF-8 pointers borrowed from the
 * str objects (kept alive by *keep, a new tuple). Returns 1, or 0 with an exception. */
static int names_arg(PyObject *names, const char ***out, Py_ssize_t *count, PyObject **keep)
{
    Py_ssize_t i, n;
    *out = NULL;
    *count = 0;
    *keep = NULL;
    if (names == Py_None)
        return 1;
    *keep = PySequence_Tuple(names);
    if (*keep == NULL)
        return 0;
    n = PyTuple_GET_SIZE(*keep);
    *out = (const char **)malloc(sizeof(char *) * (size_t)(n > 0 ? n : 1));
    if (*out == NULL) {
        Py_CLEAR(*keep);
        PyErr_NoMemory();
        return 0;
    }
    for (i = 0; i < n; i++) {
        PyObject *s = PyTuple_GET_ITEM(*keep, i);
        if (!PyUnicode_Check(s)) {
            PyErr_Format(PyExc_TypeError, "names[%zd]: expected str, got %.200s", i, Py_TYPE(s)->tp_name);
            goto fail;
        }
        (*out)[i] = PyUnicode_AsUTF8(s);
        if ((*out)[i] == NULL)
            goto fail;
    }
    *count = n;
    return 1;
fail:
    free((void *)*out);
    *out = NULL;
    Py_CLEAR(*keep);
    return 0;
}

/* picture_filters(model, name, scale) -> (w, h, pixels) */
static PyObject *py_picture_filters(PyObject *self, PyObject *args)
{
    PyObject *model_obj;
    const char *name;
    int scale;
    scnn_model *model;
    scnn_picture *pic = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "Osi:picture_filters", &model_obj, &name, &scale))
        return NULL;
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_filters(model, name, scale, &pic);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 0);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return picture_result(pic);
}

/* picture_activations(model, x, node, scale) -> (w, h, pixels) */
static PyObject *py_picture_activations(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *x_obj;
    const char *node;
    int scale;
    scnn_model *model;
    scnn_picture *pic = NULL;
    scnn_py_arg x;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOsi:picture_activations", &model_obj, &x_obj, &node, &scale))
        return NULL;
    if (!wrap_arg(x_obj, "x", 0, &x))
        return NULL;
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL) {
        release_arg(&x);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_activations(model, x.tensor, node, scale, &pic);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 0);
    release_arg(&x);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return picture_result(pic);
}

/* picture_receptive_field(model, node, y, x, image_pixels|None, width, height, scale) */
static PyObject *py_picture_receptive_field(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *image_obj;
    const char *node;
    long long y, x, width, height;
    int scale;
    scnn_model *model;
    scnn_picture *image = NULL, *pic = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "OsLLOLLi:picture_receptive_field", &model_obj, &node, &y, &x, &image_obj, &width,
                          &height, &scale))
        return NULL;
    if (image_obj != Py_None) {
        Py_buffer buf;
        if (PyObject_GetBuffer(image_obj, &buf, PyBUF_C_CONTIGUOUS) < 0)
            return NULL;
        image = picture_from_buffer(&buf, width, height, "image");
        PyBuffer_Release(&buf);
        if (image == NULL)
            return NULL;
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model == NULL) {
        scnn_picture_destroy(image);
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_receptive_field(model, node, y, x, image, scale, &pic);
    Py_END_ALLOW_THREADS
    scnn_py_model_end(model_obj, 0);
    scnn_picture_destroy(image);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return picture_result(pic);
}

/* picture_detections(image_pixels, width, height, boxes_f32, scores_f32, labels_i64, names|None) */
static PyObject *py_picture_detections(PyObject *self, PyObject *args)
{
    PyObject *names_obj, *keep = NULL, *result = NULL;
    Py_buffer image_buf, boxes, scores, labels;
    long long width, height;
    const char **names = NULL;
    Py_ssize_t name_count = 0, n;
    scnn_picture *image = NULL, *pic = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*LLy*y*y*O:picture_detections", &image_buf, &width, &height, &boxes, &scores,
                          &labels, &names_obj))
        return NULL;
    n = labels.len / (Py_ssize_t)sizeof(int64_t);
    if (labels.len % (Py_ssize_t)sizeof(int64_t) != 0 || scores.len != n * (Py_ssize_t)sizeof(float) ||
        boxes.len != 4 * n * (Py_ssize_t)sizeof(float)) {
        PyErr_Format(PyExc_ValueError,
                     "detections: %zd labels need %zd box values and %zd scores; got buffers of %zd and %zd bytes", n,
                     4 * n, n, boxes.len, scores.len);
        goto done;
    }
    if (!names_arg(names_obj, &names, &name_count, &keep))
        goto done;
    image = picture_from_buffer(&image_buf, width, height, "image");
    if (image == NULL)
        goto done;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_detections(image, (int64_t)n, (const float *)boxes.buf, (const float *)scores.buf,
                                 (const int64_t *)labels.buf, names, (int64_t)name_count, &pic);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK)
        raise_status(st, NULL);
    else
        result = picture_result(pic);
done:
    scnn_picture_destroy(image);
    free((void *)names);
    Py_XDECREF(keep);
    PyBuffer_Release(&image_buf);
    PyBuffer_Release(&boxes);
    PyBuffer_Release(&scores);
    PyBuffer_Release(&labels);
    return result;
}

/* picture_label_map(labels_i64, height, width, image_pixels|None, alpha, names|None, legend, scale) */
static PyObject *py_picture_label_map(PyObject *self, PyObject *args)
{
    PyObject *image_obj, *names_obj, *keep = NULL, *result = NULL;
    Py_buffer labels;
    long long height, width;
    float alpha;
    int legend, scale;
    const char **names = NULL;
    Py_ssize_t name_count = 0;
    scnn_picture *image = NULL, *pic = NULL;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*LLOfOpi:picture_label_map", &labels, &height, &width, &image_obj, &alpha,
                          &names_obj, &legend, &scale))
        return NULL;
    if (height < 1 || width < 1 || height > 32768 || width > 32768 ||
        labels.len != (Py_ssize_t)(height * width * (long long)sizeof(int64_t))) {
        PyErr_Format(PyExc_ValueError, "label_map: a %lldx%lld map needs %lld int64 labels; the buffer has %zd bytes",
                     height, width, height * width, labels.len);
        goto done;
    }
    if (image_obj != Py_None) {
        Py_buffer buf;
        if (PyObject_GetBuffer(image_obj, &buf, PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        image = picture_from_buffer(&buf, width, height, "image");
        PyBuffer_Release(&buf);
        if (image == NULL)
            goto done;
    }
    if (!names_arg(names_obj, &names, &name_count, &keep))
        goto done;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_label_map((const int64_t *)labels.buf, height, width, image, alpha, names, (int64_t)name_count,
                                legend, scale, &pic);
    Py_END_ALLOW_THREADS
    if (st != SCNN_STATUS_OK)
        raise_status(st, NULL);
    else
        result = picture_result(pic);
done:
    scnn_picture_destroy(image);
    free((void *)names);
    Py_XDECREF(keep);
    PyBuffer_Release(&labels);
    return result;
}

/* picture_from_tensor(x) -> (w, h, pixels) */
static PyObject *py_picture_from_tensor(PyObject *self, PyObject *arg)
{
    scnn_py_arg x;
    scnn_picture *pic = NULL;
    scnn_status st;
    (void)self;
    if (!wrap_arg(arg, "image", 0, &x))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_from_tensor(x.tensor, &pic);
    Py_END_ALLOW_THREADS
    release_arg(&x);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    return picture_result(pic);
}

/* picture_save(pixels, width, height, path_bytes, format) */
static PyObject *py_picture_save(PyObject *self, PyObject *args)
{
    Py_buffer buf;
    long long width, height;
    const char *path;
    Py_ssize_t path_len;
    int format;
    scnn_picture *pic;
    scnn_status st;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*LLy#i:picture_save", &buf, &width, &height, &path, &path_len, &format))
        return NULL;
    if ((Py_ssize_t)strlen(path) != path_len) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "save: the path contains a NUL byte");
        return NULL;
    }
    pic = picture_from_buffer(&buf, width, height, "picture");
    PyBuffer_Release(&buf);
    if (pic == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    st = scnn_picture_save(pic, path, format);
    Py_END_ALLOW_THREADS
    scnn_picture_destroy(pic);
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

static PyMethodDef picture_functions[] = {
    {"picture_filters", (PyCFunction)py_picture_filters, METH_VARARGS,
     "picture_filters(model, name, scale) -> (width, height, pixels): scnn_picture_filters."},
    {"picture_activations", (PyCFunction)py_picture_activations, METH_VARARGS,
     "picture_activations(model, x, node, scale) -> (width, height, pixels): scnn_picture_activations."},
    {"picture_receptive_field", (PyCFunction)py_picture_receptive_field, METH_VARARGS,
     "picture_receptive_field(model, node, y, x, image|None, width, height, scale) -> (width, height, pixels): "
     "scnn_picture_receptive_field."},
    {"picture_detections", (PyCFunction)py_picture_detections, METH_VARARGS,
     "picture_detections(image, width, height, boxes_f32, scores_f32, labels_i64, names|None) -> "
     "(width, height, pixels): scnn_picture_detections."},
    {"picture_label_map", (PyCFunction)py_picture_label_map, METH_VARARGS,
     "picture_label_map(labels_i64, height, width, image|None, alpha, names|None, legend, scale) -> "
     "(width, height, pixels): scnn_picture_label_map."},
    {"picture_from_tensor", (PyCFunction)py_picture_from_tensor, METH_O,
     "picture_from_tensor(x) -> (width, height, pixels): scnn_picture_from_tensor."},
    {"picture_save", (PyCFunction)py_picture_save, METH_VARARGS,
     "picture_save(pixels, width, height, path_bytes, format): scnn_picture_save."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_pictures(PyObject *module, scnn_py_raise_fn raise, scnn_py_wrap_fn wrap, scnn_py_release_fn release)
{
    raise_status = raise;
    wrap_arg = wrap;
    release_arg = release;
    return PyModule_AddFunctions(module, picture_functions);
}
