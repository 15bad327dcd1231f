/* classify_digits: serve a LeNet-5 trained by swiftcnn (examples/train_digits.py) from C.
 *
 *   cc -std=c99 -IInclude examples/classify_digits.c -o classify_digits -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 *   ./classify_digits [WEIGHTS.safetensors] [DIGITS.safetensors]
 *
 * WEIGHTS (default build/digits_lenet5.safetensors) holds lenet5's state dict (10 classes);
 * DIGITS (default build/digits_test.safetensors) the held-out digits: "images", float32
 * [N, 1, 32, 32], already standardized as for training, and "labels", [N] class indices
 * stored as float32 (safetensors F32). Both files are read through libswiftcnn.so
 * (scnn_model_load, scnn_safetensors_read). The program classifies every image with
 * scnn_model_forward (argmax of the logits, in batches of 64) and prints the accuracy and
 * the 10x10 confusion matrix (rows: true digit, columns: predicted digit).
 * Exit status 0 on success, 1 on any error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"

#define CLASSES 10
#define BATCH 64

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "classify_digits: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *weights = argc > 1 ? argv[1] : "build/digits_lenet5.safetensors";
    const char *data = argc > 2 ? argv[2] : "build/digits_test.safetensors";
    scnn_model *model = NULL;
    scnn_tensor *images = NULL, *labels = NULL;
    int64_t shape[4], label_shape[1], n, i, start, correct = 0;
    int64_t confusion[CLASSES][CLASSES];
    float logits[BATCH * CLASSES];
    const float *pixels, *truth;
    int64_t per_image;
    int rc = 1, r, c;

    memset(confusion, 0, sizeof confusion);
    if (!check(scnn_model_create("lenet5", CLASSES, &model), "scnn_model_create")) return 1;
    if (!check(scnn_model_load(model, weights), "scnn_model_load")) goto done;
    if (!check(scnn_safetensors_read(data, "images", &images), "scnn_safetensors_read(images)")) goto done;
    if (!check(scnn_safetensors_read(data, "labels", &labels), "scnn_safetensors_read(labels)")) goto done;
    if (scnn_tensor_rank(images) != 4 || scnn_tensor_rank(labels) != 1) {
        fprintf(stderr, "classify_digits: %s: expected images [N, 1, 32, 32] and labels [N]\n", data);
        goto done;
    }
    if (!check(scnn_tensor_shape(images, shape, 4), "scnn_tensor_shape")) goto done;
    if (!check(scnn_tensor_shape(labels, label_shape, 1), "scnn_tensor_shape")) goto done;
    n = shape[0];
    if (label_shape[0] != n) {
        fprintf(stderr, "classify_digits: %lld images but %lld labels\n", (long long)n, (long long)label_shape[0]);
        goto done;
    }
    pixels = scnn_tensor_data(images);
    truth = scnn_tensor_data(labels);
    per_image = shape[1] * shape[2] * shape[3];
    for (i = 0; i < n; i++) {
        if (!(truth[i] >= 0 && truth[i] < CLASSES) || truth[i] != (float)(int)truth[i]) {
            fprintf(stderr, "classify_digits: label %lld is %g; expected a digit 0-9\n", (long long)i, (double)truth[i]);
            goto done;
        }
    }
    printf("model: lenet5, %lld parameters, weights %s\n", (long long)scnn_model_num_parameters(model), weights);
    printf("held-out digits: %lld images [%lld, %lld, %lld] from %s\n", (long long)n, (long long)shape[1],
           (long long)shape[2], (long long)shape[3], data);

    for (start = 0; start < n; start += BATCH) {
        int64_t count = n - start < BATCH ? n - start : BATCH, k;
        int64_t batch_shape[4];
        batch_shape[0] = count;
        batch_shape[1] = shape[1];
        batch_shape[2] = shape[2];
        batch_shape[3] = shape[3];
        if (!check(scnn_model_forward(model, pixels + start * per_image, batch_shape, 4, logits, BATCH * CLASSES),
                   "scnn_model_forward"))
            goto done;
        for (k = 0; k < count; k++) {
            const float *row = logits + k * CLASSES;
            int best = 0, t = (int)truth[start + k];
            for (c = 1; c < CLASSES; c++)
                if (row[c] > row[best]) best = c;
            confusion[t][best]++;
            if (best == t) correct++;
        }
    }

    printf("accuracy: %.2f%% (%lld/%lld)\n", n > 0 ? 100.0 * (double)correct / (double)n : 0.0, (long long)correct,
           (long long)n);
    printf("confusion matrix (rows: true digit, columns: predicted digit)\n      ");
    for (c = 0; c < CLASSES; c++) printf("%4d", c);
    printf("\n");
    for (r = 0; r < CLASSES; r++) {
        printf("  %d | ", r);
        for (c = 0; c < CLASSES; c++) {
            if (confusion[r][c] == 0 && r != c)
                printf("   .");
            else
                printf("%4lld", (long long)confusion[r][c]);
        }
        printf("\n");
    }
    rc = 0;
done:
    scnn_tensor_destroy(images);
    scnn_tensor_destroy(labels);
    scnn_model_destroy(model);
    return rc;
}
