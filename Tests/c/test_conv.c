/* Convolution, 1-D correlation, pooling and kernel dispatch through the C ABI. */
#include "harness.h"

#include <stdlib.h>

/* A new tensor holding a copy of `n` floats, or NULL (and a failed check). */
static scnn_tensor *make(const float *data, int64_t n, const int64_t *shape, int32_t rank) {
    scnn_tensor *t = NULL;
    CHECK_OK(scnn_tensor_from_data(data, n, shape, rank, &t));
    return t;
}

/* A tensor of `shape` filled with a deterministic pattern (values in [-1, 1]). */
static scnn_tensor *pattern(const int64_t *shape, int32_t rank, unsigned seed) {
    int64_t n = 1;
    int32_t i;
    float *d;
    scnn_tensor *t;
    for (i = 0; i < rank; i++) n *= shape[i];
    d = (float *)malloc((size_t)n * sizeof(float));
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    t = make(d, n, shape, rank);
    free(d);
    return t;
}

/* Checks that `t` has `rank` dims equal to `shape` and its values equal `want` within `tol`. */
static void expect(const scnn_tensor *t, const int64_t *shape, int32_t rank, const float *want, double tol) {
    int64_t got[4] = {0, 0, 0, 0};
    int64_t n = 1;
    int32_t i;
    CHECK(t != NULL);
    if (!t) return;
    CHECK(scnn_tensor_rank(t) == rank);
    CHECK_OK(scnn_tensor_shape(t, got, 4));
    for (i = 0; i < rank; i++) {
        CHECK(got[i] == shape[i]);
        n *= shape[i];
    }
    CHECK(scnn_tensor_numel(t) == n);
    if (scnn_tensor_numel(t) == n) CHECK(scnn_test_max_diff(scnn_tensor_data(t), want, (long)n) <= tol);
}

/* The seed's 10x10 image with a 1/9 box filter: valid correlation gives the 8x8 table
 * (with the last two rows corrected to 10 10 10 0 0 0 0 0). */
SCNN_TEST(test_conv2d_seed_box_filter) {
    static const float want[64] = {
        0, 10, 20, 30, 30, 30, 20, 10,
        0, 20, 40, 60, 60, 60, 40, 20,
        0, 30, 50, 80, 80, 90, 60, 30,
        0, 30, 50, 80, 80, 90, 60, 30,
        0, 20, 30, 50, 50, 60, 40, 20,
        0, 10, 20, 30, 30, 30, 20, 10,
        10, 10, 10, 0, 0, 0, 0, 0,
        10, 10, 10, 0, 0, 0, 0, 0};
    float img[100];
    float box[9];
    int64_t ishape[4] = {1, 1, 10, 10}, wshape[4] = {1, 1, 3, 3}, oshape[4] = {1, 1, 8, 8};
    scnn_tensor *x, *w, *y = NULL;
    int i, r, c;
    for (i = 0; i < 100; i++) img[i] = 0;
    for (r = 2; r <= 5; r++)
        for (c = 3; c <= 7; c++) img[r * 10 + c] = 90;
    img[4 * 10 + 4] = 0;
    img[8 * 10 + 2] = 90;
    for (i = 0; i < 9; i++) box[i] = 1.0f / 9.0f;
    x = make(img, 100, ishape, 4);
    w = make(box, 9, wshape, 4);
    CHECK_OK(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 1, &y));
    expect(y, oshape, 4, want, 1e-4);
    scnn_tensor_destroy(y);
    /* The box filter is symmetric: true convolution gives the same table. */
    y = NULL;
    CHECK_OK(scnn_convolve2d(x, w, NULL, NULL, NULL, NULL, 1, &y));
    expect(y, oshape, 4, want, 1e-4);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
}

/* Stride, per-side padding, dilation, groups and bias against a direct double-precision
 * loop in this file, with both kernel families. */
