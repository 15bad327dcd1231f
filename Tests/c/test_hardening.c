/* Regression tests of the hardening issue, through the C ABI: each failed before its fix
 * (a trap that killed the host, a hang, two paths aliasing one file, NaNs with status OK). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* A private directory, and its removal with every entry in it (names of any bytes). */
static int make_dir(char *buf, size_t size) {
    const char *base = getenv("TMPDIR");
    snprintf(buf, size, "%s/scnn-hardening-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(buf) != NULL;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[4096];
    if (!d) return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* The number of entries in `dir` (not . and ..); *has is set when `name` is one of them. */
static int count_entries(const char *dir, const char *name, int *has) {
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;
    if (has) *has = 0;
    if (!d) return -1;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        n++;
        if (name && has && strcmp(e->d_name, name) == 0) *has = 1;
    }
    closedir(d);
    return n;
}

SCNN_TEST(hardening_workspace_bytes_overflow) {
    static const char *const names[] = {"resnet18", "alexnet", "googlenet"};
    size_t i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
        scnn_model *m = NULL;
        int64_t bytes = -1;
        int64_t shape[4] = {(int64_t)1 << 50, 3, 224, 224};
        CHECK_OK(scnn_model_create(names[i], 1000, &m));
        CHECK_STATUS(scnn_model_workspace_bytes(m, shape, &bytes), SCNN_STATUS_INVALID_ARGUMENT);
        CHECK(strstr(scnn_last_error(), "overflows") != NULL);
        shape[0] = INT64_MAX;
        CHECK_STATUS(scnn_model_workspace_bytes(m, shape, &bytes), SCNN_STATUS_INVALID_ARGUMENT);
        scnn_model_destroy(m);
    }
}

/* A watchdog: after 10 s, a writer opens the FIFO, which releases a reader blocked in open(). */
struct watchdog {
    const char *fifo;
    volatile int done;
    int fired;
};

static void *watch(void *arg) {
    struct watchdog *w = (struct watchdog *)arg;
    int i;
    for (i = 0; i < 1000 && !w->done; i++) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    if (!w->done) {
        int fd = open(w->fifo, O_WRONLY | O_NONBLOCK);
        w->fired = 1;
        if (fd >= 0) close(fd);
    }
    return NULL;
}

SCNN_TEST(hardening_special_files_refused_without_blocking) {
    char dir[512], fifo[600];
    scnn_model *m = NULL;
    scnn_optimizer *opt = NULL;
    scnn_tensor *t = NULL;
    const char *paths[3];
    int i, has = 0;
    pthread_t thread;
    struct watchdog w = {NULL, 0, 0};
    if (!make_dir(dir, sizeof dir)) { CHECK(0); return; }
    snprintf(fifo, sizeof fifo, "%s/w.fifo", dir);
    CHECK(mkfifo(fifo, 0600) == 0);
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_optimizer_create(m, SCNN_OPTIMIZER_KIND_SGD, 0.1f, 0, 0, 0, 0, 0, 0, &opt));
    w.fifo = fifo;
    CHECK(pthread_create(&thread, NULL, watch, &w) == 0);
    paths[0] = fifo;
    paths[1] = "/dev/zero";
    paths[2] = dir;
    for (i = 0; i < 3; i++) {
        CHECK_STATUS(scnn_model_load(m, paths[i]), SCNN_STATUS_IO);
        CHECK(strstr(scnn_last_error(), "not a regular file") != NULL);
        CHECK_STATUS(scnn_safetensors_read(paths[i], "x", &t), SCNN_STATUS_IO);
        CHECK_STATUS(scnn_checkpoint_load(m, opt, paths[i]), SCNN_STATUS_IO);
    }
    w.done = 1;
    pthread_join(thread, NULL);
    CHECK(!w.fired); /* nothing blocked */
    /* A save never replaces a special file with a regular one. */
    CHECK_STATUS(scnn_model_save(m, fifo), SCNN_STATUS_IO);
    CHECK(strstr(scnn_last_error(), "FIFO") != NULL);
    CHECK_STATUS(scnn_model_save(m, dir), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_checkpoint_save(m, opt, fifo), SCNN_STATUS_IO);
    CHECK(count_entries(dir, "w.fifo", &has) == 1 && has);
    scnn_optimizer_destroy(opt);
    scnn_model_destroy(m);
    remove_dir(dir);
}

