/* classify: a zoo model by name, or a model file, on an image (PPM/PGM; PNG, JPEG with
 * stb_image): top-5 labels with probabilities.
 *
 *   cc -std=c99 -IInclude examples/classify.c -o classify -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib -lm
 *   ./classify [MODEL] [WEIGHTS.safetensors|-] [IMAGE|-]
 *
 * MODEL defaults to resnet18. It is a zoo name (resnet18, vgg16, lenet5, ...: see
 * scnn_model_names) or a model file -- a path that names an existing file, or any path
 * ending in .safetensors -- as scnn_model_save or Python's model.save writes it (the
 * network and its weights in one file, see docs/model-format.md), opened with
 * scnn_model_open. WEIGHTS is a safetensors file with torchvision's state_dict names, e.g.
 * written in Python by
 *     safetensors.torch.save_file(torchvision.models.resnet18(weights="DEFAULT").state_dict(), "r18.safetensors")
 * Without it (or with -) a zoo model keeps its seeded, untrained weights and the labels are
 * meaningless; a model file has its own weights (WEIGHTS, if given, replaces them).
 * IMAGE is a binary PPM (P6) or PGM (P5), or a PNG or JPEG when built with stb_image
 * (examples/image_io.h); without it a test picture is made.
 * The image is converted to a tensor with ImageNet's mean and std, resized so that its
 * shorter side is 256/224 of the model's input size, center-cropped to the input size
 * (torchvision's eval preprocessing), run through the model, and the softmax's top 5 are
 * printed with ImageNet labels (1000-class models) and the forward time.
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

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

/* A model file rather than a zoo name: an existing file, or a name ending in .safetensors. */
static int is_model_file(const char *arg) {
    struct stat st;
    size_t n = strlen(arg), ext = strlen(".safetensors");
    if (stat(arg, &st) == 0 && S_ISREG(st.st_mode)) return 1;
    return n >= ext && strcmp(arg + n - ext, ".safetensors") == 0;
}

