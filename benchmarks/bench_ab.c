/* bench_ab: two builds of libswiftcnn side by side in one process.
 *
 *   build/bench/bench_ab OLD.so NEW.so MODEL [BATCH [THREADS [PAIRS]]]
 *   build/bench/bench_ab OLD.so NEW.so train:MODEL:CLASSES:SIZE [BATCH [THREADS [PAIRS]]]
 *
 * Loads both libraries with dlopen (RTLD_LOCAL: each keeps its own copy of the core and of
 * the Swift runtime linked into it; they share nothing but the process), creates the same
 * zoo model in each (scnn_model_create, seeded weights, so both compute the same network)
 * or, when MODEL names a file (it contains a '/'), opens that model file in each
 * (scnn_model_open: a saved network, e.g. one layer of a zoo model, with any output rank),
 * and times forward passes of one seeded input alternately, old then new, then new then old,
 * PAIRS times (default 40) after three warm-up passes each. Prints the medians, the median
 * of the per-pair ratios new / old with its quartiles, and the fastest pass of each; and
 * whether the two outputs are bitwise equal (a change meant to keep the same bits can be
 * checked with the same run).
 *
 * train:MODEL:CLASSES:SIZE times training steps instead (scnn_model_train_step: SGD, lr 0.01,
 * momentum 0.9, as scripts/bench_training.py) of the zoo model with CLASSES classes on one
 * seeded batch of SIZE×SIZE images, labels i mod CLASSES (MODEL may also be a model file with a
 * '/' in its path, whose output has CLASSES classes); each library trains its own copy,
 * and "outputs" compares the losses of the last step.
 *
 * Why: on a shared, noisy machine, single readings move by up to 40% between runs seconds
 * apart, and two processes alternating still see different stretches of it; consecutive
 * passes in one process see nearly the same machine, so the ratio of each pair is steady
 * where the separate medians are not. Not part of the tests (see BENCHMARKS.md).
 *
 * A library file can be a build's libswiftcnn.so.0 or one of the portable library's
 * variants (build/lib/variants/libswiftcnn-avx2.so, -avx512.so): each exports the C ABI.
 */
#define _POSIX_C_SOURCE 200809L
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swiftcnn.h"

typedef scnn_status (*create_fn)(char const *, int64_t, scnn_model **);
typedef scnn_status (*open_fn)(char const *, scnn_model **);
typedef scnn_status (*io_shape_fn)(scnn_model const *, int32_t, int32_t, int64_t *, int32_t, int32_t *);
typedef scnn_status (*classes_fn)(char const *, int64_t *);
typedef scnn_status (*input_shape_fn)(scnn_model const *, int64_t *, int64_t *);
typedef scnn_status (*output_shape_fn)(scnn_model const *, int64_t const *, int32_t, int64_t *);
typedef scnn_status (*forward_fn)(scnn_model const *, float const *, int64_t const *, int32_t, float *, int64_t);
typedef scnn_status (*threads_fn)(int32_t);
typedef char const *(*error_fn)(void);
typedef scnn_status (*optimizer_fn)(scnn_model *, int32_t, float, float, int32_t, float, float, float, float,
                                    scnn_optimizer **);
typedef scnn_status (*tensor_fn)(float const *, int64_t, int64_t const *, int32_t, scnn_tensor **);
typedef scnn_status (*step_fn)(scnn_model *, scnn_optimizer *, scnn_tensor const *, int32_t const *, int64_t, float *);

typedef struct {
    char const *path;
    create_fn create;
    open_fn open;
    io_shape_fn io_shape;
    input_shape_fn input_shape;
    output_shape_fn output_shape;
    forward_fn forward;
    threads_fn set_threads;
    error_fn last_error;
    classes_fn default_classes;
    optimizer_fn optimizer_create;
    tensor_fn tensor_from_data;
    step_fn train_step;
    scnn_model *model;
    scnn_optimizer *optimizer;
    scnn_tensor *images;
} library;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int by_value(void const *a, void const *b) {
    double x = *(double const *)a, y = *(double const *)b;
    return x < y ? -1 : x > y;
}

/* A symbol as a function pointer (ISO C has no cast from void *; copying the bits is the
 * portable spelling POSIX documents for dlsym). */
static int symbol(void *handle, char const *name, void *fn, size_t size) {
    void *p = dlsym(handle, name);
    if (!p) {
        fprintf(stderr, "bench_ab: %s\n", dlerror());
        return 0;
    }
    memcpy(fn, &p, size);
    return 1;
}