SCNN_TEST(test_conv2d_options_vs_direct_loop) {
    int64_t ishape[4] = {2, 4, 7, 6}, wshape[4] = {6, 2, 3, 2}, bshape[1] = {6};
    int64_t stride[2] = {2, 1}, pad[4] = {1, 0, 2, 1}, dil[2] = {1, 2};
    const int64_t groups = 2;
    scnn_tensor *x = pattern(ishape, 4, 1u), *w = pattern(wshape, 4, 2u), *b = pattern(bshape, 1, 3u);
    const float *xd = scnn_tensor_data(x), *wd = scnn_tensor_data(w), *bd = scnn_tensor_data(b);
    /* OH = (7 + 1 + 0 - 1*(3-1) - 1)/2 + 1 = 3; OW = (6 + 2 + 1 - 2*(2-1) - 1)/1 + 1 = 7 */
    int64_t oshape[4] = {2, 6, 3, 7};
    float want[2 * 6 * 3 * 7];
    int n, o, yy, xx, c, k, l, ref;
    for (n = 0; n < 2; n++)
        for (o = 0; o < 6; o++)
            for (yy = 0; yy < 3; yy++)
                for (xx = 0; xx < 7; xx++) {
                    double acc = bd[o];
                    int g = o / 3;
                    for (c = 0; c < 2; c++)
                        for (k = 0; k < 3; k++)
                            for (l = 0; l < 2; l++) {
                                int iy = yy * 2 - 1 + k, ix = xx - 2 + l * 2;
                                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                                acc += (double)wd[((o * 2 + c) * 3 + k) * 2 + l] *
                                       (double)xd[((n * 4 + g * 2 + c) * 7 + iy) * 6 + ix];
                            }
                    want[((n * 6 + o) * 3 + yy) * 7 + xx] = (float)acc;
                }
    for (ref = 0; ref < 2; ref++) {
        scnn_tensor *y = NULL;
        scnn_set_reference_kernels(ref);
        CHECK(scnn_reference_kernels() == ref);
        CHECK_OK(scnn_conv2d(x, w, b, stride, pad, dil, groups, &y));
        expect(y, oshape, 4, want, 1e-5);
        scnn_tensor_destroy(y);
    }
    scnn_set_reference_kernels(0);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
    scnn_tensor_destroy(b);
}

/* convolve2d flips the kernel: a 2x2 kernel [[1,2],[3,4]] on [[1,2,3],[4,5,6],[7,8,9]]. */
SCNN_TEST(test_convolve2d_flips) {
    static const float img[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    static const float ker[4] = {1, 2, 3, 4};
    /* correlation: 1*1+2*2+3*4+4*5 = 37, ...; convolution uses [[4,3],[2,1]]: 4*1+3*2+2*4+1*5 = 23 */
    static const float corr[4] = {37, 47, 67, 77};
    static const float conv[4] = {23, 33, 53, 63};
    int64_t ishape[3] = {1, 3, 3}, wshape[4] = {1, 1, 2, 2}, oshape[3] = {1, 2, 2};
    scnn_tensor *x = make(img, 9, ishape, 3), *w = make(ker, 4, wshape, 4), *y = NULL;
    CHECK_OK(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 1, &y));
    expect(y, oshape, 3, corr, 1e-5);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_OK(scnn_convolve2d(x, w, NULL, NULL, NULL, NULL, 1, &y));
    expect(y, oshape, 3, conv, 1e-5);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
}

