/* The model zoo through the C ABI: names, counts, shapes, forward, summary, weights,
 * state dicts, ImageNet labels, and bad input (NULLs, unknown names, wrong shapes,
 * missing / malformed / mismatched weight files). */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static const char *tmp_path(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "/tmp/swiftcnn-ctest-%ld-%s", (long)getpid(), name);
    return buf;
}

SCNN_TEST(test_model_names) {
    const char *const *names = scnn_model_names();
    int32_t n = scnn_model_count();
    int32_t i;
    int seen_resnet50 = 0;
    CHECK(n == 22);
    for (i = 0; i < n; i++) {
        CHECK(names[i] != NULL);
        CHECK(scnn_model_name(i) == names[i]);
        if (names[i] && strcmp(names[i], "resnet50") == 0) seen_resnet50 = 1;
    }
    CHECK(names[n] == NULL);
    CHECK(seen_resnet50);
    CHECK(strcmp(scnn_model_name(0), "lenet5") == 0);
    CHECK(scnn_model_name(-1) == NULL);
    CHECK(scnn_model_name(n) == NULL);
}

/* Creates every model of the zoo with 3 classes is too much memory for a test; the counts
 * of the small ones are checked by creating them, the rest through the summary test in
 * Swift and the Python tests. */
SCNN_TEST(test_model_create_and_counts) {
    scnn_model *m = NULL;
    int64_t classes = 0;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK(m != NULL);
    CHECK(scnn_model_num_parameters(m) == 61706);
    CHECK(scnn_model_num_classes(m) == 10);
    CHECK(strcmp(scnn_model_get_name(m), "lenet5") == 0);
    CHECK(scnn_model_parameter_count(m) == 10);
    scnn_model_destroy(m);

    CHECK_OK(scnn_model_create("lenet5_original", 10, &m));
    CHECK(scnn_model_num_parameters(m) == 60000);
    scnn_model_destroy(m);

    CHECK_OK(scnn_model_create("resnet18", 1000, &m));
    CHECK(scnn_model_num_parameters(m) == 11689512);
    /* 62 parameters + 40 running statistics; num_batches_tracked not listed */
    CHECK(scnn_model_parameter_count(m) == 102);
    CHECK(strcmp(scnn_model_parameter_name(m, 0), "conv1.weight") == 0);
    CHECK(strcmp(scnn_model_parameter_name(m, 4), "bn1.running_var") == 0);
    CHECK(scnn_model_parameter_is_buffer(m, 4) == 1);
    CHECK(scnn_model_parameter_is_buffer(m, 0) == 0);
    CHECK(scnn_model_parameter_is_buffer(m, 102) == -1);
    CHECK(scnn_model_parameter_name(m, 102) == NULL);
    CHECK(scnn_model_parameter_name(m, -1) == NULL);
    scnn_model_destroy(m);

    CHECK_OK(scnn_model_create("googlenet", 1000, &m));
    CHECK(scnn_model_num_parameters(m) == 6624904);
    scnn_model_destroy(m);

    CHECK_OK(scnn_model_default_num_classes("lenet5", &classes));
    CHECK(classes == 10);
    CHECK_OK(scnn_model_default_num_classes("vgg16", &classes));
    CHECK(classes == 1000);
    CHECK_STATUS(scnn_model_default_num_classes("vgg17", &classes), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_default_num_classes(NULL, &classes), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_default_num_classes("vgg16", NULL), SCNN_STATUS_INVALID_ARGUMENT);
}