SCNN_TEST(hardening_paths_are_bytes) {
    char dir[512], raw[600], replaced[600], other[600];
    scnn_model *m = NULL;
    scnn_tensor *t = NULL, *back = NULL;
    scnn_tensor const *ts[1];
    char const *names[1] = {"x"};
    int64_t shape[1] = {3};
    int has = 0;
    if (!make_dir(dir, sizeof dir)) { CHECK(0); return; }
    snprintf(raw, sizeof raw, "%s/w\xff.safetensors", dir);
    snprintf(replaced, sizeof replaced, "%s/w\xef\xbf\xbd.safetensors", dir);
    snprintf(other, sizeof other, "%s/w\xfe.safetensors", dir);
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_save(m, raw));
    CHECK(count_entries(dir, "w\xff.safetensors", &has) == 1 && has);
    CHECK_OK(scnn_model_load(m, raw));
    CHECK_STATUS(scnn_model_load(m, replaced), SCNN_STATUS_IO);
    CHECK(strstr(scnn_last_error(), "\\xEF") == NULL); /* valid UTF-8 is shown as it is */
    CHECK_OK(scnn_model_save(m, other));
    CHECK(count_entries(dir, "w\xfe.safetensors", &has) == 2 && has);
    CHECK_OK(scnn_seeded_tensor("x", shape, 1, -1, 1, 0, &t));
    ts[0] = t;
    CHECK_OK(scnn_safetensors_write(other, names, ts, 1));
    CHECK_OK(scnn_safetensors_read(other, "x", &back));
    CHECK(back != NULL && memcmp(scnn_tensor_data(back), scnn_tensor_data(t), 3 * sizeof(float)) == 0);
    scnn_tensor_destroy(back);
    back = NULL;
    /* The message shows an invalid byte escaped. */
    snprintf(other, sizeof other, "%s/missing\xff", dir);
    CHECK_STATUS(scnn_safetensors_read(other, "x", &back), SCNN_STATUS_IO);
    CHECK(strstr(scnn_last_error(), "missing\\xFF") != NULL);
    CHECK_STATUS(scnn_model_save(m, ""), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_model_load(m, ""), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(t);
    scnn_model_destroy(m);
    remove_dir(dir);
}

SCNN_TEST(hardening_seeded_tensor_bounds) {
    scnn_tensor *t = NULL;
    int64_t shape[1] = {256};
    int64_t i;
    const float *p;
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 1, -1e300, 1e300, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 1, -3e38, 3e38, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_seeded_tensor("x", shape, 1, 0, 1e39, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_seeded_tensor("x", shape, 1, 0, 3.4e38, 0, &t));
    p = scnn_tensor_data(t);
    for (i = 0; i < 256; i++) CHECK(isfinite(p[i]));
    scnn_tensor_destroy(t);
}

/* A file left by a save killed on a file system without unnamed files: the next save of
 * the same path removes it (its process is gone); others stay. */
SCNN_TEST(hardening_stale_temporaries_removed) {
    char dir[512], path[600], stale[700], mine[700];
    scnn_model *m = NULL;
    pid_t dead = fork(); /* a pid that no longer runs: a child that exited and was reaped */
    int fd, has = 0, status = 0;
    if (dead == 0) _exit(0);
    while (waitpid(dead, &status, 0) < 0) {}
    if (!make_dir(dir, sizeof dir)) { CHECK(0); return; }
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    snprintf(stale, sizeof stale, "%s.tmp-%ld-abc123", path, (long)dead);
    snprintf(mine, sizeof mine, "%s.tmp-%ld-abc123", path, (long)getpid());
    fd = open(stale, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    fd = open(mine, O_WRONLY | O_CREAT, 0600);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_save(m, path));
    CHECK(count_entries(dir, "m.safetensors", &has) == 2 && has);
    CHECK(access(stale, F_OK) != 0);
    CHECK(access(mine, F_OK) == 0);
    scnn_model_destroy(m);
    remove_dir(dir);
}