SCNN_TEST(test_conv2d_bad_inputs) {
    int64_t ishape[4] = {1, 4, 5, 5}, wshape[4] = {2, 4, 3, 3}, w2shape[4] = {3, 2, 3, 3};
    int64_t bshape[1] = {3}, b2shape[1] = {2}, s1[1] = {25}, s2[2] = {5, 5}, w3shape[3] = {2, 4, 3};
    int64_t wbig[4] = {2, 4, 6, 3};
    int64_t zero2[2] = {0, 1}, one2[2] = {1, 1}, negpad[4] = {0, 0, -1, 0}, pad1[4] = {1, 1, 1, 1};
    int64_t dil3[2] = {3, 3};
    scnn_tensor *x = pattern(ishape, 4, 5u), *w = pattern(wshape, 4, 6u), *w2 = pattern(w2shape, 4, 7u);
    scnn_tensor *bad_b = pattern(bshape, 1, 8u), *b = pattern(b2shape, 1, 9u);
    scnn_tensor *x1 = pattern(s1, 1, 10u), *x2 = pattern(s2, 2, 11u), *w3 = pattern(w3shape, 3, 12u);
    scnn_tensor *wb = pattern(wbig, 4, 13u);
    scnn_tensor *y = NULL;
    const scnn_status INV = SCNN_STATUS_INVALID_ARGUMENT, MIS = SCNN_STATUS_SHAPE_MISMATCH;

    /* Sanity: the good call works. */
    CHECK_OK(scnn_conv2d(x, w, b, one2, pad1, one2, 1, &y));
    scnn_tensor_destroy(y);
    y = NULL;
    /* NULL pointers */
    CHECK_STATUS(scnn_conv2d(NULL, w, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(y == NULL);
    CHECK(strstr(scnn_last_error(), "input") != NULL);
    CHECK_STATUS(scnn_conv2d(x, NULL, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "weight") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 1, NULL), INV);
    CHECK_STATUS(scnn_convolve2d(NULL, w, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK_STATUS(scnn_convolve2d(x, w, NULL, NULL, NULL, NULL, 1, NULL), INV);
    /* stride 0, negative padding, dilation 0 */
    CHECK_STATUS(scnn_conv2d(x, w, NULL, zero2, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "stride") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, negpad, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "padding") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, zero2, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "dilation") != NULL);
    CHECK_STATUS(scnn_convolve2d(x, w, NULL, zero2, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "convolve2d") != NULL);
    /* kernel larger than the padded input: 6 rows > 5; dilated 3x3 with dilation 3 spans 7 > 5 */
    CHECK_STATUS(scnn_conv2d(x, wb, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "larger than the padded input") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, dil3, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "dilated") != NULL);
    /* ... but padding makes it fit: 5 + 1 + 1 = 7 */
    CHECK_OK(scnn_conv2d(x, w, NULL, NULL, pad1, dil3, 1, &y));
    scnn_tensor_destroy(y);
    y = NULL;
    /* groups 0, groups not dividing channels (4 % 3), groups not dividing outputs (2 % 4) */
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "groups") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, -2, &y), INV);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 3, &y), INV);
    CHECK(strstr(scnn_last_error(), "divide") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 4, &y), INV);
    /* weight channels per group mismatch: w has 4 per group, but groups = 2 wants 2 */
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 2, &y), MIS);
    CHECK(strstr(scnn_last_error(), "weight has 4 input channels per group but input has 4 channels / 2 groups") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w2, NULL, NULL, NULL, NULL, 1, &y), MIS);
    CHECK(strstr(scnn_last_error(), "weight has 2 input channels per group but input has 4 channels / 1 groups") != NULL);
    /* bias of the wrong length */
    CHECK_STATUS(scnn_conv2d(x, w, bad_b, NULL, NULL, NULL, 1, &y), MIS);
    CHECK(strstr(scnn_last_error(), "bias") != NULL);
    /* weight rank 3; input rank 1 and 2 */
    CHECK_STATUS(scnn_conv2d(x, w3, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "rank 4") != NULL);
    CHECK_STATUS(scnn_conv2d(x1, w, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "rank 1") != NULL);
    CHECK_STATUS(scnn_conv2d(x2, w, NULL, NULL, NULL, NULL, 1, &y), INV);
    CHECK(strstr(scnn_last_error(), "rank 2") != NULL);
    CHECK(y == NULL);

    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
    scnn_tensor_destroy(w2);
    scnn_tensor_destroy(bad_b);
    scnn_tensor_destroy(b);
    scnn_tensor_destroy(x1);
    scnn_tensor_destroy(x2);
    scnn_tensor_destroy(w3);
    scnn_tensor_destroy(wb);
}

