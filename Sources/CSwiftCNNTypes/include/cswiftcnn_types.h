/*
 * The opaque handle types of the swiftcnn C ABI, as Swift sees them.
 *
 * A handle points at a Swift object; its C struct is never read or written. The
 * definitions below only give the Swift side distinct pointer types, so that the
 * compiler's generated header says `scnn_tensor *` rather than `void *`.
 * scripts/gen_header.py copies the part between the PUBLIC markers into
 * Include/swiftcnn.h, where the structs stay incomplete.
 */
#ifndef CSWIFTCNN_TYPES_H
#define CSWIFTCNN_TYPES_H

/* PUBLIC BEGIN */
/**
 * A tensor: float32, row-major (NCHW for images), rank 1 to 4, every dimension >= 1.
 * Made by scnn_tensor_create, scnn_tensor_from_data, scnn_tensor_wrap and every
 * operation; freed by scnn_tensor_destroy. A wrapped tensor reads the caller's
 * buffer without copying it and never writes to it.
 */
typedef struct scnn_tensor scnn_tensor;
/**
 * A zoo model (network + weights): made by scnn_model_create, freed by scnn_model_destroy.
 * Calls that change it (load, set, init) must not run concurrently with any other call on
 * the same model; forward, summary and reads may run from several threads at once.
 */
typedef struct scnn_model scnn_model;
/* PUBLIC END */

struct scnn_tensor { char opaque_; };
struct scnn_model { char opaque_; };

#endif
