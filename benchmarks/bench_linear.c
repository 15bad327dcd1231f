/* bench_linear: the fully connected layers of AlexNet and VGG-16 through scnn_linear, against
 * what this machine streams from memory (a read-only sum over 256 MiB on the same threads).
 *
 *   make build/bench/bench_linear
 *   build/bench/bench_linear [--threads N] [--runs N] [--batches 1,8]
 *
 * For each layer and batch: median and best ms of scnn_linear (seeded weights and input), and
 * the weight bytes per median second (GB/s): at batch 1 a fully connected layer is one pass
 * over its weights, so this is to be compared with the streaming figure printed first.
 * The old library can be run with the same binary: LD_LIBRARY_PATH=old/dir build/bench/bench_linear.
 * Not a test: it times things (see BENCHMARKS.md). */
#define _POSIX_C_SOURCE 200809L
#include "swiftcnn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* ---- streaming bandwidth: each thread sums its contiguous part of a 256 MiB array ---- */

#define STREAM_FLOATS (64L * 1024 * 1024)

struct part {
    const float *p;
    long n;
    float sum;
};

static void *sum_part(void *arg) {
    struct part *q = (struct part *)arg;
    float s[16] = {0};
    long i;
    int j;
    for (i = 0; i + 16 <= q->n; i += 16)
        for (j = 0; j < 16; j++) s[j] += q->p[i + j];
    for (j = 1; j < 16; j++) s[0] += s[j];
    q->sum = s[0];
    return NULL;
}

static double stream_gbs(const float *a, int threads, int runs) {
    double t[64];
    int r, k;
    for (r = 0; r < runs; r++) {
        pthread_t th[8];
        struct part parts[8];
        double t0 = now_s();
        for (k = 0; k < threads; k++) {
            parts[k].p = a + STREAM_FLOATS / threads * k;
            parts[k].n = STREAM_FLOATS / threads;
            if (pthread_create(&th[k], NULL, sum_part, &parts[k]) != 0) return 0;
        }
        for (k = 0; k < threads; k++) pthread_join(th[k], NULL);
        t[r] = now_s() - t0;
        if (parts[0].sum < 0) printf(" ");  /* keep the sums live */
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    return (double)STREAM_FLOATS * 4 / t[runs / 2] / 1e9;
}

int main(int argc, char **argv) {
    int threads = 1, runs = 11, i, l, nb = 0, batches[8];
    char batch_list[64] = "1,8";
    const struct { const char *name; int64_t in, out; } layers[] = {
        {"alexnet fc6 9216>4096", 9216, 4096},
        {"alexnet fc7 4096>4096", 4096, 4096},
        {"vgg16 fc6 25088>4096", 25088, 4096},
    };
    float *a;
    char *tok;
    for (i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--threads") == 0) threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--runs") == 0) runs = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--batches") == 0) snprintf(batch_list, sizeof batch_list, "%s", argv[i + 1]);
    }
    if (threads < 1 || threads > 8 || runs < 1 || runs > 64) {
        fprintf(stderr, "usage: bench_linear [--threads 1..8] [--runs 1..64] [--batches 1,8]\n");
        return 2;
    }
    for (tok = strtok(batch_list, ","); tok && nb < 8; tok = strtok(NULL, ",")) batches[nb++] = atoi(tok);
    if (scnn_set_num_threads(threads) != SCNN_STATUS_OK) return 1;

    a = (float *)malloc((size_t)STREAM_FLOATS * sizeof(float));
    if (!a) return 1;
    for (i = 0; i < STREAM_FLOATS; i++) a[i] = 1.0f;
    printf("streaming read, %d thread(s): %.1f GB/s (median of %d passes over 256 MiB)\n\n", threads,
           stream_gbs(a, threads, runs), runs);
    free(a);

    printf("| layer | batch | threads | median ms | best ms | weight GB/s (median) |\n|---|---:|---:|---:|---:|---:|\n");
    for (l = 0; l < 3; l++) {
        int64_t wshape[2] = {layers[l].out, layers[l].in}, bshape[1] = {layers[l].out};
        scnn_tensor *w = NULL, *b = NULL;
        if (scnn_seeded_tensor("weight", wshape, 2, -0.01, 0.01, 1, &w) != SCNN_STATUS_OK ||
            scnn_seeded_tensor("bias", bshape, 1, -0.01, 0.01, 1, &b) != SCNN_STATUS_OK) return 1;
        for (i = 0; i < nb; i++) {
            int64_t xshape[2] = {batches[i], layers[l].in};
            scnn_tensor *x = NULL;
            double t[64];
            int r;
            if (scnn_seeded_tensor("input", xshape, 2, -1, 1, 2, &x) != SCNN_STATUS_OK) return 1;
            for (r = 0; r < runs + 2; r++) {
                scnn_tensor *y = NULL;
                double t0 = now_s();
                if (scnn_linear(x, w, b, &y) != SCNN_STATUS_OK) return 1;
                if (r >= 2) t[r - 2] = now_s() - t0;
                scnn_tensor_destroy(y);
            }
            qsort(t, (size_t)runs, sizeof t[0], cmp_double);
            printf("| %s | %d | %d | %.3f | %.3f | %.1f |\n", layers[l].name, batches[i], threads, t[runs / 2] * 1e3,
                   t[0] * 1e3, (double)layers[l].in * (double)layers[l].out * 4 / t[runs / 2] / 1e9);
            scnn_tensor_destroy(x);
        }
        scnn_tensor_destroy(w);
        scnn_tensor_destroy(b);
    }
    return 0;
}