static void usage(const char *prog) {
    fprintf(stderr,
            "usage: %s [MODEL] [WEIGHTS.safetensors|-] [IMAGE|-]\n"
            "  MODEL    a zoo name (default resnet18) or a model file (.safetensors, as model.save writes)\n"
            "  WEIGHTS  torchvision-named weights for a zoo model (- or absent: seeded, untrained)\n"
            "  IMAGE    a binary PPM or PGM, or " IMAGE_IO_MORE " (- or absent: a made-up test picture)\n",
            prog);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A 320x240 RGB test picture: a sky gradient over a green field with an orange disc. */
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
            double dx = (double)x - 200, dy = (double)y - 110;
            if (dx * dx + dy * dy < 45 * 45) {
                p[0] = 240; p[1] = 140; p[2] = 30;
            } else if (y > 160) {
                p[0] = 40; p[1] = (uint8_t)(120 + (y - 160)); p[2] = 40;
            } else {
                p[0] = (uint8_t)(90 + y / 2); p[1] = (uint8_t)(150 + y / 3); p[2] = 235;
            }
        }
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *arg = argc > 1 ? argv[1] : "resnet18";
    const char *name = arg;
    const char *weights = argc > 2 && strcmp(argv[2], "-") != 0 ? argv[2] : NULL;
    const char *image = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    static const float gray_mean[1] = {0.449f}, gray_std[1] = {0.226f};
    ppm_image img;
    char err[256];
    scnn_model *model = NULL;
    scnn_tensor *t = NULL, *t2 = NULL;
    int64_t in_shape[4], batch_shape[4], h, w, rh, rw, classes, i, k;
    float *logits = NULL;
    int best[5] = {-1, -1, -1, -1, -1};
    double t0, t1, maxv, sum;
    int64_t io_shape[8];
    int32_t in_rank = 0;
    int rc = 1, from_file;

    (void)ppm_write; /* ppm.h is shared with the examples that write images */
    memset(&img, 0, sizeof img);
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
        usage(argv[0]);
        return 0;
    }
    from_file = is_model_file(arg);
    if (from_file) {
        /* a self-describing model file: the network and its weights */
        if (!check(scnn_model_open(arg, &model), "scnn_model_open")) return 1;
        name = scnn_model_get_name(model);
    } else {
        /* 1000 ImageNet classes; 10 for the LeNets. */
        if (!check(scnn_model_default_num_classes(name, &classes), "scnn_model_default_num_classes")) {
            usage(argv[0]);
            return 1;
        }
        if (!check(scnn_model_create(name, classes, &model), "scnn_model_create")) return 1;
    }
    classes = scnn_model_num_classes(model);
    printf("model %s: %lld parameters, %lld classes\n", scnn_model_get_name(model),
           (long long)scnn_model_num_parameters(model), (long long)classes);
    if (from_file) printf("model file: %s\n", arg);
    if (weights) {
        if (!check(scnn_model_load(model, weights), "scnn_model_load")) goto done;
        printf("weights: %s\n", weights);
    } else if (from_file) {
        printf("weights: from the model file\n");
    } else {
        printf("weights: seeded and untrained (pass a safetensors file for real predictions)\n");
    }
    /* classify takes images: the model's input must be [1, C, H, W] */
    if (!check(scnn_model_io_shape(model, 0, 0, io_shape, 8, &in_rank), "scnn_model_io_shape")) goto done;
    if (in_rank != 4) {
        fprintf(stderr, "%s takes inputs of rank %d, not images [N, C, H, W]\n", name, (int)in_rank);
        goto done;
    }
    if (image) {
        if (image_read(image, &img, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            goto done;
        }
    } else if (make_picture(&img) != 0) {
        fprintf(stderr, "out of memory\n");
        goto done;
    }
    if (!check(scnn_model_input_shape(model, in_shape, NULL), "scnn_model_input_shape")) goto done;
    if (img.channels != in_shape[1]) {
        if (img.channels == 3 && in_shape[1] == 1) {
            scnn_tensor *rgb = NULL;
            if (!check(scnn_image_to_tensor(img.pixels, img.width, img.height, 3, 0, 1.0f / 255, NULL, NULL, &rgb),
                       "scnn_image_to_tensor")) goto done;
            if (!check(scnn_rgb_to_grayscale(rgb, &t), "scnn_rgb_to_grayscale")) { scnn_tensor_destroy(rgb); goto done; }
            scnn_tensor_destroy(rgb);
            {   /* normalize the gray image in place */
                float *d = scnn_tensor_mutable_data(t);
                for (i = 0; d && i < scnn_tensor_numel(t); i++) d[i] = (d[i] - gray_mean[0]) / gray_std[0];
            }
        } else {
            fprintf(stderr, "%s takes %lld-channel images; the image has %lld\n", name, (long long)in_shape[1],
                    (long long)img.channels);
            goto done;
        }
    } else if (!check(scnn_image_to_tensor(img.pixels, img.width, img.height, img.channels, 0, 1.0f / 255,
                                           img.channels == 3 ? mean : gray_mean, img.channels == 3 ? stdev : gray_std, &t),
                      "scnn_image_to_tensor")) {
        goto done;
    }
    /* Resize the shorter side to input·256/224, then center-crop to the input size. */
    h = in_shape[2];
    w = in_shape[3];
    if (img.height <= img.width) {
        rh = h * 256 / 224;
        rw = (int64_t)((double)img.width * (double)rh / (double)img.height + 0.5);
    } else {
        rw = w * 256 / 224;
        rh = (int64_t)((double)img.height * (double)rw / (double)img.width + 0.5);
    }
    if (rh < h) rh = h;
    if (rw < w) rw = w;
    if (!check(scnn_resize_bilinear(t, rh, rw, &t2), "scnn_resize_bilinear")) goto done;
    scnn_tensor_destroy(t);
    t = NULL;
    if (!check(scnn_center_crop(t2, h, w, &t), "scnn_center_crop")) goto done;
    batch_shape[0] = 1;
    batch_shape[1] = in_shape[1];
    batch_shape[2] = h;
    batch_shape[3] = w;
    logits = (float *)malloc((size_t)classes * sizeof(float));
    if (!logits) goto done;
    t0 = now();
    if (!check(scnn_model_forward(model, scnn_tensor_data(t), batch_shape, 4, logits, classes), "scnn_model_forward"))
        goto done;
    t1 = now();
    if (strcmp(name, "lenet5_original") == 0) /* RBF penalties: lower is better */
        for (i = 0; i < classes; i++) logits[i] = -logits[i];
    maxv = logits[0];
    for (i = 1; i < classes; i++) if (logits[i] > maxv) maxv = logits[i];
    sum = 0;
    for (i = 0; i < classes; i++) sum += exp((double)logits[i] - maxv);
    for (k = 0; k < 5 && k < classes; k++) {
        for (i = 0; i < classes; i++) {
            int taken = 0, j;
            for (j = 0; j < k; j++) if (best[j] == i) taken = 1;
            if (!taken && (best[k] < 0 || logits[i] > logits[best[k]])) best[k] = (int)i;
        }
    }
    printf("image %lldx%lld -> input [1, %lld, %lld, %lld]; forward %.1f ms\n", (long long)img.width,
           (long long)img.height, (long long)in_shape[1], (long long)h, (long long)w, 1e3 * (t1 - t0));
    printf("top-5:\n");
    for (k = 0; k < 5 && k < classes; k++) {
        const char *label = classes == 1000 ? scnn_imagenet_class(best[k]) : NULL;
        char fallback[32];
        if (!label) {
            snprintf(fallback, sizeof fallback, "class %d", best[k]);
            label = fallback;
        }
        printf("  %6.2f%%  %4d  %s\n", 100.0 * exp((double)logits[best[k]] - maxv) / sum, best[k], label);
    }
    rc = 0;
done:
    free(logits);
    free(img.pixels);
    scnn_tensor_destroy(t);
    scnn_tensor_destroy(t2);
    scnn_model_destroy(model);
    return rc;
}
