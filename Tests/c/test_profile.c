/* The per-layer profiler through the C ABI: scnn_model_profile and the scnn_profile_*
 * accessors, the profiled summary, bad arguments, and that profiling changes no result. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

/* A seeded input of n floats in [-1, 1]. */
static float *profile_input(int64_t n, unsigned seed) {
    float *d = (float *)malloc((size_t)n * sizeof(float));
    int64_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return d;
}

/* The entry named `node`, or -1. */
static int64_t find_node(const scnn_profile *p, const char *node, scnn_profile_node *e) {
    int64_t i, n = scnn_profile_count(p);
    for (i = 0; i < n; i++) {
        if (scnn_profile_entry(p, i, e) == SCNN_STATUS_OK && strcmp(e->node, node) == 0) return i;
    }
    return -1;
}

SCNN_TEST(profile_resnet18_nodes_kernels_shares_macs) {
    int64_t shape[4] = {2, 3, 64, 64}, macs = 0, sum_macs = 0, i, n;
    int64_t count = 2 * 3 * 64 * 64;
    float *x = profile_input(count, 7);
    scnn_model *m = NULL;
    scnn_profile *p = NULL;
    scnn_profile_node e;
    double shares = 0;
    int strings_ok = 1, rates_ok = 1;
    CHECK_OK(scnn_model_create("resnet18", 10, &m));
    CHECK_OK(scnn_model_profile(m, x, shape, 4, 3, 1, &p));
    CHECK(p != NULL);
    n = scnn_profile_count(p);
    CHECK(n == 23); /* 20 convs, the two pools, the fc (batch norms and ReLUs fuse into the convs) */
    for (i = 0; i < n; i++) {
        CHECK_OK(scnn_profile_entry(p, i, &e));
        if (!e.node || !e.op || !e.kernel || !e.fused || !e.node[0] || !e.kernel[0]) strings_ok = 0;
        if (e.ms < 0 || e.share < 0 || e.bytes <= 0 || e.flops != 2 * e.macs || (e.macs > 0 && e.ms > 0 && e.gflops <= 0))
            rates_ok = 0;
        shares += e.share;
        sum_macs += e.macs;
    }
    CHECK(strings_ok);
    CHECK(rates_ok);
    CHECK_NEAR(shares, 1.0, 1e-6);
    CHECK(scnn_profile_total_ms(p) > 0);
    /* Every MAC of the model is in some node (batch norms fold into the convs). */
    CHECK_OK(scnn_model_macs(m, shape, &macs));
    CHECK(sum_macs == 2 * macs);

    CHECK(find_node(p, "conv1", &e) >= 0);
    CHECK(strcmp(e.op, "Conv2d") == 0);
    CHECK(strstr(e.fused, "bn") != NULL && strstr(e.fused, "relu") != NULL);
    CHECK(strcmp(e.kernel, "direct") == 0); /* the 3-channel 7x7 stem: the direct kernel */
    CHECK(find_node(p, "layer1.0.conv1", &e) >= 0);
    CHECK(strcmp(e.kernel, "winograd") == 0 || strcmp(e.kernel, "gemm") == 0 || strcmp(e.kernel, "byPositions") == 0);
    CHECK(find_node(p, "layer1.0.conv2", &e) >= 0);
    CHECK(strstr(e.fused, "add") != NULL); /* the residual add runs in the conv's output pass */
    CHECK(find_node(p, "fc", &e) >= 0);
    CHECK(strcmp(e.op, "Linear") == 0 && strcmp(e.kernel, "linear") == 0);
    CHECK(e.macs == 2 * 512 * 10);
    CHECK(e.bytes == 4 * (2 * 512 + 2 * 10 + 512 * 10 + 10));
    CHECK(find_node(p, "maxpool", &e) >= 0);
    CHECK(strcmp(e.kernel, "maxpool") == 0 && e.macs == 0 && e.gflops == 0);
    CHECK(find_node(p, "bn1", &e) < 0); /* folded into conv1 */

    {
        char *text = NULL, *summary = NULL;
        CHECK_OK(scnn_profile_text(p, 5, &text));
        CHECK(text != NULL && strstr(text, "Kernel") != NULL && strstr(text, "more nodes") != NULL);
        scnn_string_free(text);
        text = NULL;
        CHECK_OK(scnn_profile_text(p, 0, &text));
        CHECK(text != NULL && strstr(text, "layer4.1.conv2") != NULL);
        scnn_string_free(text);
        CHECK_OK(scnn_model_summary_profiled(m, p, &summary));
        CHECK(summary != NULL && strstr(summary, "Kernel") != NULL && strstr(summary, "Share") != NULL);
        CHECK(summary != NULL && strstr(summary, "linear") != NULL);
        scnn_string_free(summary);
    }
    scnn_profile_free(p);
    scnn_model_destroy(m);
    free(x);
}

