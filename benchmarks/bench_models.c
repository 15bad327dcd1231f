/* bench_models: latency, achieved GFLOP/s and peak memory of every zoo model, through the
 * public C ABI. Part of `make bench`; see BENCHMARKS.md.
 *
 *   make bench                       (builds this and the GEMM micro-benchmark, runs both)
 *   build/bench/bench_models [options]
 *
 * Options (each also read from an environment variable, the option wins):
 *   --models a,b,c     zoo names (default: every model)                   SCNN_BENCH_MODELS
 *   --batches 1,8      batch sizes (default 1,8)                           SCNN_BENCH_BATCHES
 *   --runs N           timed runs per case (default 20)                    SCNN_BENCH_RUNS
 *   --warmup N         warm-up runs per case (default 2)                   SCNN_BENCH_WARMUP
 *   --warmup-seconds S and warm-up runs until S seconds have passed (default
 *                      0; scripts/bench_compare.py gives 1, as it warms ONNX
 *                      Runtime and PyTorch: the worker threads of a model that
 *                      runs in 0.1 ms are still waking up after 2 runs)   SCNN_BENCH_WARMUP_SECONDS
 *   --max-seconds S    time budget for the timed runs of one case: when N
 *                      runs would take longer (judged from the warm-up),
 *                      fewer are made, but never fewer than --min-runs     SCNN_BENCH_MAX_SECONDS
 *                      (default 25)
 *   --min-runs N       (default 5)                                         SCNN_BENCH_MIN_RUNS
 *   --threads N        calls scnn_set_num_threads(N) when the library has
 *                      it (0: leave the library's default)                 SCNN_BENCH_THREADS
 *   --format md|tsv    a Markdown table (default) or tab-separated values
 *                      with a header line (for scripts/bench_compare.py)
 *   --profile N        after a case's timing, profile it per layer
 *                      (scnn_model_profile, 3 to 10 runs, within the
 *                      --max-seconds budget) and print its N
 *                      slowest nodes (at most 16; 0: off, the default):
 *                      a table per case after the timings, or in tsv
 *                      "profile" lines after the rows                     SCNN_BENCH_PROFILE
 *
 * Every (model, batch) case runs in its own child process (fork), so that its peak RSS
 * (VmHWM of /proc/self/status) is its own: the model's weights, the input and the output,
 * and everything the forward passes allocate. The input is the fixtures' seeded input
 * (scnn_seeded_tensor "input", U(-1, 1)) at the model's design size: 32x32 for the LeNets,
 * 227x227 for alexnet_lrn, 224x224 for the others. GFLOP/s = 2 x MACs x batch / median,
 * with the MACs of scnn_model_macs (convolutions and linear layers).
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "swiftcnn.h"

#define MAX_MODELS 64
#define MAX_BATCHES 8
#define MAX_RUNS 10000
#define MAX_PROFILE 16

typedef struct {
    int models_count;
    const char *models[MAX_MODELS];
    int batches_count;
    int64_t batches[MAX_BATCHES];
    int runs, warmup, min_runs, threads;
    double warmup_seconds;
    double max_seconds;
    int tsv;
    int profile; /* top nodes to print per case; 0: no profile */
} options;

/* One node of a case's profile (scnn_profile_entry, its strings copied). */
typedef struct {
    char node[96], op[32], kernel[32], fused[48];
    double ms, share, gflops, gbps;
    int64_t bytes;
} profile_node;

/* What a child sends back through its pipe. */
typedef struct {
    int ok;
    char error[512];
    int64_t shape[4];
    int64_t macs; /* per example */
    int runs;
    double median, p10, p90, min; /* seconds */
    double load_seconds;
    long rss_loaded_kib, rss_peak_kib;
    int threads_set; /* 1: scnn_set_num_threads was called */
    int profile_count, profile_runs; /* top nodes in `top`, slowest first */
    double profile_total_ms;
    char profile_error[256]; /* why there is no profile, when one was asked for */
    profile_node top[MAX_PROFILE];
} result;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The VmHWM (peak resident set) or VmRSS line of /proc/self/status in KiB; getrusage's
 * ru_maxrss when /proc is not there. */
