/* A C-ABI workload for the memory checkers (mk/sanitize.mk): run against a libswiftcnn.so
 * built with AddressSanitizer (make sanitize-c-asan) and under valgrind's leak checker
 * (make valgrind-leaks). It touches every family of the ABI once -- tensors, convolution,
 * pooling, layers, images, filters, a lenet5 model (create, forward, save, load, parameters,
 * train_step, fit, checkpoint save + load, evaluate, predict), safetensors files, error
 * paths -- and runs forwards on one model from 4 threads at once. Every object it makes is
 * destroyed and every file it writes is removed, so that any leak report is the library's.
 *
 * Usage: workload <scratch directory>    (files go to a private mkdtemp directory in it)
 * Prints "workload: N checks passed" and exits 0, or names each failed check and exits 1. */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "swiftcnn.h"

static int passed, failed;

static void check(int ok, int line, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "workload.c:%d: check failed: %s\n", line, what);
    }
}

static void check_status(scnn_status got, scnn_status want, int line, const char *what) {
    int ok = got == want && (want == SCNN_STATUS_OK || scnn_last_error()[0] != '\0');
    if (!ok) {
        fprintf(stderr, "workload.c:%d: %s returned %s (%s), expected %s\n", line, what,
                scnn_status_string(got), got == SCNN_STATUS_OK ? "" : scnn_last_error(),
                scnn_status_string(want));
    }
    check(ok, line, what);
}

#define CHECK(c) check((c) ? 1 : 0, __LINE__, #c)
#define OK(call) check_status((call), SCNN_STATUS_OK, __LINE__, #call)
#define FAILS(call, status) check_status((call), (status), __LINE__, #call)

static char dir[4096];

static const char *file_in_dir(char *buf, size_t size, const char *name) {
    snprintf(buf, size, "%s/%s", dir, name);
    return buf;
}

