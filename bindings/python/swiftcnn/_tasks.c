/*
 * The tasks part of the swiftcnn._swiftcnn extension: detection (scnn_model_detect) and the
 * COCO names. Added to the extension module by scnn_py_add_tasks(), called from
 * _swiftcnn.c's module init. The Pythonic layer (images in, one dict per image out) is
 * Model.detect in swiftcnn/models.py.
 *
 * Threads: the GIL is released around every library call; detection registers as a reader
 * of the model (_models.c's use counts).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "swiftcnn.h"
#include "_models.h"

static scnn_py_raise_fn raise_status;

/* ---- detection ------------------------------------------------------------------------ */

/* detect(model, image, score_threshold, iou_threshold, max_detections, capacity)
 * -> (bytes, count): scnn_model_detect on one C-contiguous float32 image [C, H, W]; the
 * bytes hold min(count, capacity) scnn_detection records (x1, y1, x2, y2, score as float32,
 * label as int32: 24 bytes each). count > capacity means the array was too small. */
static PyObject *py_detect(PyObject *self, PyObject *args)
{
    PyObject *model_obj, *image_obj, *result = NULL;
    float score, iou;
    long long max_det, capacity;
    Py_buffer view;
    scnn_model *model;
    scnn_detection *out = NULL;
    int64_t count = 0;
    scnn_status st = SCNN_STATUS_OK;
    (void)self;
    if (!PyArg_ParseTuple(args, "OOffLL:detect", &model_obj, &image_obj, &score, &iou, &max_det, &capacity))
        return NULL;
    if (capacity < 0 || capacity > (long long)(PY_SSIZE_T_MAX / (Py_ssize_t)sizeof(scnn_detection))) {
        PyErr_SetString(PyExc_ValueError, "detect: capacity out of range");
        return NULL;
    }
    if (PyObject_GetBuffer(image_obj, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_ND) < 0)
        return NULL;
    if (view.ndim != 3 || view.itemsize != (Py_ssize_t)sizeof(float) || view.format == NULL ||
        strcmp(view.format, "f") != 0 || ((uintptr_t)view.buf) % sizeof(float) != 0) {
        PyErr_SetString(PyExc_TypeError, "detect: image must be an aligned, C-contiguous float32 array [C, H, W]");
        PyBuffer_Release(&view);
        return NULL;
    }
    if (capacity > 0) {
        out = PyMem_Calloc((size_t)capacity, sizeof(scnn_detection));
        if (out == NULL) {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
    }
    model = scnn_py_model_begin(model_obj, 0);
    if (model != NULL) {
        Py_BEGIN_ALLOW_THREADS
        st = scnn_model_detect(model, (const float *)view.buf, (int64_t)view.shape[0], (int64_t)view.shape[1],
                               (int64_t)view.shape[2], score, iou, (int64_t)max_det, out, (int64_t)capacity, &count);
        Py_END_ALLOW_THREADS
        scnn_py_model_end(model_obj, 0);
    }
    PyBuffer_Release(&view);
    if (model != NULL && st != SCNN_STATUS_OK) {
        PyMem_Free(out);
        return raise_status(st, NULL);
    }
    if (model != NULL) {
        int64_t written = count < (int64_t)capacity ? count : (int64_t)capacity;
        PyObject *bytes = PyBytes_FromStringAndSize((const char *)out, (Py_ssize_t)written * (Py_ssize_t)sizeof(scnn_detection));
        if (bytes != NULL) {
            result = Py_BuildValue("(NL)", bytes, (long long)count);
        }
    }
    PyMem_Free(out);
    return result;
}

/* coco_classes() -> tuple[str]: scnn_coco_class for 0 ..< scnn_coco_class_count(). */
static PyObject *py_coco_classes(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return scnn_py_class_names(scnn_coco_class_count, scnn_coco_class);
}

static PyMethodDef task_functions[] = {
    {"detect", (PyCFunction)py_detect, METH_VARARGS,
     "detect(model, image, score_threshold, iou_threshold, max_detections, capacity) -> (bytes, count): "
     "scnn_model_detect."},
    {"coco_classes", (PyCFunction)py_coco_classes, METH_NOARGS,
     "coco_classes() -> tuple[str]: scnn_coco_class for 0 ..< scnn_coco_class_count()."},
    {NULL, NULL, 0, NULL},
};

int scnn_py_add_tasks(PyObject *module, scnn_py_raise_fn raise)
{
    raise_status = raise;
    return PyModule_AddFunctions(module, task_functions);
}