SCNN_TEST(test_model_create_bad_input) {
    scnn_model *m = (scnn_model *)&m; /* must be reset to NULL on failure */
    CHECK_STATUS(scnn_model_create("resnet19", 1000, &m), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(m == NULL);
    CHECK(strstr(scnn_last_error(), "resnet18") != NULL); /* lists the names */
    CHECK_STATUS(scnn_model_create("lenet5", 0, &m), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "num_classes") != NULL);
    CHECK_STATUS(scnn_model_create("lenet5", -5, &m), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_create("lenet5", INT64_MAX, &m), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_create(NULL, 10, &m), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_create("lenet5", 10, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_create("", 10, &m), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_model_destroy(NULL);
    CHECK(scnn_model_num_parameters(NULL) == 0);
    CHECK(scnn_model_num_classes(NULL) == 0);
    CHECK(scnn_model_get_name(NULL) == NULL);
    CHECK(scnn_model_parameter_count(NULL) == 0);
    CHECK(scnn_model_parameter_name(NULL, 0) == NULL);
}

SCNN_TEST(test_model_shapes) {
    scnn_model *m = NULL;
    int64_t in[4] = {0, 0, 0, 0}, minhw[2] = {0, 0}, out[2] = {0, 0};
    int64_t good[4] = {7, 3, 64, 80}, tiny[4] = {1, 3, 10, 224}, gray[4] = {1, 1, 224, 224};
    CHECK_OK(scnn_model_create("googlenet", 12, &m));
    CHECK_OK(scnn_model_input_shape(m, in, minhw));
    CHECK(in[0] == 1 && in[1] == 3 && in[2] == 224 && in[3] == 224);
    CHECK(minhw[0] == 15 && minhw[1] == 15);
    CHECK_OK(scnn_model_input_shape(m, in, NULL));
    CHECK_OK(scnn_model_output_shape(m, good, 4, out));
    CHECK(out[0] == 7 && out[1] == 12);
    CHECK_STATUS(scnn_model_output_shape(m, tiny, 4, out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "H >= 15") != NULL);
    CHECK_STATUS(scnn_model_output_shape(m, gray, 4, out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "[N, 3, H, W]") != NULL);
    CHECK_STATUS(scnn_model_output_shape(m, good, 3, out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_output_shape(m, good, 0, out), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_output_shape(m, NULL, 4, out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_output_shape(m, good, 4, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_output_shape(NULL, good, 4, out), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_input_shape(NULL, in, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_input_shape(m, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_model_destroy(m);
}

/* lenet5 computed directly in double precision from the model's own parameters. */
static double lenet_conv_tanh(const float *in, int c, int h, const float *w, const float *b, int oc, int i, int j) {
    double s = b[oc];
    int ic, ki, kj;
    for (ic = 0; ic < c; ic++)
        for (ki = 0; ki < 5; ki++)
            for (kj = 0; kj < 5; kj++)
                s += (double)in[(ic * h + i + ki) * h + j + kj] * w[((oc * c + ic) * 5 + ki) * 5 + kj];
    return tanh(s);
}

static const float *param_data(scnn_model *m, const char *name, scnn_tensor **keep) {
    *keep = NULL;
    if (scnn_model_get_parameter(m, name, keep) != SCNN_STATUS_OK) return NULL;
    return scnn_tensor_data(*keep);
}

SCNN_TEST(test_model_forward_lenet) {
    scnn_model *m = NULL;
    int64_t shape[4] = {2, 1, 32, 32};
    float *x = (float *)malloc(2 * 1024 * sizeof(float));
    float y[20], big[40];
    float *a1 = (float *)malloc(6 * 28 * 28 * sizeof(float));
    float *p1 = (float *)malloc(6 * 14 * 14 * sizeof(float));
    float *a2 = (float *)malloc(16 * 10 * 10 * sizeof(float));
    float p2[16 * 5 * 5], a3[120], h1[84];
    scnn_tensor *t[10];
    const float *w0, *b0, *w3, *b3, *w6, *b6, *wc0, *bc0, *wc2, *bc2;
    scnn_tensor *xt = NULL, *yt = NULL;
    int n, c, i, j, k, q;
    double maxdiff = 0;
    for (i = 0; i < 2048; i++) x[i] = (float)sin(0.37 * i) * 0.9f;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_init_seeded(m, 42));
    CHECK_OK(scnn_model_forward(m, x, shape, 4, y, 20));
    w0 = param_data(m, "features.0.weight", &t[0]);
    b0 = param_data(m, "features.0.bias", &t[1]);
    w3 = param_data(m, "features.3.weight", &t[2]);
    b3 = param_data(m, "features.3.bias", &t[3]);
    w6 = param_data(m, "features.6.weight", &t[4]);
    b6 = param_data(m, "features.6.bias", &t[5]);
    wc0 = param_data(m, "classifier.0.weight", &t[6]);
    bc0 = param_data(m, "classifier.0.bias", &t[7]);
    wc2 = param_data(m, "classifier.2.weight", &t[8]);
    bc2 = param_data(m, "classifier.2.bias", &t[9]);
    CHECK(w0 && b0 && w3 && b3 && w6 && b6 && wc0 && bc0 && wc2 && bc2);
    if (w0 && b0 && w3 && b3 && w6 && b6 && wc0 && bc0 && wc2 && bc2) {
        for (n = 0; n < 2; n++) {
            const float *img = x + n * 1024;
            for (c = 0; c < 6; c++) for (i = 0; i < 28; i++) for (j = 0; j < 28; j++)
                a1[(c * 28 + i) * 28 + j] = (float)lenet_conv_tanh(img, 1, 32, w0, b0, c, i, j);
            for (c = 0; c < 6; c++) for (i = 0; i < 14; i++) for (j = 0; j < 14; j++) {
                q = (c * 28 + 2 * i) * 28 + 2 * j;
                p1[(c * 14 + i) * 14 + j] = (a1[q] + a1[q + 1] + a1[q + 28] + a1[q + 29]) / 4;
            }
            for (c = 0; c < 16; c++) for (i = 0; i < 10; i++) for (j = 0; j < 10; j++)
                a2[(c * 10 + i) * 10 + j] = (float)lenet_conv_tanh(p1, 6, 14, w3, b3, c, i, j);
            for (c = 0; c < 16; c++) for (i = 0; i < 5; i++) for (j = 0; j < 5; j++) {
                q = (c * 10 + 2 * i) * 10 + 2 * j;
                p2[(c * 5 + i) * 5 + j] = (a2[q] + a2[q + 1] + a2[q + 10] + a2[q + 11]) / 4;
            }
            for (c = 0; c < 120; c++) a3[c] = (float)lenet_conv_tanh(p2, 16, 5, w6, b6, c, 0, 0);
            for (i = 0; i < 84; i++) {
                double s = bc0[i];
                for (k = 0; k < 120; k++) s += (double)wc0[i * 120 + k] * a3[k];
                h1[i] = (float)tanh(s);
            }
            for (i = 0; i < 10; i++) {
                double s = bc2[i], d;
                for (k = 0; k < 84; k++) s += (double)wc2[i * 84 + k] * h1[k];
                d = fabs(s - y[n * 10 + i]);
                if (d > maxdiff) maxdiff = d;
            }
        }
    }
    CHECK(maxdiff < 1e-4);
    for (i = 0; i < 10; i++) scnn_tensor_destroy(t[i]);

    /* the tensor form agrees; capacity, shape and NULL errors */
    CHECK_OK(scnn_tensor_wrap(x, 2048, shape, 4, &xt));
    CHECK_OK(scnn_model_forward_tensor(m, xt, &yt));
    CHECK(scnn_tensor_numel(yt) == 20);
    CHECK(yt && scnn_test_max_diff(scnn_tensor_data(yt), y, 20) == 0.0f);
    scnn_tensor_destroy(yt);
    CHECK_STATUS(scnn_model_forward(m, x, shape, 4, big, 19), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "19") != NULL);
    shape[2] = 28;
    CHECK_STATUS(scnn_model_forward(m, x, shape, 4, big, 40), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "expected input [N, 1, 32, 32]") != NULL);
    shape[2] = 32;
    CHECK_STATUS(scnn_model_forward(m, x, shape, 3, big, 40), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_forward(m, NULL, shape, 4, big, 40), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_forward(m, x, NULL, 4, big, 40), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_forward(m, x, shape, 4, NULL, 40), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_forward(NULL, x, shape, 4, big, 40), SCNN_STATUS_INVALID_ARGUMENT);
    yt = (scnn_tensor *)&yt;
    CHECK_STATUS(scnn_model_forward_tensor(m, NULL, &yt), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(yt == NULL);
    CHECK_STATUS(scnn_model_forward_tensor(NULL, xt, &yt), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_forward_tensor(m, xt, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(xt);
    scnn_model_destroy(m);
    free(x); free(a1); free(p1); free(a2);
}

SCNN_TEST(test_model_summary) {
    scnn_model *m = NULL;
    char *s = NULL;
    int64_t shape[4] = {5, 1, 32, 32}, bad[4] = {5, 1, 30, 32};
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_summary(m, NULL, &s));
    CHECK(s != NULL && strstr(s, "Total params: 61,706") != NULL);
    CHECK(s != NULL && strstr(s, "features.0 (Conv2d)") != NULL);
    CHECK(s != NULL && strstr(s, "[1, 6, 28, 28]") != NULL);
    scnn_string_free(s);
    CHECK_OK(scnn_model_summary(m, shape, &s));
    CHECK(s != NULL && strstr(s, "[5, 6, 28, 28]") != NULL);
    scnn_string_free(s);
    s = (char *)&s;
    CHECK_STATUS(scnn_model_summary(m, bad, &s), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(s == NULL);
    CHECK_STATUS(scnn_model_summary(NULL, NULL, &s), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_summary(m, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_string_free(NULL);
    scnn_model_destroy(m);
}

SCNN_TEST(test_model_parameters) {
    scnn_model *m = NULL;
    scnn_tensor *t = NULL, *wrong = NULL;
    int64_t s6[1] = {6}, s7[1] = {7};
    float *d;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_get_parameter(m, "features.0.bias", &t));
    CHECK(scnn_tensor_numel(t) == 6);
    d = scnn_tensor_mutable_data(t);
    CHECK(d != NULL);
    if (d) d[0] = 123.0f;
    {   /* writing to the copy does not change the model */
        scnn_tensor *again = NULL;
        CHECK_OK(scnn_model_get_parameter(m, "features.0.bias", &again));
        CHECK(again && scnn_tensor_data(again)[0] != 123.0f);
        scnn_tensor_destroy(again);
    }
    CHECK_OK(scnn_model_set_parameter(m, "features.0.bias", t));
    {
        scnn_tensor *again = NULL;
        CHECK_OK(scnn_model_get_parameter(m, "features.0.bias", &again));
        CHECK(again && scnn_tensor_data(again)[0] == 123.0f);
        scnn_tensor_destroy(again);
    }
    CHECK_OK(scnn_tensor_create(s7, 1, &wrong));
    CHECK_STATUS(scnn_model_set_parameter(m, "features.0.bias", wrong), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "[6]") != NULL && strstr(scnn_last_error(), "[7]") != NULL);
    CHECK_STATUS(scnn_model_set_parameter(m, "features.0.gamma", t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "features.0.gamma") != NULL);
    CHECK_STATUS(scnn_model_set_parameter(m, NULL, t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_set_parameter(m, "features.0.bias", NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_get_parameter(m, "nope", &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);
    scnn_tensor_destroy(wrong);

    {   /* whole state dicts: strict and not */
        const char *names[10];
        const scnn_tensor *tensors[10];
        scnn_tensor *owned[10];
        int64_t i, n = scnn_model_parameter_count(m);
        CHECK(n == 10);
        for (i = 0; i < n && i < 10; i++) {
            names[i] = scnn_model_parameter_name(m, i);
            owned[i] = NULL;
            CHECK_OK(scnn_model_get_parameter(m, names[i], &owned[i]));
            tensors[i] = owned[i];
        }
        CHECK_OK(scnn_model_load_state_dict(m, names, tensors, 10, 1));
        CHECK_STATUS(scnn_model_load_state_dict(m, names, tensors, 9, 1), SCNN_STATUS_SHAPE_MISMATCH);
        CHECK(strstr(scnn_last_error(), "missing key") != NULL);
        CHECK_OK(scnn_model_load_state_dict(m, names, tensors, 9, 0));
        names[3] = "features.3.bias_typo";
        CHECK_STATUS(scnn_model_load_state_dict(m, names, tensors, 10, 1), SCNN_STATUS_SHAPE_MISMATCH);
        CHECK(strstr(scnn_last_error(), "features.3.bias_typo") != NULL);
        names[3] = names[2];
        CHECK_STATUS(scnn_model_load_state_dict(m, names, tensors, 10, 1), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_load_state_dict(m, NULL, tensors, 10, 1), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_load_state_dict(m, names, NULL, 10, 1), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_load_state_dict(m, names, tensors, -1, 1), SCNN_STATUS_INVALID_ARGUMENT);
        tensors[0] = NULL;
        CHECK_STATUS(scnn_model_load_state_dict(m, names, tensors, 10, 0), SCNN_STATUS_INVALID_ARGUMENT);
        for (i = 0; i < 10; i++) scnn_tensor_destroy(owned[i]);
    }
    (void)s6;
    scnn_tensor_destroy(t);
    scnn_model_destroy(m);
}

SCNN_TEST(test_model_save_load) {
    scnn_model *a = NULL, *b = NULL, *other = NULL;
    char path[256], junk[256], missing[256];
    int64_t shape[4] = {1, 1, 32, 32};
    float x[1024], ya[10], yb[10];
    FILE *f;
    int i;
    for (i = 0; i < 1024; i++) x[i] = (float)cos(0.1 * i);
    tmp_path("lenet.safetensors", path, sizeof path);
    tmp_path("junk.safetensors", junk, sizeof junk);
    tmp_path("missing.safetensors", missing, sizeof missing);
    CHECK_OK(scnn_model_create("lenet5", 10, &a));
    CHECK_OK(scnn_model_create("lenet5", 10, &b));
    CHECK_OK(scnn_model_init_seeded(a, 7));
    CHECK_OK(scnn_model_save(a, path));
    CHECK_OK(scnn_model_forward(a, x, shape, 4, ya, 10));
    CHECK_OK(scnn_model_forward(b, x, shape, 4, yb, 10));
    CHECK(scnn_test_max_diff(ya, yb, 10) > 0);
    CHECK_OK(scnn_model_load(b, path));
    CHECK_OK(scnn_model_forward(b, x, shape, 4, yb, 10));
    CHECK(scnn_test_max_diff(ya, yb, 10) == 0.0f);

    /* wrong keys (another model), wrong shapes (other class count), missing and malformed files */
    CHECK_OK(scnn_model_create("lenet5_original", 10, &other));
    CHECK_STATUS(scnn_model_load(other, path), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "key") != NULL);
    scnn_model_destroy(other);
    CHECK_OK(scnn_model_create("lenet5", 11, &other));
    CHECK_STATUS(scnn_model_load(other, path), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "classifier.2.weight") != NULL);
    CHECK(strstr(scnn_last_error(), "[11, 84]") != NULL && strstr(scnn_last_error(), "[10, 84]") != NULL);
    scnn_model_destroy(other);
    unlink(missing);
    CHECK_STATUS(scnn_model_load(b, missing), SCNN_STATUS_IO);
    CHECK(strstr(scnn_last_error(), missing) != NULL);
    f = fopen(junk, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a safetensors file at all", f);
        fclose(f);
    }
    CHECK_STATUS(scnn_model_load(b, junk), SCNN_STATUS_FORMAT);
    /* b is unchanged by the failures */
    CHECK_OK(scnn_model_forward(b, x, shape, 4, yb, 10));
    CHECK(scnn_test_max_diff(ya, yb, 10) == 0.0f);
    /* saving into a directory that does not exist fails and leaves the old file */
    CHECK_STATUS(scnn_model_save(a, "/nonexistent-dir-swiftcnn/x.safetensors"), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_model_load(NULL, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_load(b, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_save(NULL, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_save(a, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_init_seeded(NULL, 1), SCNN_STATUS_INVALID_ARGUMENT);
    unlink(path);
    unlink(junk);
    scnn_model_destroy(a);
    scnn_model_destroy(b);
}

SCNN_TEST(test_imagenet_labels) {
    CHECK(scnn_imagenet_class_count() == 1000);
    CHECK(strcmp(scnn_imagenet_class(0), "tench") == 0);
    CHECK(strcmp(scnn_imagenet_class(207), "golden retriever") == 0);
    CHECK(strcmp(scnn_imagenet_class(999), "toilet tissue") == 0);
    CHECK(scnn_imagenet_class(1000) == NULL);
    CHECK(scnn_imagenet_class(-1) == NULL);
}

/* ---- parity with PyTorch from the committed fixtures (Tests/fixtures/zoo, see its README) ---- */

/* Reads the F32 tensor `key` of a safetensors file into a new malloc'd buffer (count in *n);
 * NULL when the file or the tensor is missing. Enough of the format for the fixtures. */
static float *read_fixture_tensor(const char *path, const char *key, long *n) {
    FILE *f = fopen(path, "rb");
    unsigned char len8[8];
    unsigned long long hlen = 0;
    char *header = NULL, pattern[128];
    const char *p, *q;
    long begin, end;
    float *data = NULL;
    int i;
    *n = 0;
    if (!f) return NULL;
    if (fread(len8, 1, 8, f) != 8) goto done;
    for (i = 7; i >= 0; i--) hlen = (hlen << 8) | len8[i];
    if (hlen < 2 || hlen > 10000000ULL) goto done;
    header = (char *)malloc((size_t)hlen + 1);
    if (!header || fread(header, 1, (size_t)hlen, f) != (size_t)hlen) goto done;
    header[hlen] = 0;
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    p = strstr(header, pattern);
    if (!p) goto done;
    q = strstr(p, "\"data_offsets\"");
    if (!q || sscanf(strchr(q, '[') + 1, "%ld , %ld", &begin, &end) != 2) goto done;
    if (end <= begin || (end - begin) % 4 != 0) goto done;
    data = (float *)malloc((size_t)(end - begin));
    if (!data) goto done;
    if (fseek(f, (long)(8 + hlen) + begin, SEEK_SET) != 0 || fread(data, 1, (size_t)(end - begin), f) != (size_t)(end - begin)) {
        free(data);
        data = NULL;
        goto done;
    }
    *n = (end - begin) / 4;
done:
    free(header);
    fclose(f);
    return data;
}

static void check_parity(const char *name) {
    char path[512];
    long n = 0, i;
    float *want, *got;
    scnn_model *m = NULL;
    scnn_tensor *x = NULL;
    int64_t shape[4] = {2, 3, 224, 224};
    float scale = 0, diff;
    snprintf(path, sizeof path, "Tests/fixtures/zoo/%s.safetensors", name);
    want = read_fixture_tensor(path, "logits", &n);
    CHECK(want != NULL);
    if (!want) return;
    if (strncmp(name, "lenet", 5) == 0) { shape[1] = 1; shape[2] = shape[3] = 32; }
    if (strcmp(name, "alexnet_lrn") == 0) shape[2] = shape[3] = 227;
    CHECK_OK(scnn_model_create(name, n / 2, &m));
    CHECK_OK(scnn_seeded_tensor("input", shape, 4, -1.0, 1.0, 0, &x));
    got = (float *)malloc((size_t)n * sizeof(float));
    if (m && x && got) {
        CHECK_OK(scnn_model_forward(m, scnn_tensor_data(x), shape, 4, got, n));
        for (i = 0; i < n; i++) if (fabsf(want[i]) > scale) scale = fabsf(want[i]);
        diff = scnn_test_max_diff(got, want, n);
        if (!(diff <= 1e-4f * scale)) printf("  %s: max |diff| %g, max |logit| %g\n", name, diff, scale);
        CHECK(diff <= 1e-4f * scale);
    }
    free(got);
    free(want);
    scnn_tensor_destroy(x);
    scnn_model_destroy(m);
}

SCNN_TEST(test_model_parity_lenet) {
    check_parity("lenet5");
    check_parity("lenet5_original");
}

/* Every zoo model at its full input size: seconds each, so only in the C build (the C++
 * build runs the same code path through the LeNets above). */
SCNN_TEST(test_model_parity_all) {
    int32_t i;
    if (strcmp(SCNN_TEST_LANG, "c") != 0) return;
    for (i = 2; i < scnn_model_count(); i++) {
        /* detectors have detection fixtures instead (test_detect.c) */
        if (strncmp(scnn_model_name(i), "ssd", 3) != 0) check_parity(scnn_model_name(i));
    }
}

/* A real torch state_dict (torch's own init, safetensors.torch.save_file) loads and
 * reproduces torch's logits. */
SCNN_TEST(test_model_parity_lenet_torch_file) {
    long ni = 0, nl = 0;
    float *input = read_fixture_tensor("Tests/fixtures/zoo/lenet5_torch_expected.safetensors", "input", &ni);
    float *want = read_fixture_tensor("Tests/fixtures/zoo/lenet5_torch_expected.safetensors", "logits", &nl);
    scnn_model *m = NULL;
    int64_t shape[4] = {4, 1, 32, 32};
    float got[40], scale = 0;
    int i;
    CHECK(input != NULL && ni == 4096 && want != NULL && nl == 40);
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_load(m, "Tests/fixtures/zoo/lenet5_torch.safetensors"));
    if (input && want && ni == 4096 && nl == 40) {
        CHECK_OK(scnn_model_forward(m, input, shape, 4, got, 40));
        for (i = 0; i < 40; i++) if (fabsf(want[i]) > scale) scale = fabsf(want[i]);
        CHECK(scnn_test_max_diff(got, want, 40) <= 1e-4f * scale);
    }
    scnn_model_destroy(m);
    free(input);
    free(want);
}

SCNN_TEST(test_seeded_tensor) {
    int64_t shape[2] = {2, 3};
    scnn_tensor *t = NULL;
    union { float f; uint32_t u; } v;
    CHECK_OK(scnn_seeded_tensor("input", shape, 2, -1.0, 1.0, 0, &t));
    /* weightgen.py's self-test vector: "input" element 0 = 0xbf4deac2 */
    v.f = t ? scnn_tensor_data(t)[0] : 0.0f;
    CHECK(v.u == 0xbf4deac2u);
    scnn_tensor_destroy(t);
    CHECK_STATUS(scnn_seeded_tensor(NULL, shape, 2, -1.0, 1.0, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 2, 1.0, -1.0, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 2, -INFINITY, 1.0, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 0, -1.0, 1.0, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);
}
