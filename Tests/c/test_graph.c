/* The graph engine through the C ABI: a small residual graph from JSON (forward, JSON round
 * trip, save -> open and open_memory bitwise equal, io queries, node names, named outputs,
 * freeze / unfreeze and training with a frozen backbone, replace), a zoo model through its
 * JSON and a file, and bad input: malformed graphs (each error names the node), files from
 * the future, truncated and tampered bytes, weights files without a graph, NULL pointers. */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "harness.h"

/* input [3, 8, 8] -> stem (conv 3x3, 3->8) -> act (relu) -> body (conv 3x3, 8->8);
 * sum = act + body -> pool (max 2x2) -> flat -> fc (linear 128 -> 10). Only the attributes
 * without defaults are given (the writer adds the defaults). */
#define G_HEAD                                                                                  \
    "{\"version\":1,\"name\":\"res\",\"input_shape\":[3,8,8],"                                \
    "\"network\":{\"op\":\"graph\",\"name\":\"\",\"graph\":{\"inputs\":[\"input\"],\"nodes\":["
#define G_STEM                                                                                  \
    "{\"name\":\"stem\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"attrs\":{\"in_channels\":3," \
    "\"out_channels\":8,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1]}},"
#define G_ACT "{\"name\":\"act\",\"op\":\"relu\",\"inputs\":[\"stem\"]},"
#define G_BODY                                                                                  \
    "{\"name\":\"body\",\"op\":\"conv2d\",\"inputs\":[\"act\"],\"attrs\":{\"in_channels\":8,"   \
    "\"out_channels\":8,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1]}},"
#define G_SUM "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\",\"body\"]},"
#define G_POOL "{\"name\":\"pool\",\"op\":\"max_pool2d\",\"inputs\":[\"sum\"],\"attrs\":{\"kernel_shape\":[2,2]}},"
#define G_FLAT "{\"name\":\"flat\",\"op\":\"flatten\",\"inputs\":[\"pool\"]},"
#define G_FC                                                                                    \
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"attrs\":{\"in_features\":128,"  \
    "\"out_features\":10}}"
#define G_TAIL "],\"outputs\":[\"fc\"]}}}"

static const char *const RES_JSON = G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC G_TAIL;
/* The same nodes listed out of order (allowed: the graph is sorted). */
static const char *const RES_JSON_SHUFFLED = G_HEAD G_FLAT G_SUM G_STEM G_POOL G_BODY G_ACT G_FC G_TAIL;
/* The same graph with a second output, "sum". */
static const char *const RES2_JSON =
    G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC "],\"outputs\":[\"fc\",\"sum\"]}}}";

static const char *const RES_NODES[] = {"stem", "act", "body", "sum", "pool", "flat", "fc"};
static const char *const RES_PARAMS[] = {"stem.weight", "stem.bias", "body.weight",
                                         "body.bias",   "fc.weight", "fc.bias"};

static const char *graph_tmp(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "/tmp/swiftcnn-ctest-graph-%ld-%s", (long)getpid(), name);
    return buf;
}

/* The whole file at `path` in a new buffer (free it), its length in *size; NULL on error. */
static unsigned char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    *size = 0;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = (unsigned char *)malloc((size_t)n);
        if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else if (buf) {
            *size = n;
        }
    }
    fclose(f);
    return buf;
}

static int write_bytes(const char *path, const unsigned char *data, long size) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    ok = fwrite(data, 1, (size_t)size, f) == (size_t)size;
    return fclose(f) == 0 && ok;
}

/* The first occurrence of the `n` bytes of `needle` in data[0 ..< size], or -1. */
static long find_bytes(const unsigned char *data, long size, const char *needle) {
    long i, n = (long)strlen(needle);
    for (i = 0; i + n <= size; i++)
        if (memcmp(data + i, needle, (size_t)n) == 0) return i;
    return -1;
}

/* Whether this thread's last error mentions `needle`. */
static int error_has(const char *needle) {
    const char *e = scnn_last_error();
    if (strstr(e, needle)) return 1;
    printf("  (last error \"%s\" does not mention \"%s\")\n", e, needle);
    return 0;
}

/* A seeded input [n, 3, 8, 8]. */
static scnn_tensor *res_input(int64_t n, uint64_t seed) {
    int64_t shape[4];
    scnn_tensor *t = NULL;
    shape[0] = n;
    shape[1] = 3;
    shape[2] = 8;
    shape[3] = 8;
    if (scnn_seeded_tensor("input", shape, 4, -1, 1, seed, &t) != SCNN_STATUS_OK) return NULL;
    return t;
}

static scnn_tensor *forward(scnn_model *m, scnn_tensor *x) {
    scnn_tensor *y = NULL;
    if (scnn_model_forward_tensor(m, x, &y) != SCNN_STATUS_OK) return NULL;
    return y;
}

/* Same shape and the same bits. */
static int same_tensor(const scnn_tensor *a, const scnn_tensor *b) {
    int64_t sa[4] = {0, 0, 0, 0}, sb[4] = {0, 0, 0, 0};
    if (!a || !b || scnn_tensor_rank(a) != scnn_tensor_rank(b)) return 0;
    if (scnn_tensor_shape(a, sa, 4) != SCNN_STATUS_OK || scnn_tensor_shape(b, sb, 4) != SCNN_STATUS_OK) return 0;
    if (memcmp(sa, sb, sizeof sa) != 0) return 0;
    return memcmp(scnn_tensor_data(a), scnn_tensor_data(b), (size_t)scnn_tensor_numel(a) * sizeof(float)) == 0;
}

/* The tensor's rank and dimensions equal `rank` values of `dims`. */
static int has_shape(const scnn_tensor *t, int32_t rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
    int64_t s[4] = {0, 0, 0, 0}, want[4];
    int32_t i;
    want[0] = d0;
    want[1] = d1;
    want[2] = d2;
    want[3] = d3;
    if (!t || scnn_tensor_rank(t) != rank || scnn_tensor_shape(t, s, 4) != SCNN_STATUS_OK) return 0;
    for (i = 0; i < rank; i++)
        if (s[i] != want[i]) return 0;
    return 1;
}

