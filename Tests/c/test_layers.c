/* The layer ops of the C ABI: activations, softmax, LRN, batch norm, linear, flatten,
 * dropout, concat, add -- results against direct double-precision formulas (tolerance
 * 1e-5 relative + 1e-6 absolute), and every bad input answered with a status and a message. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

/* A new tensor holding a copy of `n` floats under `shape` (NULL when creation fails). */
static scnn_tensor *make(const float *data, int64_t n, const int64_t *shape, int32_t rank) {
    scnn_tensor *t = NULL;
    if (scnn_tensor_from_data(data, n, shape, rank, &t) != SCNN_STATUS_OK) return NULL;
    return t;
}

/* Whether every element of `t` is within 1e-6 + 1e-5*|want| of `want`, and the count matches. */
static int close_to(const scnn_tensor *t, const double *want, int64_t n) {
    const float *d;
    int64_t i;
    if (t == NULL || scnn_tensor_numel(t) != n) return 0;
    d = scnn_tensor_data(t);
    for (i = 0; i < n; i++) {
        double diff = fabs((double)d[i] - want[i]);
        if (!(diff <= 1e-6 + 1e-5 * fabs(want[i]))) return 0;
    }
    return 1;
}

/* Whether `t` has exactly the given shape. */
static int has_shape(const scnn_tensor *t, const int64_t *shape, int32_t rank) {
    int64_t got[4] = {0, 0, 0, 0};
    int32_t i;
    if (t == NULL || scnn_tensor_rank(t) != rank) return 0;
    if (scnn_tensor_shape(t, got, 4) != SCNN_STATUS_OK) return 0;
    for (i = 0; i < rank; i++)
        if (got[i] != shape[i]) return 0;
    return 1;
}

SCNN_TEST(test_activations) {
    float x[6] = {-30.0f, -2.0f, -0.5f, 0.0f, 1.5f, 30.0f};
    int64_t shape[2] = {2, 3};
    double want[6];
    scnn_tensor *in = make(x, 6, shape, 2), *out = NULL;
    int i;
    CHECK(in != NULL);
    CHECK_OK(scnn_relu(in, &out));
    for (i = 0; i < 6; i++) want[i] = x[i] > 0 ? x[i] : 0;
    CHECK(close_to(out, want, 6) && has_shape(out, shape, 2));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_tanh(in, &out));
    for (i = 0; i < 6; i++) want[i] = tanh((double)x[i]);
    CHECK(close_to(out, want, 6) && has_shape(out, shape, 2));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_sigmoid(in, &out));
    for (i = 0; i < 6; i++) want[i] = 1.0 / (1.0 + exp(-(double)x[i]));
    CHECK(close_to(out, want, 6) && has_shape(out, shape, 2));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
}

SCNN_TEST(test_softmax) {
    float x[6] = {1000.0f, 1001.0f, 1002.0f, 1.0f, 2.0f, 3.0f};
    int64_t shape[2] = {2, 3};
    double want[6], want0[6];
    double d = exp(-2.0) + exp(-1.0) + 1.0;
    scnn_tensor *in = make(x, 6, shape, 2), *out = NULL;
    int j;
    want[0] = want[3] = exp(-2.0) / d;
    want[1] = want[4] = exp(-1.0) / d;
    want[2] = want[5] = 1.0 / d;
    CHECK_OK(scnn_softmax(in, -1, &out));
    CHECK(close_to(out, want, 6));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_softmax(in, 1, &out));
    CHECK(close_to(out, want, 6));
    scnn_tensor_destroy(out);
    for (j = 0; j < 3; j++) {
        double a = (double)x[j], b = (double)x[j + 3], m = a > b ? a : b;
        want0[j] = exp(a - m) / (exp(a - m) + exp(b - m));
        want0[j + 3] = exp(b - m) / (exp(a - m) + exp(b - m));
    }
    CHECK_OK(scnn_softmax(in, 0, &out));
    CHECK(close_to(out, want0, 6));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
}

