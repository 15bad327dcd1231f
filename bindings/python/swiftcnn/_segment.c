/*
 * swiftcnn._swiftcnn, segmentation part: thin wrappers of scnn_model_segment,
 * scnn_model_segment_batch and the VOC labels (Include/swiftcnn.h). Added to the extension
 * module by scnn_py_add_segment(), called from _swiftcnn.c's module init. The Pythonic layer
 * (array checks, lists of images, dicts, docstrings) is Model.segment in swiftcnn/models.py.
 * The GIL is released around the library calls; the model is registered as read (see
 * _models.h).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>

#include "swiftcnn.h"
#include "_models.h"

static scnn_py_raise_fn raise_status;

/* Gets a writable, C-contiguous, aligned buffer of `itemsize`-byte items. */
static int out_buffer(PyObject *obj, Py_ssize_t itemsize, const char *what, Py_buffer *b)
{
    if (PyObject_GetBuffer(obj, b, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE) < 0)
        return 0;
    if (b->itemsize != itemsize || ((uintptr_t)b->buf) % (uintptr_t)itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "segment: %s must be an aligned buffer of %zd-byte items", what, itemsize);
        PyBuffer_Release(b);
        return 0;
    }
    return 1;
}

/* segment_image(model, pixels_uint8_hwc, width, height, row_stride, labels_int32, scores_f32_or_None) -> None */
static PyObject *py_segment_image(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *pix_obj, *lab_obj, *sc_obj;
    long long width, height, row_stride;
    Py_buffer pix, lab, sc;
    int has_sc = 0;
    scnn_model *model;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOLLLOO:segment_image", &model_obj, &pix_obj, &width, &height, &row_stride, &lab_obj,
                          &sc_obj))
        return NULL;
    if (PyObject_GetBuffer(pix_obj, &pix, PyBUF_C_CONTIGUOUS) < 0)
        return NULL;
    if (pix.itemsize != 1) {
        PyErr_SetString(PyExc_TypeError, "segment: pixels must be a uint8 buffer");
        PyBuffer_Release(&pix);
        return NULL;
    }
    if (!out_buffer(lab_obj, (Py_ssize_t)sizeof(int32_t), "labels", &lab)) {
        PyBuffer_Release(&pix);
        return NULL;
    }
    if (sc_obj != Py_None) {
        if (!out_buffer(sc_obj, (Py_ssize_t)sizeof(float), "scores", &sc)) {
            PyBuffer_Release(&lab);
            PyBuffer_Release(&pix);
            return NULL;
        }
        has_sc = 1;
    }
    /* The library reads (height - 1) * row_stride + width * 3 bytes: check the buffer holds them. */
    if (width < 1 || height < 1 || row_stride < 0 ||
        (row_stride == 0 ? (double)width * 3.0 * (double)height : (double)(height - 1) * (double)row_stride + (double)width * 3.0) >
            (double)pix.len) {
        PyErr_SetString(PyExc_ValueError, "segment: the pixel buffer is smaller than width x height x 3 bytes");
        model = NULL;
        goto done;
    }
    if (has_sc && sc.len / (Py_ssize_t)sizeof(float) < lab.len / (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "segment: scores is smaller than labels");
        model = NULL;
        goto done;
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_segment(model, (const uint8_t *)pix.buf, (int64_t)width, (int64_t)height, 3, (int64_t)row_stride,
                                (int32_t *)lab.buf, has_sc ? (float *)sc.buf : NULL,
                                (int64_t)(lab.len / (Py_ssize_t)sizeof(int32_t)));
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 0);
    }
done:
    if (has_sc)
        PyBuffer_Release(&sc);
    PyBuffer_Release(&lab);
    PyBuffer_Release(&pix);
    if (model == NULL)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* segment_batch(model, images_f32_nchw, labels_int32, scores_f32_or_None) -> None */
static PyObject *py_segment_batch(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *img_obj, *lab_obj, *sc_obj;
    Py_buffer img, lab, sc;
    int has_sc = 0, i;
    int64_t shape[4];
    scnn_model *model = NULL;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOOO:segment_batch", &model_obj, &img_obj, &lab_obj, &sc_obj))
        return NULL;
    if (PyObject_GetBuffer(img_obj, &img, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    if (img.itemsize != (Py_ssize_t)sizeof(float) || img.ndim != 4 || img.format == NULL || img.format[0] != 'f' ||
        ((uintptr_t)img.buf) % sizeof(float) != 0) {
        PyErr_SetString(PyExc_TypeError, "segment: images must be an aligned float32 array [N, 3, H, W]");
        PyBuffer_Release(&img);
        return NULL;
    }
    for (i = 0; i < 4; i++)
        shape[i] = (int64_t)img.shape[i];
    if (!out_buffer(lab_obj, (Py_ssize_t)sizeof(int32_t), "labels", &lab)) {
        PyBuffer_Release(&img);
        return NULL;
    }
    if (sc_obj != Py_None) {
        if (!out_buffer(sc_obj, (Py_ssize_t)sizeof(float), "scores", &sc)) {
            PyBuffer_Release(&lab);
            PyBuffer_Release(&img);
            return NULL;
        }
        has_sc = 1;
    }
    if (has_sc && sc.len / (Py_ssize_t)sizeof(float) < lab.len / (Py_ssize_t)sizeof(int32_t)) {
        PyErr_SetString(PyExc_ValueError, "segment: scores is smaller than labels");
        goto done;
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_segment_batch(model, (const float *)img.buf, shape, (int32_t *)lab.buf,
                                      has_sc ? (float *)sc.buf : NULL, (int64_t)(lab.len / (Py_ssize_t)sizeof(int32_t)));
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 0);
    }
done:
    if (has_sc)
        PyBuffer_Release(&sc);
    PyBuffer_Release(&lab);
    PyBuffer_Release(&img);
    if (model == NULL)
        return NULL;
    if (st != SCNN_STATUS_OK)
        return raise_status(st, NULL);
    Py_RETURN_NONE;
}

/* voc_classes() -> tuple of the 21 PASCAL VOC names (scnn_voc_class). */
static PyObject *py_voc_classes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return scnn_py_class_names(scnn_voc_class_count, scnn_voc_class);
}

static PyMethodDef segment_functions[] = {
    {"segment_image", py_segment_image, METH_VARARGS,
     "segment_image(model, pixels, width, height, row_stride, labels, scores) -> None: scnn_model_segment."},
    {"segment_batch", py_segment_batch, METH_VARARGS,
     "segment_batch(model, images, labels, scores) -> None: scnn_model_segment_batch."},
    {"voc_classes", py_voc_classes, METH_NOARGS, "voc_classes() -> tuple of the 21 PASCAL VOC class names."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_segment(PyObject *module, scnn_py_raise_fn raise)
{
    raise_status = raise;
    return PyModule_AddFunctions(module, segment_functions);
}