/* A copy of state-dict entry `name` (NULL on error). */
static scnn_tensor *param(const scnn_model *m, const char *name) {
    scnn_tensor *t = NULL;
    if (scnn_model_get_parameter(m, name, &t) != SCNN_STATUS_OK) return NULL;
    return t;
}

static char *to_json(const scnn_model *m) {
    char *s = NULL;
    if (scnn_model_to_json(m, &s) != SCNN_STATUS_OK) return NULL;
    return s;
}

/* ---- building and running ---------------------------------------------------------------- */

SCNN_TEST(graph_from_json_and_forward) {
    scnn_model *m = NULL;
    scnn_tensor *x = res_input(2, 0), *y = NULL, *y2 = NULL;
    int64_t shape[4] = {2, 3, 8, 8}, i;
    float buf[20];
    int finite = 1;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK(m != NULL);
    CHECK(strcmp(scnn_model_get_name(m), "res") == 0);
    CHECK(scnn_model_num_classes(m) == 10);
    /* stem 8*3*9 + 8, body 8*8*9 + 8, fc 10*128 + 10 */
    CHECK(scnn_model_num_parameters(m) == 224 + 584 + 1290);
    CHECK(scnn_model_parameter_count(m) == 6);
    for (i = 0; i < 6 && i < scnn_model_parameter_count(m); i++)
        CHECK(strcmp(scnn_model_parameter_name(m, i), RES_PARAMS[i]) == 0);
    y = forward(m, x);
    CHECK(has_shape(y, 2, 2, 10, 0, 0));
    for (i = 0; y && i < 20; i++) finite = finite && isfinite(scnn_tensor_data(y)[i]);
    CHECK(finite);
    /* the buffer API gives the same logits */
    CHECK_OK(scnn_model_forward(m, scnn_tensor_data(x), shape, 4, buf, 20));
    CHECK(y && memcmp(buf, scnn_tensor_data(y), sizeof buf) == 0);
    /* nodes listed in another order make the same network (same names, same seeded weights) */
    {
        scnn_model *m2 = NULL, *m3 = NULL;
        char *a, *b;
        CHECK_OK(scnn_model_from_json(RES_JSON_SHUFFLED, &m2));
        y2 = forward(m2, x);
        CHECK(same_tensor(y, y2));
        CHECK(scnn_model_node_name(m2, 0) && strcmp(scnn_model_node_name(m2, 0), "flat") == 0); /* listing order kept */
        a = to_json(m2);
        CHECK(a && strstr(a, "\"nodes\":[{\"name\":\"flat\"") != NULL);
        CHECK_OK(scnn_model_from_json(a ? a : "", &m3));
        b = to_json(m3);
        CHECK(a && b && strcmp(a, b) == 0);
        scnn_string_free(a);
        scnn_string_free(b);
        scnn_model_destroy(m2);
        scnn_model_destroy(m3);
    }
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(y2);
    scnn_model_destroy(m);
}

SCNN_TEST(graph_json_round_trip) {
    scnn_model *m = NULL, *m2 = NULL;
    scnn_tensor *x = res_input(3, 1), *y = NULL, *y2 = NULL;
    char *a = NULL, *b = NULL;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_OK(scnn_model_to_json(m, &a));
    CHECK(a != NULL);
    /* the writer adds the defaults */
    CHECK(a && strstr(a, "\"strides\":[1,1]") != NULL);
    CHECK(a && strstr(a, "\"name\":\"res\"") != NULL);
    CHECK_OK(scnn_model_from_json(a, &m2));
    CHECK_OK(scnn_model_to_json(m2, &b));
    CHECK(a && b && strcmp(a, b) == 0);
    y = forward(m, x);
    y2 = forward(m2, x);
    CHECK(y && same_tensor(y, y2));
    scnn_string_free(a);
    scnn_string_free(b);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(y2);
    scnn_model_destroy(m);
    scnn_model_destroy(m2);
}

SCNN_TEST(graph_save_open_and_open_memory) {
    char path[256];
    scnn_model *m = NULL, *fresh = NULL, *opened = NULL, *mem = NULL;
    scnn_tensor *x = res_input(4, 2), *y = NULL, *yf = NULL, *yo = NULL, *ym = NULL;
    unsigned char *bytes = NULL;
    long size = 0;
    char *j = NULL, *jo = NULL, *jm = NULL;
    graph_tmp("res.safetensors", path, sizeof path);
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_OK(scnn_model_from_json(RES_JSON, &fresh));
    CHECK_OK(scnn_model_init_seeded(m, 7)); /* weights a fresh model from the JSON does not have */
    CHECK_OK(scnn_model_save(m, path));
    CHECK_OK(scnn_model_open(path, &opened));
    y = forward(m, x);
    yf = forward(fresh, x);
    yo = forward(opened, x);
    CHECK(y && yo && same_tensor(y, yo));
    CHECK(y && yf && !same_tensor(y, yf)); /* the weights came from the file */
    CHECK(scnn_model_parameter_count(opened) == 6);
    CHECK(opened && strcmp(scnn_model_get_name(opened), "res") == 0);
    j = to_json(m);
    jo = to_json(opened);
    CHECK(j && jo && strcmp(j, jo) == 0);
    /* the same bytes from memory */
    bytes = slurp(path, &size);
    CHECK(bytes != NULL && size > 8);
    if (bytes) {
        CHECK_OK(scnn_model_open_memory(bytes, size, &mem));
        memset(bytes, 0, (size_t)size); /* the model does not keep the caller's buffer */
        ym = forward(mem, x);
        CHECK(yo && ym && same_tensor(yo, ym));
        jm = to_json(mem);
        CHECK(jo && jm && strcmp(jo, jm) == 0);
    }
    free(bytes);
    unlink(path);
    scnn_string_free(j);
    scnn_string_free(jo);
    scnn_string_free(jm);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(yf);
    scnn_tensor_destroy(yo);
    scnn_tensor_destroy(ym);
    scnn_model_destroy(m);
    scnn_model_destroy(fresh);
    scnn_model_destroy(opened);
    scnn_model_destroy(mem);
}

