/* torchvision-exact preprocessing through the C ABI: scnn_image_imagenet_preprocess on
 * scikit-learn's two photos against torchvision's v2 pipeline (Tests/fixtures/images/,
 * made by scripts/make_preprocess_fixtures.py), the antialiased resize and the padded crop. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>

/* A photo fixture: "SCNNPREP", uint32 LE version, height, width, channels, the HWC bytes,
 * then [3, 224, 224] float32 LE. Returns 1 and fills the out-parameters (free both) or 0. */
static int prep_read(const char *path, uint8_t **pixels, float **expected, uint32_t *h, uint32_t *w, uint32_t *c) {
    FILE *f = fopen(path, "rb");
    unsigned char head[24];
    size_t n;
    int ok = 0;
    *pixels = NULL;
    *expected = NULL;
    if (!f) return 0;
    if (fread(head, 1, 24, f) == 24 && memcmp(head, "SCNNPREP", 8) == 0) {
        uint32_t v[4];
        int i;
        for (i = 0; i < 4; i++)
            v[i] = (uint32_t)head[8 + 4 * i] | (uint32_t)head[9 + 4 * i] << 8 | (uint32_t)head[10 + 4 * i] << 16 |
                   (uint32_t)head[11 + 4 * i] << 24;
        if (v[0] == 1 && v[1] > 0 && v[1] < 100000 && v[2] > 0 && v[2] < 100000 && v[3] == 3) {
            *h = v[1];
            *w = v[2];
            *c = v[3];
            n = (size_t)v[1] * v[2] * v[3];
            *pixels = (uint8_t *)malloc(n);
            *expected = (float *)malloc(3 * 224 * 224 * sizeof(float));
            /* The floats are little-endian, as this test's x86-64 and arm64 hosts. */
            ok = *pixels && *expected && fread(*pixels, 1, n, f) == n &&
                 fread(*expected, sizeof(float), 3 * 224 * 224, f) == 3 * 224 * 224;
        }
    }
    fclose(f);
    if (!ok) {
        free(*pixels);
        free(*expected);
        *pixels = NULL;
        *expected = NULL;
    }
    return ok;
}

static void prep_check_photo(const char *path) {
    uint8_t *pixels;
    float *expected;
    uint32_t h = 0, w = 0, c = 0;
    scnn_tensor *out = NULL;
    int64_t shape[3] = {0, 0, 0};
    int ok = prep_read(path, &pixels, &expected, &h, &w, &c);
    CHECK(ok);
    if (!ok) return;
    CHECK_OK(scnn_image_imagenet_preprocess(pixels, (int64_t)w, (int64_t)h, (int64_t)c, 0, &out));
    if (out) {
        float err;
        CHECK(scnn_tensor_rank(out) == 3);
        CHECK_OK(scnn_tensor_shape(out, shape, 3));
        CHECK(shape[0] == 3 && shape[1] == 224 && shape[2] == 224);
        err = scnn_test_max_diff(scnn_tensor_data(out), expected, 3L * 224 * 224);
        CHECK(err < 1e-3f); /* the bound */
        CHECK(err < 2e-5f); /* measured: about 1e-6 */
        scnn_tensor_destroy(out);
    }
    {
        /* The same image with padded rows (row_stride) gives the same tensor. */
        size_t row = (size_t)w * c, stride = row + 5, y;
        uint8_t *padded = (uint8_t *)malloc(stride * h);
        scnn_tensor *again = NULL;
        CHECK(padded != NULL);
        if (padded) {
            memset(padded, 0xAB, stride * h);
            for (y = 0; y < h; y++) memcpy(padded + y * stride, pixels + y * row, row);
            CHECK_OK(scnn_image_imagenet_preprocess(padded, (int64_t)w, (int64_t)h, (int64_t)c, (int64_t)stride, &again));
            if (again) CHECK(scnn_test_max_diff(scnn_tensor_data(again), expected, 3L * 224 * 224) < 2e-5f);
            scnn_tensor_destroy(again);
            free(padded);
        }
    }
    free(pixels);
    free(expected);
}

SCNN_TEST(preprocess_china_matches_torchvision) { prep_check_photo("Tests/fixtures/images/china_preprocess.bin"); }

SCNN_TEST(preprocess_flower_matches_torchvision) { prep_check_photo("Tests/fixtures/images/flower_preprocess.bin"); }