static long status_kib(const char *key) {
    char line[256];
    size_t n = strlen(key);
    long v = -1;
    FILE *f = fopen("/proc/self/status", "r");
    if (f) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, key, n) == 0 && line[n] == ':') {
                v = strtol(line + n + 1, NULL, 10);
                break;
            }
        }
        fclose(f);
    }
    if (v < 0) {
        struct rusage ru;
        if (getrusage(RUSAGE_SELF, &ru) == 0) v = ru.ru_maxrss;
    }
    return v;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

/* Percentile q (0..1) of sorted values, linear interpolation between closest ranks. */
static double percentile(const double *v, int n, double q) {
    double pos = q * (double)(n - 1);
    int lo = (int)pos;
    double frac = pos - (double)lo;
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + frac * (v[lo + 1] - v[lo]);
}

/* scnn_set_num_threads arrives with the kernel work (issue 4); looked up at run time so
 * that this benchmark builds against a library with or without it. Called through an
 * int64_t parameter: correct for an int32_t or int64_t parameter on the x86-64 and
 * AArch64 calling conventions; its result is ignored. */
static int set_threads(int n) {
    typedef int (*set_fn)(int64_t);
    set_fn fn;
    void *sym = dlsym(RTLD_DEFAULT, "scnn_set_num_threads");
    if (!sym) return 0;
    memcpy(&fn, &sym, sizeof fn); /* object pointer to function pointer without a cast */
    (void)fn((int64_t)n);
    return 1;
}

static void fail(result *r, const char *what, scnn_status s) {
    r->ok = 0;
    snprintf(r->error, sizeof r->error, "%s: %s: %s", what, scnn_status_string(s), scnn_last_error());
}

/* The profiler's functions, looked up at run time: a library from before it (the
 * baseline of an A/B run) has none, and the benchmark still runs. */
typedef scnn_status (*profile_fn)(const scnn_model *, const float *, const int64_t *, int32_t, int64_t, int64_t,
                                  scnn_profile **);
typedef int64_t (*profile_count_fn)(const scnn_profile *);
typedef double (*profile_total_fn)(const scnn_profile *);
typedef scnn_status (*profile_entry_fn)(const scnn_profile *, int64_t, scnn_profile_node *);
typedef void (*profile_free_fn)(scnn_profile *);

static void *symbol(const char *name) { return dlsym(RTLD_DEFAULT, name); }

