/* Shape analysis and counts of the C ABI: the seed's output sizes (5, 3 and the 2.33 error),
 * its receptive field (two 3x3 convs see 5) and weight counts (65,961,984 and 2,499,712),
 * and every bad input answered with a status and a message. */
#include "harness.h"

#include <stdint.h>

SCNN_TEST(test_output_size_seed) {
    int64_t n = -1;
    CHECK_OK(scnn_output_size(7, 3, 1, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &n));
    CHECK(n == 5);
    CHECK_OK(scnn_output_size(7, 3, 2, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &n));
    CHECK(n == 3);
    n = -1;
    CHECK_STATUS(scnn_output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "2.33") != NULL);
    CHECK(n == -1); /* unchanged on failure */
    CHECK_OK(scnn_output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_FLOOR, &n));
    CHECK(n == 2);
    CHECK_OK(scnn_output_size(7, 3, 3, 0, 1, SCNN_OUTPUT_SIZE_MODE_CEIL, &n));
    CHECK(n == 3);
    CHECK_OK(scnn_output_size(7, 3, 2, 1, 1, SCNN_OUTPUT_SIZE_MODE_EXACT, &n));
    CHECK(n == 4);
    CHECK_OK(scnn_output_size(10, 3, 1, 0, 2, SCNN_OUTPUT_SIZE_MODE_EXACT, &n)); /* dilated kernel spans 5 */
    CHECK(n == 6);
}