SCNN_TEST(test_local_response_norm) {
    /* [1, 3, 1] = 1, 2, 3; size 2 takes channels c-1..c: 1/(1+1/2), 2/(1+5/2), 3/(1+13/2). */
    float x[3] = {1.0f, 2.0f, 3.0f};
    int64_t shape[3] = {1, 3, 1};
    double want[3] = {2.0 / 3.0, 4.0 / 7.0, 0.4};
    double want_default[3];
    scnn_tensor *in = make(x, 3, shape, 3), *out = NULL;
    int c;
    CHECK_OK(scnn_local_response_norm(in, 2, 1.0f, 1.0f, 1.0f, &out));
    CHECK(close_to(out, want, 3) && has_shape(out, shape, 3));
    scnn_tensor_destroy(out);
    /* PyTorch's defaults alpha 1e-4, beta 0.75, k 1, size 5: every channel in the window. */
    for (c = 0; c < 3; c++) want_default[c] = x[c] / pow(1.0 + 1e-4 / 5.0 * 14.0, 0.75);
    CHECK_OK(scnn_local_response_norm(in, 5, 1e-4f, 0.75f, 1.0f, &out));
    CHECK(close_to(out, want_default, 3));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
}

SCNN_TEST(test_batch_norm) {
    /* [2, 2] input, channel stats mean (1, -1), var (4, 0.25), weight (2, 1), bias (0.5, 0). */
    float x[4] = {3.0f, 0.0f, -1.0f, -2.0f};
    float mean[2] = {1.0f, -1.0f}, var[2] = {4.0f, 0.25f}, w[2] = {2.0f, 1.0f}, b[2] = {0.5f, 0.0f};
    int64_t shape[2] = {2, 2}, cshape[1] = {2};
    double eps = 1e-5, want[4], plain[4];
    scnn_tensor *in = make(x, 4, shape, 2), *m = make(mean, 2, cshape, 1), *v = make(var, 2, cshape, 1);
    scnn_tensor *wt = make(w, 2, cshape, 1), *bt = make(b, 2, cshape, 1), *out = NULL;
    int i;
    for (i = 0; i < 4; i++) {
        int c = i % 2;
        plain[i] = ((double)x[i] - mean[c]) / sqrt((double)var[c] + eps);
        want[i] = plain[i] * w[c] + b[c];
    }
    CHECK_OK(scnn_batch_norm(in, m, v, wt, bt, 1e-5f, &out));
    CHECK(close_to(out, want, 4) && has_shape(out, shape, 2));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_batch_norm(in, m, v, NULL, NULL, 1e-5f, &out));
    CHECK(close_to(out, plain, 4));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
    scnn_tensor_destroy(m);
    scnn_tensor_destroy(v);
    scnn_tensor_destroy(wt);
    scnn_tensor_destroy(bt);
}

SCNN_TEST(test_linear) {
    float x[6] = {1, 2, 3, 4, 5, 6};          /* [2, 3] */
    float w[6] = {1, 0, -1, 0.5f, 0.5f, 0.5f}; /* [2, 3] */
    float b[2] = {10, -10};
    int64_t xs[2] = {2, 3}, ws[2] = {2, 3}, bs[1] = {2}, x1s[1] = {3}, os[2] = {2, 2}, o1s[1] = {2};
    double want[4] = {1 - 3 + 10, 3 - 10, 4 - 6 + 10, 7.5 - 10};
    double want_nobias[2] = {-2, 3};
    scnn_tensor *in = make(x, 6, xs, 2), *wt = make(w, 6, ws, 2), *bt = make(b, 2, bs, 1), *out = NULL;
    scnn_tensor *in1 = make(x, 3, x1s, 1);
    CHECK_OK(scnn_linear(in, wt, bt, &out));
    CHECK(close_to(out, want, 4) && has_shape(out, os, 2));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_linear(in1, wt, NULL, &out));
    CHECK(close_to(out, want_nobias, 2) && has_shape(out, o1s, 1));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
    scnn_tensor_destroy(in1);
    scnn_tensor_destroy(wt);
    scnn_tensor_destroy(bt);
}

