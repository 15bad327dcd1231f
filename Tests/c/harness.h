/* A tiny test harness for the C ABI tests: each file registers its test functions with
 * SCNN_TEST(name) { ... }, and checks count as passed or failed. main (harness.c) runs
 * every registered function and prints the closing line "LANG: N passed, N failed".
 * The same sources are built as C99 and as C++17 (Makefile: c-test). */
#ifndef SCNN_TEST_HARNESS_H
#define SCNN_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "swiftcnn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*scnn_test_fn)(void);
void scnn_test_register(const char *name, scnn_test_fn fn);
void scnn_test_result(int ok, const char *file, int line, const char *what);
/* Checks that `status` is `expected`; on an error status also that a message was set. */
void scnn_test_status(scnn_status status, scnn_status expected, const char *file, int line, const char *what);
/* max |a - b| over n floats. */
float scnn_test_max_diff(const float *a, const float *b, long n);

#ifdef __cplusplus
}
#endif

/* Registers `static void name(void)` to run before main's summary. */
#define SCNN_TEST(name)                                                     \
    static void name(void);                                                 \
    __attribute__((constructor)) static void name##_register(void) {        \
        scnn_test_register(#name, name);                                    \
    }                                                                       \
    static void name(void)

#define CHECK(cond) scnn_test_result((cond) ? 1 : 0, __FILE__, __LINE__, #cond)
/* A call that must succeed. */
#define CHECK_OK(call) scnn_test_status((call), SCNN_STATUS_OK, __FILE__, __LINE__, #call)
/* A call that must fail with `expected` and leave a message in scnn_last_error(). */
#define CHECK_STATUS(call, expected) scnn_test_status((call), (expected), __FILE__, __LINE__, #call)
#define CHECK_NEAR(a, b, tol) CHECK(fabs((double)(a) - (double)(b)) <= (tol))

#endif
