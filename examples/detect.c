/* detect: objects in an image (PPM/PGM; PNG, JPEG with stb_image) with a zoo detector
 * (SSD300-VGG16 or SSDLite320-MobileNetV3), printed with COCO names
 * and drawn as boxes into a new PPM.
 *
 *   cc -std=c99 -IInclude examples/detect.c -o detect -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib -lm
 *   ./detect [MODEL] [WEIGHTS.safetensors|-] [IMAGE|-] [OUT.ppm] [MIN_SCORE]
 *
 * MODEL defaults to ssd300_vgg16: a zoo detector (ssd300_vgg16,
 * ssdlite320_mobilenet_v3_large), or a model file saved from one (a path that
 * names an existing file or ends in .safetensors). WEIGHTS is torchvision's state_dict saved
 * with safetensors, e.g. in Python
 *     safetensors.torch.save_file(torchvision.models.detection.ssd300_vgg16(weights="DEFAULT").state_dict(),
 *                                 "ssd300.safetensors")
 * Without it (or with -) a zoo model keeps seeded, untrained weights: the boxes are
 * meaningless. IMAGE is a binary PPM (P6) or PGM (P5), or a PNG or JPEG when built with
 * stb_image (examples/image_io.h); without it a test picture is made.
 * OUT (default detections.ppm) receives the image with the boxes drawn, written atomically.
 * MIN_SCORE (default: the model's, 0.01 for SSD300) is the score threshold. At most 20 detections are
 * printed and drawn, the best first; scnn_model_detect resizes and normalizes the image the
 * way torchvision does, and its boxes are in the image's pixels.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "swiftcnn.h"
#include "image_io.h"

#define MAX_SHOWN 20

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

static int is_model_file(const char *arg) {
    struct stat st;
    size_t n = strlen(arg), ext = strlen(".safetensors");
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    return n >= ext && strcmp(arg + n - ext, ".safetensors") == 0;
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A 320x240 RGB test picture: sky, a road, and a red block standing on it. */
static int make_picture(ppm_image *img) {
    int64_t x, y;
    img->width = 320;
    img->height = 240;
    img->channels = 3;
    img->pixels = (uint8_t *)malloc((size_t)(320 * 240 * 3));
    if (!img->pixels) return -1;
    for (y = 0; y < 240; y++) {
        for (x = 0; x < 320; x++) {
            uint8_t *p = img->pixels + (y * 320 + x) * 3;
            if (x >= 110 && x < 210 && y >= 120 && y < 190) {
                p[0] = 200; p[1] = 30; p[2] = 30;
            } else if (y > 170) {
                p[0] = 90; p[1] = 90; p[2] = 95;
            } else {
                p[0] = (uint8_t)(120 + y / 3); p[1] = (uint8_t)(170 + y / 4); p[2] = 240;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : "ssd300_vgg16";
    const char *weights = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    const char *image = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    const char *out_path = argc > 4 ? argv[4] : "detections.ppm";
    float min_score = argc > 5 ? (float)atof(argv[5]) : NAN;
    static const uint8_t palette[6][3] = {{255, 0, 0}, {0, 200, 0}, {0, 80, 255}, {255, 200, 0}, {255, 0, 255}, {0, 220, 220}};
    ppm_image img;
    char err[256];
    scnn_model *model = NULL;
    scnn_tensor *t = NULL;
    scnn_detection dets[MAX_SHOWN];
    int64_t classes = 0, count = 0, i;
    double t0, t1;
    int rc = 1;

    memset(&img, 0, sizeof img);
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        fprintf(stderr, "usage: %s [MODEL] [WEIGHTS.safetensors|-] [IMAGE|-] [OUT.ppm] [MIN_SCORE]\n", argv[0]);
        return 0;
    }
    if (is_model_file(arg)) {
        if (!check(scnn_model_open(arg, &model), "scnn_model_open")) return 1;
    } else {
        if (!check(scnn_model_default_num_classes(arg, &classes), "scnn_model_default_num_classes")) return 1;
        if (!check(scnn_model_create(arg, classes, &model), "scnn_model_create")) return 1;
    }
    printf("model %s: %lld parameters\n", scnn_model_get_name(model), (long long)scnn_model_num_parameters(model));
    if (weights) {
        if (!check(scnn_model_load(model, weights), "scnn_model_load")) goto done;
        printf("weights: %s\n", weights);
    } else if (!is_model_file(arg)) {
        printf("weights: seeded and untrained (pass torchvision's weights for real detections)\n");
    }
    if (image) {
        if (image_read(image, &img, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
        if (img.channels == 1 && ppm_gray_to_rgb(&img) != 0) {
            fprintf(stderr, "out of memory\n");
            goto done;
        }
    } else if (make_picture(&img) != 0) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    /* pixels / 255 as CHW floats in [0, 1]: torchvision's input convention */
    if (!check(scnn_image_to_tensor(img.pixels, img.width, img.height, 3, 0, 1.0f / 255, NULL, NULL, &t),
               "scnn_image_to_tensor"))
        goto done;
    t0 = now();
    if (!check(scnn_model_detect(model, scnn_tensor_data(t), 3, img.height, img.width, min_score, NAN, -1, dets,
                                 MAX_SHOWN, &count),
               "scnn_model_detect"))
        goto done;
    t1 = now();
    printf("image %lldx%lld: %lld detections in %.1f ms%s\n", (long long)img.width, (long long)img.height,
           (long long)count, 1e3 * (t1 - t0), count > MAX_SHOWN ? " (the best 20 shown)" : "");
    for (i = 0; i < count && i < MAX_SHOWN; i++) {
        const char *label = scnn_coco_class(dets[i].label);
        printf("  %5.3f  %-16s  [%7.1f, %7.1f, %7.1f, %7.1f]\n", dets[i].score, label ? label : "?", dets[i].x1,
               dets[i].y1, dets[i].x2, dets[i].y2);
        ppm_draw_rect(&img, dets[i].x1, dets[i].y1, dets[i].x2, dets[i].y2, 2, palette[dets[i].label % 6]);
    }
    if (ppm_write(out_path, img.pixels, img.width, img.height, 3) != 0) {
        fprintf(stderr, "cannot write %s\n", out_path);
        goto done;
    }
    printf("wrote %s\n", out_path);
    rc = 0;
done:
    free(img.pixels);
    scnn_tensor_destroy(t);
    scnn_model_destroy(model);
    return rc;
}
