/* two_copies: two copies of the portable library in one process (a plugin host whose
 * plugins each ship their own libswiftcnn) must each run their own variant, with their own
 * state.
 *
 *   two_copies LIBRARY
 *
 * Copies LIBRARY to two temporary files (two files, so that the dynamic linker cannot take
 * them for one object), dlopens both, and checks that a thread count set through one is
 * not seen through the other, both ways. The loader opens its variant from a memory file
 * as /proc/self/fd/N; had the second copy been handed the first copy's variant (the same
 * N, the same name), the two would share one thread count. Prints "N passed, N failed";
 * exits 1 on a failure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int32_t (*get_fn)(void);
typedef int (*set_fn)(int32_t);

static int passed = 0, failed = 0;

static void check(int ok, char const *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAILED: %s\n", what);
    }
}

/* Copies `src` to a new temporary file; its path in `path` (cap bytes). 0 on success. */
static int copy_to_temp(char const *src, char *path, size_t cap) {
    char const *dir = getenv("TMPDIR");
    if (!dir || !dir[0]) dir = "/tmp";
    if (snprintf(path, cap, "%s/swiftcnn-two-copies-XXXXXX", dir) >= (int)cap) return -1;
    int out = mkstemp(path);
    if (out < 0) return -1;
    int in = open(src, O_RDONLY);
    if (in < 0) {
        close(out);
        unlink(path);
        return -1;
    }
    char buf[1 << 16];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        if (write(out, buf, (size_t)n) != n) {
            rc = -1;
            break;
        }
    }
    if (n < 0) rc = -1;
    close(in);
    close(out);
    if (rc != 0) unlink(path);
    return rc;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: two_copies LIBRARY\n");
        return 2;
    }
    char pa[4096], pb[4096];
    if (copy_to_temp(argv[1], pa, sizeof pa) != 0 || copy_to_temp(argv[1], pb, sizeof pb) != 0) {
        fprintf(stderr, "two_copies: cannot copy %s to a temporary file\n", argv[1]);
        return 2;
    }
    void *a = dlopen(pa, RTLD_NOW | RTLD_LOCAL);
    void *b = dlopen(pb, RTLD_NOW | RTLD_LOCAL);
    unlink(pa);
    unlink(pb);
    if (!a || !b) {
        fprintf(stderr, "two_copies: dlopen: %s\n", dlerror());
        return 2;
    }
    check(a != b, "two handles");
    get_fn get_a, get_b, def_a, def_b;
    set_fn set_a, set_b;
    *(void **)&get_a = dlsym(a, "scnn_get_num_threads");
    *(void **)&get_b = dlsym(b, "scnn_get_num_threads");
    *(void **)&def_a = dlsym(a, "scnn_default_num_threads");
    *(void **)&def_b = dlsym(b, "scnn_default_num_threads");
    *(void **)&set_a = dlsym(a, "scnn_set_num_threads");
    *(void **)&set_b = dlsym(b, "scnn_set_num_threads");
    if (!get_a || !get_b || !def_a || !def_b || !set_a || !set_b) {
        fprintf(stderr, "two_copies: a symbol is missing: %s\n", dlerror());
        return 2;
    }
    int32_t da = def_a(), db = def_b();
    check(da == db, "the same default thread count");
    /* A count neither default is. */
    int32_t other = da == 3 ? 5 : 3;
    check(set_a(other) == 0, "set through the first copy");
    check(get_a() == other, "the first copy has the new count");
    check(get_b() == db, "the second copy keeps its own count");
    check(set_b(1) == 0, "set through the second copy");
    check(get_b() == 1, "the second copy has the new count");
    check(get_a() == other, "the first copy keeps its count");
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
