/*
 * The model-zoo part of the swiftcnn._swiftcnn extension (swiftcnn/_models.c), added to the
 * module by its init function. _swiftcnn.c passes in its two shared helpers, so that model
 * errors and result tensors behave exactly like every other call's.
 */
#ifndef SWIFTCNN_PY_MODELS_H
#define SWIFTCNN_PY_MODELS_H

#include <Python.h>

#include "swiftcnn.h"

/* Raises the exception for a failed call (scnn_last_error() as the message, prefixed with
 * "prefix: " when prefix is not NULL); always returns NULL. */
typedef PyObject *(*scnn_py_raise_fn)(scnn_status status, const char *prefix);

/* Takes ownership of a result tensor and returns a new TensorBuffer (NULL + exception on
 * failure, the tensor destroyed). */
typedef PyObject *(*scnn_py_tensor_fn)(scnn_tensor *tensor);

/* A Python argument wrapped as a tensor that borrows its buffer (_swiftcnn.c's arg_wrap). */
typedef struct {
    Py_buffer view;
    int has_view;
    scnn_tensor *tensor;
} scnn_py_arg;

/* Wraps `obj` (a C-contiguous float32 buffer) as a borrowing tensor; with `optional`, None
 * gives a NULL tensor. Returns 0 with an exception set on failure. */
typedef int (*scnn_py_wrap_fn)(PyObject *obj, const char *name, int optional, scnn_py_arg *a);
/* Destroys the wrapped tensor and releases the buffer (harmless on a failed/None wrap). */
typedef void (*scnn_py_release_fn)(scnn_py_arg *a);

/* The scnn_model* of a swiftcnn Model object for one call, registered as a reader (write
 * = 0) or as the writer (write = 1) of _models.c's per-model use counts; NULL with an
 * exception when obj is not a created Model or the use would race another thread's.
 * Every successful begin is paired with scnn_py_model_end(obj, write). */
/* A tuple of class names: name(0) ..< name(count()) (a NULL name becomes ""); NULL with an
 * exception on failure. Serves imagenet_classes, coco_classes and voc_classes. */
PyObject *scnn_py_class_names(int32_t (*count)(void), const char *(*name)(int32_t));

scnn_model *scnn_py_model_begin(PyObject *obj, int write);
void scnn_py_model_end(PyObject *obj, int write);

/* Adds the training part and the safetensors file functions (_training.c: the Optimizer type and the model training calls). */
int scnn_py_add_training(PyObject *module, scnn_py_raise_fn raise_status, scnn_py_tensor_fn tensor_result,
                         scnn_py_wrap_fn wrap, scnn_py_release_fn release);

/* Adds the tasks part (_tasks.c: detect, coco_classes). Returns 0, or -1 with an exception set. */
int scnn_py_add_tasks(PyObject *module, scnn_py_raise_fn raise_status);

/* Adds the Model type and the model functions (model_names, model_default_num_classes,
 * imagenet_classes) to the module. Returns 0, or -1 with an exception set. */
int scnn_py_add_models(PyObject *module, scnn_py_raise_fn raise_status, scnn_py_tensor_fn tensor_result);

/* Adds the segmentation functions (_segment.c: segment_image, segment_batch, voc_classes). */
int scnn_py_add_segment(PyObject *module, scnn_py_raise_fn raise_status);

#endif