static int open_library(library *lib, char const *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    lib->path = path;
    if (!h) {
        fprintf(stderr, "bench_ab: %s\n", dlerror());
        return 0;
    }
    return symbol(h, "scnn_model_create", &lib->create, sizeof lib->create)
        && symbol(h, "scnn_model_open", &lib->open, sizeof lib->open)
        && symbol(h, "scnn_model_io_shape", &lib->io_shape, sizeof lib->io_shape)
        && symbol(h, "scnn_model_input_shape", &lib->input_shape, sizeof lib->input_shape)
        && symbol(h, "scnn_model_output_shape", &lib->output_shape, sizeof lib->output_shape)
        && symbol(h, "scnn_model_forward", &lib->forward, sizeof lib->forward)
        && symbol(h, "scnn_set_num_threads", &lib->set_threads, sizeof lib->set_threads)
        && symbol(h, "scnn_last_error", &lib->last_error, sizeof lib->last_error)
        && symbol(h, "scnn_model_default_num_classes", &lib->default_classes, sizeof lib->default_classes)
        && symbol(h, "scnn_optimizer_create", &lib->optimizer_create, sizeof lib->optimizer_create)
        && symbol(h, "scnn_tensor_from_data", &lib->tensor_from_data, sizeof lib->tensor_from_data)
        && symbol(h, "scnn_model_train_step", &lib->train_step, sizeof lib->train_step);
}

/* One timed call: a forward pass into y, or (training) one step, its loss into y[0]. */
static scnn_status run_once(library *lib, int training, float const *x, int64_t const *shape, float *y,
                            int64_t out_count, int32_t const *labels) {
    if (training) return lib->train_step(lib->model, lib->optimizer, lib->images, labels, shape[0], y);
    return lib->forward(lib->model, x, shape, 4, y, out_count);
}

static int failed(library const *lib, char const *what, scnn_status s) {
    if (s == SCNN_STATUS_OK) return 0;
    fprintf(stderr, "bench_ab: %s: %s failed: %s\n", lib->path, what, lib->last_error());
    return 1;
}

