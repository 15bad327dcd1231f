/* segment: semantic segmentation of an image (PPM/PGM; PNG, JPEG with stb_image) with a zoo
 * model (scnn_model_segment): a label map as a PGM of class indices and a colour PPM, and the
 * pixel count of every class.
 *
 *   cc -std=c99 -IInclude examples/segment.c -o segment -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib -lm
 *   ./segment IMAGE LABELS.pgm COLOR.ppm [--model NAME] [--weights FILE]
 *
 * NAME is a zoo segmentation model: fcn_resnet50 (default), deeplabv3_resnet50, or their _aux
 * variants. FILE is a safetensors state_dict with torchvision's names, e.g. torchvision's
 * COCO-with-VOC-labels checkpoint saved with safetensors (it has the auxiliary head: use an
 * _aux model, since scnn_model_load is strict); without it the model keeps its seeded weights
 * (not trained: the labels are meaningless, the pipeline is the same).
 * IMAGE is a binary PPM (P6), or a PNG or JPEG when built with stb_image
 * (examples/image_io.h); a gray image is read as gray RGB.
 *
 * scnn_model_segment does torchvision's preprocessing (bytes / 255, ImageNet mean and std),
 * runs the model at the image's size and returns, per pixel, the argmax class and its
 * softmax probability at the image's size. LABELS.pgm holds the class index of each pixel
 * (0-20, so it looks nearly black: it is data, not a picture); COLOR.ppm colours each class
 * with the PASCAL VOC palette (class c's bits interleaved from the top bit down: bit 3j of c
 * sets bit 7-j of red, 3j+1 of green, 3j+2 of blue). Both are written to a temporary file and
 * renamed (ppm.h).
 * Prints one line per class present: "  INDEX  NAME  PIXELS  PERCENT%  MEAN-SCORE" (VOC
 * names, scnn_voc_class). Exit status: 0 on success, 1 on failure (the message says what),
 * 2 for bad usage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "image_io.h"

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "segment: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

static void usage(FILE *to, const char *prog) {
    fprintf(to,
            "usage: %s IMAGE LABELS.pgm COLOR.ppm [--model NAME] [--weights FILE]\n"
            "  IMAGE      a binary PPM (P6) or PGM (P5) image, or " IMAGE_IO_MORE "\n"
            "  LABELS     the class index of each pixel (binary PGM)\n"
            "  COLOR      the label map coloured with the PASCAL VOC palette (binary PPM)\n"
            "  --model    fcn_resnet50 (default), deeplabv3_resnet50, fcn_resnet50_aux, deeplabv3_resnet50_aux\n"
            "  --weights  a safetensors state_dict with torchvision's names (default: seeded weights)\n",
            prog);
}

/* The PASCAL VOC colour of class c. */
static void voc_color(int32_t c, uint8_t rgb[3]) {
    int j;
    rgb[0] = rgb[1] = rgb[2] = 0;
    for (j = 0; j < 8; j++) {
        rgb[0] |= (uint8_t)(((c >> 0) & 1) << (7 - j));
        rgb[1] |= (uint8_t)(((c >> 1) & 1) << (7 - j));
        rgb[2] |= (uint8_t)(((c >> 2) & 1) << (7 - j));
        c >>= 3;
    }
}

int main(int argc, char **argv) {
    const char *image_path = NULL, *labels_path = NULL, *color_path = NULL, *name = "fcn_resnet50", *weights = NULL;
    ppm_image img;
    char err[512];
    scnn_model *model = NULL;
    int32_t *labels = NULL, classes, k;
    float *scores = NULL;
    uint8_t *gray = NULL, *rgb = NULL;
    int64_t *count = NULL, n, p;
    double *score_sum = NULL;
    int rc = 1, a;

    memset(&img, 0, sizeof img);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[a], "--model") == 0 || strcmp(argv[a], "--weights") == 0) {
            if (a + 1 >= argc || argv[a + 1][0] == '\0') {
                fprintf(stderr, "segment: %s needs a value\n", argv[a]);
                return 2;
            }
            if (argv[a][2] == 'm') name = argv[++a]; else weights = argv[++a];
        } else if (argv[a][0] == '-' && argv[a][1] == '-') {
            fprintf(stderr, "segment: unknown option %s\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        } else if (!image_path) {
            image_path = argv[a];
        } else if (!labels_path) {
            labels_path = argv[a];
        } else if (!color_path) {
            color_path = argv[a];
        } else {
            fprintf(stderr, "segment: unexpected argument \"%s\"\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!image_path || !labels_path || !color_path) {
        usage(stderr, argv[0]);
        return 2;
    }

    if (image_read(image_path, &img, err, sizeof err) != 0) {
        fprintf(stderr, "segment: %s\n", err);
        return 1;
    }
    if (img.channels == 1 && ppm_gray_to_rgb(&img) != 0) {
        fprintf(stderr, "segment: out of memory\n");
        goto done;
    }
    if (!check(scnn_model_default_num_classes(name, &n), "scnn_model_default_num_classes")) goto done;
    if (!check(scnn_model_create(name, n, &model), "scnn_model_create")) goto done;
    if (weights && !check(scnn_model_load(model, weights), "scnn_model_load")) goto done;
    classes = scnn_model_num_classes(model);
    n = img.width * img.height;
    labels = (int32_t *)malloc((size_t)n * sizeof *labels);
    scores = (float *)malloc((size_t)n * sizeof *scores);
    gray = (uint8_t *)malloc((size_t)n);
    rgb = (uint8_t *)malloc((size_t)n * 3);
    count = (int64_t *)calloc((size_t)classes, sizeof *count);
    score_sum = (double *)calloc((size_t)classes, sizeof *score_sum);
    if (!labels || !scores || !gray || !rgb || !count || !score_sum) {
        fprintf(stderr, "segment: out of memory\n");
        goto done;
    }
    if (!check(scnn_model_segment(model, img.pixels, img.width, img.height, 3, 0, labels, scores, n),
               "scnn_model_segment"))
        goto done;
    for (p = 0; p < n; p++) {
        k = labels[p];
        if (k < 0 || k >= classes) {
            fprintf(stderr, "segment: label %d out of range\n", (int)k);
            goto done;
        }
        count[k]++;
        score_sum[k] += scores[p];
        gray[p] = (uint8_t)(k > 255 ? 255 : k);
        voc_color(k, rgb + 3 * p);
    }
    if (ppm_write(labels_path, gray, img.width, img.height, 1) != 0) {
        fprintf(stderr, "segment: cannot write %s\n", labels_path);
        goto done;
    }
    if (ppm_write(color_path, rgb, img.width, img.height, 3) != 0) {
        fprintf(stderr, "segment: cannot write %s\n", color_path);
        goto done;
    }
    printf("%s on %s (%lldx%lld)%s: %d classes\n", name, image_path, (long long)img.width, (long long)img.height,
           weights ? "" : " with seeded weights", (int)classes);
    for (k = 0; k < classes; k++) {
        const char *label = classes == scnn_voc_class_count() ? scnn_voc_class(k) : NULL;
        if (count[k] == 0) continue;
        printf("  %2d  %-12s %8lld  %5.1f%%  %.3f\n", (int)k, label ? label : "?", (long long)count[k],
               100.0 * (double)count[k] / (double)n, score_sum[k] / (double)count[k]);
    }
    printf("wrote %s and %s\n", labels_path, color_path);
    rc = 0;
done:
    free(labels);
    free(scores);
    free(gray);
    free(rgb);
    free(count);
    free(score_sum);
    free(img.pixels);
    scnn_model_destroy(model);
    return rc;
}