SCNN_TEST(profile_changes_no_result) {
    int64_t shape[4] = {1, 3, 64, 64}, count = 3 * 64 * 64;
    float *x = profile_input(count, 11);
    float before[10], after[10];
    scnn_model *m = NULL;
    scnn_profile *p = NULL;
    CHECK_OK(scnn_model_create("resnet18", 10, &m));
    CHECK_OK(scnn_model_forward(m, x, shape, 4, before, 10));
    CHECK_OK(scnn_model_profile(m, x, shape, 4, 2, 0, &p));
    CHECK_OK(scnn_model_forward(m, x, shape, 4, after, 10));
    CHECK(memcmp(before, after, sizeof before) == 0);
    scnn_profile_free(p);
    scnn_model_destroy(m);
    free(x);
}

SCNN_TEST(profile_bad_arguments) {
    int64_t shape[4] = {1, 1, 32, 32}, bad[4] = {1, 3, 32, 32};
    float *x = profile_input(3 * 32 * 32, 3);
    scnn_model *m = NULL;
    scnn_profile *p = NULL;
    scnn_profile_node e;
    char *text = NULL;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_STATUS(scnn_model_profile(NULL, x, shape, 4, 1, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_STATUS(scnn_model_profile(m, NULL, shape, 4, 1, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_profile(m, x, shape, 4, 1, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_profile(m, x, shape, 4, 0, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "runs") != NULL);
    CHECK_STATUS(scnn_model_profile(m, x, shape, 4, 1, -1, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "warmup") != NULL);
    CHECK_STATUS(scnn_model_profile(m, x, shape, 4, 1000000, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_profile(m, x, bad, 4, 1, 0, &p), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(p == NULL);
    CHECK_OK(scnn_model_profile(m, x, shape, 4, 1, 0, &p));
    CHECK(scnn_profile_count(p) >= 5);
    CHECK_STATUS(scnn_profile_entry(p, -1, &e), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(e.node == NULL && e.ms == 0);
    CHECK_STATUS(scnn_profile_entry(p, scnn_profile_count(p), &e), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_profile_entry(p, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_profile_entry(NULL, 0, &e), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_profile_text(p, -1, &text), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(text == NULL);
    CHECK_STATUS(scnn_profile_text(NULL, 0, &text), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_summary_profiled(m, NULL, &text), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_summary_profiled(NULL, p, &text), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_profile_count(NULL) == 0);
    CHECK(scnn_profile_total_ms(NULL) == 0);
    scnn_profile_free(NULL);
    scnn_profile_free(p);
    scnn_model_destroy(m);
    free(x);
}

SCNN_TEST(profile_default_num_threads) {
    int32_t old = scnn_get_num_threads();
    CHECK(scnn_default_num_threads() >= 1 && scnn_default_num_threads() <= 256);
    CHECK_OK(scnn_set_num_threads(0));
    CHECK(scnn_get_num_threads() == scnn_default_num_threads());
    CHECK_OK(scnn_set_num_threads(old));
}
