/* Training through the C ABI: training mode, optimizers, train steps, fit with callbacks,
 * evaluate/predict, checkpoints (save -> load -> continue equals an uninterrupted run),
 * safetensors files, and bad input (NULLs, bad kinds and values, labels out of range,
 * mismatched counts, an optimizer of another model, missing / foreign checkpoint files). */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

static const char *train_tmp(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "/tmp/swiftcnn-ctest-train-%ld-%s", (long)getpid(), name);
    return buf;
}

/* A batch of n seeded lenet5 inputs [n, 1, 32, 32] and labels i % 10. */
static scnn_tensor *digits_batch(int64_t n, uint64_t seed, int32_t *labels) {
    int64_t shape[4];
    int64_t i;
    scnn_tensor *t = NULL;
    shape[0] = n;
    shape[1] = 1;
    shape[2] = 32;
    shape[3] = 32;
    if (scnn_seeded_tensor("input", shape, 4, -1, 1, seed, &t) != SCNN_STATUS_OK) return NULL;
    for (i = 0; i < n; i++) labels[i] = (int32_t)(i % 10);
    return t;
}

static scnn_optimizer *sgd(scnn_model *m, float lr, float momentum) {
    scnn_optimizer *o = NULL;
    if (scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, lr, momentum, 0, 0, 0.9f, 0.999f, 1e-8f, &o) != SCNN_STATUS_OK)
        return NULL;
    return o;
}

/* Every state-dict entry of a and b equal bit for bit. */
static int same_weights(scnn_model *a, scnn_model *b) {
    int64_t i, count = scnn_model_parameter_count(a);
    int same = count == scnn_model_parameter_count(b) && count > 0;
    for (i = 0; same && i < count; i++) {
        scnn_tensor *ta = NULL, *tb = NULL;
        const char *name = scnn_model_parameter_name(a, i);
        if (scnn_model_get_parameter(a, name, &ta) != SCNN_STATUS_OK ||
            scnn_model_get_parameter(b, name, &tb) != SCNN_STATUS_OK ||
            scnn_tensor_numel(ta) != scnn_tensor_numel(tb) ||
            memcmp(scnn_tensor_data(ta), scnn_tensor_data(tb), (size_t)scnn_tensor_numel(ta) * sizeof(float)) != 0)
            same = 0;
        scnn_tensor_destroy(ta);
        scnn_tensor_destroy(tb);
    }
    return same;
}

