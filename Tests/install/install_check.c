/* install_check: a C program built against an *installed* swiftcnn (make install-test).
 *
 * Tests/install/run.sh builds it twice -- once with `cc $(pkg-config --cflags --libs swiftcnn)`
 * and once through CMake's find_package(swiftcnn) (Tests/install/CMakeLists.txt) -- and runs
 * both against the library in the temporary prefix. It does real work: a 3x3 convolution
 * with known values, and a forward of the zoo's lenet5 on a [2, 1, 32, 32] batch.
 *
 *   install_check [EXPECTED_VERSION]
 *
 * Prints one line per failed check and the closing line "install_check: N passed, N failed";
 * exits 0 only when nothing failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <swiftcnn.h>

static int passed, failed;

static void check(int ok, int line, const char *what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        fprintf(stderr, "install_check.c:%d: FAILED: %s\n", line, what);
    }
}
#define CHECK(cond) check((cond) ? 1 : 0, __LINE__, #cond)

static int ok(scnn_status s, int line, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "install_check.c:%d: %s: %s: %s\n", line, what, scnn_status_string(s), scnn_last_error());
    }
    check(s == SCNN_STATUS_OK, line, what);
    return s == SCNN_STATUS_OK;
}
#define OK(call) ok((call), __LINE__, #call)

static float absf(float x) { return x < 0 ? -x : x; }

/* A 4x4 ramp (0..15) through a 3x3 kernel of ones and bias 0.5: out[y][x] is the sum of the
 * 3x3 window at (y, x) plus 0.5, e.g. out[0][0] = 0+1+2+4+5+6+8+9+10 + 0.5 = 45.5. */
static void conv_known_values(void) {
    float input[16], weight[9], bias[1] = {0.5f};
    int64_t in_shape[4] = {1, 1, 4, 4}, w_shape[4] = {1, 1, 3, 3}, b_shape[1] = {1};
    int64_t out_shape[4] = {0, 0, 0, 0};
    float out[4] = {0, 0, 0, 0};
    const float expected[4] = {45.5f, 54.5f, 81.5f, 90.5f};
    scnn_tensor *x = NULL, *w = NULL, *b = NULL, *y = NULL;
    int i;
    for (i = 0; i < 16; i++) input[i] = (float)i;
    for (i = 0; i < 9; i++) weight[i] = 1.0f;
    if (OK(scnn_tensor_from_data(input, 16, in_shape, 4, &x)) &&
        OK(scnn_tensor_from_data(weight, 9, w_shape, 4, &w)) &&
        OK(scnn_tensor_from_data(bias, 1, b_shape, 1, &b)) &&
        OK(scnn_conv2d(x, w, b, NULL, NULL, NULL, 1, &y))) {
        CHECK(scnn_tensor_rank(y) == 4);
        if (OK(scnn_tensor_shape(y, out_shape, 4))) {
            CHECK(out_shape[0] == 1 && out_shape[1] == 1 && out_shape[2] == 2 && out_shape[3] == 2);
        }
        if (OK(scnn_tensor_copy_to(y, out, 4))) {
            for (i = 0; i < 4; i++) CHECK(absf(out[i] - expected[i]) < 1e-4f);
        }
    }
    scnn_tensor_destroy(y);
    scnn_tensor_destroy(b);
    scnn_tensor_destroy(w);
    scnn_tensor_destroy(x);
}

/* lenet5 from the zoo on two different images: [2, 10] finite logits that differ by image,
 * and a wrong input shape refused with SHAPE_MISMATCH and a message. */
static void zoo_forward(void) {
    static float input[2 * 32 * 32];
    float logits[20];
    int64_t shape[4] = {2, 1, 32, 32}, bad[4] = {1, 3, 32, 32}, out_shape[2] = {0, 0};
    scnn_model *model = NULL;
    int i, finite = 1, differ = 0;
    for (i = 0; i < 2 * 32 * 32; i++) input[i] = (float)((i * 37) % 101) / 101.0f - (i >= 1024 ? 0.25f : 0.0f);
    if (!OK(scnn_model_create("lenet5", 10, &model))) return;
    CHECK(strcmp(scnn_model_get_name(model), "lenet5") == 0);
    CHECK(scnn_model_num_classes(model) == 10);
    if (OK(scnn_model_output_shape(model, shape, 4, out_shape))) {
        CHECK(out_shape[0] == 2 && out_shape[1] == 10);
    }
    if (OK(scnn_model_forward(model, input, shape, 4, logits, 20))) {
        for (i = 0; i < 20; i++) {
            if (!(logits[i] == logits[i]) || absf(logits[i]) > 1e6f) finite = 0;
            if (i < 10 && absf(logits[i] - logits[i + 10]) > 1e-6f) differ = 1;
        }
        CHECK(finite);
        CHECK(differ);
    }
    CHECK(scnn_model_forward(model, input, bad, 4, logits, 20) == SCNN_STATUS_SHAPE_MISMATCH);
    CHECK(strlen(scnn_last_error()) > 0);
    scnn_model_destroy(model);
}

int main(int argc, char **argv) {
    CHECK(scnn_abi_version() == SCNN_ABI_VERSION);
    if (argc > 1) {
        CHECK(strcmp(scnn_version(), argv[1]) == 0);
    }
    conv_known_values();
    zoo_forward();
    printf("install_check (swiftcnn %s): %d passed, %d failed\n", scnn_version(), passed, failed);
    return failed == 0 && passed > 0 ? 0 : 1;
}
