/* run_model: open a model file by path and classify a data set with it, from C.
 *
 *   cc -std=c99 -IInclude examples/run_model.c -o run_model -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 *   ./run_model [MODEL.safetensors] [DATA.safetensors]
 *
 * MODEL (default build/lecture_cnn.safetensors) is a self-describing model file -- the
 * network and its weights, as Python's model.save or scnn_model_save writes it (see
 * docs/model-format.md) -- opened with scnn_model_open: no zoo name, no code for the
 * network. DATA (default build/lecture_digits_test.safetensors, written by
 * examples/lecture_cnn.py) holds "images" [N, C, H, W] (float32, prepared as for training),
 * "labels" [N] (class indices stored as float32) and, optionally, "predictions" [N]: the
 * classes Python predicted, to compare with.
 *
 * Prints what the file describes (name, inputs and outputs with their shapes, the layer
 * table of scnn_model_summary), the predicted class of the first images, the accuracy
 * ("accuracy: P% (C/N)"), the confusion matrix, and how many predictions agree with
 * Python's. Exit status 0 on success, 1 on any error or when a prediction differs from
 * Python's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "shape_text.h"

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "run_model: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

/* Labels stored as float32 to class indices (0 .. classes-1); 0 when one is not. */
static int to_classes(const scnn_tensor *t, int64_t n, int64_t classes, int32_t *out, const char *what) {
    const float *v = scnn_tensor_data(t);
    int64_t i;
    for (i = 0; i < n; i++) {
        if (!(v[i] >= 0 && v[i] < (float)classes) || v[i] != (float)(int32_t)v[i]) {
            fprintf(stderr, "run_model: %s %lld is %g; expected a class 0-%lld\n", what, (long long)i, (double)v[i],
                    (long long)classes - 1);
            return 0;
        }
        out[i] = (int32_t)v[i];
    }
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "build/lecture_cnn.safetensors";
    const char *data = argc > 2 ? argv[2] : "build/lecture_digits_test.safetensors";
    scnn_model *model = NULL;
    scnn_tensor *images = NULL, *labels = NULL, *python = NULL;
    int32_t *truth = NULL, *predicted = NULL, *theirs = NULL, rank = 0, i;
    int64_t shape[8], n, k, classes, correct = 0, agree = 0, *confusion = NULL, r, c;
    char text[128], *summary = NULL;
    int rc = 1;

    if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
        printf("usage: %s [MODEL.safetensors] [DATA.safetensors]\n", argv[0]);
        return 0;
    }
    /* The file is the whole model: graph and weights. */
    if (!check(scnn_model_open(path, &model), "scnn_model_open")) return 1;
    classes = scnn_model_num_classes(model);
    printf("model file %s: \"%s\", %lld parameters, %lld classes, %lld named nodes\n", path,
           scnn_model_get_name(model), (long long)scnn_model_num_parameters(model), (long long)classes,
           (long long)scnn_model_node_count(model));
    for (i = 0; i < scnn_model_input_count(model); i++) {
        if (!check(scnn_model_io_shape(model, 0, i, shape, 8, &rank), "scnn_model_io_shape")) goto done;
        printf("  input  %d \"%s\": %s\n", (int)i, scnn_model_input_name(model, i), shape_text(shape, rank, text, sizeof text));
    }
    for (i = 0; i < scnn_model_output_count(model); i++) {
        if (!check(scnn_model_io_shape(model, 1, i, shape, 8, &rank), "scnn_model_io_shape")) goto done;
        printf("  output %d \"%s\": %s\n", (int)i, scnn_model_output_name(model, i), shape_text(shape, rank, text, sizeof text));
    }
    if (!check(scnn_model_summary(model, NULL, &summary), "scnn_model_summary")) goto done;
    printf("%s", summary);

    if (!check(scnn_safetensors_read(data, "images", &images), "scnn_safetensors_read(images)")) goto done;
    if (!check(scnn_safetensors_read(data, "labels", &labels), "scnn_safetensors_read(labels)")) goto done;
    if (scnn_safetensors_read(data, "predictions", &python) != SCNN_STATUS_OK) python = NULL; /* optional */
    if (!check(scnn_tensor_shape(images, shape, 4), "scnn_tensor_shape")) goto done;
    n = shape[0];
    if (scnn_tensor_rank(labels) != 1 || scnn_tensor_numel(labels) != n ||
        (python && (scnn_tensor_rank(python) != 1 || scnn_tensor_numel(python) != n))) {
        fprintf(stderr, "run_model: %s: expected images [N, ...], labels [N] and predictions [N]\n", data);
        goto done;
    }
    printf("data %s: %lld images %s\n", data, (long long)n, shape_text(shape + 1, scnn_tensor_rank(images) - 1, text, sizeof text));
    truth = (int32_t *)malloc((size_t)n * sizeof *truth);
    predicted = (int32_t *)malloc((size_t)n * sizeof *predicted);
    theirs = (int32_t *)malloc((size_t)n * sizeof *theirs);
    confusion = (int64_t *)calloc((size_t)(classes * classes), sizeof *confusion);
    if (!truth || !predicted || !theirs || !confusion) {
        fprintf(stderr, "run_model: out of memory\n");
        goto done;
    }
    if (!to_classes(labels, n, classes, truth, "label")) goto done;
    if (python && !to_classes(python, n, classes, theirs, "Python's prediction")) goto done;

    /* Evaluation mode, argmax of the logits. */
    if (!check(scnn_model_predict(model, images, predicted, n), "scnn_model_predict")) goto done;
    for (k = 0; k < n; k++) {
        confusion[truth[k] * classes + predicted[k]]++;
        correct += predicted[k] == truth[k];
        agree += python && predicted[k] == theirs[k];
    }
    printf("predicted (first 20): ");
    for (k = 0; k < n && k < 20; k++) printf("%d", (int)predicted[k]);
    printf("\nlabels    (first 20): ");
    for (k = 0; k < n && k < 20; k++) printf("%d", (int)truth[k]);
    printf("\naccuracy: %.2f%% (%lld/%lld)\n", n > 0 ? 100.0 * (double)correct / (double)n : 0.0, (long long)correct,
           (long long)n);
    if (classes <= 20) {
        printf("confusion matrix (rows: true class, columns: predicted class)\n      ");
        for (c = 0; c < classes; c++) printf("%4lld", (long long)c);
        printf("\n");
        for (r = 0; r < classes; r++) {
            printf("  %2lld| ", (long long)r);
            for (c = 0; c < classes; c++) {
                int64_t v = confusion[r * classes + c];
                if (v == 0 && r != c)
                    printf("   .");
                else
                    printf("%4lld", (long long)v);
            }
            printf("\n");
        }
    }
    if (python) {
        printf("predictions equal to Python's: %lld/%lld\n", (long long)agree, (long long)n);
        if (agree != n) {
            fprintf(stderr, "run_model: %lld predictions differ from Python's\n", (long long)(n - agree));
            goto done;
        }
    }
    rc = 0;
done:
    scnn_string_free(summary);
    free(truth);
    free(predicted);
    free(theirs);
    free(confusion);
    scnn_tensor_destroy(images);
    scnn_tensor_destroy(labels);
    scnn_tensor_destroy(python);
    scnn_model_destroy(model);
    return rc;
}
