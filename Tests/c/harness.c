#include "harness.h"

#include <stdlib.h>

#ifndef SCNN_TEST_LANG
#define SCNN_TEST_LANG "c"
#endif

#define MAX_TESTS 512

static struct { const char *name; scnn_test_fn fn; } tests[MAX_TESTS];
static int test_count = 0, passed = 0, failed = 0;
static const char *current = "";

void scnn_test_register(const char *name, scnn_test_fn fn) {
    if (test_count < MAX_TESTS) {
        tests[test_count].name = name;
        tests[test_count].fn = fn;
        test_count++;
    }
}

void scnn_test_result(int ok, const char *file, int line, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s (%s:%d): %s\n", current, file, line, what);
    }
}

void scnn_test_status(scnn_status status, scnn_status expected, const char *file, int line, const char *what) {
    int ok = status == expected;
    if (ok && status != SCNN_STATUS_OK) ok = scnn_last_error()[0] != '\0';
    if (!ok) {
        failed++;
        printf("FAIL %s (%s:%d): %s returned %s, expected %s; last error: %s\n", current, file, line, what,
               scnn_status_string((int32_t)status), scnn_status_string((int32_t)expected), scnn_last_error());
    } else {
        passed++;
    }
}

float scnn_test_max_diff(const float *a, const float *b, long n) {
    float m = 0;
    long i;
    for (i = 0; i < n; i++) {
        float d = (float)fabs((double)a[i] - (double)b[i]);
        if (!(d <= m)) m = d; /* NaN counts as a difference */
    }
    return m;
}

int main(int argc, char **argv) {
    int i;
    const char *only = argc > 1 ? argv[1] : NULL;
    for (i = 0; i < test_count; i++) {
        if (only && !strstr(tests[i].name, only)) continue;
        current = tests[i].name;
        tests[i].fn();
    }
    printf("%s: %d passed, %d failed\n", SCNN_TEST_LANG, passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
