/*
 * The pictures part of the swiftcnn._swiftcnn extension (swiftcnn/_pictures.c), added to the
 * module by its init function: thin wrappers of Include/swiftcnn.h's scnn_picture_* calls,
 * used by swiftcnn/viz.py.
 */
#ifndef SWIFTCNN_PY_PICTURES_H
#define SWIFTCNN_PY_PICTURES_H

#include <Python.h>

#include "_models.h"

/* Adds the picture functions to the module. Returns 0, or -1 with an exception set. */
int scnn_py_add_pictures(PyObject *module, scnn_py_raise_fn raise_status, scnn_py_wrap_fn wrap,
                         scnn_py_release_fn release);

#endif