SCNN_TEST(test_flatten_dropout_add) {
    float x[24];
    double want[24];
    int64_t shape[4] = {2, 3, 2, 2}, flat1[2] = {2, 12}, flat0[1] = {24}, flat2[3] = {2, 3, 4};
    scnn_tensor *in, *out = NULL;
    int i;
    for (i = 0; i < 24; i++) { x[i] = (float)i - 11.5f; want[i] = 2.0 * x[i]; }
    in = make(x, 24, shape, 4);
    CHECK_OK(scnn_flatten(in, 1, &out));
    CHECK(has_shape(out, flat1, 2) && memcmp(scnn_tensor_data(out), x, sizeof x) == 0);
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_flatten(in, 0, &out));
    CHECK(has_shape(out, flat0, 1));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_flatten(in, -2, &out));
    CHECK(has_shape(out, flat2, 3));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_dropout(in, 0.5f, &out));
    CHECK(has_shape(out, shape, 4) && memcmp(scnn_tensor_data(out), x, sizeof x) == 0);
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_dropout(in, 0.0f, &out));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_add(in, in, &out));
    CHECK(close_to(out, want, 24) && has_shape(out, shape, 4));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
}

SCNN_TEST(test_concat) {
    float a[4] = {1, 2, 3, 4};     /* [1, 2, 2] */
    float b[2] = {5, 6};           /* [1, 1, 2] */
    int64_t as[3] = {1, 2, 2}, bs[3] = {1, 1, 2}, os[3] = {1, 3, 2}, os0[3] = {2, 2, 2};
    double want[6] = {1, 2, 3, 4, 5, 6}, want0[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    scnn_tensor *ta = make(a, 4, as, 3), *tb = make(b, 2, bs, 3), *out = NULL;
    const scnn_tensor *list[2];
    const scnn_tensor *same[2];
    list[0] = ta;
    list[1] = tb;
    same[0] = ta;
    same[1] = ta;
    CHECK_OK(scnn_concat(list, 2, 1, &out));
    CHECK(close_to(out, want, 6) && has_shape(out, os, 3));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_concat(list, 2, -2, &out));
    CHECK(close_to(out, want, 6));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_concat(same, 2, 0, &out));
    CHECK(close_to(out, want0, 8) && has_shape(out, os0, 3));
    scnn_tensor_destroy(out);
    CHECK_OK(scnn_concat(list, 1, 2, &out)); /* one tensor: a copy */
    CHECK(has_shape(out, as, 3));
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(ta);
    scnn_tensor_destroy(tb);
}

