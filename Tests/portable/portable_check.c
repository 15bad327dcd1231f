/* portable_check: the portable libswiftcnn.so on the CPU it runs on (make check-portable
 * runs it under qemu-x86_64 with CPU models with and without AVX2).
 *
 *   portable_check [ISA]     a small forward of every kernel path -- im2col + GEMM,
 *                            Winograd, the small direct convolution, depthwise, linear
 *                            (GEMM and GEMV), max and average pooling, LeNet-5 and a small
 *                            residual graph -- each compared with the reference kernels;
 *                            with ISA (avx2, avx512), scnn_cpu_features() must name it.
 *   portable_check --none    the CPU has no AVX2: every function must fail cleanly with the
 *                            loader's message (generated calls of all of them, zeroed
 *                            arguments), and the version, ABI version, status names and
 *                            scnn_cpu_features() keep working.
 * Prints one line per check and "N passed, N failed"; exits 1 on any failure. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"

static int passed, failed;

static void check(int ok, char const *what) {
    if (ok) passed++;
    else failed++;
    printf("%s %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok) printf("     last error: %s\n", scnn_last_error());
}

/* ---- --none ------------------------------------------------------------------------- */

#include "loader_calls.c"

static int wrong_returns;

static void report_wrong(char const *name) {
    wrong_returns++;
    printf("FAIL %s did not return its failure value\n", name);
}

static int run_none(void) {
    char const *features = scnn_cpu_features();
    printf("cpu features: %s\n", features);
    check(strncmp(features, "none (cpu:", 10) == 0, "scnn_cpu_features() names no path");
    check(strstr(features, "needs an x86-64 CPU with AVX2 and FMA") != NULL, "scnn_cpu_features() says why");
    check(scnn_abi_version() == SCNN_ABI_VERSION, "scnn_abi_version() works");
    check(strchr(scnn_version(), '.') != NULL, "scnn_version() works");
    check(strcmp(scnn_status_string(SCNN_STATUS_UNSUPPORTED), "unsupported") == 0 &&
              strcmp(scnn_status_string(99), "unknown status") == 0,
          "scnn_status_string() works");
    check(strcmp(scnn_last_error(), "") == 0, "scnn_last_error() is empty before a failure");

    scnn_tensor *t = NULL;
    int64_t shape[2] = {2, 3};
    scnn_status s = scnn_tensor_create(shape, 2, &t);
    check(s == SCNN_STATUS_UNSUPPORTED && t == NULL, "scnn_tensor_create fails with UNSUPPORTED");
    check(strstr(scnn_last_error(), "needs an x86-64 CPU with AVX2 and FMA") != NULL,
          "scnn_last_error() gives the loader's message");
    printf("     message: %s\n", scnn_last_error());
    scnn_model *m = NULL;
    check(scnn_model_create("lenet5", 10, &m) == SCNN_STATUS_UNSUPPORTED && m == NULL,
          "scnn_model_create fails with UNSUPPORTED");
    check(scnn_model_count() == 0 && scnn_model_name(0) == NULL, "counts are 0, names NULL");
    check(scnn_model_is_training(NULL) == -1, "a -1-on-failure function returns -1");

    int calls = scnn_call_every_function(report_wrong);
    char what[128];
    snprintf(what, sizeof what, "all %d other functions return their failure value", calls);
    check(wrong_returns == 0 && calls > 100, what);
    return 0;
}

/* ---- kernel paths against the reference --------------------------------------------- */

static scnn_tensor *seeded(char const *name, int64_t a, int64_t b, int64_t c, int64_t d, int32_t rank) {
    int64_t shape[4] = {a, b, c, d};
    scnn_tensor *t = NULL;
    static uint64_t seed = 1;
    if (scnn_seeded_tensor(name, shape, rank, -1.0, 1.0, seed++, &t) != SCNN_STATUS_OK) return NULL;
    return t;
}