SCNN_TEST(test_training_mode) {
    scnn_model *m = NULL;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK(scnn_model_is_training(m) == 0);
    CHECK_OK(scnn_model_set_training(m, 1));
    CHECK(scnn_model_is_training(m) == 1);
    CHECK_OK(scnn_model_set_training(m, 0));
    CHECK(scnn_model_is_training(m) == 0);
    CHECK(scnn_model_is_training(NULL) == -1);
    CHECK_STATUS(scnn_model_set_training(NULL, 1), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_model_destroy(m);
}

SCNN_TEST(test_optimizer_create_and_lr) {
    scnn_model *m = NULL;
    scnn_optimizer *o = NULL;
    float lr = 0;
    int64_t step = -1, epoch = -1, batch = -1;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o));
    CHECK_OK(scnn_optimizer_get_lr(o, &lr));
    CHECK_NEAR(lr, 1e-3, 1e-9);
    CHECK_OK(scnn_optimizer_set_lr(o, 0.5f));
    CHECK_OK(scnn_optimizer_get_lr(o, &lr));
    CHECK_NEAR(lr, 0.5, 1e-9);
    CHECK_OK(scnn_optimizer_progress(o, &step, &epoch, &batch));
    CHECK(step == 0 && epoch == 0 && batch == 0);
    CHECK_OK(scnn_optimizer_progress(o, NULL, NULL, NULL));
    CHECK_STATUS(scnn_optimizer_set_lr(o, -1), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_lr(o, (float)NAN), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_lr(NULL, 1), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_get_lr(o, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_get_lr(NULL, &lr), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_progress(NULL, &step, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    /* schedules */
    CHECK_OK(scnn_optimizer_set_schedule(o, SCNN_LR_SCHEDULE_STEP, 10, 0.5f));
    CHECK_OK(scnn_optimizer_set_schedule(o, SCNN_LR_SCHEDULE_COSINE, 100, 0.0f));
    CHECK_OK(scnn_optimizer_set_schedule(o, SCNN_LR_SCHEDULE_CONSTANT, 0, 0));
    CHECK_STATUS(scnn_optimizer_set_schedule(o, 7, 10, 0.5f), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_schedule(o, SCNN_LR_SCHEDULE_STEP, 0, 0.5f), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_schedule(NULL, SCNN_LR_SCHEDULE_CONSTANT, 1, 1), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_optimizer_destroy(o);
    o = NULL;

    /* bad arguments */
    CHECK_STATUS(scnn_optimizer_create(NULL, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, 3, 0.1f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, -1, 0.1f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, -0.1f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, (float)NAN, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, -0.5f, 0, 0, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0, 1, 0, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT); /* Nesterov needs momentum */
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0, 0, -1, 0.9f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_ADAM, 0.1f, 0, 0, 0, 1.0f, 0.999f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_ADAMW, 0.1f, 0, 0, 0, 0.9f, -0.1f, 1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_ADAM, 0.1f, 0, 0, 0, 0.9f, 0.999f, -1e-8f, &o),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(o == NULL);
    scnn_optimizer_destroy(NULL);
    scnn_model_destroy(m);
}

/* The loss of a fixed batch goes down under SGD with momentum, and each step's reported
 * loss equals an independent evaluation of the weights before that step. */
SCNN_TEST(test_train_steps_reduce_loss) {
    scnn_model *m = NULL;
    scnn_optimizer *o = NULL;
    int32_t labels[20];
    scnn_tensor *x = digits_batch(20, 3, labels);
    float first = 0, loss = 0, eval_loss = 0;
    double acc = 0;
    int i;
    CHECK(x != NULL);
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    o = sgd(m, 0.05f, 0.9f);
    CHECK(o != NULL);
    CHECK_OK(scnn_model_evaluate(m, x, labels, 20, 7, &eval_loss, &acc));
    CHECK_OK(scnn_model_train_step(m, o, x, labels, 20, &first));
    /* lenet5 has no batch norm or dropout: the training-mode loss equals evaluate's. */
    CHECK_NEAR(first, eval_loss, 1e-5 * (1 + fabs((double)eval_loss)));
    for (i = 0; i < 30; i++) CHECK_OK(scnn_model_train_step(m, o, x, labels, 20, &loss));
    CHECK(loss < 0.5f * first);
    CHECK_OK(scnn_model_evaluate(m, x, labels, 20, 256, &eval_loss, &acc));
    CHECK(eval_loss < 0.5f * first);
    CHECK(acc > 0.5);
    CHECK(scnn_model_is_training(m) == 0); /* the mode is left as it was */
    {
        int64_t step = 0;
        CHECK_OK(scnn_optimizer_progress(o, &step, NULL, NULL));
        CHECK(step == 31);
    }
    scnn_optimizer_destroy(o);
    scnn_model_destroy(m);
    scnn_tensor_destroy(x);
}

SCNN_TEST(test_train_step_bad_input) {
    scnn_model *m = NULL, *other = NULL;
    scnn_optimizer *o = NULL, *o_other = NULL;
    int32_t labels[8];
    scnn_tensor *x = digits_batch(8, 1, labels), *wrong = NULL;
    float loss = 123;
    int64_t shape[4] = {8, 3, 32, 32};
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_create("lenet5", 10, &other));
    o = sgd(m, 0.1f, 0);
    o_other = sgd(other, 0.1f, 0);
    CHECK_STATUS(scnn_model_train_step(NULL, o, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_train_step(m, NULL, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_train_step(m, o, NULL, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_train_step(m, o, x, NULL, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_train_step(m, o_other, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "another model") != NULL);
    CHECK_STATUS(scnn_model_train_step(m, o, x, labels, 7, &loss), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_train_step(m, o, x, labels, -1, &loss), SCNN_STATUS_SHAPE_MISMATCH);
    labels[3] = 10;
    CHECK_STATUS(scnn_model_train_step(m, o, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "labels[3]") != NULL);
    labels[3] = -1;
    CHECK_STATUS(scnn_model_train_step(m, o, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    labels[3] = 3;
    CHECK_OK(scnn_seeded_tensor("input", shape, 4, -1, 1, 0, &wrong));
    CHECK_STATUS(scnn_model_train_step(m, o, wrong, labels, 8, &loss), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(same_weights(m, other)); /* nothing was trained by the failed calls */
    CHECK_OK(scnn_model_train_step(m, o, x, labels, 8, NULL));
    CHECK(!same_weights(m, other));
    scnn_tensor_destroy(wrong);
    scnn_optimizer_destroy(o);
    scnn_optimizer_destroy(o_other);
    scnn_model_destroy(other);
    scnn_model_destroy(m);
    scnn_tensor_destroy(x);
}

/* The optimizer keeps its model alive: destroying the model handle first is safe. */
SCNN_TEST(test_optimizer_outlives_model_handle) {
    scnn_model *m = NULL;
    scnn_optimizer *o = NULL;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    o = sgd(m, 0.1f, 0);
    CHECK(o != NULL);
    scnn_model_destroy(m);
    CHECK_OK(scnn_optimizer_progress(o, NULL, NULL, NULL));
    scnn_optimizer_destroy(o);
}

typedef struct {
    int64_t steps;        /* step callbacks seen */
    int64_t stop_at;      /* return 0 at this many steps (-1: never) */
    int64_t epochs;       /* epoch callbacks seen */
    float last_epoch_loss;
    double last_val_accuracy;
    int32_t had_validation;
    int64_t bad_reports;  /* reports whose fields are inconsistent */
} fit_log;

static int32_t on_step(const scnn_step_report *r, void *user) {
    fit_log *log = (fit_log *)user;
    if (r->batch < 0 || r->batch >= r->batches_per_epoch || !(r->loss >= 0) || !(r->learning_rate > 0))
        log->bad_reports++;
    log->steps++;
    return log->stop_at >= 0 && log->steps >= log->stop_at ? 0 : 1;
}

static int32_t on_epoch(const scnn_epoch_report *r, void *user) {
    fit_log *log = (fit_log *)user;
    if (r->epoch != log->epochs || !(r->accuracy >= 0 && r->accuracy <= 1)) log->bad_reports++;
    log->epochs++;
    log->last_epoch_loss = r->loss;
    log->had_validation = r->has_validation;
    log->last_val_accuracy = r->validation_accuracy;
    return 1;
}

static fit_log new_log(int64_t stop_at) {
    fit_log log;
    memset(&log, 0, sizeof log);
    log.stop_at = stop_at;
    return log;
}

/* fit: 30 images, batch 8 -> 4 batches per epoch (the last of 6), 3 epochs = 12 steps. A run
 * stopped by its callback after 5 steps, checkpointed, restored into a fresh model and
 * optimizer and fitted again ends with exactly the weights of an uninterrupted run. */
SCNN_TEST(test_fit_and_resume_from_checkpoint) {
    scnn_model *a = NULL, *b = NULL;
    scnn_optimizer *oa = NULL, *ob = NULL;
    int32_t labels[30], vlabels[10];
    scnn_tensor *x = digits_batch(30, 5, labels), *vx = digits_batch(10, 6, vlabels);
    fit_log log = new_log(-1), first = new_log(5), second = new_log(-1);
    int64_t step = 0, epoch = 0, batch = 0;
    char path[256];
    train_tmp("resume.safetensors", path, sizeof path);

    /* uninterrupted */
    CHECK_OK(scnn_model_create("lenet5", 10, &a));
    CHECK_OK(scnn_optimizer_create(a, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &oa));
    CHECK_OK(scnn_model_fit(a, oa, x, labels, 30, vx, vlabels, 10, 3, 8, 11, 1, on_step, on_epoch, &log));
    CHECK(log.steps == 12);
    CHECK(log.epochs == 3);
    CHECK(log.had_validation == 1);
    CHECK(log.bad_reports == 0);
    CHECK_OK(scnn_optimizer_progress(oa, &step, &epoch, &batch));
    CHECK(step == 12 && epoch == 3 && batch == 0);
    /* a finished fit called again does nothing */
    CHECK_OK(scnn_model_fit(a, oa, x, labels, 30, NULL, NULL, 0, 3, 8, 11, 1, on_step, on_epoch, &log));
    CHECK(log.steps == 12);

    /* interrupted after 5 steps (epoch 1, batch 1), checkpointed, resumed elsewhere */
    CHECK_OK(scnn_model_create("lenet5", 10, &b));
    CHECK_OK(scnn_optimizer_create(b, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &ob));
    CHECK_OK(scnn_model_fit(b, ob, x, labels, 30, vx, vlabels, 10, 3, 8, 11, 1, on_step, on_epoch, &first));
    CHECK(first.steps == 5);
    CHECK_OK(scnn_optimizer_progress(ob, &step, &epoch, &batch));
    CHECK(step == 5 && epoch == 1 && batch == 1);
    CHECK_OK(scnn_checkpoint_save(b, ob, path));
    scnn_optimizer_destroy(ob);
    scnn_model_destroy(b);
    b = NULL;
    ob = NULL;

    CHECK_OK(scnn_model_create("lenet5", 10, &b));
    CHECK_OK(scnn_optimizer_create(b, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &ob));
    CHECK(!same_weights(a, b));
    CHECK_OK(scnn_checkpoint_load(b, ob, path));
    CHECK_OK(scnn_optimizer_progress(ob, &step, &epoch, &batch));
    CHECK(step == 5 && epoch == 1 && batch == 1);
    CHECK_OK(scnn_model_fit(b, ob, x, labels, 30, vx, vlabels, 10, 3, 8, 11, 1, on_step, on_epoch, &second));
    CHECK(second.steps == 7);
    CHECK(same_weights(a, b));
    CHECK(second.last_epoch_loss == log.last_epoch_loss);
    CHECK(second.last_val_accuracy == log.last_val_accuracy);

    scnn_optimizer_destroy(oa);
    scnn_optimizer_destroy(ob);
    scnn_model_destroy(a);
    scnn_model_destroy(b);
    scnn_tensor_destroy(x);
    scnn_tensor_destroy(vx);
    unlink(path);
}

/* train_step: save after 3 steps, 3 more steps; load into a fresh pair, 3 steps: same weights. */
SCNN_TEST(test_checkpoint_train_steps) {
    scnn_model *a = NULL, *b = NULL;
    scnn_optimizer *oa = NULL, *ob = NULL;
    int32_t labels[12];
    scnn_tensor *x = digits_batch(12, 9, labels);
    float la = 0, lb = 0;
    int i;
    char path[256];
    train_tmp("steps.safetensors", path, sizeof path);
    CHECK_OK(scnn_model_create("lenet5", 10, &a));
    CHECK_OK(scnn_optimizer_create(a, SCNN_OPTIMIZER_KIND_SGD, 0.05f, 0.9f, 1, 1e-4f, 0, 0, 0, &oa));
    for (i = 0; i < 3; i++) CHECK_OK(scnn_model_train_step(a, oa, x, labels, 12, NULL));
    CHECK_OK(scnn_checkpoint_save(a, oa, path));
    for (i = 0; i < 3; i++) CHECK_OK(scnn_model_train_step(a, oa, x, labels, 12, &la));
    CHECK_OK(scnn_model_create("lenet5", 10, &b));
    CHECK_OK(scnn_optimizer_create(b, SCNN_OPTIMIZER_KIND_SGD, 0.05f, 0.9f, 1, 1e-4f, 0, 0, 0, &ob));
    CHECK_OK(scnn_checkpoint_load(b, ob, path));
    for (i = 0; i < 3; i++) CHECK_OK(scnn_model_train_step(b, ob, x, labels, 12, &lb));
    CHECK(la == lb);
    CHECK(same_weights(a, b));
    scnn_optimizer_destroy(oa);
    scnn_optimizer_destroy(ob);
    scnn_model_destroy(a);
    scnn_model_destroy(b);
    scnn_tensor_destroy(x);
    unlink(path);
}

SCNN_TEST(test_fit_and_checkpoint_bad_input) {
    scnn_model *m = NULL, *other = NULL, *resnet = NULL;
    scnn_optimizer *o = NULL, *o_other = NULL;
    int32_t labels[10];
    scnn_tensor *x = digits_batch(10, 2, labels);
    char path[256], junk[256];
    FILE *f;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_create("lenet5", 10, &other));
    o = sgd(m, 0.1f, 0.9f);
    o_other = sgd(other, 0.1f, 0.9f);
    CHECK_STATUS(scnn_model_fit(NULL, o, x, labels, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, NULL, x, labels, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o_other, x, labels, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o, NULL, labels, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o, x, NULL, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 9, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 10, NULL, NULL, 0, 0, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 10, NULL, NULL, 0, 1, 0, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 10, x, NULL, 10, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT); /* validation images without labels */
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 10, x, labels, 3, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_SHAPE_MISMATCH);
    labels[9] = 12;
    CHECK_STATUS(scnn_model_fit(m, o, x, labels, 10, NULL, NULL, 0, 1, 4, 0, 1, NULL, NULL, NULL),
                 SCNN_STATUS_INVALID_ARGUMENT);
    labels[9] = 9;
    CHECK(same_weights(m, other));

    train_tmp("bad.safetensors", path, sizeof path);
    CHECK_STATUS(scnn_checkpoint_save(NULL, o, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_checkpoint_save(m, NULL, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_checkpoint_save(m, o, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_checkpoint_save(m, o_other, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_checkpoint_save(m, o, "/nonexistent-dir/x.safetensors"), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_checkpoint_load(m, o, "/nonexistent-dir/x.safetensors"), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_checkpoint_load(NULL, o, path), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_checkpoint_load(m, o, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    /* a weights file is not a checkpoint */
    CHECK_OK(scnn_model_save(m, path));
    CHECK(scnn_checkpoint_load(m, o, path) != SCNN_STATUS_OK);
    CHECK(scnn_last_error()[0] != '\0');
    /* a junk file */
    train_tmp("junk.safetensors", junk, sizeof junk);
    f = fopen(junk, "wb");
    if (f) {
        fputs("not a safetensors file at all", f);
        fclose(f);
    }
    CHECK_STATUS(scnn_checkpoint_load(m, o, junk), SCNN_STATUS_FORMAT);
    /* a checkpoint of another architecture */
    CHECK_OK(scnn_model_create("lenet5", 5, &resnet));
    {
        scnn_optimizer *o5 = sgd(resnet, 0.1f, 0.9f);
        CHECK_OK(scnn_checkpoint_save(resnet, o5, path));
        CHECK(scnn_checkpoint_load(m, o, path) != SCNN_STATUS_OK);
        scnn_optimizer_destroy(o5);
    }
    CHECK(same_weights(m, other));
    unlink(path);
    unlink(junk);
    scnn_model_destroy(resnet);
    scnn_optimizer_destroy(o);
    scnn_optimizer_destroy(o_other);
    scnn_model_destroy(m);
    scnn_model_destroy(other);
    scnn_tensor_destroy(x);
}

/* evaluate's loss equals a double-precision cross-entropy of scnn_model_forward's logits;
 * its accuracy equals predict's; predict equals the argmax of the logits. */
SCNN_TEST(test_evaluate_predict_agree) {
    scnn_model *m = NULL;
    int32_t labels[25], pred[25];
    scnn_tensor *x = digits_batch(25, 4, labels);
    float logits[25 * 10], loss = 0;
    double acc = 0, ref_loss = 0;
    int64_t shape[4] = {25, 1, 32, 32};
    int i, c, correct = 0, argmax_ok = 1;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_init_seeded(m, 7));
    CHECK_OK(scnn_model_forward(m, scnn_tensor_data(x), shape, 4, logits, 250));
    CHECK_OK(scnn_model_predict(m, x, pred, 25));
    CHECK_OK(scnn_model_evaluate(m, x, labels, 25, 4, &loss, &acc));
    for (i = 0; i < 25; i++) {
        const float *row = logits + i * 10;
        double mx = row[0], sum = 0;
        int best = 0;
        for (c = 1; c < 10; c++) {
            if (row[c] > mx) mx = row[c];
            if (row[c] > row[best]) best = c;
        }
        for (c = 0; c < 10; c++) sum += exp((double)row[c] - mx);
        ref_loss += -((double)row[labels[i]] - mx - log(sum));
        if (best != pred[i]) argmax_ok = 0;
        if (pred[i] == labels[i]) correct++;
    }
    ref_loss /= 25;
    CHECK(argmax_ok);
    CHECK_NEAR(loss, ref_loss, 1e-5 * (1 + ref_loss));
    CHECK_NEAR(acc, correct / 25.0, 1e-12);
    /* bad input */
    CHECK_STATUS(scnn_model_predict(m, x, pred, 24), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_predict(m, x, NULL, 25), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_predict(NULL, x, pred, 25), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_predict(m, NULL, pred, 25), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_evaluate(m, x, labels, 25, 0, &loss, &acc), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_evaluate(m, x, labels, 26, 8, &loss, &acc), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_model_evaluate(m, x, NULL, 25, 8, &loss, &acc), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_evaluate(NULL, x, labels, 25, 8, &loss, &acc), SCNN_STATUS_INVALID_ARGUMENT);
    labels[0] = 10;
    CHECK_STATUS(scnn_model_evaluate(m, x, labels, 25, 8, &loss, &acc), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_model_evaluate(m, x, pred, 25, 8, NULL, &acc));
    CHECK(acc == 1.0);
    scnn_model_destroy(m);
    scnn_tensor_destroy(x);
}

SCNN_TEST(test_safetensors_files) {
    scnn_tensor *a = NULL, *b = NULL, *back = NULL;
    int64_t sa[2] = {2, 3}, sb[1] = {4};
    float da[6] = {1, 2, 3, 4, 5, 6}, db[4] = {0, 9, 8, 7};
    const char *names[2] = {"images", "labels"};
    const scnn_tensor *tensors[2];
    int64_t shape[2] = {0, 0};
    char path[256];
    train_tmp("data.safetensors", path, sizeof path);
    CHECK_OK(scnn_tensor_from_data(da, 6, sa, 2, &a));
    CHECK_OK(scnn_tensor_from_data(db, 4, sb, 1, &b));
    tensors[0] = a;
    tensors[1] = b;
    CHECK_OK(scnn_safetensors_write(path, names, tensors, 2));
    CHECK_OK(scnn_safetensors_read(path, "images", &back));
    CHECK(scnn_tensor_rank(back) == 2);
    CHECK_OK(scnn_tensor_shape(back, shape, 2));
    CHECK(shape[0] == 2 && shape[1] == 3);
    CHECK(memcmp(scnn_tensor_data(back), da, sizeof da) == 0);
    scnn_tensor_destroy(back);
    back = NULL;
    CHECK_OK(scnn_safetensors_read(path, "labels", &back));
    CHECK(memcmp(scnn_tensor_data(back), db, sizeof db) == 0);
    scnn_tensor_destroy(back);
    back = NULL;
    CHECK_STATUS(scnn_safetensors_read(path, "nope", &back), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(back == NULL);
    CHECK_STATUS(scnn_safetensors_read(NULL, "images", &back), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_read(path, NULL, &back), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_read(path, "images", NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_read("/nonexistent-dir/x.safetensors", "images", &back), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_safetensors_write(path, names, tensors, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_write(path, NULL, tensors, 2), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_write(path, names, NULL, 2), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_write(NULL, names, tensors, 2), SCNN_STATUS_INVALID_ARGUMENT);
    names[1] = "images";
    CHECK_STATUS(scnn_safetensors_write(path, names, tensors, 2), SCNN_STATUS_INVALID_ARGUMENT);
    tensors[1] = NULL;
    names[1] = "labels";
    CHECK_STATUS(scnn_safetensors_write(path, names, tensors, 2), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_safetensors_write("/nonexistent-dir/x.safetensors", names, tensors, 1), SCNN_STATUS_IO);
    scnn_tensor_destroy(a);
    scnn_tensor_destroy(b);
    unlink(path);
}

/* ---- the split step: compute gradients, read / set them, apply (issue 15) ---- */

/* Two steps of scnn_model_train_step against two of compute + apply on a copy: losses,
 * weights and batch-norm statistics, and progress equal bit for bit. lenet5 with SGD
 * momentum (batch 20: per-image parts) and resnet18 at 32x32 with Adam (batch norm). */
static void check_compute_apply_equals_train_step(const char *zoo, int64_t channels, int adam) {
    scnn_model *a = NULL, *b = NULL;
    scnn_optimizer *oa = NULL, *ob = NULL;
    int32_t labels[20];
    int64_t shape[4] = {20, channels, 32, 32}, n = adam ? 4 : 20, sa = 0, sb = 0;
    scnn_tensor *x = NULL;
    int s;
    shape[0] = n;
    CHECK_OK(scnn_seeded_tensor("input", shape, 4, -1, 1, 5, &x));
    for (s = 0; s < 20; s++) labels[s] = (int32_t)((s * 3) % 10);
    CHECK_OK(scnn_model_create(zoo, 10, &a));
    CHECK_OK(scnn_model_create(zoo, 10, &b));
    CHECK_OK(scnn_model_init_seeded(a, 7));
    CHECK_OK(scnn_model_init_seeded(b, 7));
    if (adam) {
        CHECK_OK(scnn_optimizer_create(a, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &oa));
        CHECK_OK(scnn_optimizer_create(b, SCNN_OPTIMIZER_KIND_ADAM, 1e-3f, 0, 0, 0, 0.9f, 0.999f, 1e-8f, &ob));
    } else {
        oa = sgd(a, 0.05f, 0.9f);
        ob = sgd(b, 0.05f, 0.9f);
    }
    CHECK(oa != NULL && ob != NULL);
    for (s = 0; s < 2; s++) {
        float la = -1, lb = -2;
        CHECK_OK(scnn_model_train_step(a, oa, x, labels, n, &la));
        CHECK_OK(scnn_model_compute_gradients(b, ob, x, labels, n, &lb));
        CHECK_OK(scnn_optimizer_apply_gradients(b, ob));
        CHECK(memcmp(&la, &lb, sizeof la) == 0);
    }
    CHECK(same_weights(a, b));
    CHECK_OK(scnn_optimizer_progress(oa, &sa, NULL, NULL));
    CHECK_OK(scnn_optimizer_progress(ob, &sb, NULL, NULL));
    CHECK(sa == 2 && sb == 2);
    scnn_optimizer_destroy(oa);
    scnn_optimizer_destroy(ob);
    scnn_model_destroy(a);
    scnn_model_destroy(b);
    scnn_tensor_destroy(x);
}

SCNN_TEST(test_compute_apply_equals_train_step) {
    check_compute_apply_equals_train_step("lenet5", 1, 0);
    check_compute_apply_equals_train_step("resnet18", 3, 1);
}

/* The layout (trainable state-dict entries in order, shapes), get -> set -> get round
 * trip, compute leaving the weights alone, and applying gradients set from a vector. */
SCNN_TEST(test_gradient_vector) {
    scnn_model *m = NULL, *ref = NULL;
    scnn_optimizer *o = NULL;
    int32_t labels[8];
    scnn_tensor *x = digits_batch(8, 2, labels);
    int64_t size = 0, total = 0, count, i, k = 0, shape[4];
    int32_t rank = 0;
    const char *name = NULL;
    float *g = NULL, *h = NULL, loss = 0;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_create("lenet5", 10, &ref));
    o = sgd(m, 0.1f, 0);
    CHECK_OK(scnn_optimizer_gradient_size(o, &size));
    total = scnn_model_num_parameters(m);
    CHECK(size == total && size > 0);
    count = scnn_optimizer_gradient_count(o);
    CHECK(count == 10);
    for (i = 0; i < scnn_model_parameter_count(m); i++) {
        int64_t numel = 1;
        int32_t d;
        if (scnn_model_parameter_is_buffer(m, i)) continue;
        CHECK_OK(scnn_optimizer_gradient_info(o, k, &name, shape, 4, &rank));
        CHECK(name != NULL && strcmp(name, scnn_model_parameter_name(m, i)) == 0);
        for (d = 0; d < rank; d++) numel *= shape[d];
        total -= numel;
        k++;
    }
    CHECK(k == count && total == 0);
    CHECK_OK(scnn_optimizer_gradient_info(o, 0, NULL, shape, 4, &rank));
    CHECK(rank == 4 && shape[0] == 6 && shape[1] == 1 && shape[2] == 5 && shape[3] == 5); /* conv1.weight */

    g = (float *)calloc((size_t)size, sizeof(float));
    h = (float *)calloc((size_t)size, sizeof(float));
    CHECK(g != NULL && h != NULL);
    CHECK_OK(scnn_model_compute_gradients(m, o, x, labels, 8, &loss));
    CHECK(loss > 0);
    CHECK(same_weights(m, ref)); /* computing gradients trains nothing */
    CHECK_OK(scnn_optimizer_get_gradients(o, g, size));
    CHECK(scnn_test_max_diff(g, h, (long)size) > 0);
    CHECK_OK(scnn_optimizer_set_gradients(o, g, size));
    CHECK_OK(scnn_optimizer_get_gradients(o, h, size));
    CHECK(memcmp(g, h, (size_t)size * sizeof(float)) == 0);
    /* Zero gradients set and applied: plain SGD leaves the weights, the step count moves. */
    memset(h, 0, (size_t)size * sizeof(float));
    CHECK_OK(scnn_optimizer_set_gradients(o, h, size));
    CHECK_OK(scnn_optimizer_apply_gradients(m, o));
    CHECK(same_weights(m, ref));
    {
        int64_t step = 0;
        CHECK_OK(scnn_optimizer_progress(o, &step, NULL, NULL));
        CHECK(step == 1);
    }
    CHECK_OK(scnn_optimizer_set_gradients(o, g, size));
    CHECK_OK(scnn_optimizer_apply_gradients(m, o));
    CHECK(!same_weights(m, ref));
    free(g);
    free(h);
    scnn_optimizer_destroy(o);
    scnn_model_destroy(ref);
    scnn_model_destroy(m);
    scnn_tensor_destroy(x);
}

SCNN_TEST(test_gradient_bad_input) {
    scnn_model *m = NULL, *other = NULL;
    scnn_optimizer *o = NULL, *o_other = NULL;
    int32_t labels[8];
    scnn_tensor *x = digits_batch(8, 1, labels);
    int64_t size = 0, shape[4];
    int32_t rank = 7;
    const char *name = "x";
    float *g = NULL, loss = 123;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_create("lenet5", 10, &other));
    o = sgd(m, 0.1f, 0);
    o_other = sgd(other, 0.1f, 0);
    CHECK_OK(scnn_optimizer_gradient_size(o, &size));
    g = (float *)calloc((size_t)size + 1, sizeof(float));
    CHECK(g != NULL);
    /* compute: train_step's checks */
    CHECK_STATUS(scnn_model_compute_gradients(NULL, o, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_compute_gradients(m, NULL, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_compute_gradients(m, o, NULL, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_compute_gradients(m, o, x, NULL, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_compute_gradients(m, o_other, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_compute_gradients(m, o, x, labels, 7, &loss), SCNN_STATUS_SHAPE_MISMATCH);
    labels[2] = 10;
    CHECK_STATUS(scnn_model_compute_gradients(m, o, x, labels, 8, &loss), SCNN_STATUS_INVALID_ARGUMENT);
    labels[2] = 2;
    CHECK(loss == 0);
    /* nothing pending */
    CHECK_STATUS(scnn_optimizer_apply_gradients(m, o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "none pending") != NULL);
    CHECK_STATUS(scnn_optimizer_get_gradients(o, g, size), SCNN_STATUS_INVALID_ARGUMENT);
    /* layout queries */
    CHECK_STATUS(scnn_optimizer_gradient_size(NULL, &size), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_gradient_size(o, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_optimizer_gradient_count(NULL) == 0);
    CHECK_STATUS(scnn_optimizer_gradient_info(o, -1, &name, shape, 4, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(name == NULL && rank == 0);
    CHECK_STATUS(scnn_optimizer_gradient_info(o, 10, &name, shape, 4, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_gradient_info(o, 0, &name, shape, 4, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_gradient_info(o, 0, &name, NULL, 0, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(rank == 4); /* capacity 0 asks for the rank */
    CHECK_STATUS(scnn_optimizer_gradient_info(NULL, 0, &name, shape, 4, &rank), SCNN_STATUS_INVALID_ARGUMENT);
    /* wrong lengths and NULLs */
    CHECK_STATUS(scnn_optimizer_set_gradients(o, g, size - 1), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strstr(scnn_last_error(), "values") != NULL);
    CHECK_STATUS(scnn_optimizer_set_gradients(o, g, size + 1), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_optimizer_set_gradients(o, g, -1), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_gradients(o, NULL, size), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_set_gradients(NULL, g, size), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_apply_gradients(m, o), SCNN_STATUS_INVALID_ARGUMENT); /* still none */
    CHECK_OK(scnn_model_compute_gradients(m, o, x, labels, 8, NULL));
    CHECK_STATUS(scnn_optimizer_get_gradients(o, g, size + 1), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_optimizer_get_gradients(o, NULL, size), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_get_gradients(NULL, g, size), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_apply_gradients(NULL, o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_apply_gradients(m, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_optimizer_apply_gradients(other, o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(same_weights(m, other)); /* nothing was applied */
    CHECK_STATUS(scnn_optimizer_clear_gradients(NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_optimizer_clear_gradients(o));
    CHECK_STATUS(scnn_optimizer_apply_gradients(m, o), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(same_weights(m, other));
    free(g);
    scnn_optimizer_destroy(o);
    scnn_optimizer_destroy(o_other);
    scnn_model_destroy(other);
    scnn_model_destroy(m);
    scnn_tensor_destroy(x);
}
