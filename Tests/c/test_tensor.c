/* The tensor handles, statuses and versions of the C ABI. */
#include "harness.h"

#include <stdlib.h>

SCNN_TEST(test_versions) {
    const char *v = scnn_version();
    int major = -1, minor = -1, patch = -1;
    CHECK(v != NULL);
    CHECK(sscanf(v, "%d.%d.%d", &major, &minor, &patch) == 3);
    CHECK(major >= 0 && minor >= 0 && patch >= 0);
    CHECK(scnn_abi_version() == SCNN_ABI_VERSION);
}

SCNN_TEST(test_status_strings) {
    CHECK(strcmp(scnn_status_string(SCNN_STATUS_OK), "ok") == 0);
    CHECK(strcmp(scnn_status_string(SCNN_STATUS_INVALID_ARGUMENT), "invalid argument") == 0);
    CHECK(strcmp(scnn_status_string(SCNN_STATUS_SHAPE_MISMATCH), "shape mismatch") == 0);
    CHECK(strcmp(scnn_status_string(-1), "unknown status") == 0);
    CHECK(strcmp(scnn_status_string(1000000), "unknown status") == 0);
}

SCNN_TEST(test_tensor_lifecycle) {
    int64_t shape[4] = {2, 3, 4, 5};
    int64_t got[4] = {0, 0, 0, 0};
    scnn_tensor *t = NULL;
    const float *d;
    float *m;
    CHECK_OK(scnn_tensor_create(shape, 4, &t));
    CHECK(t != NULL);
    CHECK(scnn_tensor_rank(t) == 4);
    CHECK(scnn_tensor_numel(t) == 120);
    CHECK_OK(scnn_tensor_shape(t, got, 4));
    CHECK(got[0] == 2 && got[1] == 3 && got[2] == 4 && got[3] == 5);
    d = scnn_tensor_data(t);
    CHECK(d != NULL && d[0] == 0.0f && d[119] == 0.0f);
    m = scnn_tensor_mutable_data(t);
    CHECK(m != NULL);
    if (m) m[7] = 3.5f;
    CHECK(scnn_tensor_data(t)[7] == 3.5f);
    scnn_tensor_destroy(t);
    scnn_tensor_destroy(NULL); /* a no-op */
    CHECK(scnn_tensor_rank(NULL) == 0);
    CHECK(scnn_tensor_numel(NULL) == 0);
    CHECK(scnn_tensor_data(NULL) == NULL);
}

SCNN_TEST(test_tensor_from_data_copies) {
    float src[6] = {1, 2, 3, 4, 5, 6};
    float dst[6] = {0, 0, 0, 0, 0, 0};
    int64_t shape[2] = {2, 3};
    scnn_tensor *t = NULL;
    CHECK_OK(scnn_tensor_from_data(src, 6, shape, 2, &t));
    src[0] = 100; /* the tensor holds its own copy */
    CHECK(scnn_tensor_data(t)[0] == 1.0f);
    CHECK_OK(scnn_tensor_copy_to(t, dst, 6));
    CHECK(dst[5] == 6.0f);
    CHECK_STATUS(scnn_tensor_copy_to(t, dst, 5), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_tensor_copy_to(t, NULL, 6), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(t);
}

SCNN_TEST(test_tensor_wrap_borrows_and_never_writes) {
    float src[4] = {1, 2, 3, 4};
    int64_t shape[1] = {4};
    scnn_tensor *t = NULL, *t2 = NULL, *r = NULL;
    int64_t rshape[2] = {2, 2};
    float *m;
    CHECK_OK(scnn_tensor_wrap(src, 4, shape, 1, &t));
    CHECK(scnn_tensor_data(t) == src); /* no copy */
    m = scnn_tensor_mutable_data(t);   /* detaches into a private copy */
    CHECK(m != NULL && m != src);
    if (m) m[0] = 42;
    CHECK(src[0] == 1.0f);
    CHECK_OK(scnn_tensor_reshape(t, rshape, 2, &r));
    CHECK(scnn_tensor_rank(r) == 2 && scnn_tensor_data(r)[0] == 42.0f);
    scnn_tensor_destroy(r);
    r = NULL;
    src[1] = 7; /* the original is still borrowed ... */
    CHECK_OK(scnn_tensor_wrap(src, 4, shape, 1, &t2));
    CHECK_OK(scnn_tensor_reshape(t2, rshape, 2, &r)); /* ... but a reshape of it owns a copy */
    CHECK(scnn_tensor_data(r) != src && scnn_tensor_data(r)[1] == 7.0f);
    scnn_tensor_destroy(t2);
    scnn_tensor_destroy(t);
    CHECK(scnn_tensor_data(r)[3] == 4.0f); /* r keeps the storage alive */
    scnn_tensor_destroy(r);
}

SCNN_TEST(test_tensor_bad_input) {
    int64_t shape[4] = {2, 3, 4, 5};
    int64_t zero[2] = {2, 0};
    int64_t neg[2] = {2, -3};
    int64_t huge[4] = {INT64_MAX / 2, 4, 4, 4};
    int64_t big[2] = {1 << 30, 1 << 30}; /* 4 EiB of floats: more than any machine */
    int64_t five[5] = {1, 1, 1, 1, 1};
    float buf[4] = {0, 0, 0, 0};
    scnn_tensor *t = (scnn_tensor *)&buf; /* must be reset to NULL on failure */
    int64_t got[4];
    CHECK_STATUS(scnn_tensor_create(NULL, 2, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(t == NULL);
    CHECK_STATUS(scnn_tensor_create(shape, 0, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_create(five, 5, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_create(shape, -1, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_create(zero, 2, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_create(neg, 2, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "dimension") != NULL);
    CHECK_STATUS(scnn_tensor_create(huge, 4, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "overflow") != NULL);
    CHECK_STATUS(scnn_tensor_create(big, 2, &t), SCNN_STATUS_OUT_OF_MEMORY);
    CHECK_STATUS(scnn_tensor_create(shape, 4, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_from_data(NULL, 4, shape, 1, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_from_data(buf, 3, shape, 1, &t), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_tensor_wrap(buf, 5, shape, 1, &t), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_tensor_wrap(buf, -4, shape, 1, &t), SCNN_STATUS_SHAPE_MISMATCH);
    CHECK_STATUS(scnn_tensor_reshape(NULL, shape, 1, &t), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_shape(NULL, got, 4), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_tensor_create(shape, 4, &t));
    {
        scnn_tensor *r = NULL;
        int64_t wrong[2] = {7, 7};
        CHECK_STATUS(scnn_tensor_reshape(t, wrong, 2, &r), SCNN_STATUS_SHAPE_MISMATCH);
        CHECK(r == NULL);
    }
    CHECK_STATUS(scnn_tensor_shape(t, got, 3), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_tensor_shape(t, NULL, 4), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_tensor_mutable_data(NULL) == NULL);
    scnn_tensor_destroy(t);
}
