/* Images (pixels, color, resize, crop) and filters through the C ABI. */
#include "harness.h"

#include <stdlib.h>

/* A new tensor of `rank` dims holding a copy of `data` (NULL on failure, counted as failed). */
static scnn_tensor *img_make(const float *data, const int64_t *shape, int32_t rank) {
    scnn_tensor *t = NULL;
    int64_t n = 1;
    int32_t i;
    for (i = 0; i < rank; i++) n *= shape[i];
    CHECK_OK(scnn_tensor_from_data(data, n, shape, rank, &t));
    return t;
}

static scnn_tensor *img_zeros(int64_t a, int64_t b, int64_t c) {
    int64_t shape[3];
    scnn_tensor *t = NULL;
    shape[0] = a;
    shape[1] = b;
    shape[2] = c;
    CHECK_OK(scnn_tensor_create(shape, 3, &t));
    return t;
}

static int img_shape_is(const scnn_tensor *t, int32_t rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t s[4] = {0, 0, 0, 0};
    int64_t want[4];
    int32_t i;
    want[0] = d0;
    want[1] = d1;
    want[2] = d2;
    want[3] = d3;
    if (scnn_tensor_rank(t) != rank) return 0;
    if (scnn_tensor_shape(t, s, 4) != SCNN_STATUS_OK) return 0;
    for (i = 0; i < rank; i++)
        if (s[i] != want[i]) return 0;
    return 1;
}

SCNN_TEST(test_image_to_tensor_and_back) {
    /* 2x2 RGB, rows 8 bytes apart (2 padding bytes per row). */
    uint8_t px[14] = {10, 20, 30, 40, 50, 60, 0xEE, 0xEE, 70, 80, 90, 255, 0, 128};
    float mean[3] = {0.5f, 0.25f, 0.0f};
    float sd[3] = {0.5f, 0.25f, 2.0f};
    uint8_t back[16];
    scnn_tensor *t = NULL;
    const float *d;
    int y, x, c;
    CHECK_OK(scnn_image_to_tensor(px, 2, 2, 3, 8, 1.0f / 255.0f, mean, sd, &t));
    CHECK(img_shape_is(t, 3, 3, 2, 2, 0));
    d = scnn_tensor_data(t);
    if (d) {
        for (c = 0; c < 3; c++)
            for (y = 0; y < 2; y++)
                for (x = 0; x < 2; x++) {
                    double p = px[y * 8 + x * 3 + c];
                    double want = (p / 255.0 - mean[c]) / sd[c];
                    CHECK_NEAR(d[(c * 2 + y) * 2 + x], want, 1e-5);
                }
    }
    memset(back, 0x11, sizeof back);
    CHECK_OK(scnn_tensor_to_image(t, 1.0f / 255.0f, mean, sd, back, 14, 8));
    for (y = 0; y < 2; y++)
        for (x = 0; x < 6; x++) CHECK(back[y * 8 + x] == px[y * 8 + x]);
    CHECK(back[6] == 0x11 && back[7] == 0x11); /* row padding left alone */
    CHECK(back[14] == 0x11 && back[15] == 0x11); /* nothing past the last row */
    scnn_tensor_destroy(t);

    /* Packed gray, default normalization; clamping and rounding on the way back. */
    {
        uint8_t g[3] = {0, 51, 255};
        uint8_t out[3] = {9, 9, 9};
        float vals[3] = {-0.5f, 1.5f, 2.5f};
        int64_t shape[3] = {1, 1, 3};
        scnn_tensor *u = NULL, *v;
        CHECK_OK(scnn_image_to_tensor(g, 3, 1, 1, 0, 1.0f / 255.0f, NULL, NULL, &u));
        if (u) {
            CHECK_NEAR(scnn_tensor_data(u)[1], 0.2, 1e-6);
            CHECK_NEAR(scnn_tensor_data(u)[2], 1.0, 1e-6);
        }
        scnn_tensor_destroy(u);
        v = img_make(vals, shape, 3);
        CHECK_OK(scnn_tensor_to_image(v, 1.0f, NULL, NULL, out, 3, 0));
        CHECK(out[0] == 0 && out[1] == 2 && out[2] == 3);
        scnn_tensor_destroy(v);
    }
}