/* max |a - b| <= 1e-4 * max(1, max |b|), same element count. */
static int close_to(scnn_tensor const *a, scnn_tensor const *b, double *err) {
    *err = INFINITY;
    if (!a || !b || scnn_tensor_numel(a) != scnn_tensor_numel(b) || scnn_tensor_numel(a) == 0) return 0;
    float const *x = scnn_tensor_data(a), *y = scnn_tensor_data(b);
    double worst = 0, scale = 1;
    for (int64_t i = 0; i < scnn_tensor_numel(a); i++) {
        double d = fabs((double)x[i] - (double)y[i]);
        if (!(d <= worst)) worst = d; /* NaN too */
        if (fabs((double)y[i]) > scale) scale = fabs((double)y[i]);
    }
    *err = worst / scale;
    return worst <= 1e-4 * scale;
}

typedef scnn_status (*op_fn)(void *ctx, scnn_tensor **out);

/* Runs `op` with the optimized kernels, then the reference ones, and compares. */
static void against_reference(char const *what, op_fn op, void *ctx) {
    scnn_tensor *fast = NULL, *ref = NULL;
    scnn_set_reference_kernels(0);
    scnn_status s1 = op(ctx, &fast);
    scnn_set_reference_kernels(1);
    scnn_status s2 = op(ctx, &ref);
    scnn_set_reference_kernels(0);
    double err = 0;
    int ok = s1 == SCNN_STATUS_OK && s2 == SCNN_STATUS_OK && close_to(fast, ref, &err);
    char line[200];
    snprintf(line, sizeof line, "%s (relative error %.2g)", what, err);
    check(ok, line);
    scnn_tensor_destroy(fast);
    scnn_tensor_destroy(ref);
}

struct conv_case {
    scnn_tensor *x, *w, *b;
    int64_t stride[2], padding[4], dilation[2], groups;
};

static scnn_status run_conv(void *ctx, scnn_tensor **out) {
    struct conv_case *c = (struct conv_case *)ctx;
    return scnn_conv2d(c->x, c->w, c->b, c->stride, c->padding, c->dilation, c->groups, out);
}

static void conv(char const *what, int64_t n, int64_t ci, int64_t h, int64_t w, int64_t co, int64_t k,
                 int64_t stride, int64_t pad, int64_t groups) {
    struct conv_case c;
    c.x = seeded("x", n, ci, h, w, 4);
    c.w = seeded("w", co, ci / groups, k, k, 4);
    c.b = seeded("b", co, 0, 0, 0, 1);
    c.stride[0] = c.stride[1] = stride;
    c.padding[0] = c.padding[1] = c.padding[2] = c.padding[3] = pad;
    c.dilation[0] = c.dilation[1] = 1;
    c.groups = groups;
    against_reference(what, run_conv, &c);
    scnn_tensor_destroy(c.x);
    scnn_tensor_destroy(c.w);
    scnn_tensor_destroy(c.b);
}

struct linear_case { scnn_tensor *x, *w, *b; };

static scnn_status run_linear(void *ctx, scnn_tensor **out) {
    struct linear_case *c = (struct linear_case *)ctx;
    return scnn_linear(c->x, c->w, c->b, out);
}

static void linear(char const *what, int64_t n, int64_t in, int64_t outf) {
    struct linear_case c;
    c.x = seeded("x", n, in, 0, 0, 2);
    c.w = seeded("w", outf, in, 0, 0, 2);
    c.b = seeded("b", outf, 0, 0, 0, 1);
    against_reference(what, run_linear, &c);
    scnn_tensor_destroy(c.x);
    scnn_tensor_destroy(c.w);
    scnn_tensor_destroy(c.b);
}

struct pool_case { scnn_tensor *x; int avg; };

static scnn_status run_pool(void *ctx, scnn_tensor **out) {
    struct pool_case *c = (struct pool_case *)ctx;
    int64_t kernel[2] = {3, 3}, stride[2] = {2, 2}, padding[4] = {1, 1, 1, 1};
    if (c->avg) return scnn_avg_pool2d(c->x, kernel, stride, padding, 0, 1, out);
    return scnn_max_pool2d(c->x, kernel, stride, padding, 0, out);
}

struct model_case { scnn_model *m; scnn_tensor *x; };

static scnn_status run_model(void *ctx, scnn_tensor **out) {
    struct model_case *c = (struct model_case *)ctx;
    return scnn_model_forward_tensor(c->m, c->x, out);
}