SCNN_TEST(test_output_size_bad_input) {
    int64_t n = 0;
    CHECK_STATUS(scnn_output_size(7, 3, 1, 0, 1, 0, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(7, 3, 0, 0, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "stride") != NULL);
    CHECK_STATUS(scnn_output_size(7, 0, 1, 0, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(7, 3, 1, -1, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(7, 3, 1, 0, 0, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(0, 1, 1, 0, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(-7, 3, 1, 0, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(7, 9, 1, 0, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT); /* kernel > input */
    CHECK_STATUS(scnn_output_size(7, 3, 1, 0, 1, 3, &n), SCNN_STATUS_INVALID_ARGUMENT); /* bad mode */
    CHECK(strstr(scnn_last_error(), "mode") != NULL);
    CHECK_STATUS(scnn_output_size(7, 3, 1, 0, 1, -1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(7, 3, 1, INT64_MAX, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "overflow") != NULL);
    CHECK_STATUS(scnn_output_size(7, INT64_MAX, 1, 0, INT64_MAX, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_output_size(INT64_MAX, 3, 1, 1, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_OK(scnn_output_size(INT64_MAX, 1, 1, 0, 1, 0, &n));
    CHECK(n == INT64_MAX);
}

SCNN_TEST(test_receptive_field) {
    int64_t k2[2] = {3, 3}, s2[2] = {1, 1}, d1[1] = {2}, k1[1] = {3}, s1[1] = {1};
    int64_t k3[3] = {3, 2, 3}, s3[3] = {1, 2, 1}, d3[3] = {1, 1, 2};
    int64_t size = 0, jump = 0;
    CHECK_OK(scnn_receptive_field(k2, s2, NULL, 2, &size, &jump));
    CHECK(size == 5 && jump == 1);
    CHECK_OK(scnn_receptive_field(k1, s1, d1, 1, &size, NULL)); /* dilation 2: 3x3 sees 5 */
    CHECK(size == 5);
    /* conv 3, pool 2 stride 2, conv 3 dilation 2: 1 + 2 + 1 + 2*2*2 = 12, jump 2 */
    CHECK_OK(scnn_receptive_field(k3, s3, d3, 3, &size, &jump));
    CHECK(size == 12 && jump == 2);
    CHECK_OK(scnn_receptive_field(NULL, NULL, NULL, 0, &size, &jump));
    CHECK(size == 1 && jump == 1);
}

SCNN_TEST(test_receptive_field_bad_input) {
    int64_t k[2] = {3, 3}, s[2] = {1, 0}, d[2] = {1, 0}, kz[1] = {0}, s1[1] = {1};
    int64_t kb[4] = {3, 3, 3, 3}, sb[4] = {INT64_MAX / 2, INT64_MAX / 2, INT64_MAX / 2, INT64_MAX / 2};
    int64_t size = 0;
    CHECK_STATUS(scnn_receptive_field(k, s, NULL, 2, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_receptive_field(NULL, s, NULL, 2, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "kernels") != NULL);
    CHECK_STATUS(scnn_receptive_field(k, NULL, NULL, 2, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_receptive_field(k, s, NULL, 2, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT); /* stride 0 */
    CHECK(strstr(scnn_last_error(), "layer 1") != NULL);
    CHECK_STATUS(scnn_receptive_field(k, k, d, 2, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);   /* dilation 0 */
    CHECK_STATUS(scnn_receptive_field(kz, s1, NULL, 1, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_receptive_field(k, k, NULL, -1, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_receptive_field(kb, sb, NULL, 4, &size, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "overflow") != NULL);
}

SCNN_TEST(test_counts_seed) {
    int64_t a = 0, b = 0, c = 0, d = 0, total;
    /* MLP 224*224 -> 1024 -> 2048 -> 4096 -> 1000, no biases */
    CHECK_OK(scnn_linear_parameter_count(224 * 224, 1024, 0, &a));
    CHECK_OK(scnn_linear_parameter_count(1024, 2048, 0, &b));
    CHECK_OK(scnn_linear_parameter_count(2048, 4096, 0, &c));
    CHECK_OK(scnn_linear_parameter_count(4096, 1000, 0, &d));
    total = a + b + c + d;
    CHECK(total == 65961984);
    /* CNN: 3x3 convs 1 -> 128 -> 256 -> 512, then fully connected 1024 -> 1000, no biases */
    CHECK_OK(scnn_conv2d_parameter_count(1, 128, 3, 3, 1, 0, &a));
    CHECK(a == 1152);
    CHECK_OK(scnn_conv2d_parameter_count(128, 256, 3, 3, 1, 0, &b));
    CHECK(b == 294912);
    CHECK_OK(scnn_conv2d_parameter_count(256, 512, 3, 3, 1, 0, &c));
    CHECK_OK(scnn_linear_parameter_count(1024, 1000, 0, &d));
    total = a + b + c + d;
    CHECK(total == 2499712);
}

SCNN_TEST(test_counts) {
    int64_t n = 0;
    CHECK_OK(scnn_conv2d_parameter_count(3, 96, 11, 11, 1, 1, &n)); /* AlexNet conv1 */
    CHECK(n == 34944);
    CHECK_OK(scnn_conv2d_parameter_count(8, 16, 3, 5, 4, 1, &n)); /* groups 4: 16*2*3*5 + 16 */
    CHECK(n == 496);
    CHECK_OK(scnn_linear_parameter_count(25088, 4096, 1, &n));
    CHECK(n == 102764544);
    CHECK_OK(scnn_conv2d_macs(3, 64, 3, 3, 1, 224, 224, &n));
    CHECK(n == 86704128);
    CHECK_OK(scnn_conv2d_macs(8, 16, 3, 3, 2, 5, 7, &n)); /* 5*7*16*4*9 */
    CHECK(n == 20160);
    CHECK_OK(scnn_linear_macs(4096, 1000, &n));
    CHECK(n == 4096000);
}

SCNN_TEST(test_counts_bad_input) {
    int64_t n = 0;
    CHECK_STATUS(scnn_conv2d_parameter_count(3, 4, 3, 3, 1, 1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(3, 4, 3, 3, 2, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "groups") != NULL);
    CHECK_STATUS(scnn_conv2d_parameter_count(3, 4, 3, 3, 0, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(0, 4, 3, 3, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(3, -4, 3, 3, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(3, 4, 0, 3, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(3, 4, 3, -3, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_parameter_count(INT64_MAX, INT64_MAX, 3, 3, 1, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(strstr(scnn_last_error(), "overflow") != NULL);
    CHECK_STATUS(scnn_linear_parameter_count(3, 4, 1, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_parameter_count(0, 4, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_parameter_count(3, 0, 1, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_parameter_count(INT64_MAX, 2, 0, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_parameter_count(INT64_MAX, 1, 1, &n), SCNN_STATUS_INVALID_ARGUMENT); /* + bias */
    CHECK_STATUS(scnn_conv2d_macs(3, 4, 3, 3, 1, 5, 5, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_macs(3, 4, 3, 3, 1, 0, 5, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_macs(3, 4, 3, 3, 1, 5, -5, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_macs(3, 4, 3, 3, 3, 5, 5, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_conv2d_macs(1, 1, 1, 1, 1, INT64_MAX, 2, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_macs(3, 4, NULL), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_macs(-3, 4, &n), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_linear_macs(INT64_MAX, INT64_MAX, &n), SCNN_STATUS_INVALID_ARGUMENT);
}

/* Extreme values everywhere: OK or INVALID_ARGUMENT with a message, never a crash. */
SCNN_TEST(test_analysis_extreme_arguments) {
    const int64_t v[7] = {INT64_MIN, -1, 0, 1, 3, INT64_MAX / 2, INT64_MAX};
    int64_t n = 0, size = 0, jump = 0, ks[2], ss[2], ds[2];
    int a, b, c, d, bad = 0, fine = 0;
    for (a = 0; a < 7; a++)
        for (b = 0; b < 7; b++)
            for (c = 0; c < 7; c++)
                for (d = 0; d < 7; d++) {
                    scnn_status st[5];
                    int i;
                    st[0] = scnn_output_size(v[a], v[b], v[c], v[d], v[(a + b) % 7], (int32_t)(d % 4), &n);
                    st[1] = scnn_conv2d_parameter_count(v[a], v[b], v[c], v[d], v[(c + d) % 7], a % 2, &n);
                    st[2] = scnn_conv2d_macs(v[a], v[b], 3, 3, v[c], v[d], v[(a + d) % 7], &n);
                    ks[0] = v[a]; ks[1] = v[b]; ss[0] = v[c]; ss[1] = v[d]; ds[0] = v[(a + c) % 7]; ds[1] = v[(b + d) % 7];
                    st[3] = scnn_receptive_field(ks, ss, ds, 2, &size, &jump);
                    st[4] = scnn_linear_parameter_count(v[a], v[b], c % 2, &n);
                    for (i = 0; i < 5; i++) {
                        if (st[i] == SCNN_STATUS_OK) fine++;
                        else if (st[i] == SCNN_STATUS_INVALID_ARGUMENT && scnn_last_error()[0] != '\0') bad++;
                        else CHECK(!"unexpected status or empty message");
                    }
                }
    CHECK(fine > 0 && bad > 0);
}
