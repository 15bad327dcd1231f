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

#include <stdint.h>

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
 * Reads may run from any number of threads at once on one model: every scnn_model_forward*,
 * scnn_model_evaluate and scnn_model_predict (they run in evaluation mode and change
 * nothing), summary, macs, shapes, workspace size, parameter queries, scnn_model_save and
 * scnn_model_get_parameter, and scnn_checkpoint_save. Each concurrent forward uses its own workspace. Calls that
 * change the model need it alone -- no other call on it may run at the same time:
 * scnn_model_load, _set_parameter, _load_state_dict, _init_seeded, _set_training,
 * _train_step, _fit, scnn_checkpoint_load, and scnn_model_destroy.
 */
typedef struct scnn_model scnn_model;
/**
 * An optimizer (SGD, Adam or AdamW) bound to one model, with its state (momentum buffers,
 * Adam moments, step count, learning-rate schedule) and the training progress of
 * scnn_model_fit (epoch and batch reached: a stopped fit resumes from there). Made by
 * scnn_optimizer_create, freed by scnn_optimizer_destroy; saved and restored together
 * with the model's weights by scnn_checkpoint_save / scnn_checkpoint_load. It keeps its
 * model alive (scnn_model_destroy may come first). Training calls (scnn_model_train_step,
 * scnn_model_fit, scnn_checkpoint_load) change the model: nothing else may use that model
 * or optimizer while they run. scnn_checkpoint_save reads the model (reads of the model may
 * run beside it) but needs the optimizer alone. An optimizer may be
 * destroyed while other threads run reads (forward, evaluate, predict) on its model -- it
 * holds no part of them -- but not while a call that takes the optimizer is running.
 */
typedef struct scnn_optimizer scnn_optimizer;
/**
 * An 8-bit RGB picture (filter grids, activation maps, receptive fields, detections, label
 * maps): made by scnn_picture_create, scnn_picture_from_rgb, scnn_picture_from_tensor and the
 * scnn_picture_* renderers; freed by scnn_picture_destroy. Never changed after it is made:
 * any number of threads may read it at once.
 */
typedef struct scnn_picture scnn_picture;
/**
 * A retrieval index: vectors of one dimension, searched exactly by cosine similarity or
 * squared Euclidean distance (see scnn_index_create). Made by scnn_index_create or
 * scnn_index_load, freed by scnn_index_destroy. Any number of threads may search, save and
 * query the count and dimension of one index at once; scnn_index_add, scnn_index_remove,
 * scnn_index_reset and scnn_index_destroy need it alone -- no other call on it may run at
 * the same time.
 */
typedef struct scnn_index scnn_index;
/** What scnn_model_fit reports after every training step (to its step callback). */
typedef struct scnn_step_report {
    int64_t epoch;             /**< epoch of this step, 0-based */
    int64_t step;              /**< global step number, 0-based (steps done before this one) */
    int64_t batch;             /**< batch index within the epoch, 0-based */
    int64_t batches_per_epoch; /**< number of batches in an epoch (the last may be smaller) */
    float loss;                /**< this batch's loss, mean over its examples */
    float learning_rate;       /**< the learning rate this step used */
} scnn_step_report;
/** What scnn_model_fit reports at the end of every epoch (to its epoch callback). */
typedef struct scnn_epoch_report {
    int64_t epoch;               /**< the epoch just finished, 0-based */
    float loss;                  /**< mean training loss over the epoch's examples */
    double accuracy;             /**< training accuracy from the epoch's forward passes, 0 to 1 */
    int32_t has_validation;      /**< 1 when validation data was given (the next two are set) */
    float validation_loss;       /**< mean loss on the validation data, eval mode (0 without) */
    double validation_accuracy;  /**< accuracy on the validation data, 0 to 1 (0 without) */
} scnn_epoch_report;
/**
 * Called by scnn_model_fit after each step (report valid during the call only; `user` is
 * the fit's user pointer). Return nonzero to go on, 0 to stop: the fit returns OK at once
 * and a later scnn_model_fit with the same optimizer continues from the next step.
 */
typedef int32_t (*scnn_step_callback)(const scnn_step_report *report, void *user);
/** Called by scnn_model_fit after each epoch; return 0 to stop after it (as above). */
typedef int32_t (*scnn_epoch_callback)(const scnn_epoch_report *report, void *user);
/**
 * One detected object (scnn_model_detect): a box in the input image's pixels, x1 <= x2 and
 * y1 <= y2 (left, top, right, bottom; clipped to the image), its score (the class
 * probability, 0 to 1) and its label (a class index; for the zoo's detectors COCO's
 * numbering, see scnn_coco_class; 0, the background, is never reported).
 */
typedef struct scnn_detection {
    float x1;      /**< left edge, pixels */
    float y1;      /**< top edge, pixels */
    float x2;      /**< right edge, pixels */
    float y2;      /**< bottom edge, pixels */
    float score;   /**< class probability */
    int32_t label; /**< class index */
} scnn_detection;
/**
 * A per-layer profile of one model's forward pass (scnn_model_profile): per graph node
 * the kernel, median time, share, MACs, FLOP/s, bytes moved. Freed by scnn_profile_free;
 * never changed after it is made (any number of threads may read it at once).
 */
typedef struct scnn_profile scnn_profile;
/**
 * One node of an scnn_profile (filled by scnn_profile_entry). The strings belong to the profile and
 * stay valid until scnn_profile_free.
 */
typedef struct scnn_profile_node {
    const char *node;   /**< module path, e.g. "layer1.0.conv1" ("(output)": the final copy) */
    const char *op;     /**< layer type, e.g. "Conv2d", "Linear", "Add+ReLU" */
    const char *kernel; /**< kernel: winograd, winograd2x2, small, byPositions, direct, gemv, gemm, depthwise, linear, maxpool, concat, copy, ... ("+" joins several) */
    const char *fused;  /**< layers computed in its kernel, comma-separated ("bn,relu"); "" for none */
    int64_t steps;      /**< plan steps that make up the node */
    double ms;          /**< median milliseconds over the runs */
    double share;       /**< ms over the sum of every node's median (0 to 1) */
    int64_t macs;       /**< multiply-accumulates for the whole batch (0 for activations, pooling, copies) */
    int64_t flops;      /**< 2 * macs */
    double gflops;      /**< GFLOP/s at the median time (0 without FLOPs) */
    int64_t bytes;      /**< bytes moved, float32: inputs, outputs and weights read */
    double gbps;        /**< GB/s (1e9 bytes) at the median time */
} scnn_profile_node;
/* PUBLIC END */

struct scnn_tensor { char opaque_; };
struct scnn_model { char opaque_; };
struct scnn_optimizer { char opaque_; };
struct scnn_picture { char opaque_; };
struct scnn_index { char opaque_; };
struct scnn_profile { char opaque_; };

#endif
