/* Detection through the C ABI: scnn_model_detect against torchvision's detections
 * (Tests/fixtures/detection, made by scripts/make_detection_fixtures.py: see there for the
 * scaled heads and the score threshold), the caller-sized array, errors, COCO names. */
#include "harness.h"

#include <stdlib.h>

#define DET_FIXTURE "Tests/fixtures/detection/ssd300_vgg16.safetensors"
#define DET_FIXTURE_LITE "Tests/fixtures/detection/ssdlite320_mobilenet_v3_large.safetensors"

/* The tensor `name` of fixture `path` as floats (caller frees), its element count in *n; NULL when missing. */
static float *det_read_from(const char *path, const char *name, int64_t *n) {
    scnn_tensor *t = NULL;
    float *out = NULL;
    *n = 0;
    if (scnn_safetensors_read(path, name, &t) != SCNN_STATUS_OK) return NULL;
    *n = scnn_tensor_numel(t);
    out = (float *)malloc((size_t)(*n > 0 ? *n : 1) * sizeof(float));
    if (out) memcpy(out, scnn_tensor_data(t), (size_t)*n * sizeof(float));
    scnn_tensor_destroy(t);
    return out;
}

static float *det_read(const char *name, int64_t *n) { return det_read_from(DET_FIXTURE, name, n); }

/* Multiplies every parameter under `prefix` by `factor` (the fixture's head scaling). */
static void det_scale(scnn_model *m, const char *prefix, float factor) {
    int64_t i, k, count = scnn_model_parameter_count(m);
    for (i = 0; i < count; i++) {
        const char *name = scnn_model_parameter_name(m, i);
        scnn_tensor *t = NULL;
        float *d;
        if (name == NULL || strncmp(name, prefix, strlen(prefix)) != 0) continue;
        CHECK_OK(scnn_model_get_parameter(m, name, &t));
        if (t == NULL) continue;
        d = scnn_tensor_mutable_data(t);
        for (k = 0; k < scnn_tensor_numel(t); k++) d[k] *= factor;
        CHECK_OK(scnn_model_set_parameter(m, name, t));
        scnn_tensor_destroy(t);
    }
}

SCNN_TEST(test_coco_classes) {
    CHECK(scnn_coco_class_count() == 91);
    CHECK(strcmp(scnn_coco_class(0), "__background__") == 0);
    CHECK(strcmp(scnn_coco_class(1), "person") == 0);
    CHECK(strcmp(scnn_coco_class(12), "N/A") == 0);
    CHECK(strcmp(scnn_coco_class(90), "toothbrush") == 0);
    CHECK(scnn_coco_class(-1) == NULL);
    CHECK(scnn_coco_class(91) == NULL);
}