SCNN_TEST(test_image_bad_inputs) {
    uint8_t px[64];
    float mean[4] = {0, 0, 0, 0};
    float zero_std[3] = {1, 0, 1};
    scnn_tensor *t = (scnn_tensor *)&px; /* must be reset to NULL on failure */
    scnn_tensor *img;
    memset(px, 7, sizeof px);
    CHECK_STATUS(scnn_image_to_tensor(NULL, 2, 2, 3, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 3, 0, 1.0f, NULL, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 2, 0, 1.0f, mean, mean, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 5, 0, 1.0f, mean, mean, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 0, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, -3, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 4, 2, 3, 11, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "row stride") != NULL);
    CHECK_STATUS(scnn_image_to_tensor(px, 4, 2, 3, -1, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 0, 2, 3, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, -2, 3, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, INT64_MAX, 2, 4, 0, 1.0f, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, INT64_MAX, 1, INT64_MAX / 2, 1.0f, NULL, NULL, &t),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 3, 0, 1.0f, NULL, zero_std, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "std") != NULL);
    CHECK_STATUS(scnn_image_to_tensor(px, 2, 2, 1, 0, (float)NAN, NULL, NULL, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);

    img = img_zeros(3, 2, 2);
    CHECK_STATUS(scnn_tensor_to_image(NULL, 1.0f, NULL, NULL, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, NULL, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, px, 11, 0), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "needs 12") != NULL);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, px, 13, 8), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, px, -1, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, px, 64, 5), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, NULL, px, 64, -6), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 0.0f, NULL, NULL, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, NULL, zero_std, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(img);
    img = img_zeros(2, 2, 2); /* two channels */
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, mean, mean, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(img);
    img = img_zeros(5, 2, 2); /* five channels */
    CHECK_STATUS(scnn_tensor_to_image(img, 1.0f, mean, mean, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(img);
    {
        int64_t s4[4] = {2, 3, 2, 2}; /* a batch of two is not one image */
        int64_t s2[2] = {2, 2};
        scnn_tensor *b = NULL;
        CHECK_OK(scnn_tensor_create(s4, 4, &b));
        CHECK_STATUS(scnn_tensor_to_image(b, 1.0f, NULL, NULL, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
        scnn_tensor_destroy(b);
        b = NULL;
        CHECK_OK(scnn_tensor_create(s2, 2, &b));
        CHECK_STATUS(scnn_tensor_to_image(b, 1.0f, NULL, NULL, px, 64, 0), SCNN_STATUS_INVALID_ARGUMENT);
        scnn_tensor_destroy(b);
    }
}

SCNN_TEST(test_image_colors) {
    /* Pixels red, green, blue, gray 0.5 as a [3, 1, 4] image. */
    float rgb[12] = {1, 0, 0, 0.5f, 0, 1, 0, 0.5f, 0, 0, 1, 0.5f};
    float want_hsv[12] = {0, 120, 240, 0, 1, 1, 1, 0, 1, 1, 1, 0.5f};
    int64_t shape[3] = {3, 1, 4};
    scnn_tensor *in = img_make(rgb, shape, 3);
    scnn_tensor *hsv = NULL, *back = NULL, *gray = NULL;
    int i;
    CHECK_OK(scnn_rgb_to_hsv(in, &hsv));
    CHECK(img_shape_is(hsv, 3, 3, 1, 4, 0));
    if (hsv)
        for (i = 0; i < 12; i++) CHECK_NEAR(scnn_tensor_data(hsv)[i], want_hsv[i], 1e-5);
    CHECK_OK(scnn_hsv_to_rgb(hsv, &back));
    if (back) CHECK(scnn_test_max_diff(scnn_tensor_data(back), rgb, 12) <= 1e-6f);
    CHECK_OK(scnn_rgb_to_grayscale(in, &gray));
    CHECK(img_shape_is(gray, 3, 1, 1, 4, 0));
    if (gray) {
        CHECK_NEAR(scnn_tensor_data(gray)[0], 0.299, 1e-6);
        CHECK_NEAR(scnn_tensor_data(gray)[1], 0.587, 1e-6);
        CHECK_NEAR(scnn_tensor_data(gray)[2], 0.114, 1e-6);
        CHECK_NEAR(scnn_tensor_data(gray)[3], 0.5, 1e-6);
    }
    scnn_tensor_destroy(in);
    scnn_tensor_destroy(hsv);
    scnn_tensor_destroy(back);
    scnn_tensor_destroy(gray);
}

SCNN_TEST(test_image_color_bad_inputs) {
    scnn_tensor *four = img_zeros(4, 2, 2), *one = img_zeros(1, 2, 2);
    scnn_tensor *out = NULL;
    int64_t s2[2] = {3, 3};
    scnn_tensor *flat = NULL;
    CHECK_OK(scnn_tensor_create(s2, 2, &flat));
    CHECK_STATUS(scnn_rgb_to_hsv(four, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_STATUS(scnn_rgb_to_hsv(one, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_hsv(flat, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_hsv(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_hsv(four, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_hsv_to_rgb(four, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_hsv_to_rgb(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_hsv_to_rgb(one, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_grayscale(one, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_grayscale(NULL, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_rgb_to_grayscale(four, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
    scnn_tensor_destroy(four);
    scnn_tensor_destroy(one);
    scnn_tensor_destroy(flat);
}

SCNN_TEST(test_image_resize_and_crop) {
    float x[4] = {1, 2, 3, 4};
    float want[16] = {1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f, 3.5f, 3, 3.25f, 3.75f, 4};
    int64_t shape[3] = {1, 2, 2};
    float seq[25];
    int64_t s5[3] = {1, 5, 5};
    scnn_tensor *in = img_make(x, shape, 3), *up = NULL, *sq = NULL, *crop = NULL;
    int i;
    CHECK_OK(scnn_resize_bilinear(in, 4, 4, &up));
    CHECK(img_shape_is(up, 3, 1, 4, 4, 0));
    if (up) CHECK(scnn_test_max_diff(scnn_tensor_data(up), want, 16) == 0.0f);
    for (i = 0; i < 25; i++) seq[i] = (float)i;
    sq = img_make(seq, s5, 3);
    /* 5 -> 2: top = left = round(1.5) = 2 (half to even, as torchvision). */
    CHECK_OK(scnn_center_crop(sq, 2, 2, &crop));
    CHECK(img_shape_is(crop, 3, 1, 2, 2, 0));
    if (crop) {
        const float *d = scnn_tensor_data(crop);
        CHECK(d[0] == 12 && d[1] == 13 && d[2] == 17 && d[3] == 18);
    }
    scnn_tensor_destroy(crop);
    crop = NULL;
    CHECK_OK(scnn_center_crop(sq, 5, 5, &crop)); /* whole image */
    if (crop) CHECK(scnn_test_max_diff(scnn_tensor_data(crop), seq, 25) == 0.0f);
    scnn_tensor_destroy(crop);
    crop = NULL;

    CHECK_STATUS(scnn_resize_bilinear(in, 0, 4, &up), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(up == NULL);
    CHECK_STATUS(scnn_resize_bilinear(in, 4, 0, &up), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear(in, -4, 4, &up), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear(in, INT64_MAX, INT64_MAX, &up), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear(in, (int64_t)1 << 30, (int64_t)1 << 30, &up), SCNN_STATUS_OUT_OF_MEMORY);
    CHECK_STATUS(scnn_resize_bilinear(NULL, 4, 4, &up), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear(in, 4, 4, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    {
        int64_t s2[2] = {2, 2};
        scnn_tensor *flat = img_make(x, s2, 2);
        CHECK_STATUS(scnn_resize_bilinear(flat, 4, 4, &up), SCNN_STATUS_INVALID_ARGUMENT);
        scnn_tensor_destroy(flat);
    }
    CHECK_STATUS(scnn_center_crop(sq, 6, 2, &crop), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "larger than the image") != NULL);
    CHECK_STATUS(scnn_center_crop(sq, 2, 6, &crop), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop(sq, 0, 2, &crop), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop(sq, 2, -1, &crop), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop(NULL, 2, 2, &crop), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop(sq, 2, 2, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(crop == NULL);
    scnn_tensor_destroy(in);
    scnn_tensor_destroy(up);
    scnn_tensor_destroy(sq);
}

SCNN_TEST(test_filter_kernels) {
    scnn_tensor *k = NULL;
    int i;
    CHECK_OK(scnn_filter_box(3, &k));
    CHECK(img_shape_is(k, 2, 3, 3, 0, 0));
    if (k)
        for (i = 0; i < 9; i++) CHECK(scnn_tensor_data(k)[i] == 1.0f / 9.0f);
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_box(5, &k));
    if (k) CHECK(scnn_tensor_numel(k) == 25 && scnn_tensor_data(k)[24] == 1.0f / 25.0f);
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_horizontal_blur(5, &k));
    CHECK(img_shape_is(k, 2, 1, 5, 0, 0));
    if (k) CHECK(scnn_tensor_data(k)[0] == 0.2f && scnn_tensor_data(k)[4] == 0.2f);
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_vertical_blur(5, &k));
    CHECK(img_shape_is(k, 2, 5, 1, 0, 0));
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_sharpen(&k));
    CHECK(img_shape_is(k, 2, 3, 3, 0, 0));
    if (k) {
        const float want[9] = {0, -0.25f, 0, -0.25f, 2, -0.25f, 0, -0.25f, 0};
        CHECK(scnn_test_max_diff(scnn_tensor_data(k), want, 9) == 0.0f);
    }
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_sobel_x(&k));
    if (k) {
        const float want[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1};
        CHECK(scnn_test_max_diff(scnn_tensor_data(k), want, 9) == 0.0f);
    }
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_sobel_y(&k));
    if (k) {
        const float want[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};
        CHECK(scnn_test_max_diff(scnn_tensor_data(k), want, 9) == 0.0f);
    }
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_edge(&k));
    CHECK(img_shape_is(k, 2, 1, 3, 0, 0));
    if (k) CHECK(scnn_tensor_data(k)[0] == -1.0f && scnn_tensor_data(k)[1] == 0.0f && scnn_tensor_data(k)[2] == 1.0f);
    scnn_tensor_destroy(k);
    k = NULL;
    CHECK_OK(scnn_filter_gaussian(3, 1.0f, &k));
    CHECK(img_shape_is(k, 2, 3, 3, 0, 0));
    if (k) {
        /* 1-D weights e^-0.5, 1, e^-0.5 normalized; the 2-D kernel is their outer product. */
        double e = exp(-0.5), s = 1.0 + 2.0 * e, sum = 0.0;
        const float *d = scnn_tensor_data(k);
        CHECK_NEAR(d[4], 1.0 / (s * s), 1e-6);
        CHECK_NEAR(d[0], e * e / (s * s), 1e-6);
        CHECK_NEAR(d[1], e / (s * s), 1e-6);
        for (i = 0; i < 9; i++) sum += d[i];
        CHECK_NEAR(sum, 1.0, 1e-6);
    }
    scnn_tensor_destroy(k);
}

SCNN_TEST(test_filter_kernel_bad_inputs) {
    scnn_tensor *k = NULL;
    CHECK_STATUS(scnn_filter_box(0, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(k == NULL);
    CHECK_STATUS(scnn_filter_box(-2, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_box(INT64_MAX, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_box((int64_t)1 << 28, &k), SCNN_STATUS_OUT_OF_MEMORY);
    CHECK_STATUS(scnn_filter_box(3, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_horizontal_blur(0, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_horizontal_blur(5, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_vertical_blur(0, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_vertical_blur(-5, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_vertical_blur(5, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_sharpen(NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_sobel_x(NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_sobel_y(NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_edge(NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(4, 1.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "odd") != NULL);
    CHECK_STATUS(scnn_filter_gaussian(0, 1.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(-3, 1.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(3, 0.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "sigma") != NULL);
    CHECK_STATUS(scnn_filter_gaussian(3, -1.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(3, (float)NAN, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(3, (float)INFINITY, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(INT64_MAX, 1.0f, &k), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_gaussian(((int64_t)1 << 28) + 1, 1.0f, &k), SCNN_STATUS_OUT_OF_MEMORY);
    CHECK_STATUS(scnn_filter_gaussian(3, 1.0f, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(k == NULL);
}

SCNN_TEST(test_filter_apply_seed_table) {
    /* The seed's 10x10 image and the 1/9 box filter: h[1..8][1..8] is the seed's table, with
     * the typo in its last two rows fixed (10 10 10 0 0 0 0 0). */
    static const float table[8][8] = {
        {0, 10, 20, 30, 30, 30, 20, 10}, {0, 20, 40, 60, 60, 60, 40, 20}, {0, 30, 50, 80, 80, 90, 60, 30},
        {0, 30, 50, 80, 80, 90, 60, 30}, {0, 20, 30, 50, 50, 60, 40, 20}, {0, 10, 20, 30, 30, 30, 20, 10},
        {10, 10, 10, 0, 0, 0, 0, 0},     {10, 10, 10, 0, 0, 0, 0, 0}};
    float f[100];
    int64_t shape[2] = {10, 10};
    scnn_tensor *img, *box = NULL, *h = NULL;
    int r, c;
    memset(f, 0, sizeof f);
    for (r = 2; r <= 5; r++)
        for (c = 3; c <= 7; c++) f[r * 10 + c] = 90;
    f[44] = 0;
    f[82] = 90;
    img = img_make(f, shape, 2);
    CHECK_OK(scnn_filter_box(3, &box));
    CHECK_OK(scnn_filter_apply(img, box, SCNN_BORDER_ZERO, &h));
    CHECK(img_shape_is(h, 2, 10, 10, 0, 0));
    if (h)
        for (r = 1; r <= 8; r++)
            for (c = 1; c <= 8; c++) CHECK_NEAR(scnn_tensor_data(h)[r * 10 + c], table[r - 1][c - 1], 1e-4);
    scnn_tensor_destroy(img);
    scnn_tensor_destroy(box);
    scnn_tensor_destroy(h);
}

SCNN_TEST(test_filter_apply_borders) {
    /* A row [1 2 3] with a kernel that picks the left neighbour, per border. */
    float row[3] = {1, 2, 3}, left[3] = {1, 0, 0}, far[5] = {1, 0, 0, 0, 0}, two[2] = {1, 2};
    int64_t s13[2] = {1, 3}, s15[2] = {1, 5}, s12[3] = {1, 1, 2};
    scnn_tensor *x = img_make(row, s13, 2), *k = img_make(left, s13, 2);
    scnn_tensor *kfar = img_make(far, s15, 2), *x2 = img_make(two, s12, 3);
    scnn_tensor *y = NULL;
    const float want_zero[3] = {0, 1, 2}, want_rep[3] = {1, 1, 2}, want_ref[3] = {2, 1, 2};
    CHECK_OK(scnn_filter_apply(x, k, SCNN_BORDER_ZERO, &y));
    if (y) CHECK(scnn_test_max_diff(scnn_tensor_data(y), want_zero, 3) == 0.0f);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_OK(scnn_filter_apply(x, k, SCNN_BORDER_REPLICATE, &y));
    if (y) CHECK(scnn_test_max_diff(scnn_tensor_data(y), want_rep, 3) == 0.0f);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_OK(scnn_filter_apply(x, k, SCNN_BORDER_REFLECT, &y));
    if (y) CHECK(scnn_test_max_diff(scnn_tensor_data(y), want_ref, 3) == 0.0f);
    scnn_tensor_destroy(y);
    y = NULL;
    /* Kernel wider than the image, [C, H, W] input: reflect of [1 2] repeats 1 2 1 2. */
    CHECK_OK(scnn_filter_apply(x2, kfar, SCNN_BORDER_REFLECT, &y));
    CHECK(img_shape_is(y, 3, 1, 1, 2, 0));
    if (y) CHECK(scnn_tensor_data(y)[0] == 1.0f && scnn_tensor_data(y)[1] == 2.0f);
    scnn_tensor_destroy(y);
    y = NULL;

    CHECK_STATUS(scnn_filter_apply(x, k, 3, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "border") != NULL);
    CHECK_STATUS(scnn_filter_apply(x, k, -1, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_apply(NULL, k, SCNN_BORDER_ZERO, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_apply(x, NULL, SCNN_BORDER_ZERO, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_apply(x, k, SCNN_BORDER_ZERO, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_filter_apply(x2, x2, SCNN_BORDER_ZERO, &y), SCNN_STATUS_INVALID_ARGUMENT); /* kernel rank 3 */
    {
        int64_t s1[1] = {3};
        scnn_tensor *v = img_make(row, s1, 1);
        CHECK_STATUS(scnn_filter_apply(v, k, SCNN_BORDER_ZERO, &y), SCNN_STATUS_INVALID_ARGUMENT); /* image rank 1 */
        CHECK_STATUS(scnn_filter_apply(x, v, SCNN_BORDER_ZERO, &y), SCNN_STATUS_INVALID_ARGUMENT); /* kernel rank 1 */
        scnn_tensor_destroy(v);
    }
    CHECK(y == NULL);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(k);
    scnn_tensor_destroy(kfar);
    scnn_tensor_destroy(x2);
}
