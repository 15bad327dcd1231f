/*
 * The retrieval part of the swiftcnn._swiftcnn extension (swiftcnn/_retrieval.c): the Index
 * type (an scnn_index*) and _model_embed. Added to the module by scnn_py_add_retrieval(),
 * called from _swiftcnn.c's module init with the same helpers the other parts get.
 */
#ifndef SWIFTCNN_PY_RETRIEVAL_H
#define SWIFTCNN_PY_RETRIEVAL_H

#include "_models.h"

/* Adds the Index type and _model_embed. Returns 0, or -1 with an exception set. */
int scnn_py_add_retrieval(PyObject *module, scnn_py_raise_fn raise_status, scnn_py_tensor_fn tensor_result,
                          scnn_py_wrap_fn wrap, scnn_py_release_fn release);

#endif