SCNN_TEST(graph_io_queries) {
    scnn_model *m = NULL;
    int64_t shape[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int32_t rank = -1;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK(scnn_model_input_count(m) == 1);
    CHECK(scnn_model_output_count(m) == 1);
    CHECK(scnn_model_input_name(m, 0) && strcmp(scnn_model_input_name(m, 0), "input") == 0);
    CHECK(scnn_model_output_name(m, 0) && strcmp(scnn_model_output_name(m, 0), "fc") == 0);
    CHECK(scnn_model_input_name(m, 1) == NULL);
    CHECK(scnn_model_input_name(m, -1) == NULL);
    CHECK(scnn_model_output_name(m, 1) == NULL);
    CHECK(scnn_model_output_name(m, -1) == NULL);
    CHECK(scnn_model_input_count(NULL) == 0);
    CHECK(scnn_model_output_count(NULL) == 0);
    CHECK(scnn_model_input_name(NULL, 0) == NULL);
    CHECK(scnn_model_output_name(NULL, 0) == NULL);
    /* capacity 0 asks for the rank */
    CHECK_STATUS(scnn_model_io_shape(m, 0, 0, NULL, 0, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(rank == 4);
    rank = -1;
    CHECK_STATUS(scnn_model_io_shape(m, 0, 0, shape, 3, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(rank == 4);
    CHECK_OK(scnn_model_io_shape(m, 0, 0, shape, 8, &rank));
    CHECK(rank == 4 && shape[0] == 1 && shape[1] == 3 && shape[2] == 8 && shape[3] == 8);
    rank = -1;
    CHECK_STATUS(scnn_model_io_shape(m, 1, 0, NULL, 0, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(rank == 2);
    CHECK_OK(scnn_model_io_shape(m, 1, 0, shape, 2, &rank));
    CHECK(rank == 2 && shape[0] == 1 && shape[1] == 10);
    CHECK_OK(scnn_model_io_shape(m, 7, 0, shape, 2, &rank)); /* any non-zero is_output */
    CHECK(rank == 2 && shape[1] == 10);
    /* out of range, NULLs */
    CHECK_STATUS(scnn_model_io_shape(m, 0, 1, shape, 8, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(m, 1, 1, shape, 8, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(m, 0, -1, shape, 8, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(m, 0, 0, shape, 8, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(NULL, 0, 0, shape, 8, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(m, 0, 0, NULL, 4, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_io_shape(m, 0, 0, shape, -1, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    /* the older query agrees */
    CHECK_OK(scnn_model_input_shape(m, shape, NULL));
    CHECK(shape[0] == 1 && shape[1] == 3 && shape[2] == 8 && shape[3] == 8);
    scnn_model_destroy(m);
}

SCNN_TEST(graph_node_names) {
    scnn_model *m = NULL;
    int64_t i, n;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    n = scnn_model_node_count(m);
    CHECK(n == 7);
    for (i = 0; i < n && i < 7; i++) {
        const char *name = scnn_model_node_name(m, i);
        CHECK(name != NULL && strcmp(name, RES_NODES[i]) == 0);
    }
    CHECK(scnn_model_node_name(m, n) == NULL);
    CHECK(scnn_model_node_name(m, -1) == NULL);
    CHECK(scnn_model_node_count(NULL) == 0);
    CHECK(scnn_model_node_name(NULL, 0) == NULL);
    scnn_model_destroy(m);
}

SCNN_TEST(graph_forward_outputs) {
    static const char *const names[] = {"fc", "sum", "act", "body", "pool", "flat"};
    scnn_model *m = NULL;
    scnn_tensor *x = res_input(2, 3), *y = NULL, *outs[6] = {NULL, NULL, NULL, NULL, NULL, NULL};
    int64_t i, n = 2 * 8 * 8 * 8;
    int ok_sum = 1, ok_relu = 1;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    y = forward(m, x);
    CHECK_OK(scnn_model_forward_outputs(m, x, 6, names, outs));
    /* the last node is the model's output (op by op vs the compiled plan: equal up to rounding) */
    CHECK(has_shape(outs[0], 2, 2, 10, 0, 0));
    CHECK(y && outs[0] && scnn_test_max_diff(scnn_tensor_data(y), scnn_tensor_data(outs[0]), 20) <= 1e-5f);
    CHECK(has_shape(outs[1], 4, 2, 8, 8, 8));
    CHECK(has_shape(outs[2], 4, 2, 8, 8, 8));
    CHECK(has_shape(outs[3], 4, 2, 8, 8, 8));
    CHECK(has_shape(outs[4], 4, 2, 8, 4, 4));
    CHECK(has_shape(outs[5], 2, 2, 128, 0, 0));
    if (outs[1] && outs[2] && outs[3]) {
        const float *s = scnn_tensor_data(outs[1]), *a = scnn_tensor_data(outs[2]), *b = scnn_tensor_data(outs[3]);
        for (i = 0; i < n; i++) {
            ok_sum = ok_sum && s[i] == a[i] + b[i]; /* the residual connection */
            ok_relu = ok_relu && a[i] >= 0;
        }
    }
    CHECK(ok_sum);
    CHECK(ok_relu);
    /* flat is pool flattened */
    CHECK(outs[4] && outs[5] && memcmp(scnn_tensor_data(outs[4]), scnn_tensor_data(outs[5]), 256 * sizeof(float)) == 0);
    for (i = 0; i < 6; i++) scnn_tensor_destroy(outs[i]);
    /* one name, given twice */
    {
        static const char *const twice[] = {"sum", "sum"};
        CHECK_OK(scnn_model_forward_outputs(m, x, 2, twice, outs));
        CHECK(outs[0] && same_tensor(outs[0], outs[1]));
        scnn_tensor_destroy(outs[0]);
        scnn_tensor_destroy(outs[1]);
    }
    /* errors: every out is NULL */
    {
        static const char *const bad[] = {"sum", "no_such_node"};
        static const char *const with_null[] = {"sum", NULL};
        scnn_tensor *wrong = NULL;
        int64_t wrong_shape[4] = {1, 4, 8, 8};
        outs[0] = outs[1] = NULL;
        CHECK_STATUS(scnn_model_forward_outputs(m, x, 2, bad, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK(error_has("no_such_node"));
        CHECK(outs[0] == NULL && outs[1] == NULL);
        CHECK_STATUS(scnn_model_forward_outputs(m, x, 2, with_null, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK(outs[0] == NULL && outs[1] == NULL);
        CHECK_STATUS(scnn_model_forward_outputs(m, x, 0, names, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_forward_outputs(m, x, -1, names, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_forward_outputs(m, x, 1, NULL, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_forward_outputs(m, x, 1, names, NULL), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_forward_outputs(m, NULL, 1, names, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_STATUS(scnn_model_forward_outputs(NULL, x, 1, names, outs), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK_OK(scnn_seeded_tensor("input", wrong_shape, 4, -1, 1, 0, &wrong));
        CHECK_STATUS(scnn_model_forward_outputs(m, wrong, 1, names, outs), SCNN_STATUS_SHAPE_MISMATCH);
        CHECK(outs[0] == NULL);
        scnn_tensor_destroy(wrong);
    }
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_model_destroy(m);
}

/* A root graph with two outputs: forward gives the first, the second is a named node. */
SCNN_TEST(graph_two_outputs) {
    static const char *const names[] = {"sum", "fc"};
    scnn_model *m = NULL, *single = NULL;
    scnn_tensor *x = res_input(2, 4), *y = NULL, *ys = NULL, *outs[2] = {NULL, NULL};
    int64_t shape[4] = {0, 0, 0, 0};
    int32_t rank = -1;
    CHECK_OK(scnn_model_from_json(RES2_JSON, &m));
    CHECK_OK(scnn_model_from_json(RES_JSON, &single));
    CHECK(scnn_model_output_count(m) == 2);
    CHECK(scnn_model_output_name(m, 0) && strcmp(scnn_model_output_name(m, 0), "fc") == 0);
    CHECK(scnn_model_output_name(m, 1) && strcmp(scnn_model_output_name(m, 1), "sum") == 0);
    CHECK(scnn_model_output_name(m, 2) == NULL);
    CHECK_OK(scnn_model_io_shape(m, 1, 0, shape, 4, &rank));
    CHECK(rank == 2 && shape[0] == 1 && shape[1] == 10);
    CHECK_OK(scnn_model_io_shape(m, 1, 1, shape, 4, &rank));
    CHECK(rank == 4 && shape[0] == 1 && shape[1] == 8 && shape[2] == 8 && shape[3] == 8);
    CHECK(scnn_model_num_classes(m) == 10);
    y = forward(m, x);
    ys = forward(single, x);
    CHECK(y && ys && same_tensor(y, ys));
    CHECK_OK(scnn_model_forward_outputs(m, x, 2, names, outs));
    CHECK(has_shape(outs[0], 4, 2, 8, 8, 8));
    CHECK(has_shape(outs[1], 2, 2, 10, 0, 0));
    scnn_tensor_destroy(outs[0]);
    scnn_tensor_destroy(outs[1]);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(ys);
    scnn_model_destroy(m);
    scnn_model_destroy(single);
}

/* ---- fine-tuning --------------------------------------------------------------------------- */

SCNN_TEST(graph_freeze_unfreeze) {
    scnn_model *m = NULL;
    int64_t count = -1;
    size_t i;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    for (i = 0; i < 6; i++) CHECK(scnn_model_is_frozen(m, RES_PARAMS[i]) == 0);
    CHECK_OK(scnn_model_freeze(m, "stem", &count));
    CHECK(count == 2);
    CHECK(scnn_model_is_frozen(m, "stem.weight") == 1);
    CHECK(scnn_model_is_frozen(m, "stem.bias") == 1);
    CHECK(scnn_model_is_frozen(m, "body.weight") == 0);
    CHECK(scnn_model_is_frozen(m, "fc.weight") == 0);
    CHECK_OK(scnn_model_freeze(m, "body.weight", &count)); /* a full parameter name */
    CHECK(count == 1);
    CHECK(scnn_model_is_frozen(m, "body.weight") == 1);
    CHECK(scnn_model_is_frozen(m, "body.bias") == 0);
    CHECK_OK(scnn_model_freeze(m, "", &count)); /* everything */
    CHECK(count == 6);
    for (i = 0; i < 6; i++) CHECK(scnn_model_is_frozen(m, RES_PARAMS[i]) == 1);
    CHECK_OK(scnn_model_unfreeze(m, "fc", &count));
    CHECK(count == 2);
    CHECK(scnn_model_is_frozen(m, "fc.weight") == 0);
    CHECK(scnn_model_is_frozen(m, "stem.weight") == 1);
    CHECK_OK(scnn_model_unfreeze(m, "", NULL)); /* count not wanted */
    for (i = 0; i < 6; i++) CHECK(scnn_model_is_frozen(m, RES_PARAMS[i]) == 0);
    /* a prefix is a whole path component: "st" is not "stem" */
    CHECK_STATUS(scnn_model_freeze(m, "st", &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_freeze(m, "nothing_here", &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(error_has("nothing_here"));
    CHECK_STATUS(scnn_model_unfreeze(m, "nothing_here", &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_freeze(NULL, "stem", &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_freeze(m, NULL, &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_unfreeze(NULL, "", &count), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_unfreeze(m, NULL, &count), SCNN_STATUS_INVALID_ARGUMENT);
    for (i = 0; i < 6; i++) CHECK(scnn_model_is_frozen(m, RES_PARAMS[i]) == 0);
    CHECK(scnn_model_is_frozen(m, "no.such.weight") == 0);
    CHECK(scnn_model_is_frozen(m, NULL) == 0);
    CHECK(scnn_model_is_frozen(NULL, "stem.weight") == 0);
    scnn_model_destroy(m);
}

/* Training with a frozen backbone changes only the unfrozen parameters. */
SCNN_TEST(graph_train_frozen_backbone) {
    scnn_model *m = NULL;
    scnn_optimizer *opt = NULL;
    scnn_tensor *x = res_input(8, 5), *before[6], *after[6];
    int32_t labels[8];
    int64_t count = 0;
    float loss = -1, first = -1;
    int step;
    size_t i;
    for (i = 0; i < 8; i++) labels[i] = (int32_t)(i % 10);
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_OK(scnn_model_freeze(m, "stem", &count));
    CHECK_OK(scnn_model_freeze(m, "body", &count));
    for (i = 0; i < 6; i++) before[i] = param(m, RES_PARAMS[i]);
    CHECK_OK(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0.9f, 0, 1e-3f, 0.9f, 0.999f, 1e-8f, &opt));
    for (step = 0; step < 5; step++) {
        CHECK_OK(scnn_model_train_step(m, opt, x, labels, 8, &loss));
        if (step == 0) first = loss;
    }
    CHECK(isfinite(loss) && loss < first); /* the head learns */
    for (i = 0; i < 6; i++) after[i] = param(m, RES_PARAMS[i]);
    CHECK(same_tensor(before[0], after[0])); /* stem.weight */
    CHECK(same_tensor(before[1], after[1])); /* stem.bias */
    CHECK(same_tensor(before[2], after[2])); /* body.weight */
    CHECK(same_tensor(before[3], after[3])); /* body.bias */
    CHECK(before[4] && after[4] && !same_tensor(before[4], after[4])); /* fc.weight */
    CHECK(before[5] && after[5] && !same_tensor(before[5], after[5])); /* fc.bias */
    /* unfrozen again, the backbone trains too */
    for (i = 0; i < 6; i++) scnn_tensor_destroy(after[i]);
    CHECK_OK(scnn_model_unfreeze(m, "", &count));
    CHECK(count == 6);
    CHECK_OK(scnn_model_train_step(m, opt, x, labels, 8, &loss));
    for (i = 0; i < 6; i++) after[i] = param(m, RES_PARAMS[i]);
    CHECK(before[0] && after[0] && !same_tensor(before[0], after[0]));
    CHECK(before[2] && after[2] && !same_tensor(before[2], after[2]));
    for (i = 0; i < 6; i++) {
        scnn_tensor_destroy(before[i]);
        scnn_tensor_destroy(after[i]);
    }
    scnn_optimizer_destroy(opt);
    scnn_tensor_destroy(x);
    scnn_model_destroy(m);
}

SCNN_TEST(graph_replace) {
    static const char *const fc4 =
        "{\"name\":\"fc\",\"op\":\"linear\",\"attrs\":{\"in_features\":128,\"out_features\":4}}";
    static const char *const fc_wrong =
        "{\"name\":\"fc\",\"op\":\"linear\",\"attrs\":{\"in_features\":100,\"out_features\":4}}";
    scnn_model *m = NULL;
    scnn_tensor *x = res_input(2, 6), *y = NULL, *y2 = NULL, *stem0 = NULL, *stem1 = NULL, *fcw = NULL;
    int64_t shape[4] = {0, 0, 0, 0}, in_shape[4] = {2, 3, 8, 8}, out_shape[2] = {0, 0};
    int32_t rank = 0;
    char *j = NULL;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_OK(scnn_model_init_seeded(m, 11));
    stem0 = param(m, "stem.weight");
    CHECK_OK(scnn_model_replace(m, "fc", fc4));
    CHECK(scnn_model_num_classes(m) == 4);
    CHECK_OK(scnn_model_io_shape(m, 1, 0, shape, 4, &rank));
    CHECK(rank == 2 && shape[0] == 1 && shape[1] == 4);
    CHECK_OK(scnn_model_output_shape(m, in_shape, 4, out_shape));
    CHECK(out_shape[0] == 2 && out_shape[1] == 4);
    y = forward(m, x);
    CHECK(has_shape(y, 2, 2, 4, 0, 0));
    stem1 = param(m, "stem.weight");
    CHECK(stem0 && stem1 && same_tensor(stem0, stem1)); /* the other weights are kept */
    fcw = param(m, "fc.weight");
    CHECK(has_shape(fcw, 2, 4, 128, 0, 0));
    CHECK(scnn_model_node_count(m) == 7);
    CHECK(scnn_model_node_name(m, 6) && strcmp(scnn_model_node_name(m, 6), "fc") == 0);
    j = to_json(m);
    CHECK(j && strstr(j, "\"out_features\":4") != NULL);
    scnn_string_free(j);
    /* failures leave the model as it was */
    CHECK_STATUS(scnn_model_replace(m, "fc", fc_wrong), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(error_has("fc"));
    CHECK_STATUS(scnn_model_replace(m, "no_such_node", fc4), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(error_has("no_such_node"));
    CHECK_STATUS(scnn_model_replace(m, "fc", "{\"name\":\"fc\",\"op\":\"linear\""), SCNN_STATUS_FORMAT);
    CHECK_STATUS(scnn_model_replace(m, "fc", "{\"name\":\"fc\",\"op\":\"no_such_op\"}"), SCNN_STATUS_FORMAT);
    CHECK(error_has("no_such_op"));
    CHECK_STATUS(scnn_model_replace(NULL, "fc", fc4), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_replace(m, NULL, fc4), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_replace(m, "fc", NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_model_num_classes(m) == 4);
    y2 = forward(m, x);
    CHECK(y && y2 && same_tensor(y, y2));
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(y2);
    scnn_tensor_destroy(stem0);
    scnn_tensor_destroy(stem1);
    scnn_tensor_destroy(fcw);
    scnn_model_destroy(m);
}

/* ---- the zoo through JSON and files ------------------------------------------------------ */

SCNN_TEST(graph_zoo_lenet5_json_and_file) {
    char path[256];
    scnn_model *zoo = NULL, *from_json = NULL, *opened = NULL;
    scnn_tensor *x = NULL, *y = NULL, *yj = NULL, *yo = NULL;
    int64_t shape[4] = {3, 1, 32, 32};
    char *a = NULL, *b = NULL;
    graph_tmp("lenet5.safetensors", path, sizeof path);
    CHECK_OK(scnn_seeded_tensor("input", shape, 4, -1, 1, 0, &x));
    CHECK_OK(scnn_model_create("lenet5", 10, &zoo));
    CHECK_OK(scnn_model_to_json(zoo, &a));
    CHECK(a && strstr(a, "\"version\":1") != NULL);
    CHECK_OK(scnn_model_from_json(a, &from_json));
    CHECK_OK(scnn_model_to_json(from_json, &b));
    CHECK(a && b && strcmp(a, b) == 0);
    CHECK(scnn_model_parameter_count(from_json) == scnn_model_parameter_count(zoo));
    CHECK(scnn_model_num_parameters(from_json) == scnn_model_num_parameters(zoo));
    y = forward(zoo, x);
    yj = forward(from_json, x);
    CHECK(y && yj && same_tensor(y, yj)); /* the same names, so the same seeded weights */
    CHECK_OK(scnn_model_init_seeded(zoo, 3));
    scnn_tensor_destroy(y);
    y = forward(zoo, x);
    CHECK_OK(scnn_model_save(zoo, path));
    CHECK_OK(scnn_model_open(path, &opened));
    yo = forward(opened, x);
    CHECK(y && yo && same_tensor(y, yo));
    /* and the weights load into a zoo model as before */
    CHECK_OK(scnn_model_load(from_json, path));
    scnn_tensor_destroy(yj);
    yj = forward(from_json, x);
    CHECK(y && yj && same_tensor(y, yj));
    unlink(path);
    scnn_string_free(a);
    scnn_string_free(b);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(yj);
    scnn_tensor_destroy(yo);
    scnn_model_destroy(zoo);
    scnn_model_destroy(from_json);
    scnn_model_destroy(opened);
}

/* ---- bad graphs -------------------------------------------------------------------------- */

/* from_json(json) fails with `expected`, the message names `needle`, and *out stays NULL. */
static void check_bad_json(const char *json, scnn_status expected, const char *needle, int line) {
    scnn_model *m = NULL;
    scnn_status s = scnn_model_from_json(json, &m);
    scnn_test_status(s, expected, __FILE__, line, "scnn_model_from_json(bad graph)");
    if (s == expected && needle) scnn_test_result(error_has(needle), __FILE__, line, needle);
    scnn_test_result(m == NULL, __FILE__, line, "*out is NULL on failure");
    scnn_model_destroy(m);
}

#define G_FC_FROM(src, in) \
    "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"" src "\"],\"attrs\":{\"in_features\":" in ",\"out_features\":10}}"

SCNN_TEST(graph_bad_json) {
    /* a cycle: stem reads fc */
    check_bad_json(G_HEAD
                   "{\"name\":\"stem\",\"op\":\"conv2d\",\"inputs\":[\"fc\"],\"attrs\":{\"in_channels\":10,"
                   "\"out_channels\":8,\"kernel_shape\":[1,1]}}," G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "cycle", __LINE__);
    check_bad_json(G_HEAD
                   "{\"name\":\"stem\",\"op\":\"conv2d\",\"inputs\":[\"fc\"],\"attrs\":{\"in_channels\":10,"
                   "\"out_channels\":8,\"kernel_shape\":[1,1]}}," G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"stem\"", __LINE__);
    /* a node that reads itself */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\",\"sum\"]},"
                   G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"sum\"", __LINE__);
    /* a dangling name */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\",\"bdy\"]},"
                   G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"bdy\"", __LINE__);
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\",\"bdy\"]},"
                   G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"sum\"", __LINE__);
    /* a graph output that names nothing */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC "],\"outputs\":[\"logits\"]}}}",
                   SCNN_STATUS_FORMAT, "logits", __LINE__);
    /* a duplicate name */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL
                   "{\"name\":\"body\",\"op\":\"flatten\",\"inputs\":[\"pool\"]}," G_FC_FROM("body", "128") G_TAIL,
                   SCNN_STATUS_FORMAT, "\"body\"", __LINE__);
    /* a wrong number of inputs */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY "{\"name\":\"sum\",\"op\":\"add\",\"inputs\":[\"act\"]},"
                   G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"sum\"", __LINE__);
    /* an unknown op */
    check_bad_json(G_HEAD G_STEM "{\"name\":\"act\",\"op\":\"relu7\",\"inputs\":[\"stem\"]}," G_BODY G_SUM G_POOL
                   G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"act\"", __LINE__);
    check_bad_json(G_HEAD G_STEM "{\"name\":\"act\",\"op\":\"relu7\",\"inputs\":[\"stem\"]}," G_BODY G_SUM G_POOL
                   G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "relu7", __LINE__);
    /* an unknown attribute */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT
                   "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"attrs\":{\"in_features\":128,"
                   "\"out_features\":10,\"colour\":3}}" G_TAIL,
                   SCNN_STATUS_FORMAT, "colour", __LINE__);
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT
                   "{\"name\":\"fc\",\"op\":\"linear\",\"inputs\":[\"flat\"],\"attrs\":{\"in_features\":128,"
                   "\"out_features\":10,\"colour\":3}}" G_TAIL,
                   SCNN_STATUS_FORMAT, "\"fc\"", __LINE__);
    /* an attribute out of its domain */
    check_bad_json(G_HEAD
                   "{\"name\":\"stem\",\"op\":\"conv2d\",\"inputs\":[\"input\"],\"attrs\":{\"in_channels\":3,"
                   "\"out_channels\":8,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1],\"group\":0}},"
                   G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_FORMAT, "\"stem\"", __LINE__);
    /* shapes that do not fit: fc wants 100 features, gets 128 */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC_FROM("flat", "100") G_TAIL,
                   SCNN_STATUS_SHAPE_MISMATCH, "fc", __LINE__);
    /* ... body wants 4 channels, act has 8 */
    check_bad_json(G_HEAD G_STEM G_ACT
                   "{\"name\":\"body\",\"op\":\"conv2d\",\"inputs\":[\"act\"],\"attrs\":{\"in_channels\":4,"
                   "\"out_channels\":8,\"kernel_shape\":[3,3],\"pads\":[1,1,1,1]}},"
                   G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_SHAPE_MISMATCH, "body", __LINE__);
    /* ... an add of [8, 8, 8] and [8, 6, 6] (body without padding) */
    check_bad_json(G_HEAD G_STEM G_ACT
                   "{\"name\":\"body\",\"op\":\"conv2d\",\"inputs\":[\"act\"],\"attrs\":{\"in_channels\":8,"
                   "\"out_channels\":8,\"kernel_shape\":[3,3]}},"
                   G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_SHAPE_MISMATCH, "sum", __LINE__);
    /* ... a window larger than its input */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM
                   "{\"name\":\"pool\",\"op\":\"max_pool2d\",\"inputs\":[\"sum\"],\"attrs\":{\"kernel_shape\":[9,9]}},"
                   G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_SHAPE_MISMATCH, "pool", __LINE__);
    /* a schema version from the future */
    check_bad_json("{\"version\":2,\"name\":\"res\",\"input_shape\":[3,8,8],"
                   "\"network\":{\"op\":\"graph\",\"name\":\"\",\"graph\":{\"inputs\":[\"input\"],\"nodes\":["
                   G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC G_TAIL,
                   SCNN_STATUS_UNSUPPORTED, "2", __LINE__);
    check_bad_json("{\"version\":2,\"name\":\"future\",\"input_shape\":[3,8,8],"
                   "\"network\":{\"op\":\"hologram\",\"name\":\"\"}}",
                   SCNN_STATUS_UNSUPPORTED, "newer", __LINE__);
    /* malformed documents */
    check_bad_json("", SCNN_STATUS_FORMAT, NULL, __LINE__);
    check_bad_json("{", SCNN_STATUS_FORMAT, NULL, __LINE__);
    check_bad_json("[1, 2]", SCNN_STATUS_FORMAT, NULL, __LINE__);
    check_bad_json("{}", SCNN_STATUS_FORMAT, "version", __LINE__);
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL G_FLAT G_FC, SCNN_STATUS_FORMAT, NULL, __LINE__);
    check_bad_json("{\"version\":1,\"name\":\"x\",\"network\":{\"op\":\"relu\",\"name\":\"\"}}", SCNN_STATUS_FORMAT,
                   "input_shape", __LINE__);
    /* a name with ':' */
    check_bad_json(G_HEAD G_STEM G_ACT G_BODY G_SUM G_POOL "{\"name\":\"fl:at\",\"op\":\"flatten\",\"inputs\":[\"pool\"]},"
                   G_FC_FROM("fl:at", "128") G_TAIL,
                   SCNN_STATUS_FORMAT, "fl:at", __LINE__);
}

/* ---- bad files --------------------------------------------------------------------------- */

/* open_memory(data, size) fails with `expected`; the message names `needle`; *out is NULL. */
static void check_bad_bytes(const unsigned char *data, long size, scnn_status expected, const char *needle,
                            int line) {
    scnn_model *m = NULL;
    scnn_status s = scnn_model_open_memory(data, size, &m);
    scnn_test_status(s, expected, __FILE__, line, "scnn_model_open_memory(bad bytes)");
    if (s == expected && needle) scnn_test_result(error_has(needle), __FILE__, line, needle);
    scnn_test_result(m == NULL, __FILE__, line, "*out is NULL on failure");
    scnn_model_destroy(m);
}

/* A copy of `data` with the first `needle` replaced by `with` (same length); NULL if absent. */
static unsigned char *tampered(const unsigned char *data, long size, const char *needle, const char *with) {
    long at = find_bytes(data, size, needle);
    unsigned char *copy;
    if (at < 0 || strlen(needle) != strlen(with)) return NULL;
    copy = (unsigned char *)malloc((size_t)size);
    if (!copy) return NULL;
    memcpy(copy, data, (size_t)size);
    memcpy(copy + at, with, strlen(with));
    return copy;
}

SCNN_TEST(graph_bad_files) {
    char path[256], bad_path[256], weights_path[256];
    scnn_model *m = NULL, *o = NULL;
    unsigned char *bytes = NULL, *t = NULL;
    long size = 0, cut;
    graph_tmp("good.safetensors", path, sizeof path);
    graph_tmp("bad.safetensors", bad_path, sizeof bad_path);
    graph_tmp("weights.safetensors", weights_path, sizeof weights_path);
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_OK(scnn_model_save(m, path));
    bytes = slurp(path, &size);
    CHECK(bytes != NULL && size > 64);
    if (!bytes) {
        scnn_model_destroy(m);
        return;
    }
    /* truncated: inside the length, the header, the data, one byte short */
    {
        const long cuts[] = {1, 7, 8, 9, 20, size / 2, size - 1};
        size_t i;
        for (i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
            cut = cuts[i];
            check_bad_bytes(bytes, cut, SCNN_STATUS_FORMAT, NULL, __LINE__);
        }
        check_bad_bytes(bytes, 0, SCNN_STATUS_FORMAT, NULL, __LINE__);
        /* the same through a file */
        CHECK(write_bytes(bad_path, bytes, size - 1));
        CHECK_STATUS(scnn_model_open(bad_path, &o), SCNN_STATUS_FORMAT);
        CHECK(o == NULL);
    }
    /* a header length beyond the file */
    {
        t = (unsigned char *)malloc((size_t)size);
        if (t) {
            memcpy(t, bytes, (size_t)size);
            t[4] = 0x7f;
            check_bad_bytes(t, size, SCNN_STATUS_FORMAT, NULL, __LINE__);
            free(t);
        }
    }
    /* the header's JSON broken */
    t = tampered(bytes, size, "{\"__metadata__\"", "[\"__metadata__\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_FORMAT, NULL, __LINE__);
    free(t);
    /* an unknown op inside the graph: named with its node */
    t = tampered(bytes, size, "\\\"op\\\":\\\"relu\\\"", "\\\"op\\\":\\\"relx\\\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_FORMAT, "\"act\"", __LINE__);
    free(t);
    /* an unknown attribute inside the graph */
    t = tampered(bytes, size, "\\\"dilations\\\"", "\\\"dilatioms\\\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_FORMAT, "\"stem\"", __LINE__);
    free(t);
    /* a file version from the future */
    t = tampered(bytes, size, "\"version\":\"1\"", "\"version\":\"9\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_UNSUPPORTED, "9", __LINE__);
    free(t);
    /* ... and the graph's schema version from the future */
    t = tampered(bytes, size, "{\\\"version\\\":1,", "{\\\"version\\\":7,");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_UNSUPPORTED, "7", __LINE__);
    free(t);
    /* not a swiftcnn file */
    t = tampered(bytes, size, "\"format\":\"swiftcnn\"", "\"format\":\"swiftcpp\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_FORMAT, NULL, __LINE__);
    free(t);
    /* weights that do not match the graph: a renamed tensor, a resized one */
    t = tampered(bytes, size, "\"fc.bias\"", "\"fc.bia5\"");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_SHAPE_MISMATCH, "fc.bia", __LINE__);
    free(t);
    t = tampered(bytes, size, "\"shape\":[10,128]", "\"shape\":[20, 64]");
    CHECK(t != NULL);
    if (t) check_bad_bytes(t, size, SCNN_STATUS_SHAPE_MISMATCH, "fc.weight", __LINE__);
    free(t);
    /* a weights file without a graph (what torchvision's state dicts are) */
    {
        const char *names[6];
        scnn_tensor *tensors[6];
        int64_t i;
        unsigned char *wbytes;
        long wsize = 0;
        for (i = 0; i < 6; i++) {
            names[i] = RES_PARAMS[i];
            tensors[i] = param(m, RES_PARAMS[i]);
        }
        CHECK_OK(scnn_safetensors_write(weights_path, names, (scnn_tensor const *const *)tensors, 6));
        CHECK_STATUS(scnn_model_open(weights_path, &o), SCNN_STATUS_FORMAT);
        CHECK(o == NULL);
        wbytes = slurp(weights_path, &wsize);
        CHECK(wbytes != NULL);
        if (wbytes) check_bad_bytes(wbytes, wsize, SCNN_STATUS_FORMAT, NULL, __LINE__);
        free(wbytes);
        /* it still loads into a model made from the graph */
        CHECK_OK(scnn_model_from_json(RES_JSON, &o));
        CHECK_OK(scnn_model_load(o, weights_path));
        scnn_model_destroy(o);
        o = NULL;
        for (i = 0; i < 6; i++) scnn_tensor_destroy(tensors[i]);
    }
    /* paths: missing, a directory, empty */
    CHECK_STATUS(scnn_model_open("/nonexistent/swiftcnn/model.safetensors", &o), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_model_open("/tmp", &o), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_model_open("", &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    /* the untouched bytes still open */
    CHECK_OK(scnn_model_open_memory(bytes, size, &o));
    scnn_model_destroy(o);
    free(bytes);
    unlink(path);
    unlink(bad_path);
    unlink(weights_path);
    scnn_model_destroy(m);
}

SCNN_TEST(graph_null_arguments) {
    static const unsigned char junk[16] = {0};
    scnn_model *m = NULL, *o = NULL;
    char *s = NULL;
    CHECK_OK(scnn_model_from_json(RES_JSON, &m));
    CHECK_STATUS(scnn_model_from_json(NULL, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_from_json(RES_JSON, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open(NULL, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open("/tmp/x.safetensors", NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open_memory(NULL, 16, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open_memory(junk, 16, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open_memory(junk, -1, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_open_memory(junk, INT64_MIN, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    CHECK_STATUS(scnn_model_to_json(NULL, &s), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_STATUS(scnn_model_to_json(m, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_string_free(NULL);
    /* *out is NULL after a failure even when it held something */
    o = m;
    CHECK_STATUS(scnn_model_from_json("{", &o), SCNN_STATUS_FORMAT);
    CHECK(o == NULL);
    o = m;
    CHECK_STATUS(scnn_model_open_memory(junk, 16, &o), SCNN_STATUS_FORMAT);
    CHECK(o == NULL);
    s = (char *)junk;
    CHECK_STATUS(scnn_model_to_json(NULL, &s), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(s == NULL);
    scnn_model_destroy(m);
}
