/* Thread count through the C ABI: set/get, bad values, results independent of threads. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static scnn_tensor *seeded(const int64_t *shape, int32_t rank, unsigned seed) {
    int64_t n = 1;
    int32_t i;
    float *d;
    scnn_tensor *t = NULL;
    for (i = 0; i < rank; i++) n *= shape[i];
    d = (float *)malloc((size_t)n * sizeof(float));
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    CHECK_OK(scnn_tensor_from_data(d, n, shape, rank, &t));
    free(d);
    return t;
}

SCNN_TEST(threads_set_get_and_bad_values) {
    int32_t old = scnn_get_num_threads();
    CHECK(old >= 1);
    CHECK_OK(scnn_set_num_threads(1));
    CHECK(scnn_get_num_threads() == 1);
    CHECK_OK(scnn_set_num_threads(3));
    CHECK(scnn_get_num_threads() == 3);
    CHECK_OK(scnn_set_num_threads(100000));
    CHECK(scnn_get_num_threads() == 256);
    CHECK_STATUS(scnn_set_num_threads(-1), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "thread") != NULL);
    CHECK(scnn_get_num_threads() == 256);
    CHECK_OK(scnn_set_num_threads(0));
    CHECK(scnn_get_num_threads() >= 1);
    CHECK_OK(scnn_set_num_threads(old));
}

SCNN_TEST(threads_conv_results_identical_for_1_and_2_threads) {
    int64_t xs[4] = {2, 24, 21, 17}, ws[4] = {48, 24, 3, 3}, bs[1] = {48};
    int64_t pad[4] = {1, 1, 1, 1};
    scnn_tensor *x = seeded(xs, 4, 1), *w = seeded(ws, 4, 2), *b = seeded(bs, 1, 3);
    scnn_tensor *y1 = NULL, *y2 = NULL;
    int32_t old = scnn_get_num_threads();
    CHECK_OK(scnn_set_num_threads(1));
    CHECK_OK(scnn_conv2d(x, w, b, NULL, pad, NULL, 1, &y1));
    CHECK_OK(scnn_set_num_threads(2));
    CHECK_OK(scnn_conv2d(x, w, b, NULL, pad, NULL, 1, &y2));
    CHECK(y1 != NULL && y2 != NULL);
    if (y1 && y2) {
        CHECK(scnn_tensor_numel(y1) == 2 * 48 * 21 * 17);
        CHECK(memcmp(scnn_tensor_data(y1), scnn_tensor_data(y2), (size_t)scnn_tensor_numel(y1) * sizeof(float)) == 0);
    }
    CHECK_OK(scnn_set_num_threads(old));
    scnn_tensor_destroy(y1);
    scnn_tensor_destroy(y2);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(w);
    scnn_tensor_destroy(b);
}
