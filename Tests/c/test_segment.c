/* Segmentation through the C ABI (issue 12): scnn_model_segment / scnn_model_segment_batch
 * on the seeded fcn_resnet50 (the uint8 and float paths agree; labels are the argmax of the
 * model's own output, scores its softmax), argument errors, and the VOC labels. Parity with
 * torchvision is bindings/python/tests/test_segmentation.py's. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

SCNN_TEST(test_voc_classes) {
    CHECK(scnn_voc_class_count() == 21);
    CHECK(scnn_voc_class(0) && strcmp(scnn_voc_class(0), "background") == 0);
    CHECK(scnn_voc_class(15) && strcmp(scnn_voc_class(15), "person") == 0);
    CHECK(scnn_voc_class(20) && strcmp(scnn_voc_class(20), "tvmonitor") == 0);
    CHECK(scnn_voc_class(21) == NULL);
    CHECK(scnn_voc_class(-1) == NULL);
}

SCNN_TEST(test_model_segment) {
    enum { H = 11, W = 13, C = 21 };
    scnn_model *m = NULL;
    uint8_t pixels[H * W * 3];
    float images[3 * H * W], logits[C * H * W], scores[H * W], scores2[H * W];
    int32_t labels[H * W], labels2[H * W];
    int64_t shape[4] = {1, 3, H, W}, out_shape[4];
    int i, c, p, argmax_ok = 1, softmax_ok = 1;
    for (i = 0; i < H * W * 3; i++) pixels[i] = (uint8_t)((i * 37 + 11) % 256);
    for (p = 0; p < H * W; p++)
        for (c = 0; c < 3; c++) images[c * H * W + p] = (float)pixels[p * 3 + c] / 255.0f;
    CHECK_OK(scnn_model_create("fcn_resnet50", 21, &m));
    if (!m) return;
    CHECK_OK(scnn_model_output_shape(m, shape, 4, out_shape));
    CHECK(out_shape[0] == 1 && out_shape[1] == C && out_shape[2] == H && out_shape[3] == W);
    CHECK_OK(scnn_model_segment(m, pixels, W, H, 3, 0, labels, scores, H * W));
    CHECK_OK(scnn_model_segment_batch(m, images, shape, labels2, scores2, H * W));
    CHECK(memcmp(labels, labels2, sizeof labels) == 0);
    /* labels and scores from the model's own scores on the normalized image */
    {
        static const float mean[3] = {0.485f, 0.456f, 0.406f}, sd[3] = {0.229f, 0.224f, 0.225f};
        float x[3 * H * W];
        for (c = 0; c < 3; c++)
            for (p = 0; p < H * W; p++) x[c * H * W + p] = (images[c * H * W + p] - mean[c]) / sd[c];
        CHECK_OK(scnn_model_forward(m, x, shape, 4, logits, C * H * W));
    }
    for (p = 0; p < H * W; p++) {
        int best = 0;
        double sum = 0;
        for (c = 1; c < C; c++) if (logits[c * H * W + p] > logits[best * H * W + p]) best = c;
        for (c = 0; c < C; c++) sum += exp((double)logits[c * H * W + p] - (double)logits[best * H * W + p]);
        if (labels2[p] != best) argmax_ok = 0;
        if (fabs(scores2[p] - 1.0 / sum) > 1e-5) softmax_ok = 0;
    }
    CHECK(argmax_ok);
    CHECK(softmax_ok);
    /* scores may be NULL; labels may not; the capacity is checked before any work */
    CHECK_OK(scnn_model_segment(m, pixels, W, H, 3, 0, labels, NULL, H * W));
    CHECK_STATUS(scnn_model_segment(m, pixels, W, H, 3, 0, NULL, scores, H * W), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_segment(m, pixels, W, H, 3, 0, labels, scores, H * W - 1), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_segment(m, pixels, W, H, 4, 0, labels, scores, H * W), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_segment(m, pixels, W, H, 3, 2, labels, scores, H * W), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_segment(NULL, pixels, W, H, 3, 0, labels, scores, H * W), SCNN_STATUS_INVALID_ARGUMENT);
    shape[1] = 1;
    CHECK_STATUS(scnn_model_segment_batch(m, images, shape, labels, scores, H * W), SCNN_STATUS_SHAPE_MISMATCH);
    scnn_model_destroy(m);
}
