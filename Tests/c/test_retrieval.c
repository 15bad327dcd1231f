/* Retrieval through the C ABI: scnn_index_* against a brute-force search in double (cosine
 * and L2, caller ids, running numbers, k past the count, ties), save/load, bad arguments,
 * and scnn_model_embed against scnn_model_forward_outputs. */
#define _POSIX_C_SOURCE 200809L
#include "harness.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static float lcg_float(unsigned *seed) {
    *seed = *seed * 1103515245u + 12345u;
    return (float)((*seed >> 8) % 20001) / 10000.0f - 1.0f;
}

/* Brute force in double: the best `k` positions for query q (ties by position). */
static void brute(const float *db, int64_t n, int64_t d, const float *q, int32_t metric, int64_t k,
                  int64_t *best, double *scores) {
    int64_t i, j, p;
    double *s = (double *)malloc((size_t)n * sizeof(double));
    char *used = (char *)calloc((size_t)n, 1);
    double qn = 0;
    for (p = 0; p < d; p++) qn += (double)q[p] * q[p];
    for (i = 0; i < n; i++) {
        double dot = 0, xn = 0;
        for (p = 0; p < d; p++) {
            dot += (double)q[p] * db[i * d + p];
            xn += (double)db[i * d + p] * db[i * d + p];
        }
        if (metric == SCNN_INDEX_METRIC_COSINE)
            s[i] = (qn > 0 && xn > 0) ? dot / sqrt(qn * xn) : 0;
        else
            s[i] = qn - 2 * dot + xn;
    }
    for (j = 0; j < k; j++) {
        int64_t b = -1;
        for (i = 0; i < n; i++) {
            if (used[i]) continue;
            if (b < 0 || (metric == SCNN_INDEX_METRIC_COSINE ? s[i] > s[b] : s[i] < s[b])) b = i;
        }
        best[j] = b;
        scores[j] = b >= 0 ? s[b] : 0;
        if (b >= 0) used[b] = 1;
    }
    free(s);
    free(used);
}

SCNN_TEST(retrieval_search_matches_brute_force) {
    const int64_t n = 500, d = 24, nq = 9, k = 6;
    int32_t metric;
    unsigned seed = 7;
    float *db = (float *)malloc((size_t)(n * d) * sizeof(float));
    float *q = (float *)malloc((size_t)(nq * d) * sizeof(float));
    int64_t ids[9 * 6], best[6], i, j;
    float scores[9 * 6];
    double want[6];
    for (i = 0; i < n * d; i++) db[i] = lcg_float(&seed);
    for (i = 0; i < nq * d; i++) q[i] = lcg_float(&seed);
    for (metric = 0; metric <= 1; metric++) {
        scnn_index *index = NULL;
        int bad = 0;
        CHECK_OK(scnn_index_create(d, metric, &index));
        CHECK_OK(scnn_index_add(index, db, 200, NULL));
        CHECK_OK(scnn_index_add(index, db + 200 * d, n - 200, NULL));
        CHECK(scnn_index_count(index) == n);
        CHECK(scnn_index_dimension(index) == d);
        CHECK(scnn_index_get_metric(index) == metric);
        CHECK_OK(scnn_index_search(index, q, nq, k, ids, scores));
        for (i = 0; i < nq; i++) {
            brute(db, n, d, q + i * d, metric, k, best, want);
            for (j = 0; j < k; j++) {
                if (fabs(scores[i * k + j] - want[j]) > 1e-4) bad++;
                /* ids equal unless two scores are within rounding */
                if (ids[i * k + j] != best[j] && (j + 1 >= k || fabs(want[j] - want[j + 1]) > 1e-5)) bad++;
            }
        }
        CHECK(bad == 0);
        scnn_index_destroy(index);
    }
    free(db);
    free(q);
}

SCNN_TEST(retrieval_ids_fill_and_ties) {
    scnn_index *index = NULL;
    const float rows[] = {1, 2, 1, 2, 1, 2, 0, 0};
    const int64_t given[] = {30, 20, 10};
    const float query[] = {2, 4};
    int64_t ids[6];
    float scores[6];
    CHECK_OK(scnn_index_create(2, SCNN_INDEX_METRIC_L2, &index));
    CHECK_OK(scnn_index_add(index, rows, 3, given));
    CHECK_OK(scnn_index_add(index, rows + 6, 1, NULL)); /* running number 3 */
    CHECK_OK(scnn_index_search(index, query, 1, 6, ids, scores));
    CHECK(ids[0] == 30 && ids[1] == 20 && ids[2] == 10); /* equal distances in insertion order */
    CHECK(ids[3] == 3 && ids[4] == -1 && ids[5] == -1);
    CHECK(scores[0] == 5.0f && scores[3] == 20.0f);
    CHECK(isnan(scores[4]) && isnan(scores[5]));
    {
        int64_t gone = 0;
        const int64_t drop[] = {20, 77};
        CHECK_OK(scnn_index_remove(index, drop, 2, &gone));
        CHECK(gone == 1 && scnn_index_count(index) == 3);
    }
    CHECK_OK(scnn_index_reset(index));
    CHECK(scnn_index_count(index) == 0);
    scnn_index_destroy(index);
}