/* Huge strides and paddings from C must be answered, not trapped on overflow. */
SCNN_TEST(test_conv2d_overflowing_arguments) {
    int64_t ishape[4] = {1, 1, 4, 4}, wshape[4] = {1, 1, 2, 2};
    int64_t bigpad[4] = {INT64_MAX, INT64_MAX, 0, 0}, bigdil[2] = {INT64_MAX, 1}, bigstride[2] = {INT64_MAX, INT64_MAX};
    int64_t pad3[4] = {3, 3, 3, 3}, hugek[2] = {INT64_MAX, INT64_MAX}, hugep[2] = {(int64_t)1 << 61, (int64_t)1 << 61};
    scnn_tensor *x = pattern(ishape, 4, 1u), *w = pattern(wshape, 4, 2u), *y = NULL;
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, bigpad, NULL, 1, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "overflow") != NULL);
    CHECK_STATUS(scnn_conv2d(x, w, NULL, NULL, NULL, bigdil, 1, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_conv2d(x, w, NULL, bigstride, NULL, NULL, 1, &y)); /* one output per dim */
    CHECK(scnn_tensor_numel(y) == 1);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_OK(scnn_conv2d(x, w, NULL, bigstride, pad3, NULL, 1, &y)); /* the window lies in the padding */
    CHECK(scnn_tensor_numel(y) == 1 && scnn_tensor_data(y)[0] == 0.0f);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_STATUS(scnn_max_pool2d(x, hugek, NULL, NULL, 0, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_max_pool2d(x, hugek, hugek, hugep, 1, &y)); /* ceil mode: one window over the plane */
    CHECK(scnn_tensor_numel(y) == 1);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_STATUS(scnn_adaptive_avg_pool2d(x, hugek, &y), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
}

/* The seed's 1-D example x = [2,8,3,7,1,2,0,4,5], w = [2,1,5,3]; values from numpy. */
SCNN_TEST(test_conv1d_seed_example) {
    static const float xs[9] = {2, 8, 3, 7, 1, 2, 0, 4, 5};
    static const float ws[4] = {2, 1, 5, 3};
    static const float corr_valid[6] = {48, 57, 24, 25, 16, 39};
    static const float corr_same[9] = {34, 51, 48, 57, 24, 25, 16, 39, 29};
    static const float corr_full[12] = {6, 34, 51, 48, 57, 24, 25, 16, 39, 29, 13, 10};
    static const float conv_valid[6] = {63, 48, 49, 28, 21, 20};
    static const float conv_same[9] = {18, 24, 63, 48, 49, 28, 21, 20, 25};
    static const float conv_full[12] = {4, 18, 24, 63, 48, 49, 28, 21, 20, 25, 37, 15};
    /* np.correlate(w, x, mode): numpy swaps and reverses */
    static const float rcorr_same[9] = {29, 39, 16, 25, 24, 57, 48, 51, 34};
    int64_t xn[1] = {9}, wn[1] = {4}, n6[1] = {6}, n9[1] = {9}, n12[1] = {12};
    scnn_tensor *x = make(xs, 9, xn, 1), *w = make(ws, 4, wn, 1), *y = NULL;
    CHECK_OK(scnn_correlate1d(x, w, SCNN_CONV1D_MODE_VALID, &y)); expect(y, n6, 1, corr_valid, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_correlate1d(x, w, SCNN_CONV1D_MODE_SAME, &y)); expect(y, n9, 1, corr_same, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_correlate1d(x, w, SCNN_CONV1D_MODE_FULL, &y)); expect(y, n12, 1, corr_full, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_convolve1d(x, w, SCNN_CONV1D_MODE_VALID, &y)); expect(y, n6, 1, conv_valid, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_convolve1d(x, w, SCNN_CONV1D_MODE_SAME, &y)); expect(y, n9, 1, conv_same, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_convolve1d(x, w, SCNN_CONV1D_MODE_FULL, &y)); expect(y, n12, 1, conv_full, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_correlate1d(w, x, SCNN_CONV1D_MODE_SAME, &y)); expect(y, n9, 1, rcorr_same, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_convolve1d(w, x, SCNN_CONV1D_MODE_SAME, &y)); expect(y, n9, 1, conv_same, 0); scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
}

SCNN_TEST(test_conv1d_bad_inputs) {
    static const float xs[4] = {1, 2, 3, 4};
    int64_t n4[1] = {4}, s22[2] = {2, 2};
    scnn_tensor *x = make(xs, 4, n4, 1), *m = make(xs, 4, s22, 2), *y = NULL;
    CHECK_STATUS(scnn_correlate1d(NULL, x, 0, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_correlate1d(x, NULL, 0, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_correlate1d(x, x, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_convolve1d(NULL, x, 0, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_convolve1d(x, x, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_correlate1d(x, x, 3, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "mode") != NULL);
    CHECK_STATUS(scnn_convolve1d(x, x, -1, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "mode") != NULL);
    CHECK_STATUS(scnn_correlate1d(m, x, 0, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "rank 1") != NULL);
    CHECK_STATUS(scnn_convolve1d(x, m, 2, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(y == NULL);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(m);
}

/* The seed's 4x4 pooling examples. */
SCNN_TEST(test_pool_seed_examples) {
    static const float a[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    static const float b[16] = {29, 15, 28, 184, 0, 100, 70, 38, 12, 12, 7, 2, 12, 12, 45, 6};
    static const float amax[4] = {6, 8, 14, 16}, aavg[4] = {3.5f, 5.5f, 11.5f, 13.5f};
    static const float bmax[4] = {100, 184, 12, 45};
    int64_t s[4] = {1, 1, 4, 4}, os[4] = {1, 1, 2, 2}, k[2] = {2, 2}, st[2] = {2, 2};
    scnn_tensor *x = make(a, 16, s, 4), *xb = make(b, 16, s, 4), *y = NULL;
    CHECK_OK(scnn_max_pool2d(x, k, NULL, NULL, 0, &y)); expect(y, os, 4, amax, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_max_pool2d(x, k, st, NULL, 0, &y)); expect(y, os, 4, amax, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_avg_pool2d(x, k, NULL, NULL, 0, 1, &y)); expect(y, os, 4, aavg, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_max_pool2d(xb, k, NULL, NULL, 0, &y)); expect(y, os, 4, bmax, 0); scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(xb);
}

/* Padding, ceil mode and count_include_pad on a 1x5x5 ramp, against values worked out by hand
 * with torch's rules. */
SCNN_TEST(test_pool_padding_ceil) {
    float a[25];
    int i;
    int64_t s[3] = {1, 5, 5}, k3[2] = {3, 3}, st2[2] = {2, 2}, p1[2] = {1, 1}, k2[2] = {2, 2};
    int64_t o3[3] = {1, 3, 3};
    scnn_tensor *x, *y = NULL;
    /* max 3x3 s2 p1: windows rows {-1..1},{1..3},{3..5} -> clipped {0,1},{1..3},{3,4} */
    static const float wmax[9] = {6, 8, 9, 16, 18, 19, 21, 23, 24};
    /* avg include pad: sums / 9 */
    float winc[9], wexc[9];
    /* ceil mode, 2x2 stride 2 on 5x5: (5-2+1)/2+1 = 3 windows; the last starts at 4 < 5: kept */
    static const float cmax[9] = {6, 8, 9, 16, 18, 19, 21, 23, 24};
    static const int rs[3][2] = {{0, 1}, {1, 3}, {3, 4}};
    int r, c, yy, xx;
    for (i = 0; i < 25; i++) a[i] = (float)i;
    for (r = 0; r < 3; r++)
        for (c = 0; c < 3; c++) {
            double sum = 0;
            int cnt = 0;
            for (yy = rs[r][0]; yy <= rs[r][1]; yy++)
                for (xx = rs[c][0]; xx <= rs[c][1]; xx++) { sum += a[yy * 5 + xx]; cnt++; }
            winc[r * 3 + c] = (float)(sum / 9.0);
            wexc[r * 3 + c] = (float)(sum / cnt);
        }
    x = make(a, 25, s, 3);
    CHECK_OK(scnn_max_pool2d(x, k3, st2, p1, 0, &y)); expect(y, o3, 3, wmax, 0); scnn_tensor_destroy(y);
    CHECK_OK(scnn_avg_pool2d(x, k3, st2, p1, 0, 1, &y)); expect(y, o3, 3, winc, 1e-5); scnn_tensor_destroy(y);
    CHECK_OK(scnn_avg_pool2d(x, k3, st2, p1, 0, 0, &y)); expect(y, o3, 3, wexc, 1e-5); scnn_tensor_destroy(y);
    CHECK_OK(scnn_max_pool2d(x, k2, NULL, NULL, 1, &y)); expect(y, o3, 3, cmax, 0); scnn_tensor_destroy(y);
    /* floor mode gives 2x2 */
    CHECK_OK(scnn_max_pool2d(x, k2, NULL, NULL, 0, &y));
    CHECK(scnn_tensor_numel(y) == 4);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
}

SCNN_TEST(test_global_and_adaptive_pool) {
    static const float a[2 * 2 * 3] = {1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6};
    static const float gmean[2] = {3.5f, -3.5f};
    /* adaptive to (1, 2) on 2x3: columns [0,2) and [1,3) */
    static const float ad[4] = {3.0f, 4.0f, -3.0f, -4.0f};
    int64_t s[3] = {2, 2, 3}, go[3] = {2, 1, 1}, ao[3] = {2, 1, 2}, size[2] = {1, 2};
    int64_t s4[4] = {1, 2, 2, 3}, go4[4] = {1, 2, 1, 1};
    scnn_tensor *x = make(a, 12, s, 3), *x4 = make(a, 12, s4, 4), *y = NULL;
    CHECK_OK(scnn_global_avg_pool2d(x, &y)); expect(y, go, 3, gmean, 1e-6); scnn_tensor_destroy(y);
    CHECK_OK(scnn_global_avg_pool2d(x4, &y)); expect(y, go4, 4, gmean, 1e-6); scnn_tensor_destroy(y);
    CHECK_OK(scnn_adaptive_avg_pool2d(x, size, &y)); expect(y, ao, 3, ad, 1e-6); scnn_tensor_destroy(y);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(x4);
}

SCNN_TEST(test_pool_bad_inputs) {
    int64_t s[4] = {1, 1, 4, 4}, s2[2] = {4, 4}, k2[2] = {2, 2}, k0[2] = {0, 2}, kneg[2] = {2, -1};
    int64_t k5[2] = {5, 5}, s0[2] = {2, 0}, p2[2] = {2, 0}, pneg[2] = {-1, 0}, size0[2] = {0, 3};
    int64_t k3[2] = {3, 3}, p1[2] = {1, 1};
    const scnn_status INV = SCNN_STATUS_INVALID_ARGUMENT;
    scnn_tensor *x = pattern(s, 4, 1u), *m = pattern(s2, 2, 2u), *y = NULL;
    /* NULL pointers */
    CHECK_STATUS(scnn_max_pool2d(NULL, k2, NULL, NULL, 0, &y), INV);
    CHECK_STATUS(scnn_max_pool2d(x, NULL, NULL, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "kernel") != NULL);
    CHECK_STATUS(scnn_max_pool2d(x, k2, NULL, NULL, 0, NULL), INV);
    CHECK_STATUS(scnn_avg_pool2d(NULL, k2, NULL, NULL, 0, 1, &y), INV);
    CHECK_STATUS(scnn_avg_pool2d(x, NULL, NULL, NULL, 0, 1, &y), INV);
    CHECK_STATUS(scnn_avg_pool2d(x, k2, NULL, NULL, 0, 1, NULL), INV);
    CHECK_STATUS(scnn_global_avg_pool2d(NULL, &y), INV);
    CHECK_STATUS(scnn_global_avg_pool2d(x, NULL), INV);
    CHECK_STATUS(scnn_adaptive_avg_pool2d(NULL, k2, &y), INV);
    CHECK_STATUS(scnn_adaptive_avg_pool2d(x, NULL, &y), INV);
    CHECK_STATUS(scnn_adaptive_avg_pool2d(x, k2, NULL), INV);
    /* kernel 0 / negative */
    CHECK_STATUS(scnn_max_pool2d(x, k0, NULL, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "kernel") != NULL);
    CHECK_STATUS(scnn_avg_pool2d(x, kneg, NULL, NULL, 0, 1, &y), INV);
    /* stride 0 */
    CHECK_STATUS(scnn_max_pool2d(x, k2, s0, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "stride") != NULL);
    /* padding above half the kernel, negative padding */
    CHECK_STATUS(scnn_max_pool2d(x, k2, NULL, p2, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "half") != NULL);
    CHECK_STATUS(scnn_avg_pool2d(x, k2, NULL, p2, 0, 1, &y), INV);
    CHECK_STATUS(scnn_max_pool2d(x, k2, NULL, pneg, 0, &y), INV);
    /* kernel larger than the (padded) input */
    CHECK_STATUS(scnn_max_pool2d(x, k5, NULL, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "larger") != NULL);
    /* 3x3 with padding 1 fits a 4x4 input */
    CHECK_OK(scnn_max_pool2d(x, k3, NULL, p1, 0, &y));
    scnn_tensor_destroy(y);
    y = NULL;
    /* input rank 2 */
    CHECK_STATUS(scnn_max_pool2d(m, k2, NULL, NULL, 0, &y), INV);
    CHECK(strstr(scnn_last_error(), "rank") != NULL);
    CHECK_STATUS(scnn_avg_pool2d(m, k2, NULL, NULL, 0, 1, &y), INV);
    CHECK_STATUS(scnn_global_avg_pool2d(m, &y), INV);
    CHECK_STATUS(scnn_adaptive_avg_pool2d(m, k2, &y), INV);
    /* adaptive size 0 */
    CHECK_STATUS(scnn_adaptive_avg_pool2d(x, size0, &y), INV);
    CHECK(strstr(scnn_last_error(), "output size") != NULL);
    CHECK(y == NULL);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(m);
}

SCNN_TEST(test_reference_kernel_switch) {
    scnn_set_reference_kernels(7);
    CHECK(scnn_reference_kernels() == 1);
    scnn_set_reference_kernels(0);
    CHECK(scnn_reference_kernels() == 0);
}