int main(int argc, char **argv) {
    library libs[2];
    int64_t shape[4], out_shape[8], in_count = 1, out_count = 1;
    int batch, threads, pairs, v, i, k, equal, training = 0, size = 0;
    int32_t out_rank = 0, *labels = NULL;
    int64_t train_classes = 0;
    char model_name[512];
    float *x, *y[2];
    double *t[2], *ratio;
    unsigned long long state = 0x9E3779B97F4A7C15ull;

    if (argc < 4) {
        fprintf(stderr, "usage: bench_ab OLD.so NEW.so MODEL [BATCH [THREADS [PAIRS]]]\n");
        return 2;
    }
    batch = argc > 4 ? atoi(argv[4]) : 1;
    threads = argc > 5 ? atoi(argv[5]) : 1;
    pairs = argc > 6 ? atoi(argv[6]) : 40;
    if (batch < 1 || threads < 0 || pairs < 1) {
        fprintf(stderr, "bench_ab: BATCH and PAIRS must be at least 1, THREADS at least 0\n");
        return 2;
    }
    if (strncmp(argv[3], "train:", 6) == 0) {
        long long classes_arg = 0;
        training = 1;
        if (sscanf(argv[3] + 6, "%511[^:]:%lld:%d", model_name, &classes_arg, &size) != 3 || classes_arg < 1 || size < 1) {
            fprintf(stderr, "bench_ab: expected train:MODEL:CLASSES:SIZE, got %s\n", argv[3]);
            return 2;
        }
        train_classes = (int64_t)classes_arg;
    }
    for (v = 0; v < 2; v++) {
        int64_t classes = 0;
        if (!open_library(&libs[v], argv[1 + v])) return 1;
        if (failed(&libs[v], "scnn_set_num_threads", libs[v].set_threads(threads))) return 1;
        if (training) {
            if (strchr(model_name, '/')) {
                if (failed(&libs[v], "scnn_model_open", libs[v].open(model_name, &libs[v].model))) return 1;
            } else if (failed(&libs[v], "scnn_model_create", libs[v].create(model_name, train_classes, &libs[v].model))) {
                return 1;
            }
            if (failed(&libs[v], "scnn_optimizer_create",
                       libs[v].optimizer_create(libs[v].model, SCNN_OPTIMIZER_KIND_SGD, 0.01f, 0.9f, 0, 0.0f, 0.9f, 0.999f,
                                                1e-8f, &libs[v].optimizer))) return 1;
            continue;
        }
        if (strchr(argv[3], '/')) {
            if (failed(&libs[v], "scnn_model_open", libs[v].open(argv[3], &libs[v].model))) return 1;
            continue;
        }
        if (failed(&libs[v], "scnn_model_default_num_classes", libs[v].default_classes(argv[3], &classes))) return 1;
        if (failed(&libs[v], "scnn_model_create", libs[v].create(argv[3], classes, &libs[v].model))) return 1;
    }
    if (failed(&libs[0], "scnn_model_input_shape", libs[0].input_shape(libs[0].model, shape, NULL))) return 1;
    shape[0] = batch;
    if (training) {
        shape[2] = shape[3] = size;
        out_shape[0] = 1;
        out_rank = 1;
    } else {
        if (failed(&libs[0], "scnn_model_io_shape", libs[0].io_shape(libs[0].model, 1, 0, out_shape, 8, &out_rank))) return 1;
        if (failed(&libs[0], "scnn_model_output_shape", libs[0].output_shape(libs[0].model, shape, 4, out_shape))) return 1;
    }
    for (k = 0; k < 4; k++) in_count *= shape[k];
    for (k = 0; k < out_rank; k++) out_count *= out_shape[k];
    x = malloc((size_t)in_count * sizeof *x);
    y[0] = malloc((size_t)out_count * sizeof(float));
    y[1] = malloc((size_t)out_count * sizeof(float));
    t[0] = malloc((size_t)pairs * sizeof(double));
    t[1] = malloc((size_t)pairs * sizeof(double));
    ratio = malloc((size_t)pairs * sizeof(double));
    if (!x || !y[0] || !y[1] || !t[0] || !t[1] || !ratio) {
        fprintf(stderr, "bench_ab: out of memory\n");
        return 1;
    }
    for (i = 0; i < in_count; i++) {  /* xorshift64*, U(-1, 1) */
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27;
        x[i] = (float)((double)((state * 2685821657736338717ull) >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    if (training) {
        labels = malloc((size_t)batch * sizeof *labels);
        if (!labels) {
            fprintf(stderr, "bench_ab: out of memory\n");
            return 1;
        }
        for (i = 0; i < batch; i++) labels[i] = (int32_t)(i % train_classes);
        for (v = 0; v < 2; v++) {
            if (failed(&libs[v], "scnn_tensor_from_data", libs[v].tensor_from_data(x, in_count, shape, 4, &libs[v].images))) return 1;
        }
    }
    for (k = 0; k < 3; k++) {
        for (v = 0; v < 2; v++) {
            if (failed(&libs[v], "warm-up", run_once(&libs[v], training, x, shape, y[v], out_count, labels))) return 1;
        }
    }
    for (i = 0; i < pairs; i++) {
        for (k = 0; k < 2; k++) {
            double t0;
            v = (i & 1) ^ k;
            t0 = now();
            if (failed(&libs[v], training ? "scnn_model_train_step" : "scnn_model_forward",
                       run_once(&libs[v], training, x, shape, y[v], out_count, labels))) return 1;
            t[v][i] = now() - t0;
        }
        ratio[i] = t[1][i] / t[0][i];
    }
    equal = memcmp(y[0], y[1], (size_t)out_count * sizeof(float)) == 0;
    qsort(t[0], (size_t)pairs, sizeof(double), by_value);
    qsort(t[1], (size_t)pairs, sizeof(double), by_value);
    qsort(ratio, (size_t)pairs, sizeof(double), by_value);
    printf("%s batch %d, %d thread(s), %d pairs: old %.2f ms, new %.2f ms (medians); new / old %.3f "
           "(quartiles %.3f-%.3f); fastest %.2f / %.2f ms; outputs %s\n",
           argv[3], batch, threads, pairs, 1e3 * t[0][pairs / 2], 1e3 * t[1][pairs / 2], ratio[pairs / 2],
           ratio[pairs / 4], ratio[(3 * pairs) / 4], 1e3 * t[0][0], 1e3 * t[1][0],
           equal ? "bitwise equal" : "differ");
    free(x); free(y[0]); free(y[1]); free(t[0]); free(t[1]); free(ratio); free(labels);
    return 0;
}
