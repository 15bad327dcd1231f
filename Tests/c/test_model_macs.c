/* scnn_model_macs (added for the benchmarks): per-example multiply-accumulates, checked
 * against counts computed here by hand from the layer shapes. */
#include <stdint.h>

#include "harness.h"

/* LeNet-5 (modern), 32x32: conv 1->6 5x5 at 28x28, conv 6->16 5x5 at 10x10,
 * conv 16->120 5x5 at 1x1, linear 120->84, linear 84->10. */
static int64_t lenet5_macs(void) {
    return (int64_t)6 * 1 * 25 * 28 * 28 + (int64_t)16 * 6 * 25 * 10 * 10 + (int64_t)120 * 16 * 25 + 120 * 84 + 84 * 10;
}

/* ResNet-50 at 224x224: the im2col GEMMs M (out channels) x N (OH*OW) x K (C*KH*KW) of its
 * 53 convolutions, with multiplicity, plus the 2048->1000 linear layer. */
static int64_t resnet50_macs(void) {
    static const int64_t g[][4] = {
        {64, 12544, 147, 1},  {64, 3136, 64, 1},    {64, 3136, 576, 3},   {256, 3136, 64, 4},  {64, 3136, 256, 2},
        {128, 3136, 256, 1},  {128, 784, 1152, 4},  {512, 784, 128, 4},   {512, 784, 256, 1},  {128, 784, 512, 3},
        {256, 784, 512, 1},   {256, 196, 2304, 6},  {1024, 196, 256, 6},  {1024, 196, 512, 1}, {256, 196, 1024, 5},
        {512, 196, 1024, 1},  {512, 49, 4608, 3},   {2048, 49, 512, 3},   {2048, 49, 1024, 1}, {512, 49, 2048, 2},
    };
    int64_t total = 2048 * 1000;
    size_t i;
    for (i = 0; i < sizeof g / sizeof g[0]; i++) total += g[i][0] * g[i][1] * g[i][2] * g[i][3];
    return total;
}

SCNN_TEST(model_macs_lenet5) {
    scnn_model *m = NULL;
    int64_t macs = -1, shape[4] = {8, 1, 32, 32};
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_model_macs(m, NULL, &macs));
    CHECK(macs == lenet5_macs());
    macs = -1;
    CHECK_OK(scnn_model_macs(m, shape, &macs)); /* per example: the batch does not change it */
    CHECK(macs == lenet5_macs());
    shape[2] = 28;
    scnn_test_status(scnn_model_macs(m, shape, &macs), SCNN_STATUS_SHAPE_MISMATCH, __FILE__, __LINE__, "lenet5 28x28");
    CHECK(macs == 0);
    scnn_test_status(scnn_model_macs(m, NULL, NULL), SCNN_STATUS_INVALID_ARGUMENT, __FILE__, __LINE__, "NULL out");
    scnn_test_status(scnn_model_macs(NULL, NULL, &macs), SCNN_STATUS_INVALID_ARGUMENT, __FILE__, __LINE__, "NULL model");
    scnn_model_destroy(m);
}

SCNN_TEST(model_macs_resnet50) {
    scnn_model *m = NULL;
    int64_t macs = -1, shape[4] = {1, 3, 224, 224};
    CHECK_OK(scnn_model_create("resnet50", 1000, &m));
    CHECK_OK(scnn_model_macs(m, shape, &macs));
    CHECK(macs == resnet50_macs());
    CHECK(macs == 4089184256LL);
    scnn_model_destroy(m);
}