SCNN_TEST(test_detect_parity_and_capacity) {
    scnn_model *m = NULL;
    scnn_tensor *img = NULL;
    int64_t shape[3] = {3, 64, 80};
    int64_t nb = 0, ns = 0, nl = 0, count = -1, count2 = -1, i;
    float *boxes = det_read("boxes_0", &nb), *scores = det_read("scores_0", &ns), *labels = det_read("labels_0", &nl);
    scnn_detection *got = NULL, small[3];
    int order_ok = 1, score_ok = 1, box_ok = 1, isolated = 0;
    CHECK(boxes != NULL && scores != NULL && labels != NULL && nb == 4 * ns && nl == ns && ns > 20);
    CHECK_OK(scnn_model_create("ssd300_vgg16", 91, &m));
    CHECK_OK(scnn_seeded_tensor("image0", shape, 3, 0.0, 1.0, 0, &img));
    if (m && img && boxes && scores && labels && ns > 0) {
        det_scale(m, "head.classification_head.", 0.005f);
        det_scale(m, "head.regression_head.", 0.005f);
        got = (scnn_detection *)calloc((size_t)ns + 8, sizeof(scnn_detection));
        CHECK_OK(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, 0.05f, NAN, -1, got, ns + 8, &count));
        CHECK(count == ns);
        for (i = 0; i < ns && i < count; i++) {
            /* a near-tie (torch scores within 1e-5 of a neighbour) may swap: compare labels and
             * boxes only where the order is decided; scores everywhere (a swap moves < 1e-5) */
            int tied = (i > 0 && fabsf(scores[i - 1] - scores[i]) < 1e-5f) ||
                       (i + 1 < ns && fabsf(scores[i + 1] - scores[i]) < 1e-5f);
            if (fabsf(got[i].score - scores[i]) > 1e-4f) score_ok = 0;
            if (tied) continue;
            isolated++;
            if (got[i].label != (int32_t)labels[i]) order_ok = 0;
            if (fabsf(got[i].x1 - boxes[4 * i]) > 0.08f || fabsf(got[i].y1 - boxes[4 * i + 1]) > 0.08f ||
                fabsf(got[i].x2 - boxes[4 * i + 2]) > 0.08f || fabsf(got[i].y2 - boxes[4 * i + 3]) > 0.08f)
                box_ok = 0; /* 1e-3 of the image size (80) */
        }
        CHECK(order_ok);
        CHECK(score_ok);
        CHECK(box_ok);
        CHECK(isolated > ns / 2);
        /* a small array: the total in count, the first three written, status OK */
        CHECK_OK(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, 0.05f, -1.0f, -1, small, 3, &count2));
        CHECK(count2 == count);
        CHECK(memcmp(small, got, sizeof small) == 0);
        /* capacity 0 and no array: a count query */
        CHECK_OK(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, 0.05f, NAN, -1, NULL, 0, &count2));
        CHECK(count2 == count);
        /* max_detections caps the total */
        CHECK_OK(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, 0.05f, NAN, 4, got, ns, &count2));
        CHECK(count2 == 4);
        /* errors: *count is 0, nothing written */
        count2 = 7;
        CHECK_STATUS(scnn_model_detect(NULL, scnn_tensor_data(img), 3, 64, 80, NAN, NAN, -1, got, ns, &count2),
                     SCNN_STATUS_INVALID_ARGUMENT);
        CHECK(count2 == 0);
        CHECK_STATUS(scnn_model_detect(m, NULL, 3, 64, 80, NAN, NAN, -1, got, ns, &count2), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, NAN, NAN, -1, got, ns, NULL),
                     SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, NAN, NAN, -1, NULL, 5, &count2),
                     SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 3, 64, 80, NAN, NAN, -1, got, -1, &count2),
                     SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 1, 64, 80, NAN, NAN, -1, got, ns, &count2),
                     SCNN_STATUS_SHAPE_MISMATCH);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 3, 0, 80, NAN, NAN, -1, got, ns, &count2),
                     SCNN_STATUS_SHAPE_MISMATCH);
        CHECK_STATUS(scnn_model_detect(m, scnn_tensor_data(img), 3, INT64_MAX, INT64_MAX, NAN, NAN, -1, got, ns, &count2),
                     SCNN_STATUS_SHAPE_MISMATCH);
        CHECK(count2 == 0);
    }
    free(got);
    free(boxes);
    free(scores);
    free(labels);
    scnn_tensor_destroy(img);
    scnn_model_destroy(m);
}