/* Profiles `runs` forwards of the case and keeps its `o->profile` slowest nodes in r->top. */
static void profile_case(const options *o, const scnn_model *model, const float *input, const int64_t *shape,
                         int runs, result *r) {
    profile_fn prof;
    profile_count_fn count;
    profile_total_fn total;
    profile_entry_fn entry;
    profile_free_fn release;
    void *syms[5];
    scnn_profile *p = NULL;
    scnn_status s;
    int64_t i, n;
    int k;
    syms[0] = symbol("scnn_model_profile");
    syms[1] = symbol("scnn_profile_count");
    syms[2] = symbol("scnn_profile_total_ms");
    syms[3] = symbol("scnn_profile_entry");
    syms[4] = symbol("scnn_profile_free");
    for (k = 0; k < 5; k++) {
        if (!syms[k]) {
            snprintf(r->profile_error, sizeof r->profile_error, "the library has no scnn_model_profile");
            return;
        }
    }
    /* Object pointers to function pointers without a cast. */
    memcpy(&prof, &syms[0], sizeof prof);
    memcpy(&count, &syms[1], sizeof count);
    memcpy(&total, &syms[2], sizeof total);
    memcpy(&entry, &syms[3], sizeof entry);
    memcpy(&release, &syms[4], sizeof release);
    /* At most 10 runs, and (each is a profiled and a plain forward) fewer when they would
     * exceed the case's time budget; at least 3. */
    if (runs > 10) runs = 10;
    if (r->median > 0 && 2.0 * r->median * runs > o->max_seconds) runs = (int)(o->max_seconds / (2.0 * r->median));
    if (runs < 3) runs = 3;
    if ((s = prof(model, input, shape, 4, runs, 1, &p)) != SCNN_STATUS_OK) {
        snprintf(r->profile_error, sizeof r->profile_error, "scnn_model_profile: %s: %s", scnn_status_string(s),
                 scnn_last_error());
        return;
    }
    r->profile_runs = runs;
    r->profile_total_ms = total(p);
    n = count(p);
    /* Insertion into the top list, slowest first (ties keep plan order). */
    for (i = 0; i < n; i++) {
        scnn_profile_node e;
        profile_node node;
        int at;
        if (entry(p, i, &e) != SCNN_STATUS_OK) continue;
        at = r->profile_count;
        while (at > 0 && r->top[at - 1].ms < e.ms) at--;
        if (at >= o->profile) continue;
        memset(&node, 0, sizeof node);
        snprintf(node.node, sizeof node.node, "%s", e.node);
        snprintf(node.op, sizeof node.op, "%s", e.op);
        snprintf(node.kernel, sizeof node.kernel, "%s", e.kernel);
        snprintf(node.fused, sizeof node.fused, "%s", e.fused);
        node.ms = e.ms;
        node.share = e.share;
        node.gflops = e.gflops;
        node.gbps = e.gbps;
        node.bytes = e.bytes;
        if (r->profile_count < o->profile) r->profile_count++;
        memmove(&r->top[at + 1], &r->top[at], (size_t)(r->profile_count - 1 - at) * sizeof node);
        r->top[at] = node;
    }
    release(p);
}