/* input [8, 16, 16] -> stem conv 3x3 8->32 -> relu -> body conv 3x3 32->32 -> add -> relu
 * -> down conv 3x3 stride 2 32->64 -> max pool 2x2 -> flatten -> fc 1024 -> 10. */
static char const *const RESNETISH =
    "{\"version\":1,\"name\":\"resnetish\",\"input_shape\":[8,16,16],"
    "\"network\":{\"op\":\"graph\",\"name\":\"\",\"graph\":{\"inputs\":[\"input\"],\"nodes\":["
    "{\"name\":\"stem\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"attrs\":{\"in_channels\":8,"
    "\"out_channels\":32,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1]}},"
    "{\"name\":\"act\",\"op\":\"relu\",\"inputs\":[\"stem\"]},"
    "{\"name\":\"body\",\"op\":\"conv2d\",\"inputs\":[\"act\"],\"attrs\":{\"in_channels\":32,"
    "\"out_channels\":32,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1]}},"
    "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\",\"body\"]},"
    "{\"name\":\"act2\",\"op\":\"relu\",\"inputs\":[\"sum\"]},"
    "{\"name\":\"down\",\"op\":\"conv2d\",\"inputs\":[\"act2\"],\"attrs\":{\"in_channels\":32,"
    "\"out_channels\":64,\"kernel_shape\":[3,3],\"strides\":[2,2],\"pads\":[1,1,1,1]}},"
    "{\"name\":\"pool\",\"op\":\"max_pool2d\",\"inputs\":[\"down\"],\"attrs\":{\"kernel_shape\":[2,2]}},"
    "{\"name\":\"flat\",\"op\":\"flatten\",\"inputs\":[\"pool\"]},"
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"attrs\":{\"in_features\":1024,"
    "\"out_features\":10}}"
    "],\"outputs\":[\"fc\"]}}}";

static int run_paths(char const *isa) {
    char const *features = scnn_cpu_features();
    printf("cpu features: %s\n", features);
    if (isa) {
        size_t n = strlen(isa);
        check(strncmp(features, isa, n) == 0 && features[n] == ' ', "scnn_cpu_features() names the expected path");
    }
    conv("im2col + GEMM (1x1, 64 -> 64, 16x16)", 1, 64, 16, 16, 64, 1, 1, 0, 1);
    conv("im2col + GEMM (3x3 stride 2, 16 -> 32, 17x17)", 2, 16, 17, 17, 32, 3, 2, 1, 1);
    conv("Winograd (3x3, 64 -> 64, 48x48)", 1, 64, 48, 48, 64, 3, 1, 1, 1);
    conv("small direct conv (5x5, 1 -> 6, 32x32)", 1, 1, 32, 32, 6, 5, 1, 0, 1);
    conv("depthwise (3x3, 32 groups, 16x16)", 1, 32, 16, 16, 32, 3, 1, 1, 32);
    linear("linear GEMM (batch 8, 300 -> 70)", 8, 300, 70);
    linear("linear GEMV (batch 1, 1000 -> 130)", 1, 1000, 130);
    {
        struct pool_case c = {seeded("x", 2, 8, 15, 15, 4), 0};
        against_reference("max pooling (3x3 stride 2)", run_pool, &c);
        c.avg = 1;
        against_reference("average pooling (3x3 stride 2)", run_pool, &c);
        scnn_tensor_destroy(c.x);
    }
    {
        struct model_case c = {NULL, seeded("x", 2, 1, 32, 32, 4)};
        check(scnn_model_create("lenet5", 10, &c.m) == SCNN_STATUS_OK, "lenet5 created");
        if (c.m) against_reference("lenet5 forward (batch 2)", run_model, &c);
        scnn_model_destroy(c.m);
        scnn_tensor_destroy(c.x);
    }
    {
        struct model_case c = {NULL, seeded("x", 2, 8, 16, 16, 4)};
        check(scnn_model_from_json(RESNETISH, &c.m) == SCNN_STATUS_OK, "residual graph created");
        if (c.m) against_reference("residual graph forward (batch 2)", run_model, &c);
        scnn_model_destroy(c.m);
        scnn_tensor_destroy(c.x);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--none") == 0) run_none();
    else run_paths(argc > 1 ? argv[1] : NULL);
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