SCNN_TEST(test_detect_needs_a_detector) {
    scnn_model *m = NULL;
    float image[32 * 32] = {0};
    int64_t count = 5;
    scnn_detection d[2];
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_STATUS(scnn_model_detect(m, image, 1, 32, 32, NAN, NAN, -1, d, 2, &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(count == 0);
    CHECK(strstr(scnn_last_error(), "not a detector") != NULL);
    scnn_model_destroy(m);
}

/* examples/ppm.h's box drawing (what examples/detect.c draws with): the outline at known
 * places, clipping, thickness, and nothing drawn for boxes outside the image or NaN. */
#include "../../examples/ppm.h"

SCNN_TEST(test_ppm_draw_rect) {
    static const uint8_t red[3] = {255, 0, 0};
    uint8_t pixels[10 * 8 * 3];
    ppm_image img;
    int64_t x, y;
    int ok = 1;
    (void)ppm_read;
    (void)ppm_write;
    memset(pixels, 0, sizeof pixels);
    img.width = 10;
    img.height = 8;
    img.channels = 3;
    img.pixels = pixels;
    /* a 1-pixel outline of columns 2..6, rows 1..4: 2·5 + 2·2 = 14 pixels */
    CHECK(ppm_draw_rect(&img, 2.7, 1.2, 6.9, 4.5, 1, red) == 14);
    for (y = 0; y < 8; y++) {
        for (x = 0; x < 10; x++) {
            int edge = x >= 2 && x <= 6 && y >= 1 && y <= 4 && (x == 2 || x == 6 || y == 1 || y == 4);
            const uint8_t *p = pixels + 3 * (y * 10 + x);
            if ((p[0] == 255 && p[1] == 0 && p[2] == 0) != edge || (!edge && p[0] != 0)) ok = 0;
        }
    }
    CHECK(ok);
    /* clipped to the image, 2 wide: a box past every edge outlines the border (10·8 − 6·4) */
    memset(pixels, 0, sizeof pixels);
    CHECK(ppm_draw_rect(&img, -5, -5, 50, 50, 2, red) == 80 - 24);
    CHECK(pixels[3 * (3 * 10 + 5)] == 0 && pixels[3 * (1 * 10 + 5)] == 255);
    /* corners given in any order */
    memset(pixels, 0, sizeof pixels);
    CHECK(ppm_draw_rect(&img, 6, 4, 2, 1, 1, red) == 14);
    CHECK(ppm_draw_rect(&img, 20, 20, 30, 30, 1, red) == 0);
    CHECK(ppm_draw_rect(&img, NAN, 0, 3, 3, 1, red) == 0);
    img.channels = 1;
    CHECK(ppm_draw_rect(&img, 0, 0, 3, 3, 1, red) == 0);
}

/* ssdlite320_mobilenet_v3_large against its fixture (heads × 0.2, threshold 0.07; see
 * scripts/make_detection_fixtures.py): same labels where the order is decided, scores
 * within 1e-4, boxes within 1e-3 of the image size (97×61: 0.097). */
SCNN_TEST(test_detect_parity_ssdlite) {
    scnn_model *m = NULL;
    scnn_tensor *img = NULL;
    int64_t shape[3] = {3, 97, 61};
    int64_t nb = 0, ns = 0, nl = 0, count = -1, i;
    float *boxes = det_read_from(DET_FIXTURE_LITE, "boxes_1", &nb);
    float *scores = det_read_from(DET_FIXTURE_LITE, "scores_1", &ns);
    float *labels = det_read_from(DET_FIXTURE_LITE, "labels_1", &nl);
    scnn_detection *got = NULL;
    int order_ok = 1, score_ok = 1, box_ok = 1, isolated = 0;
    CHECK(boxes != NULL && scores != NULL && labels != NULL && nb == 4 * ns && nl == ns && ns > 20);
    CHECK_OK(scnn_model_create("ssdlite320_mobilenet_v3_large", 91, &m));
    CHECK_OK(scnn_seeded_tensor("image1", shape, 3, 0.0, 1.0, 0, &img));
    if (m && img && boxes && scores && labels && ns > 0) {
        det_scale(m, "head.classification_head.", 0.2f);
        det_scale(m, "head.regression_head.", 0.2f);
        got = (scnn_detection *)calloc((size_t)ns, sizeof(scnn_detection));
        CHECK_OK(scnn_model_detect(m, scnn_tensor_data(img), 3, 97, 61, 0.07f, NAN, -1, got, ns, &count));
        CHECK(count == ns);
        for (i = 0; i < ns && i < count; i++) {
            int tied = (i > 0 && fabsf(scores[i - 1] - scores[i]) < 1e-5f) ||
                       (i + 1 < ns && fabsf(scores[i + 1] - scores[i]) < 1e-5f);
            if (fabsf(got[i].score - scores[i]) > 1e-4f) score_ok = 0;
            if (tied) continue;
            isolated++;
            if (got[i].label != (int32_t)labels[i]) order_ok = 0;
            if (fabsf(got[i].x1 - boxes[4 * i]) > 0.097f || fabsf(got[i].y1 - boxes[4 * i + 1]) > 0.097f ||
                fabsf(got[i].x2 - boxes[4 * i + 2]) > 0.097f || fabsf(got[i].y2 - boxes[4 * i + 3]) > 0.097f)
                box_ok = 0;
        }
        CHECK(order_ok);
        CHECK(score_ok);
        CHECK(box_ok);
        CHECK(isolated > ns / 2);
    }
    free(got);
    free(boxes);
    free(scores);
    free(labels);
    scnn_tensor_destroy(img);
    scnn_model_destroy(m);
}
