/* pictures: what a trained LeNet-5 learned, drawn by libswiftcnn (scnn_picture_*).
 *
 *   cc -std=c99 -IInclude examples/pictures.c -o pictures -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 *   ./pictures [WEIGHTS.safetensors] [DIGITS.safetensors] [OUTPUT-DIR]
 *
 * WEIGHTS (default build/digits_lenet5.safetensors) is lenet5's state dict, DIGITS (default
 * build/digits_test.safetensors) the held-out digits ("images" [N, 1, 32, 32]), both written
 * by examples/train_digits.py. For the first digit the program writes into OUTPUT-DIR
 * (default build/):
 *   c_filters.png          C1's learned filters (scnn_picture_filters)
 *   c_activations.ppm      C1's feature maps for the digit (scnn_picture_activations), as PPM
 *   c_receptive_field.png  what unit (2, 2) of C3 sees of the digit (scnn_picture_receptive_field)
 *   c_detection.png        the digit enlarged 4 times, with a box around its ink and the
 *                          predicted class as caption (scnn_picture_detections)
 * Exit status 0 on success, 1 on any error.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "pictures: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

/* Saves `pic` as dir/name and reports it. */
static int save(const scnn_picture *pic, const char *dir, const char *name) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (!check(scnn_picture_save(pic, path, SCNN_PICTURE_FORMAT_AUTO), path)) return 0;
    printf("  %s  %lldx%lld\n", path, (long long)scnn_picture_width(pic), (long long)scnn_picture_height(pic));
    return 1;
}

int main(int argc, char **argv) {
    const char *weights = argc > 1 ? argv[1] : "build/digits_lenet5.safetensors";
    const char *data = argc > 2 ? argv[2] : "build/digits_test.safetensors";
    const char *dir = argc > 3 ? argv[3] : "build";
    static const char *const digit_names[10] = {"zero", "one", "two", "three", "four",
                                                "five", "six", "seven", "eight", "nine"};
    scnn_model *model = NULL;
    scnn_tensor *images = NULL, *digit = NULL;
    scnn_picture *pic = NULL, *input = NULL, *big = NULL;
    int64_t shape[4] = {1, 1, 32, 32};
    float logits[10];
    float box[4], score;
    int64_t label = 0;
    const uint8_t *px;
    int ok = 0, k, x, y, x0 = 32, y0 = 32, x1 = -1, y1 = -1;

    if (!check(scnn_model_create("lenet5", 10, &model), "scnn_model_create") ||
        !check(scnn_model_load(model, weights), weights) ||
        !check(scnn_safetensors_read(data, "images", &images), data) ||
        !check(scnn_tensor_from_data(scnn_tensor_data(images), 32 * 32, shape, 4, &digit), "the first digit"))
        goto done;
    printf("pictures of %s, first digit of %s:\n", weights, data);

    if (!check(scnn_picture_filters(model, "features.0.weight", 0, &pic), "filters") || !save(pic, dir, "c_filters.png"))
        goto done;
    scnn_picture_destroy(pic);
    pic = NULL;
    if (!check(scnn_picture_activations(model, digit, "features.0", 3, &pic), "activations") ||
        !save(pic, dir, "c_activations.ppm"))
        goto done;
    scnn_picture_destroy(pic);
    pic = NULL;
    /* the digit as a picture (min-max scaled), then C3's unit (2, 2) on it */
    if (!check(scnn_picture_from_tensor(digit, &input), "picture from tensor") ||
        !check(scnn_picture_receptive_field(model, "features.3", 2, 2, input, 8, &pic), "receptive field") ||
        !save(pic, dir, "c_receptive_field.png"))
        goto done;
    scnn_picture_destroy(pic);
    pic = NULL;

    /* classify, box the ink (pixels brighter than mid grey) of the 4x enlarged digit */
    if (!check(scnn_model_forward(model, scnn_tensor_data(digit), shape, 4, logits, 10), "forward")) goto done;
    for (k = 1; k < 10; k++)
        if (logits[k] > logits[label]) label = k;
    score = 0;
    {
        float sum = 0, m = logits[label];
        for (k = 0; k < 10; k++) sum += (float)exp((double)(logits[k] - m));
        score = 1.0f / sum; /* softmax probability of the predicted class */
    }
    px = scnn_picture_data(input);
    for (y = 0; y < 32; y++)
        for (x = 0; x < 32; x++)
            if (px[(y * 32 + x) * 3] > 128) {
                if (x < x0) x0 = x;
                if (y < y0) y0 = y;
                if (x > x1) x1 = x;
                if (y > y1) y1 = y;
            }
    {
        uint8_t *rgb = (uint8_t *)malloc(128 * 128 * 3);
        if (rgb == NULL) goto done;
        for (y = 0; y < 128; y++)
            for (x = 0; x < 128; x++) memcpy(rgb + (y * 128 + x) * 3, px + ((y / 4) * 32 + x / 4) * 3, 3);
        k = check(scnn_picture_from_rgb(rgb, 128, 128, 0, &big), "picture from rgb");
        free(rgb);
        if (!k) goto done;
    }
    box[0] = (float)(x0 * 4);
    box[1] = (float)(y0 * 4);
    box[2] = (float)((x1 + 1) * 4);
    box[3] = (float)((y1 + 1) * 4);
    if (!check(scnn_picture_detections(big, 1, box, &score, &label, digit_names, 10, &pic), "detections") ||
        !save(pic, dir, "c_detection.png"))
        goto done;
    printf("predicted %s (%.2f)\n", digit_names[label], (double)score);
    ok = 1;
done:
    scnn_picture_destroy(pic);
    scnn_picture_destroy(big);
    scnn_picture_destroy(input);
    scnn_tensor_destroy(digit);
    scnn_tensor_destroy(images);
    scnn_model_destroy(model);
    return ok ? 0 : 1;
}