SCNN_TEST(retrieval_save_load) {
    scnn_index *index = NULL, *back = NULL;
    char path[256];
    unsigned seed = 3;
    float v[40 * 5], q[3 * 5], s1[12], s2[12];
    int64_t i1[12], i2[12], i;
    for (i = 0; i < 200; i++) v[i] = lcg_float(&seed);
    for (i = 0; i < 15; i++) q[i] = lcg_float(&seed);
    snprintf(path, sizeof path, "/tmp/swiftcnn-ctest-retrieval-%ld.safetensors", (long)getpid());
    CHECK_OK(scnn_index_create(5, SCNN_INDEX_METRIC_COSINE, &index));
    CHECK_OK(scnn_index_add(index, v, 40, NULL));
    CHECK_OK(scnn_index_save(index, path));
    CHECK_OK(scnn_index_load(path, &back));
    CHECK(scnn_index_count(back) == 40 && scnn_index_dimension(back) == 5);
    CHECK(scnn_index_get_metric(back) == SCNN_INDEX_METRIC_COSINE);
    CHECK_OK(scnn_index_search(index, q, 3, 4, i1, s1));
    CHECK_OK(scnn_index_search(back, q, 3, 4, i2, s2));
    CHECK(memcmp(i1, i2, sizeof i1) == 0 && memcmp(s1, s2, sizeof s1) == 0);
    unlink(path);
    CHECK_STATUS(scnn_index_load(path, &back), SCNN_STATUS_IO);
    CHECK(back == NULL);
    scnn_index_destroy(index);
}

SCNN_TEST(retrieval_bad_arguments) {
    scnn_index *index = NULL;
    const float nan_row[] = {0, NAN};
    const float ok_row[] = {1, 0};
    const int64_t neg[] = {-1};
    int64_t ids[2];
    float scores[2];
    CHECK_STATUS(scnn_index_create(0, 0, &index), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(index == NULL);
    CHECK_STATUS(scnn_index_create(2, 7, &index), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "metric") != NULL);
    CHECK_OK(scnn_index_create(2, SCNN_INDEX_METRIC_COSINE, &index));
    CHECK_STATUS(scnn_index_add(index, nan_row, 1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "non-finite") != NULL);
    CHECK_STATUS(scnn_index_add(index, ok_row, 1, neg), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_add(index, NULL, 1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_add(index, ok_row, -1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_index_count(index) == 0);
    CHECK_OK(scnn_index_add(index, ok_row, 1, NULL));
    CHECK_STATUS(scnn_index_search(index, ok_row, 1, 0, ids, scores), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_search(index, nan_row, 1, 1, ids, scores), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_search(index, ok_row, 1, 2, NULL, scores), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_search(NULL, ok_row, 1, 1, ids, scores), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_index_save(index, ""), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_index_count(NULL) == 0 && scnn_index_dimension(NULL) == 0 && scnn_index_get_metric(NULL) == -1);
    scnn_index_destroy(NULL);
    scnn_index_destroy(index);
}

SCNN_TEST(retrieval_model_embed) {
    scnn_model *model = NULL;
    scnn_tensor *x = NULL, *e = NULL, *f = NULL;
    const char *name = "classifier.1";
    const int64_t shape[] = {3, 1, 32, 32};
    int64_t i, dims[2] = {0, 0};
    unsigned seed = 11;
    float *data = (float *)malloc(3 * 1024 * sizeof(float));
    for (i = 0; i < 3 * 1024; i++) data[i] = lcg_float(&seed);
    CHECK_OK(scnn_model_create("lenet5", 10, &model));
    CHECK_OK(scnn_tensor_from_data(data, 3 * 1024, shape, 4, &x));
    CHECK_OK(scnn_model_embed(model, x, NULL, &e));
    CHECK_OK(scnn_model_forward_outputs(model, x, 1, &name, &f));
    CHECK(scnn_tensor_rank(e) == 2);
    CHECK_OK(scnn_tensor_shape(e, dims, 2));
    CHECK(dims[0] == 3 && dims[1] == 84);
    CHECK(scnn_test_max_diff(scnn_tensor_data(e), scnn_tensor_data(f), 3 * 84) == 0.0f);
    scnn_tensor_destroy(e);
    e = NULL;
    CHECK_OK(scnn_model_embed(model, x, "features", &e));
    CHECK_OK(scnn_tensor_shape(e, dims, 2));
    CHECK(dims[0] == 3 && dims[1] == 120);
    scnn_tensor_destroy(e);
    e = NULL;
    CHECK_STATUS(scnn_model_embed(model, x, "nope", &e), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(e == NULL);
    scnn_tensor_destroy(f);
    scnn_tensor_destroy(x);
    scnn_model_destroy(model);
    free(data);
}
