/* retrieval_search: search, from C, the index of training digits that Python built.
 *
 *   cc -std=c99 -IInclude examples/retrieval_search.c -o retrieval_search -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 *   ./retrieval_search [INDEX] [WEIGHTS] [DIGITS] [PYTHON_RESULT]
 *
 * examples/retrieval_digits.py writes INDEX (default build/digits_index.safetensors: the
 * LeNet-5 features of the training digits, cosine, ids = training positions) and
 * PYTHON_RESULT (default build/digits_retrieval.safetensors: "train_labels" [N_train] and
 * the neighbours Python found, "ids" [N_test, 5], both stored as float32). This program
 * loads the trained LeNet-5 (WEIGHTS, default build/digits_lenet5.safetensors), embeds the
 * held-out digits (DIGITS, default build/digits_test.safetensors) with scnn_model_embed (the
 * input of the last linear layer), loads the index with scnn_index_load, finds each digit's
 * five nearest training digits with scnn_index_search, and prints precision@5 and whether
 * its neighbours are Python's. Exit status 0 when they are, 1 otherwise or on any error.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "swiftcnn.h"

#define K 5

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "retrieval_search: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *index_path = argc > 1 ? argv[1] : "build/digits_index.safetensors";
    const char *weights = argc > 2 ? argv[2] : "build/digits_lenet5.safetensors";
    const char *digits = argc > 3 ? argv[3] : "build/digits_test.safetensors";
    const char *python = argc > 4 ? argv[4] : "build/digits_retrieval.safetensors";
    scnn_model *model = NULL;
    scnn_index *index = NULL;
    scnn_tensor *images = NULL, *labels = NULL, *features = NULL, *train_labels = NULL, *py_ids = NULL;
    int64_t shape[2] = {0, 0}, n, d, i, j, hits = 0, same = 0, n_train;
    int64_t *ids = NULL;
    float *scores = NULL;
    const float *truth, *train, *expected;
    int rc = 1;

    if (!check(scnn_model_create("lenet5", 10, &model), "scnn_model_create")) return 1;
    if (!check(scnn_model_load(model, weights), "scnn_model_load")) goto done;
    if (!check(scnn_safetensors_read(digits, "images", &images), "scnn_safetensors_read(images)")) goto done;
    if (!check(scnn_safetensors_read(digits, "labels", &labels), "scnn_safetensors_read(labels)")) goto done;
    if (!check(scnn_safetensors_read(python, "train_labels", &train_labels), "scnn_safetensors_read(train_labels)")) goto done;
    if (!check(scnn_safetensors_read(python, "ids", &py_ids), "scnn_safetensors_read(ids)")) goto done;
    if (!check(scnn_model_embed(model, images, NULL, &features), "scnn_model_embed")) goto done;
    if (!check(scnn_tensor_shape(features, shape, 2), "scnn_tensor_shape")) goto done;
    n = shape[0];
    d = shape[1];
    if (!check(scnn_index_load(index_path, &index), "scnn_index_load")) goto done;
    n_train = scnn_tensor_numel(train_labels);
    if (scnn_index_dimension(index) != d || scnn_index_count(index) != n_train || scnn_tensor_numel(labels) != n ||
        scnn_tensor_numel(py_ids) != n * K) {
        fprintf(stderr, "retrieval_search: the files do not fit together (index %lld x %lld, features %lld x %lld)\n",
                (long long)scnn_index_count(index), (long long)scnn_index_dimension(index), (long long)n, (long long)d);
        goto done;
    }
    ids = (int64_t *)malloc((size_t)(n * K) * sizeof *ids);
    scores = (float *)malloc((size_t)(n * K) * sizeof *scores);
    if (!ids || !scores) goto done;
    if (!check(scnn_index_search(index, scnn_tensor_data(features), n, K, ids, scores), "scnn_index_search")) goto done;

    truth = scnn_tensor_data(labels);
    train = scnn_tensor_data(train_labels);
    expected = scnn_tensor_data(py_ids);
    for (i = 0; i < n; i++) {
        for (j = 0; j < K; j++) {
            int64_t id = ids[i * K + j];
            if (id >= 0 && id < n_train && train[id] == truth[i]) hits++;
            if ((float)id == expected[i * K + j]) same++;
        }
    }
    printf("C: %lld held-out digits embedded (%lld features each), %lld training vectors searched\n",
           (long long)n, (long long)d, (long long)n_train);
    printf("digit 0 (label %d): nearest training digits", (int)truth[0]);
    for (j = 0; j < K; j++) printf(" #%lld (label %d, %.3f)", (long long)ids[j], (int)train[ids[j]], scores[j]);
    printf("\nprecision@%d (C): %.2f%% (%lld/%lld)\n", K, 100.0 * (double)hits / (double)(n * K), (long long)hits,
           (long long)(n * K));
    printf("neighbours equal to Python's: %lld/%lld\n", (long long)same, (long long)(n * K));
    rc = same == n * K ? 0 : 1;

done:
    free(ids);
    free(scores);
    scnn_tensor_destroy(images);
    scnn_tensor_destroy(labels);
    scnn_tensor_destroy(features);
    scnn_tensor_destroy(train_labels);
    scnn_tensor_destroy(py_ids);
    scnn_index_destroy(index);
    scnn_model_destroy(model);
    return rc;
}