SCNN_TEST(preprocess_gray_and_rgba) {
    /* 1 channel is gray for R, G and B; 4 channels are RGBA with alpha ignored. */
    enum { H = 30, W = 20 };
    uint8_t gray[H * W], rgb[H * W * 3], rgba[H * W * 4];
    scnn_tensor *a = NULL, *b = NULL, *d = NULL;
    int i;
    for (i = 0; i < H * W; i++) {
        gray[i] = (uint8_t)(i * 7 % 251);
        rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
        rgba[4 * i] = rgba[4 * i + 1] = rgba[4 * i + 2] = gray[i];
        rgba[4 * i + 3] = (uint8_t)i;
    }
    CHECK_OK(scnn_image_imagenet_preprocess(gray, W, H, 1, 0, &a));
    CHECK_OK(scnn_image_imagenet_preprocess(rgb, W, H, 3, 0, &b));
    CHECK_OK(scnn_image_imagenet_preprocess(rgba, W, H, 4, 0, &d));
    if (a && b && d) {
        CHECK(scnn_test_max_diff(scnn_tensor_data(a), scnn_tensor_data(b), 3L * 224 * 224) == 0.0f);
        CHECK(scnn_test_max_diff(scnn_tensor_data(d), scnn_tensor_data(b), 3L * 224 * 224) == 0.0f);
    }
    scnn_tensor_destroy(a);
    scnn_tensor_destroy(b);
    scnn_tensor_destroy(d);
}

SCNN_TEST(preprocess_bad_arguments) {
    uint8_t px[12] = {0};
    scnn_tensor *out = NULL;
    CHECK_STATUS(scnn_image_imagenet_preprocess(NULL, 2, 2, 3, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 2, 2, 3, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 0, 2, 3, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 2, -1, 3, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 2, 2, 2, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 2, 2, 3, 5, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, 2, 2, 3, -1, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_image_imagenet_preprocess(px, INT64_MAX, INT64_MAX, 3, 0, &out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(out == NULL);
}

SCNN_TEST(resize_antialias_box_and_enlarge) {
    /* Halving 4 -> 2 along a row: scale 2, support 2; output 0 (centre 1) weights inputs 0..2
     * as 0.75, 0.75, 0.25 (over 1.75), output 1 (centre 3) inputs 1..3 as 0.25, 0.75, 0.75. */
    float row[4] = {0, 4, 8, 12};
    int64_t shape[3] = {1, 1, 4};
    scnn_tensor *x = NULL, *y = NULL, *up = NULL, *plain = NULL;
    CHECK_OK(scnn_tensor_from_data(row, 4, shape, 3, &x));
    CHECK_OK(scnn_resize_bilinear_antialias(x, 1, 2, &y));
    if (y) {
        const float *d = scnn_tensor_data(y);
        CHECK_NEAR(d[0], (0.75 * 0 + 0.75 * 4 + 0.25 * 8) / 1.75, 1e-5);
        CHECK_NEAR(d[1], (0.25 * 4 + 0.75 * 8 + 0.75 * 12) / 1.75, 1e-5);
    }
    /* Enlarging is plain bilinear. */
    CHECK_OK(scnn_resize_bilinear_antialias(x, 3, 9, &up));
    CHECK_OK(scnn_resize_bilinear(x, 3, 9, &plain));
    if (up && plain) CHECK(scnn_test_max_diff(scnn_tensor_data(up), scnn_tensor_data(plain), 27) < 1e-6f);
    CHECK_STATUS(scnn_resize_bilinear_antialias(x, 0, 2, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear_antialias(NULL, 1, 2, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_resize_bilinear_antialias(x, INT64_MAX, INT64_MAX, &y), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(up);
    scnn_tensor_destroy(plain);
}

SCNN_TEST(center_crop_padded_pads_with_zeros) {
    /* [1, 2, 2] cropped to 3 x 4: rows 0 before, 1 after; columns 1 before, 1 after. */
    float v[4] = {1, 2, 3, 4};
    const float want[12] = {0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0};
    int64_t shape[3] = {1, 2, 2};
    scnn_tensor *x = NULL, *y = NULL;
    CHECK_OK(scnn_tensor_from_data(v, 4, shape, 3, &x));
    CHECK_OK(scnn_center_crop_padded(x, 3, 4, &y));
    if (y) CHECK(scnn_test_max_diff(scnn_tensor_data(y), want, 12) == 0.0f);
    scnn_tensor_destroy(y);
    y = NULL;
    CHECK_STATUS(scnn_center_crop(x, 3, 4, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop_padded(x, 0, 4, &y), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_center_crop_padded(x, INT64_MAX, INT64_MAX, &y), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(x);
}
