/* scnn_model_workspace_bytes: the planned activation + scratch memory of a forward pass. */
#include <stdint.h>

#include "harness.h"

/* LeNet-5 at batch 1 needs at least its largest live pair of activations (conv1's 6x28x28
 * output, read by the pooling that writes 6x14x14), and well under a MiB. */
SCNN_TEST(workspace_bytes_lenet5) {
    scnn_model *m = NULL;
    int64_t bytes = -1, bytes8 = -1, shape[4] = {8, 1, 32, 32};
    float input[1024], logits[10];
    int64_t one[4] = {1, 1, 32, 32};
    int i;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_workspace_bytes(m, NULL, &bytes));
    CHECK(bytes >= (int64_t)4 * (6 * 28 * 28 + 6 * 14 * 14));
    CHECK(bytes < (int64_t)1 << 20);
    CHECK_OK(scnn_model_workspace_bytes(m, shape, &bytes8));
    CHECK(bytes8 > bytes); /* batch 8 needs more */
    /* A forward after planning still works and gives the same result twice. */
    for (i = 0; i < 1024; i++) input[i] = (float)(i % 13) / 13.0f - 0.5f;
    CHECK_OK(scnn_model_forward(m, input, one, 4, logits, 10));
    {
        float again[10];
        CHECK_OK(scnn_model_forward(m, input, one, 4, again, 10));
        for (i = 0; i < 10; i++) CHECK(again[i] == logits[i]);
    }
    shape[2] = 28;
    scnn_test_status(scnn_model_workspace_bytes(m, shape, &bytes), SCNN_STATUS_SHAPE_MISMATCH, __FILE__, __LINE__, "28x28");
    CHECK(bytes == 0);
    scnn_test_status(scnn_model_workspace_bytes(m, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT, __FILE__, __LINE__, "NULL out");
    scnn_test_status(scnn_model_workspace_bytes(NULL, NULL, &bytes), SCNN_STATUS_INVALID_ARGUMENT, __FILE__, __LINE__, "NULL model");
    scnn_model_destroy(m);
}

/* ResNet-50 at 224x224: between its stem's live activation pair (conv1's 64x112x112 output,
 * read by the max pool that writes 64x56x56; the stem's im2col is generated into the GEMM's
 * packing buffers, not stored) and 64 MiB. */
SCNN_TEST(workspace_bytes_resnet50) {
    scnn_model *m = NULL;
    int64_t bytes = -1;
    CHECK_OK(scnn_model_create("resnet50", 1000, &m));
    CHECK_OK(scnn_model_workspace_bytes(m, NULL, &bytes));
    CHECK(bytes >= (int64_t)4 * (64 * 112 * 112 + 64 * 56 * 56));
    CHECK(bytes <= (int64_t)64 << 20);
    scnn_model_destroy(m);
}