/* The child's work: one model at one batch size. */
static void run_case(const options *o, const char *name, int64_t batch, result *r) {
    scnn_model *model = NULL;
    scnn_tensor *input = NULL;
    float *output = NULL;
    int64_t out_count = 0;
    double *times = NULL;
    int64_t classes = 0, shape[4];
    scnn_status s;
    double t0, t_warm;
    int i, runs;

    memset(r, 0, sizeof *r);
    if (o->threads > 0) r->threads_set = set_threads(o->threads);
    t0 = now();
    if ((s = scnn_model_default_num_classes(name, &classes)) != SCNN_STATUS_OK) { fail(r, "default_num_classes", s); return; }
    if ((s = scnn_model_create(name, classes, &model)) != SCNN_STATUS_OK) { fail(r, "model_create", s); return; }
    r->load_seconds = now() - t0;
    if ((s = scnn_model_input_shape(model, shape, NULL)) != SCNN_STATUS_OK) { fail(r, "model_input_shape", s); goto done; }
    shape[0] = batch;
    memcpy(r->shape, shape, sizeof shape);
    if ((s = scnn_model_macs(model, shape, &r->macs)) != SCNN_STATUS_OK) { fail(r, "model_macs", s); goto done; }
    if ((s = scnn_seeded_tensor("input", shape, 4, -1.0, 1.0, 0, &input)) != SCNN_STATUS_OK) { fail(r, "seeded_tensor", s); goto done; }
    {
        /* The first output's size for this batch: logits [N, classes] for classifiers, maps
         * or per-anchor tensors for the segmentation and detection models. */
        int64_t out_shape[8];
        int32_t out_rank = 0, k;
        if ((s = scnn_model_io_shape(model, 1, 0, NULL, 0, &out_rank)) != SCNN_STATUS_OK && out_rank <= 0) {
            fail(r, "model_io_shape", s);
            goto done;
        }
        if (out_rank < 1 || out_rank > 8) { r->ok = 0; snprintf(r->error, sizeof r->error, "output rank %d", (int)out_rank); goto done; }
        if ((s = scnn_model_output_shape(model, shape, 4, out_shape)) != SCNN_STATUS_OK) { fail(r, "model_output_shape", s); goto done; }
        out_count = 1;
        for (k = 0; k < out_rank; k++) out_count *= out_shape[k];
    }
    output = (float *)malloc((size_t)out_count * sizeof(float));
    times = (double *)malloc((size_t)MAX_RUNS * sizeof(double));
    if (!output || !times) { r->ok = 0; snprintf(r->error, sizeof r->error, "out of memory"); goto done; }
    r->rss_loaded_kib = status_kib("VmRSS");

    /* Warm-up (at least one run; further ones only while the warm-up has taken less than
     * 2 s, to keep the large models' cases short; then more until --warmup-seconds have
     * passed); the last run estimates one run's time. */
    t_warm = 0;
    {
        double warm_start = now();
        for (i = 0;; i++) {
            double spent = now() - warm_start;
            int more_runs = i < (o->warmup > 0 ? o->warmup : 1) && (i == 0 || spent <= 2.0);
            if (!more_runs && !(spent < o->warmup_seconds)) break;
            t0 = now();
            s = scnn_model_forward(model, scnn_tensor_data(input), shape, 4, output, out_count);
            t_warm = now() - t0;
            if (s != SCNN_STATUS_OK) { fail(r, "model_forward", s); goto done; }
        }
    }
    runs = o->runs;
    if (t_warm * runs > o->max_seconds) {
        runs = (int)(o->max_seconds / t_warm);
        if (runs < o->min_runs) runs = o->min_runs;
        if (runs > o->runs) runs = o->runs;
    }
    if (runs > MAX_RUNS) runs = MAX_RUNS;
    if (runs < 1) runs = 1;
    for (i = 0; i < runs; i++) {
        t0 = now();
        s = scnn_model_forward(model, scnn_tensor_data(input), shape, 4, output, out_count);
        times[i] = now() - t0;
        if (s != SCNN_STATUS_OK) { fail(r, "model_forward", s); goto done; }
    }
    qsort(times, (size_t)runs, sizeof(double), cmp_double);
    r->runs = runs;
    r->min = times[0];
    r->median = percentile(times, runs, 0.5);
    r->p10 = percentile(times, runs, 0.1);
    r->p90 = percentile(times, runs, 0.9);
    r->rss_peak_kib = status_kib("VmHWM");
    if (o->profile > 0) profile_case(o, model, scnn_tensor_data(input), shape, runs, r);
    r->ok = 1;
done:
    free(times);
    free(output);
    scnn_tensor_destroy(input);
    scnn_model_destroy(model);
}

