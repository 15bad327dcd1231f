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

/* Adds the Model type and the model functions (model_names, model_default_num_classes,
 * imagenet_classes) to the module. Returns 0, or -1 with an exception set. */
int scnn_py_add_models(PyObject *module, scnn_py_raise_fn raise_status, scnn_py_tensor_fn tensor_result);

#endif
