/* shapes: the lecture's shape arithmetic, pooling examples, receptive fields and weight
 * counts, computed by libswiftcnn.
 *
 *   cc -std=c99 -IInclude examples/shapes.c -o shapes -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 */
#include <stdio.h>
#include <string.h>

#include "swiftcnn.h"

static void output_size(int64_t n, int64_t f, int64_t stride, int64_t pad, int64_t dil, int32_t mode) {
    int64_t out = 0;
    const char *names[] = {"exact", "floor", "ceil"};
    scnn_status s = scnn_output_size(n, f, stride, pad, dil, mode, &out);
    printf("  N=%-3ld F=%ld stride=%ld pad=%ld dilation=%ld (%s): ", (long)n, (long)f, (long)stride, (long)pad,
           (long)dil, names[mode]);
    if (s == SCNN_STATUS_OK)
        printf("%ld x %ld\n", (long)out, (long)out);
    else
        printf("%s -- %s\n", scnn_status_string(s), scnn_last_error());
}

static void print_2d(const float *v, int rows, int cols) {
    int r, c;
    for (r = 0; r < rows; r++) {
        printf("    ");
        for (c = 0; c < cols; c++) printf("%7.2f", (double)v[r * cols + c]);
        printf("\n");
    }
}

static int pool(const char *title, const float *x, int max, int32_t ceil_mode) {
    int64_t shape[4] = {1, 1, 4, 4};
    int64_t k[2] = {2, 2};
    scnn_tensor *in = NULL, *out = NULL;
    scnn_status s = scnn_tensor_wrap(x, 16, shape, 4, &in);
    if (s == SCNN_STATUS_OK)
        s = max ? scnn_max_pool2d(in, k, NULL, NULL, ceil_mode, &out)
                : scnn_avg_pool2d(in, k, NULL, NULL, ceil_mode, 1, &out);
    printf("  %s\n", title);
    if (s == SCNN_STATUS_OK) print_2d(scnn_tensor_data(out), 2, 2);
    else printf("    error: %s\n", scnn_last_error());
    scnn_tensor_destroy(out);
    scnn_tensor_destroy(in);
    return s == SCNN_STATUS_OK;
}

static void receptive(const char *title, const int64_t *k, const int64_t *s, const int64_t *d, int32_t n) {
    int64_t size = 0, jump = 0;
    if (scnn_receptive_field(k, s, d, n, &size, &jump) == SCNN_STATUS_OK)
        printf("  %-44s %ld x %ld (jump %ld)\n", title, (long)size, (long)size, (long)jump);
    else
        printf("  %-44s error: %s\n", title, scnn_last_error());
}

int main(void) {
    const float counting[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    const float lecture[16] = {29, 15, 28, 184, 0, 100, 70, 38, 12, 12, 7, 2, 12, 12, 45, 6};
    /* The seed's average-pool map: the same but 31 in the top-left corner. */
    const float lecture_avg[16] = {31, 15, 28, 184, 0, 100, 70, 38, 12, 12, 7, 2, 12, 12, 45, 6};
    int64_t k3[3] = {3, 3, 3}, s1[3] = {1, 1, 1}, d2[3] = {1, 2, 4}, s2[3] = {2, 2, 2};
    int64_t mlp = 0, cnn = 0, part = 0;
    int64_t mlp_sizes[5] = {224 * 224, 1024, 2048, 4096, 1000};
    int64_t cnn_channels[4] = {1, 128, 256, 512};
    int i, ok = 1;

    printf("swiftcnn %s -- shapes from the lecture\n\n", scnn_version());
    printf("Output size (N + 2P - D(F-1) - 1) / stride + 1:\n");
    output_size(7, 3, 1, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(7, 3, 2, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_FLOOR);
    output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_CEIL);
    output_size(7, 3, 1, 1, 1, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(7, 3, 2, 1, 1, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(7, 3, 1, 0, 2, SCNN_OUTPUT_SIZE_MODE_EXACT);
    output_size(224, 11, 4, 2, 1, SCNN_OUTPUT_SIZE_MODE_FLOOR);

    printf("\nPooling, 2x2 windows, stride 2:\n");
    ok &= pool("max pool of 1..16 (lecture: 6 8 / 14 16)", counting, 1, 0);
    ok &= pool("average pool of 1..16 (lecture: 3.5 5.5 / 11.5 13.5)", counting, 0, 0);
    ok &= pool("max pool of the lecture's 29 15 28 184 map (100 184 / 12 45)", lecture, 1, 0);
    ok &= pool("average pool of the lecture's 31 15 28 184 map (lecture: 36 80 / 12 15)", lecture_avg, 0, 0);
    printf("    The lecture prints 36 for the first window, a misprint: (31 + 15 + 0 + 100) / 4 = 146 / 4 = 36.5.\n");

    printf("\nReceptive field:\n");
    receptive("one 3x3 conv", k3, s1, NULL, 1);
    receptive("two 3x3 convs (the lecture: 5x5)", k3, s1, NULL, 2);
    receptive("three 3x3 convs", k3, s1, NULL, 3);
    receptive("3x3 convs dilated 1, 2, 4", k3, s1, d2, 3);
    receptive("three 3x3 convs, stride 2", k3, s2, NULL, 3);

    printf("\nWeights (no biases), as the lecture counts them:\n");
    for (i = 0; i < 4 && ok; i++) {
        ok = scnn_linear_parameter_count(mlp_sizes[i], mlp_sizes[i + 1], 0, &part) == SCNN_STATUS_OK;
        mlp += part;
    }
    for (i = 0; i < 3 && ok; i++) {
        ok = scnn_conv2d_parameter_count(cnn_channels[i], cnn_channels[i + 1], 3, 3, 1, 0, &part) == SCNN_STATUS_OK;
        cnn += part;
    }
    ok = ok && scnn_linear_parameter_count(1024, 1000, 0, &part) == SCNN_STATUS_OK;
    cnn += part;
    if (!ok) {
        fprintf(stderr, "count failed: %s\n", scnn_last_error());
        return 1;
    }
    printf("  MLP 224x224 -> 1024 -> 2048 -> 4096 -> 1000:        %ld\n", (long)mlp);
    printf("  CNN 3x3 convs 1 -> 128 -> 256 -> 512, FC 1024 -> 1000: %ld\n", (long)cnn);
    printf("  the convolutional network needs %.1fx fewer weights\n", (double)mlp / (double)cnn);
    return ok ? 0 : 1;
}