/* Forks a child for one case; its result arrives through a pipe. */
static void run_in_child(const options *o, const char *name, int64_t batch, result *r) {
    int fds[2], status = 0;
    pid_t pid;
    size_t got = 0;

    memset(r, 0, sizeof *r);
    fflush(stdout);
    fflush(stderr);
    if (pipe(fds) != 0) { snprintf(r->error, sizeof r->error, "pipe: %s", strerror(errno)); return; }
    pid = fork();
    if (pid < 0) { snprintf(r->error, sizeof r->error, "fork: %s", strerror(errno)); close(fds[0]); close(fds[1]); return; }
    if (pid == 0) {
        result mine;
        const char *p;
        size_t left = sizeof mine;
        close(fds[0]);
        run_case(o, name, batch, &mine);
        p = (const char *)&mine;
        while (left > 0) {
            ssize_t w = write(fds[1], p, left);
            if (w <= 0) break;
            p += w;
            left -= (size_t)w;
        }
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    while (got < sizeof *r) {
        ssize_t n = read(fds[0], (char *)r + got, sizeof *r - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (got != sizeof *r) {
        memset(r, 0, sizeof *r);
        if (WIFSIGNALED(status))
            snprintf(r->error, sizeof r->error, "child killed by signal %d", WTERMSIG(status));
        else
            snprintf(r->error, sizeof r->error, "child exited with status %d without a result", WEXITSTATUS(status));
    }
}

/* Splits a comma-separated list in place (the string must stay alive). */
static int split(char *s, const char **items, int max) {
    int n = 0;
    char *tok = strtok(s, ",");
    while (tok && n < max) {
        if (*tok) items[n++] = tok;
        tok = strtok(NULL, ",");
    }
    return n;
}

static int parse_batches(char *s, options *o) {
    const char *items[MAX_BATCHES];
    int i, n = split(s, items, MAX_BATCHES);
    for (i = 0; i < n; i++) {
        long v = strtol(items[i], NULL, 10);
        if (v < 1) return 0;
        o->batches[i] = v;
    }
    o->batches_count = n;
    return n > 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: bench_models [--models a,b] [--batches 1,8] [--runs N] [--warmup N] [--warmup-seconds S]\n"
            "                    [--max-seconds S] [--min-runs N] [--threads N] [--format md|tsv] [--profile N]\n"
            "environment: SCNN_BENCH_MODELS, SCNN_BENCH_BATCHES, SCNN_BENCH_RUNS, SCNN_BENCH_WARMUP,\n"
            "             SCNN_BENCH_WARMUP_SECONDS, SCNN_BENCH_MAX_SECONDS, SCNN_BENCH_MIN_RUNS,\n"
            "             SCNN_BENCH_THREADS, SCNN_BENCH_PROFILE\n");
}

static const char *env(const char *key) {
    const char *v = getenv(key);
    return v && *v ? v : NULL;
}

static double loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* The top nodes of each profiled case: Markdown tables, or tsv "profile" lines. */
static void print_profiles(const options *o, const result *rs, const char *const *names, const int64_t *batches, int n) {
    int c, k;
    if (o->profile <= 0 || n == 0) return;
    if (o->tsv) {
        printf("profile\tmodel\tbatch\trank\tnode\top\tkernel\tfused\tms\tshare\tgflops\tgbps\tbytes\n");
    } else {
        printf("\n### Slowest nodes per case (scnn_model_profile: medians of up to 10 runs with a clock around each step)\n");
    }
    for (c = 0; c < n; c++) {
        const result *r = &rs[c];
        if (!r->ok) continue;
        if (r->profile_error[0]) {
            if (o->tsv) fprintf(stderr, "%s batch %lld: %s\n", names[c], (long long)batches[c], r->profile_error);
            else printf("\n%s, batch %lld: no profile (%s)\n", names[c], (long long)batches[c], r->profile_error);
            continue;
        }
        if (!o->tsv) {
            printf("\n**%s, batch %lld**: forward %.3f ms (median of %d runs, no per-step clocks)\n\n", names[c],
                   (long long)batches[c], r->profile_total_ms, r->profile_runs);
            printf("| node | op | kernel | ms | share | GFLOP/s | GB/s |\n|---|---|---|---:|---:|---:|---:|\n");
        }
        for (k = 0; k < r->profile_count; k++) {
            const profile_node *e = &r->top[k];
            if (o->tsv)
                printf("profile\t%s\t%lld\t%d\t%s\t%s\t%s\t%s\t%.4f\t%.4f\t%.2f\t%.2f\t%lld\n", names[c],
                       (long long)batches[c], k + 1, e->node, e->op, e->kernel, e->fused, e->ms, e->share, e->gflops,
                       e->gbps, (long long)e->bytes);
            else {
                char gflops[32];
                if (e->gflops > 0) snprintf(gflops, sizeof gflops, "%.1f", e->gflops);
                else snprintf(gflops, sizeof gflops, "-");
                printf("| %s | %s%s%s%s | %s | %.3f | %.1f%% | %s | %.1f |\n", e->node, e->op, e->fused[0] ? " (fused: " : "",
                       e->fused, e->fused[0] ? ")" : "", e->kernel, e->ms, e->share * 100, gflops, e->gbps);
            }
        }
    }
}

int main(int argc, char **argv) {
    static char models_buf[4096], batches_buf[256];
    static result profiled[MAX_MODELS * MAX_BATCHES];
    static const char *profiled_name[MAX_MODELS * MAX_BATCHES];
    static int64_t profiled_batch[MAX_MODELS * MAX_BATCHES];
    int nprofiled = 0;
    options o;
    const char *v;
    int i, j, failures = 0;
    double start = now(), sum_ms = 0;

    memset(&o, 0, sizeof o);
    o.runs = 20;
    o.warmup = 2;
    o.min_runs = 5;
    o.max_seconds = 25;
    o.batches_count = 2;
    o.batches[0] = 1;
    o.batches[1] = 8;
    models_buf[0] = 0;
    if ((v = env("SCNN_BENCH_MODELS"))) snprintf(models_buf, sizeof models_buf, "%s", v);
    if ((v = env("SCNN_BENCH_BATCHES"))) {
        snprintf(batches_buf, sizeof batches_buf, "%s", v);
        if (!parse_batches(batches_buf, &o)) { fprintf(stderr, "bad SCNN_BENCH_BATCHES\n"); return 2; }
    }
    if ((v = env("SCNN_BENCH_RUNS"))) o.runs = atoi(v);
    if ((v = env("SCNN_BENCH_WARMUP"))) o.warmup = atoi(v);
    if ((v = env("SCNN_BENCH_WARMUP_SECONDS"))) o.warmup_seconds = atof(v);
    if ((v = env("SCNN_BENCH_MAX_SECONDS"))) o.max_seconds = atof(v);
    if ((v = env("SCNN_BENCH_MIN_RUNS"))) o.min_runs = atoi(v);
    if ((v = env("SCNN_BENCH_THREADS"))) o.threads = atoi(v);
    if ((v = env("SCNN_BENCH_PROFILE"))) o.profile = atoi(v);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) { usage(); return 0; }
        if (!val) { usage(); return 2; }
        i++;
        if (strcmp(a, "--models") == 0) snprintf(models_buf, sizeof models_buf, "%s", val);
        else if (strcmp(a, "--batches") == 0) {
            snprintf(batches_buf, sizeof batches_buf, "%s", val);
            if (!parse_batches(batches_buf, &o)) { fprintf(stderr, "bad --batches\n"); return 2; }
        } else if (strcmp(a, "--runs") == 0) o.runs = atoi(val);
        else if (strcmp(a, "--warmup") == 0) o.warmup = atoi(val);
        else if (strcmp(a, "--warmup-seconds") == 0) o.warmup_seconds = atof(val);
        else if (strcmp(a, "--max-seconds") == 0) o.max_seconds = atof(val);
        else if (strcmp(a, "--min-runs") == 0) o.min_runs = atoi(val);
        else if (strcmp(a, "--threads") == 0) o.threads = atoi(val);
        else if (strcmp(a, "--format") == 0) o.tsv = strcmp(val, "tsv") == 0;
        else if (strcmp(a, "--profile") == 0) o.profile = atoi(val);
        else { usage(); return 2; }
    }
    if (o.runs < 1) o.runs = 1;
    if (o.min_runs < 1) o.min_runs = 1;
    if (o.profile < 0) o.profile = 0;
    if (o.profile > MAX_PROFILE) o.profile = MAX_PROFILE;
    if (models_buf[0]) {
        o.models_count = split(models_buf, o.models, MAX_MODELS);
    } else {
        int32_t n = scnn_model_count();
        for (i = 0; i < n && i < MAX_MODELS; i++) o.models[o.models_count++] = scnn_model_name(i);
    }

    if (o.tsv) {
        printf("model\tbatch\tinput\tmacs_per_image\truns\tmedian_ms\tp10_ms\tp90_ms\tmin_ms\tgflops\trss_loaded_mib\trss_peak_mib\n");
    } else {
        /* Only looked up here: the call itself happens in each child, so that no thread
         * pool exists in the parent when it forks. */
        char threads_text[128];
        if (o.threads <= 0)
            snprintf(threads_text, sizeof threads_text, "the library's default");
        else if (dlsym(RTLD_DEFAULT, "scnn_set_num_threads"))
            snprintf(threads_text, sizeof threads_text, "%d (scnn_set_num_threads)", o.threads);
        else
            snprintf(threads_text, sizeof threads_text, "%d asked, but the library has no scnn_set_num_threads", o.threads);
        printf("## Zoo models through the C ABI (%s)\n\n", scnn_version());
        printf("threads: %s; warm-up %d, then up to %d timed runs per case (at least %d; fewer when %d runs\n"
               "would exceed %.0f s); load average at start %.2f\n\n",
               threads_text,
               o.warmup, o.runs, o.min_runs, o.runs, o.max_seconds, loadavg());
        printf("| model | input | GMAC/img | runs | median ms | p10 ms | p90 ms | ms/img | GFLOP/s | RSS loaded MiB | peak RSS MiB |\n");
        printf("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    }
    for (i = 0; i < o.models_count; i++) {
        for (j = 0; j < o.batches_count; j++) {
            result r;
            int64_t b = o.batches[j];
            run_in_child(&o, o.models[i], b, &r);
            if (o.profile > 0 && nprofiled < MAX_MODELS * MAX_BATCHES) {
                profiled[nprofiled] = r;
                profiled_name[nprofiled] = o.models[i];
                profiled_batch[nprofiled++] = b;
            }
            if (!r.ok) {
                failures++;
                fprintf(stderr, "%s batch %lld: %s\n", o.models[i], (long long)b, r.error);
                continue;
            }
            {
                double gflops = 2.0 * (double)r.macs * (double)b / r.median / 1e9;
                char input[64];
                snprintf(input, sizeof input, "%lldx%lldx%lldx%lld", (long long)r.shape[0], (long long)r.shape[1],
                         (long long)r.shape[2], (long long)r.shape[3]);
                sum_ms += r.median * 1e3;
                if (o.tsv) {
                    printf("%s\t%lld\t%s\t%lld\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.2f\t%.1f\t%.1f\n", o.models[i], (long long)b,
                           input, (long long)r.macs, r.runs, r.median * 1e3, r.p10 * 1e3, r.p90 * 1e3, r.min * 1e3,
                           gflops, (double)r.rss_loaded_kib / 1024, (double)r.rss_peak_kib / 1024);
                } else {
                    printf("| %s | %s | %.4f | %d | %.3f | %.3f | %.3f | %.3f | %.1f | %.0f | %.0f |\n", o.models[i], input,
                           (double)r.macs / 1e9, r.runs, r.median * 1e3, r.p10 * 1e3, r.p90 * 1e3,
                           r.median * 1e3 / (double)b, gflops, (double)r.rss_loaded_kib / 1024,
                           (double)r.rss_peak_kib / 1024);
                }
                fflush(stdout);
            }
        }
    }
    if (!o.tsv) {
        printf("\nGMAC/img: multiply-accumulates per image (scnn_model_macs); GFLOP/s = 2 x GMAC/img x batch / median.\n");
        printf("RSS loaded: resident memory after creating the model and its input; peak RSS: VmHWM after all runs\n");
        printf("(each case in its own process). Wall time %.0f s; load average at end %.2f.\n", now() - start, loadavg());
    }
    print_profiles(&o, profiled, profiled_name, profiled_batch, nprofiled);
    (void)sum_ms;
    if (failures) fprintf(stderr, "bench_models: %d case(s) failed\n", failures);
    return failures ? 1 : 0;
}