SCNN_TEST(test_layers_null_arguments) {
    float x[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2}, cs[1] = {2};
    scnn_tensor *in = make(x, 4, shape, 2), *st = make(x, 2, cs, 1);
    scnn_tensor *out = in; /* any non-NULL value: must be reset to NULL on failure */
    const scnn_tensor *list[2];
    list[0] = in;
    list[1] = NULL;
    CHECK_STATUS(scnn_relu(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK(strstr(scnn_last_error(), "input") != NULL);
    CHECK_STATUS(scnn_relu(in, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tanh(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tanh(in, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_sigmoid(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_sigmoid(in, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_softmax(NULL, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_softmax(in, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_local_response_norm(NULL, 2, 1e-4f, 0.75f, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_batch_norm(NULL, st, st, NULL, NULL, 1e-5f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_batch_norm(in, NULL, st, NULL, NULL, 1e-5f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "running_mean") != NULL);
    CHECK_STATUS(scnn_batch_norm(in, st, NULL, NULL, NULL, 1e-5f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "running_var") != NULL);
    CHECK_STATUS(scnn_batch_norm(in, st, st, NULL, NULL, 1e-5f, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear(NULL, in, NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear(in, NULL, NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "weight") != NULL);
    CHECK_STATUS(scnn_flatten(NULL, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_dropout(NULL, 0.5f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_add(NULL, in, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_add(in, NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_add(in, in, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_concat(NULL, 2, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_concat(list, 2, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "inputs[1]") != NULL);
    CHECK(out == NULL);
    CHECK_STATUS(scnn_concat(list, 1, 1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(in);
    scnn_tensor_destroy(st);
}

SCNN_TEST(test_layers_bad_input) {
    float x[24];
    int64_t s4[4] = {1, 2, 3, 4}, s2[2] = {2, 3}, s23[2] = {3, 2}, s1[1] = {6}, c2[1] = {2}, c3[1] = {3};
    int64_t w_bad[2] = {4, 5}, w_ok[2] = {4, 3}, b_bad[1] = {3}, s3a[3] = {1, 2, 3}, s3b[3] = {1, 2, 4};
    scnn_tensor *t4, *t2, *t23, *t1, *st2, *st3, *wb, *wo, *bb, *ca, *cb, *out = NULL;
    const scnn_tensor *list[2];
    int i;
    for (i = 0; i < 24; i++) x[i] = (float)i;
    t4 = make(x, 24, s4, 4);
    t2 = make(x, 6, s2, 2);
    t23 = make(x, 6, s23, 2);
    t1 = make(x, 6, s1, 1);
    st2 = make(x, 2, c2, 1);
    st3 = make(x, 3, c3, 1);
    wb = make(x, 20, w_bad, 2);
    wo = make(x, 12, w_ok, 2);
    bb = make(x, 3, b_bad, 1);
    ca = make(x, 6, s3a, 3);
    cb = make(x, 8, s3b, 3);

    /* softmax: axis out of range */
    CHECK_STATUS(scnn_softmax(t2, 2, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "axis") != NULL);
    CHECK_STATUS(scnn_softmax(t2, -3, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_softmax(t2, INT32_MIN, &out), SCNN_STATUS_INVALID_ARGUMENT);
    /* LRN: size 0 / negative, rank < 3, non-finite parameters */
    CHECK_STATUS(scnn_local_response_norm(t4, 0, 1e-4f, 0.75f, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "size") != NULL);
    CHECK_STATUS(scnn_local_response_norm(t4, -3, 1e-4f, 0.75f, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_local_response_norm(t2, 2, 1e-4f, 0.75f, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_local_response_norm(t4, 2, (float)NAN, 0.75f, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_local_response_norm(t4, 2, 1e-4f, (float)INFINITY, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_local_response_norm(t4, 2, 1e-4f, 0.75f, (float)NAN, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_local_response_norm(t4, INT64_MAX, 1e-4f, 0.75f, 1.0f, &out)); /* window covers all channels */
    scnn_tensor_destroy(out);
    /* batch norm: stats of the wrong length, rank-1 input, bad eps */
    CHECK_STATUS(scnn_batch_norm(t4, st3, st2, NULL, NULL, 1e-5f, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "runningMean") != NULL);
    CHECK_STATUS(scnn_batch_norm(t4, st2, st3, NULL, NULL, 1e-5f, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_batch_norm(t4, st2, st2, st3, NULL, 1e-5f, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_batch_norm(t4, st2, st2, NULL, st3, 1e-5f, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_batch_norm(t1, t1, t1, NULL, NULL, 1e-5f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_batch_norm(t4, st2, st2, NULL, NULL, -1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_batch_norm(t4, st2, st2, NULL, NULL, (float)NAN, &out), SCNN_STATUS_INVALID_ARGUMENT);
    /* linear: weight for the wrong feature count, weight rank, input rank, bias length */
    CHECK_STATUS(scnn_linear(t2, wb, NULL, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "[4, 5]") != NULL);
    CHECK_STATUS(scnn_linear(t2, t1, NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear(t4, wo, NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear(t2, wo, bb, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "bias") != NULL);
    /* flatten: axis out of range */
    CHECK_STATUS(scnn_flatten(t4, 4, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_flatten(t4, -5, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_flatten(t1, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    /* dropout: p outside [0, 1) */
    CHECK_STATUS(scnn_dropout(t2, 1.0f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "p") != NULL);
    CHECK_STATUS(scnn_dropout(t2, -0.25f, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_dropout(t2, (float)NAN, &out), SCNN_STATUS_INVALID_ARGUMENT);
    /* add: shapes differ */
    CHECK_STATUS(scnn_add(t2, t23, &out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "[2, 3]") != NULL && strstr(scnn_last_error(), "[3, 2]") != NULL);
    CHECK_STATUS(scnn_add(t2, t1, &out), SCNN_STATUS_SHAPE_MISMATCH);
    /* concat: count 0 / negative, mismatched shapes, mismatched ranks, bad axis */
    list[0] = ca;
    list[1] = cb;
    CHECK_STATUS(scnn_concat(list, 0, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "count") != NULL);
    CHECK_STATUS(scnn_concat(list, -1, 1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_concat(list, 2, 1, &out), SCNN_STATUS_SHAPE_MISMATCH); /* differ in axis 2 */
    CHECK_OK(scnn_concat(list, 2, 2, &out));
    scnn_tensor_destroy(out);
    list[1] = t2;
    CHECK_STATUS(scnn_concat(list, 2, 0, &out), SCNN_STATUS_SHAPE_MISMATCH); /* rank 3 and rank 2 */
    CHECK(strstr(scnn_last_error(), "rank") != NULL);
    list[1] = ca;
    CHECK_STATUS(scnn_concat(list, 2, 3, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_concat(list, 2, -4, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);

    scnn_tensor_destroy(t4);
    scnn_tensor_destroy(t2);
    scnn_tensor_destroy(t23);
    scnn_tensor_destroy(t1);
    scnn_tensor_destroy(st2);
    scnn_tensor_destroy(st3);
    scnn_tensor_destroy(wb);
    scnn_tensor_destroy(wo);
    scnn_tensor_destroy(bb);
    scnn_tensor_destroy(ca);
    scnn_tensor_destroy(cb);
}

/* Extreme axes, sizes and probabilities: a result or an error with a message, never a crash. */
SCNN_TEST(test_layers_extreme_arguments) {
    const int32_t axes[7] = {INT32_MIN, -5, -1, 0, 1, 4, INT32_MAX};
    const int64_t sizes[6] = {INT64_MIN, -1, 0, 1, 4, INT64_MAX};
    const float ps[6] = {-1.0f, 0.0f, 0.999f, 1.0f, (float)INFINITY, (float)NAN};
    float x[12];
    int64_t shape[4] = {1, 3, 2, 2};
    scnn_tensor *t, *out = NULL;
    const scnn_tensor *list[2];
    int i, ok = 0, bad = 0;
    for (i = 0; i < 12; i++) x[i] = (float)(i * i) - 30.0f;
    t = make(x, 12, shape, 4);
    list[0] = t;
    list[1] = t;
    for (i = 0; i < 7 * 6; i++) {
        scnn_status st[4];
        int j;
        st[0] = scnn_softmax(t, axes[i % 7], &out);
        scnn_tensor_destroy(out);
        st[1] = scnn_flatten(t, axes[i % 7], &out);
        scnn_tensor_destroy(out);
        st[2] = scnn_concat(list, 2, axes[i % 7], &out);
        scnn_tensor_destroy(out);
        st[3] = scnn_local_response_norm(t, sizes[i % 6], ps[i / 7], 0.75f, 1.0f, &out);
        scnn_tensor_destroy(out);
        for (j = 0; j < 4; j++) {
            if (st[j] == SCNN_STATUS_OK) ok++;
            else if (st[j] == SCNN_STATUS_INVALID_ARGUMENT && scnn_last_error()[0] != '\0') bad++;
            else CHECK(!"unexpected status or empty message");
        }
    }
    for (i = 0; i < 6; i++) {
        scnn_status st = scnn_dropout(t, ps[i], &out);
        CHECK((st == SCNN_STATUS_OK) == (i == 1 || i == 2));
        scnn_tensor_destroy(out);
    }
    CHECK(ok > 0 && bad > 0);
    scnn_tensor_destroy(t);
}

/* Identity-like ops (dropout, flatten) on a wrapped buffer: the result owns its elements,
 * so the caller may change or free the buffer afterwards. */
SCNN_TEST(test_identity_ops_do_not_borrow) {
    float buf[4] = {1, 2, 3, 4};
    int64_t shape[2] = {2, 2};
    scnn_tensor *w = NULL, *d = NULL, *f = NULL;
    CHECK_OK(scnn_tensor_wrap(buf, 4, shape, 2, &w));
    CHECK_OK(scnn_dropout(w, 0.5f, &d));
    CHECK_OK(scnn_flatten(w, 0, &f));
    buf[0] = 100;
    CHECK(d != NULL && scnn_tensor_data(d) != buf && scnn_tensor_data(d)[0] == 1.0f);
    CHECK(f != NULL && scnn_tensor_data(f) != buf && scnn_tensor_data(f)[0] == 1.0f);
    scnn_tensor_destroy(w);
    scnn_tensor_destroy(d);
    scnn_tensor_destroy(f);
}