/* A tensor of `shape` with values from a fixed linear congruential sequence in [-1, 1]. */
static scnn_tensor *seeded(const int64_t *shape, int32_t rank, unsigned seed) {
    int64_t n = 1, i;
    float *d;
    scnn_tensor *t = NULL;
    for (i = 0; i < rank; i++) n *= shape[i];
    d = (float *)malloc((size_t)n * sizeof(float));
    if (!d) return NULL;
    for (i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        d[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    OK(scnn_tensor_from_data(d, n, shape, rank, &t));
    free(d);
    return t;
}

static void destroy_all(scnn_tensor **ts, int n) {
    int i;
    for (i = 0; i < n; i++) scnn_tensor_destroy(ts[i]);
}

/* ---- tensors ---------------------------------------------------------------------- */

static void tensors(void) {
    int64_t shape[4] = {2, 3, 4, 5}, got[4] = {0}, flat[2] = {6, 20}, bad[2] = {-1, 3};
    float data[120], copy[120];
    scnn_tensor *a = NULL, *b = NULL, *w = NULL, *r = NULL, *z = NULL;
    float *m;
    int i;
    for (i = 0; i < 120; i++) data[i] = (float)i * 0.5f;
    OK(scnn_tensor_create(shape, 4, &z));
    OK(scnn_tensor_from_data(data, 120, shape, 4, &a));
    OK(scnn_tensor_wrap(data, 120, shape, 4, &w));
    OK(scnn_tensor_reshape(a, flat, 2, &r));
    CHECK(scnn_tensor_rank(r) == 2 && scnn_tensor_numel(r) == 120);
    OK(scnn_tensor_shape(a, got, 4));
    CHECK(got[3] == 5);
    OK(scnn_tensor_copy_to(w, copy, 120));
    CHECK(memcmp(copy, data, sizeof data) == 0);
    m = scnn_tensor_mutable_data(w); /* a wrapped tensor gets a private copy first */
    CHECK(m != NULL && m != data);
    if (m) m[0] = 42.0f;
    CHECK(data[0] == 0.0f);
    m = scnn_tensor_mutable_data(r); /* shared with a: copy on write */
    if (m) m[1] = -1.0f;
    CHECK(scnn_tensor_data(a)[1] == 0.5f);
    FAILS(scnn_tensor_create(bad, 2, &b), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(b == NULL);
    FAILS(scnn_tensor_create(shape, 0, &b), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_tensor_create(shape, 5, &b), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_tensor_from_data(data, 119, shape, 4, &b), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_tensor_reshape(a, shape, 3, &b), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_tensor_copy_to(a, copy, 10), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_tensor_shape(a, got, 2), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_tensor_create(NULL, 1, &b), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_tensor_rank(NULL) == 0 && scnn_tensor_data(NULL) == NULL);
    scnn_tensor_destroy(NULL);
    {
        scnn_tensor *ts[4] = {a, w, r, z};
        destroy_all(ts, 4);
    }
}

/* ---- convolution, pooling, layers ----------------------------------------------------- */

static void operations(void) {
    int64_t xs[4] = {2, 4, 9, 11}, ws[4] = {6, 2, 3, 3}, bs[1] = {6}, v1[1] = {17}, k1[1] = {5};
    int64_t stride[2] = {2, 1}, pad4[4] = {1, 2, 0, 1}, dil[2] = {1, 2}, k[2] = {3, 2}, pad2[2] = {1, 1};
    int64_t osz[2] = {4, 3}, ls[1] = {4}, lin_w[2] = {5, 44}, lin_b[1] = {5}, bad_w[4] = {6, 3, 3, 3};
    scnn_tensor *x = seeded(xs, 4, 1), *w = seeded(ws, 4, 2), *b = seeded(bs, 1, 3);
    scnn_tensor *x1 = seeded(v1, 1, 4), *w1 = seeded(k1, 1, 5), *lw = seeded(lin_w, 2, 6);
    scnn_tensor *lb = seeded(lin_b, 1, 7), *bw = seeded(bad_w, 4, 8);
    scnn_tensor *out[24] = {NULL};
    scnn_tensor *mean = NULL, *var = NULL, *flat = NULL, *err = NULL;
    const scnn_tensor *cat[2];
    float ones[4] = {1, 1, 1, 1}, zeros[4] = {0, 0, 0, 0};
    int n = 0;

    OK(scnn_conv2d(x, w, b, stride, pad4, dil, 2, &out[n++]));
    OK(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 2, &out[n++]));
    OK(scnn_convolve2d(x, w, b, NULL, pad4, NULL, 2, &out[n++]));
    OK(scnn_correlate1d(x1, w1, SCNN_CONV1D_MODE_FULL, &out[n++]));
    OK(scnn_convolve1d(x1, w1, SCNN_CONV1D_MODE_SAME, &out[n++]));
    OK(scnn_max_pool2d(x, k, NULL, pad2, 1, &out[n++]));
    OK(scnn_avg_pool2d(x, k, stride, pad2, 1, 0, &out[n++]));
    OK(scnn_avg_pool2d(x, k, NULL, NULL, 0, 1, &out[n++]));
    OK(scnn_global_avg_pool2d(x, &out[n++]));
    OK(scnn_adaptive_avg_pool2d(x, osz, &out[n++]));
    OK(scnn_relu(x, &out[n++]));
    OK(scnn_tanh(x, &out[n++]));
    OK(scnn_sigmoid(x, &out[n++]));
    OK(scnn_softmax(x, 1, &out[n++]));
    OK(scnn_local_response_norm(x, 3, 1e-4f, 0.75f, 1.0f, &out[n++]));
    OK(scnn_tensor_from_data(zeros, 4, ls, 1, &mean));
    OK(scnn_tensor_from_data(ones, 4, ls, 1, &var));
    OK(scnn_batch_norm(x, mean, var, NULL, NULL, 1e-5f, &out[n++]));
    OK(scnn_flatten(out[9], 1, &flat)); /* [2, 4, 4, 3] -> [2, 48]: not 44 */
    FAILS(scnn_linear(flat, lw, lb, &err), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(err == NULL);
    OK(scnn_dropout(x, 0.5f, &out[n++]));
    cat[0] = x;
    cat[1] = out[10];
    OK(scnn_concat(cat, 2, 1, &out[n++]));
    OK(scnn_add(x, out[11], &out[n++]));
    FAILS(scnn_conv2d(x, bw, NULL, NULL, NULL, NULL, 1, &err), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_conv2d(x, w, NULL, NULL, NULL, NULL, 3, &err), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_max_pool2d(x, NULL, NULL, NULL, 0, &err), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_add(x, w, &err), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_softmax(x, 7, &err), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_set_reference_kernels(1);
    OK(scnn_conv2d(x, w, b, stride, pad4, dil, 2, &out[n++]));
    scnn_set_reference_kernels(0);
    CHECK(n <= 24);
    destroy_all(out, n);
    {
        scnn_tensor *ts[11] = {x, w, b, x1, w1, lw, lb, bw, mean, var, flat};
        destroy_all(ts, 11);
    }
}

/* ---- images and filters -------------------------------------------------------------- */

static void images(void) {
    uint8_t pixels[5 * 7 * 3], back[5 * 7 * 3];
    float mean[3] = {0.5f, 0.4f, 0.3f}, sd[3] = {0.2f, 0.25f, 0.3f};
    scnn_tensor *img = NULL, *out[12] = {NULL}, *box = NULL, *gauss = NULL, *err = NULL;
    int i, n = 0;
    for (i = 0; i < (int)sizeof pixels; i++) pixels[i] = (uint8_t)(i * 37);
    OK(scnn_image_to_tensor(pixels, 7, 5, 3, 0, 1.0f / 255.0f, mean, sd, &img));
    OK(scnn_tensor_to_image(img, 1.0f / 255.0f, mean, sd, back, (int64_t)sizeof back, 0));
    CHECK(memcmp(pixels, back, sizeof pixels) == 0);
    FAILS(scnn_tensor_to_image(img, 1.0f / 255.0f, mean, sd, back, 10, 0), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_image_to_tensor(pixels, 7, 5, 2, 0, 1.0f, NULL, NULL, &err), SCNN_STATUS_INVALID_ARGUMENT);
    OK(scnn_rgb_to_hsv(img, &out[n++]));
    OK(scnn_hsv_to_rgb(out[0], &out[n++]));
    OK(scnn_rgb_to_grayscale(img, &out[n++]));
    OK(scnn_resize_bilinear(img, 9, 4, &out[n++]));
    OK(scnn_center_crop(img, 3, 3, &out[n++]));
    OK(scnn_filter_box(3, &box));
    OK(scnn_filter_gaussian(5, 1.2f, &gauss));
    OK(scnn_filter_apply(img, box, SCNN_BORDER_REFLECT, &out[n++]));
    OK(scnn_filter_apply(img, gauss, SCNN_BORDER_REPLICATE, &out[n++]));
    OK(scnn_filter_sobel_x(&out[n++]));
    OK(scnn_filter_apply(img, out[n - 1], SCNN_BORDER_ZERO, &out[n]));
    n++;
    OK(scnn_filter_sharpen(&out[n++]));
    FAILS(scnn_filter_gaussian(4, 1.0f, &err), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_filter_box(0, &err), SCNN_STATUS_INVALID_ARGUMENT);
    destroy_all(out, n);
    scnn_tensor_destroy(img);
    scnn_tensor_destroy(box);
    scnn_tensor_destroy(gauss);
}

/* ---- a lenet5 model: inference, files, parameters ------------------------------------ */

#define BATCH 4

static scnn_tensor *lenet_batch(int n, unsigned seed) {
    int64_t shape[4] = {n, 1, 32, 32};
    return seeded(shape, 4, seed);
}

struct forward_job {
    const scnn_model *model;
    const scnn_tensor *input;
    const float *expected;
    int mismatches;
    int errors;
};

static void *forward_thread(void *arg) {
    struct forward_job *job = (struct forward_job *)arg;
    int r;
    for (r = 0; r < 3; r++) {
        scnn_tensor *y = NULL;
        if (scnn_model_forward_tensor(job->model, job->input, &y) != SCNN_STATUS_OK) {
            job->errors++;
            continue;
        }
        if (memcmp(scnn_tensor_data(y), job->expected, BATCH * 10 * sizeof(float)) != 0) job->mismatches++;
        scnn_tensor_destroy(y);
    }
    return NULL;
}

static void model_inference(void) {
    scnn_model *m = NULL, *m2 = NULL, *err = NULL;
    scnn_tensor *x = lenet_batch(BATCH, 11), *y = NULL, *p = NULL, *bad = NULL, *t = NULL;
    int64_t in_shape[4], min_hw[2], out_shape[2], macs = 0, ws = 0, bad_shape[4] = {1, 3, 32, 32};
    float logits[BATCH * 10], small[3];
    char *summary = NULL, path[4200], junk[4200];
    const char *names[2];
    const scnn_tensor *values[2];
    pthread_t threads[4];
    struct forward_job jobs[4];
    FILE *f;
    int i, mismatches = 0, errors = 0;

    CHECK(scnn_model_count() >= 20 && strcmp(scnn_model_name(0), "lenet5") == 0);
    OK(scnn_model_create("lenet5", 10, &m));
    CHECK(scnn_model_num_parameters(m) == 61706);
    OK(scnn_model_input_shape(m, in_shape, min_hw));
    in_shape[0] = BATCH;
    OK(scnn_model_output_shape(m, in_shape, 4, out_shape));
    CHECK(out_shape[0] == BATCH && out_shape[1] == 10);
    OK(scnn_model_summary(m, in_shape, &summary));
    CHECK(summary != NULL && strlen(summary) > 0);
    scnn_string_free(summary);
    OK(scnn_model_macs(m, in_shape, &macs));
    OK(scnn_model_workspace_bytes(m, in_shape, &ws));
    OK(scnn_model_forward(m, scnn_tensor_data(x), in_shape, 4, logits, BATCH * 10));
    OK(scnn_model_forward_tensor(m, x, &y));
    CHECK(memcmp(scnn_tensor_data(y), logits, sizeof logits) == 0);
    FAILS(scnn_model_forward(m, scnn_tensor_data(x), in_shape, 4, small, 3), SCNN_STATUS_SHAPE_MISMATCH);
    OK(scnn_tensor_create(bad_shape, 4, &bad));
    FAILS(scnn_model_forward_tensor(m, bad, &t), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_model_create("lenet6", 10, &err), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_model_create("lenet5", 0, &err), SCNN_STATUS_INVALID_ARGUMENT);

    /* Concurrent forwards on one model (documented as allowed), 2 kernel threads each. */
    OK(scnn_set_num_threads(2));
    for (i = 0; i < 4; i++) {
        jobs[i].model = m;
        jobs[i].input = x;
        jobs[i].expected = logits;
        jobs[i].mismatches = jobs[i].errors = 0;
        CHECK(pthread_create(&threads[i], NULL, forward_thread, &jobs[i]) == 0);
    }
    for (i = 0; i < 4; i++) {
        CHECK(pthread_join(threads[i], NULL) == 0);
        mismatches += jobs[i].mismatches;
        errors += jobs[i].errors;
    }
    CHECK(errors == 0);
    CHECK(mismatches == 0);

    /* Save, load into another model, compare; parameters; bad files. */
    file_in_dir(path, sizeof path, "lenet5.safetensors");
    OK(scnn_model_save(m, path));
    OK(scnn_model_create("lenet5", 10, &m2));
    OK(scnn_model_init_seeded(m2, 99));
    OK(scnn_model_load(m2, path));
    OK(scnn_model_get_parameter(m2, scnn_model_parameter_name(m2, 0), &p));
    OK(scnn_model_set_parameter(m2, scnn_model_parameter_name(m2, 0), p));
    CHECK(scnn_model_parameter_count(m2) == 10 && scnn_model_parameter_is_buffer(m2, 0) == 0);
    names[0] = scnn_model_parameter_name(m2, 0);
    names[1] = "not.a.parameter";
    values[0] = p;
    values[1] = p;
    OK(scnn_model_load_state_dict(m2, names, values, 1, 0));
    FAILS(scnn_model_load_state_dict(m2, names, values, 2, 1), SCNN_STATUS_SHAPE_MISMATCH);
    FAILS(scnn_model_set_parameter(m2, "nope", p), SCNN_STATUS_INVALID_ARGUMENT);
    OK(scnn_safetensors_read(path, names[0], &t));
    scnn_tensor_destroy(t);
    t = NULL;
    FAILS(scnn_safetensors_read(path, "nope", &t), SCNN_STATUS_INVALID_ARGUMENT);
    file_in_dir(junk, sizeof junk, "junk.safetensors");
    f = fopen(junk, "wb");
    if (f) { /* a header whose dtype is a number */
        static const char bytes[] = "\x11\0\0\0\0\0\0\0{\"a\":{\"dtype\":1}}";
        CHECK(fwrite(bytes, 1, sizeof bytes - 1, f) == 25);
        fclose(f);
    }
    FAILS(scnn_model_load(m2, junk), SCNN_STATUS_FORMAT);
    FAILS(scnn_model_load(m2, dir), SCNN_STATUS_IO); /* a directory */
    file_in_dir(junk, sizeof junk, "missing.safetensors");
    FAILS(scnn_model_load(m2, junk), SCNN_STATUS_IO);
    OK(scnn_model_forward_tensor(m2, x, &t));
    CHECK(memcmp(scnn_tensor_data(t), logits, sizeof logits) == 0);
    scnn_tensor_destroy(t);

    /* Safetensors write and read back. */
    file_in_dir(junk, sizeof junk, "two.safetensors");
    names[0] = "x";
    names[1] = "p";
    values[0] = x;
    values[1] = p;
    OK(scnn_safetensors_write(junk, names, values, 2));
    OK(scnn_safetensors_read(junk, "x", &t));
    CHECK(t != NULL && memcmp(scnn_tensor_data(t), scnn_tensor_data(x), BATCH * 1024 * sizeof(float)) == 0);
    scnn_tensor_destroy(t);
    names[1] = "x";
    FAILS(scnn_safetensors_write(junk, names, values, 2), SCNN_STATUS_INVALID_ARGUMENT);

    scnn_model_destroy(m);
    scnn_model_destroy(m2);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(p);
    scnn_tensor_destroy(bad);
}

/* ---- training: steps, fit, checkpoints, evaluation ------------------------------------ */

static int32_t on_step(const scnn_step_report *r, void *user) {
    (void)r;
    ++*(int *)user;
    return 1;
}

static int32_t on_epoch(const scnn_epoch_report *r, void *user) {
    (void)r;
    (void)user;
    return 1;
}

static void training(void) {
    scnn_model *m = NULL, *m2 = NULL, *other = NULL;
    scnn_optimizer *sgd = NULL, *adam = NULL, *sgd2 = NULL, *err = NULL;
    scnn_tensor *x = lenet_batch(8, 21), *xv = lenet_batch(4, 22), *batch = NULL;
    int32_t labels[8] = {0, 1, 2, 3, 4, 5, 6, 7}, bad_labels[BATCH] = {0, 1, 2, 10}, classes[8];
    float loss = 0, lr = 0;
    double acc = 0;
    int64_t step = 0;
    int steps = 0;
    char path[4200];

    OK(scnn_model_create("lenet5", 10, &m));
    OK(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.05f, 0.9f, 1, 1e-4f, 0, 0, 0, &sgd));
    OK(scnn_optimizer_set_schedule(sgd, SCNN_LR_SCHEDULE_STEP, 2, 0.5f));
    batch = lenet_batch(BATCH, 23);
    OK(scnn_model_train_step(m, sgd, batch, labels, BATCH, &loss));
    CHECK(isfinite(loss));
    OK(scnn_model_train_step(m, sgd, batch, labels, BATCH, NULL));
    FAILS(scnn_model_train_step(m, sgd, batch, bad_labels, BATCH, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_model_train_step(m, sgd, batch, labels, 3, NULL), SCNN_STATUS_SHAPE_MISMATCH);
    OK(scnn_model_fit(m, sgd, x, labels, 8, xv, labels, 4, 1, BATCH, 7, 1, on_step, on_epoch, &steps));
    CHECK(steps == 2);
    OK(scnn_optimizer_progress(sgd, &step, NULL, NULL));
    CHECK(step == 4);
    OK(scnn_optimizer_get_lr(sgd, &lr));
    OK(scnn_model_evaluate(m, x, labels, 8, 3, &loss, &acc));
    CHECK(isfinite(loss) && acc >= 0 && acc <= 1);
    OK(scnn_model_predict(m, x, classes, 8));
    FAILS(scnn_model_predict(m, x, classes, 2), SCNN_STATUS_SHAPE_MISMATCH);

    /* Checkpoint: save, restore into a fresh model and optimizer, continue identically. */
    file_in_dir(path, sizeof path, "checkpoint.safetensors");
    OK(scnn_checkpoint_save(m, sgd, path));
    OK(scnn_model_create("lenet5", 10, &m2));
    OK(scnn_optimizer_create(m2, SCNN_OPTIMIZER_KIND_SGD, 0.05f, 0.9f, 1, 1e-4f, 0, 0, 0, &sgd2));
    OK(scnn_checkpoint_load(m2, sgd2, path));
    OK(scnn_optimizer_progress(sgd2, &step, NULL, NULL));
    CHECK(step == 4);
    {
        float l1 = 0, l2 = 0;
        OK(scnn_model_train_step(m, sgd, batch, labels, BATCH, &l1));
        OK(scnn_model_train_step(m2, sgd2, batch, labels, BATCH, &l2));
        CHECK(l1 == l2);
    }
    OK(scnn_model_create("lenet5", 10, &other));
    OK(scnn_optimizer_create(other, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &adam));
    FAILS(scnn_checkpoint_load(other, adam, path), SCNN_STATUS_FORMAT); /* saved with SGD */
    OK(scnn_model_train_step(other, adam, batch, labels, BATCH, NULL));
    FAILS(scnn_model_train_step(m, adam, batch, labels, BATCH, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_optimizer_create(m, 9, 0.1f, 0, 0, 0, 0, 0, 0, &err), SCNN_STATUS_INVALID_ARGUMENT);
    FAILS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, -1.0f, 0, 0, 0, 0, 0, 0, &err), SCNN_STATUS_INVALID_ARGUMENT);

    /* The optimizer keeps its model alive: destroy the model first. */
    scnn_model_destroy(m);
    scnn_optimizer_destroy(sgd);
    scnn_optimizer_destroy(sgd2);
    scnn_model_destroy(m2);
    scnn_optimizer_destroy(adam);
    scnn_model_destroy(other);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(xv);
    scnn_tensor_destroy(batch);
}

/* ---- misc: versions, statuses, analysis --------------------------------------------- */

static void misc(void) {
    int64_t v = 0, size = 0, jump = 0, ks[3] = {3, 3, 2}, ss[3] = {1, 1, 2};
    CHECK(scnn_abi_version() == SCNN_ABI_VERSION);
    CHECK(strlen(scnn_version()) >= 5);
    CHECK(strcmp(scnn_status_string(SCNN_STATUS_IO), scnn_status_string(SCNN_STATUS_FORMAT)) != 0);
    OK(scnn_output_size(32, 5, 1, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &v));
    CHECK(v == 28);
    FAILS(scnn_output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &v), SCNN_STATUS_INVALID_ARGUMENT);
    OK(scnn_receptive_field(ks, ss, NULL, 3, &size, &jump));
    OK(scnn_conv2d_parameter_count(3, 8, 3, 3, 1, 1, &v));
    OK(scnn_linear_macs(400, 120, &v));
    FAILS(scnn_linear_macs(INT64_MAX, 2, &v), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strcmp(scnn_imagenet_class(0), "tench") == 0);
}

static void remove_file(const char *name) {
    char path[4200];
    unlink(file_in_dir(path, sizeof path, name));
}

int main(int argc, char **argv) {
    const char *base = argc > 1 ? argv[1] : ".";
    int rounds = argc > 2 ? atoi(argv[2]) : 1, r;
    snprintf(dir, sizeof dir, "%s/scnn-workload-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 2;
    }
    for (r = 0; r < rounds; r++) {
        misc();
        tensors();
        operations();
        images();
        model_inference();
        training();
    }
    remove_file("lenet5.safetensors");
    remove_file("junk.safetensors");
    remove_file("two.safetensors");
    remove_file("checkpoint.safetensors");
    if (rmdir(dir) != 0) {
        fprintf(stderr, "workload: %s is not empty after the run (a leftover file)\n", dir);
        failed++;
    }
    printf("workload: %d checks passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
