/* onnx_classify: classify an image (PPM/PGM; PNG, JPEG with stb_image) with a model converted
 * from ONNX: top-K classes with softmax probabilities.
 *
 *   cc -std=c99 -IInclude examples/onnx_classify.c -o onnx_classify -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib -lm
 *   ./onnx_classify MODEL.safetensors IMAGE [--top K] [--labels imagenet|none]
 *
 * MODEL is a swiftcnn model file converted from ONNX, e.g. torchvision's MobileNet v2:
 *     python -c "import torch, torchvision; m = torchvision.models.mobilenet_v2(weights='DEFAULT').eval();
 *                torch.onnx.export(m, torch.zeros(1, 3, 224, 224), 'mobilenet_v2.onnx')"
 *     python -m swiftcnn.onnx convert mobilenet_v2.onnx mobilenet_v2.safetensors
 * It is opened with scnn_model_open (the network and its weights in one file). It must take
 * one RGB image [1, 3, H, W] and give logits [1, classes] (trailing dimensions of 1 are fine).
 * IMAGE is a binary PPM (P6), or a PNG or JPEG when built with stb_image
 * (examples/image_io.h); a gray image is read as gray RGB.
 *
 * Preprocessing (torchvision's ImageNet normalization): bytes / 255, then per channel
 * (x - mean) / std with mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225
 * (scnn_image_to_tensor), then a bilinear resize to the model's input size H x W, as
 * F.interpolate(mode="bilinear", align_corners=False) (scnn_resize_bilinear; the image is
 * stretched, not cropped, and not resized at all when it already has the input size).
 *
 * --top K     how many classes to print, best first (default 5; at most the class count)
 * --labels    imagenet: ImageNet-1k names (scnn_imagenet_class; needs 1000 classes);
 *             none: class numbers only. Default: imagenet for 1000-class models, else none.
 *
 * Prints the model's input and output, the preprocessing, the forward time, then one line
 * per class: "  RANK  PROB%  INDEX  NAME" (PROB: softmax probability in percent; NAME "-"
 * without labels). Exit status: 0 on success, 1 when something fails (the message says
 * what), 2 for bad usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "swiftcnn.h"
#include "shape_text.h"
#include "image_io.h"

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "onnx_classify: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

static void usage(FILE *to, const char *prog) {
    fprintf(to,
            "usage: %s MODEL.safetensors IMAGE [--top K] [--labels imagenet|none]\n"
            "  MODEL     a swiftcnn model file converted from ONNX (python -m swiftcnn.onnx convert)\n"
            "  IMAGE     a binary PPM (P6) or PGM (P5) image, or " IMAGE_IO_MORE "\n"
            "  --top K   print the K most probable classes (default 5)\n"
            "  --labels  imagenet (ImageNet-1k names; the default for 1000 classes) or none\n",
            prog);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    const char *model_path = NULL, *image_path = NULL, *labels = NULL;
    long top = 5;
    ppm_image img;
    char err[512], text[2][128];
    scnn_model *model = NULL;
    scnn_tensor *t = NULL, *resized = NULL, *logits_t = NULL, *probs_t = NULL;
    int64_t in_shape[8], out_shape[8], classes = 1, i, k, *best = NULL;
    int32_t in_rank = 0, out_rank = 0, j, use_imagenet;
    float *logits = NULL;
    const float *probs;
    double t0, t1;
    int rc = 1, a;

    (void)ppm_write; /* ppm.h is shared with the examples that write images */
    memset(&img, 0, sizeof img);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[a], "--top") == 0) {
            char *end = NULL;
            if (a + 1 >= argc) {
                fprintf(stderr, "onnx_classify: --top needs a number\n");
                return 2;
            }
            errno = 0;
            top = strtol(argv[++a], &end, 10);
            if (errno != 0 || end == argv[a] || *end != '\0' || top < 1) {
                fprintf(stderr, "onnx_classify: --top wants a whole number >= 1, not \"%s\"\n", argv[a]);
                return 2;
            }
        } else if (strcmp(argv[a], "--labels") == 0) {
            if (a + 1 >= argc || (strcmp(argv[a + 1], "imagenet") != 0 && strcmp(argv[a + 1], "none") != 0)) {
                fprintf(stderr, "onnx_classify: --labels wants imagenet or none\n");
                return 2;
            }
            labels = argv[++a];
        } else if (argv[a][0] == '-' && argv[a][1] == '-') {
            fprintf(stderr, "onnx_classify: unknown option %s\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        } else if (!model_path) {
            model_path = argv[a];
        } else if (!image_path) {
            image_path = argv[a];
        } else {
            fprintf(stderr, "onnx_classify: unexpected argument \"%s\"\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!model_path || !image_path) {
        usage(stderr, argv[0]);
        return 2;
    }

    /* The model file is the whole network with its weights. */
    if (!check(scnn_model_open(model_path, &model), "scnn_model_open")) return 1;
    if (!check(scnn_model_io_shape(model, 0, 0, in_shape, 8, &in_rank), "scnn_model_io_shape(input)")) goto done;
    if (!check(scnn_model_io_shape(model, 1, 0, out_shape, 8, &out_rank), "scnn_model_io_shape(output)")) goto done;
    if (in_rank != 4 || in_shape[1] != 3) {
        fprintf(stderr, "onnx_classify: %s takes %s; this example needs RGB images [1, 3, H, W]\n", model_path,
                shape_text(in_shape, in_rank, text[0], sizeof text[0]));
        goto done;
    }
    for (j = 1; j < out_rank; j++) classes *= out_shape[j];
    for (j = 2; j < out_rank; j++) {
        if (out_shape[j] != 1) {
            fprintf(stderr, "onnx_classify: %s's output \"%s\" is %s; expected logits [1, classes]\n", model_path,
                    scnn_model_output_name(model, 0), shape_text(out_shape, out_rank, text[0], sizeof text[0]));
            goto done;
        }
    }
    printf("model %s: \"%s\", input \"%s\" %s, output \"%s\" %s\n", model_path, scnn_model_get_name(model),
           scnn_model_input_name(model, 0), shape_text(in_shape, in_rank, text[0], sizeof text[0]),
           scnn_model_output_name(model, 0), shape_text(out_shape, out_rank, text[1], sizeof text[1]));
    if (!labels) labels = classes == scnn_imagenet_class_count() ? "imagenet" : "none";
    use_imagenet = strcmp(labels, "imagenet") == 0;
    if (use_imagenet && classes != scnn_imagenet_class_count()) {
        fprintf(stderr, "onnx_classify: the model has %lld classes; ImageNet labels need %d (use --labels none)\n",
                (long long)classes, (int)scnn_imagenet_class_count());
        goto done;
    }

    /* ImageNet normalization, then a bilinear resize to the model's input size. */
    if (image_read(image_path, &img, err, sizeof err) != 0) {
        fprintf(stderr, "onnx_classify: %s\n", err);
        goto done;
    }
    if (img.channels == 1 && ppm_gray_to_rgb(&img) != 0) {
        fprintf(stderr, "onnx_classify: out of memory\n");
        goto done;
    }
    if (!check(scnn_image_to_tensor(img.pixels, img.width, img.height, 3, 0, 1.0f / 255, mean, stdev, &t),
               "scnn_image_to_tensor")) goto done;
    if (img.height != in_shape[2] || img.width != in_shape[3]) {
        if (!check(scnn_resize_bilinear(t, in_shape[2], in_shape[3], &resized), "scnn_resize_bilinear")) goto done;
        scnn_tensor_destroy(t);
        t = resized;
        resized = NULL;
    }
    printf("image %s: %lldx%lld -> %lldx%lld (bilinear), ImageNet mean/std\n", image_path, (long long)img.width,
           (long long)img.height, (long long)in_shape[3], (long long)in_shape[2]);

    logits = (float *)malloc((size_t)classes * sizeof *logits);
    if (!logits) {
        fprintf(stderr, "onnx_classify: out of memory\n");
        goto done;
    }
    t0 = now();
    if (!check(scnn_model_forward(model, scnn_tensor_data(t), in_shape, 4, logits, classes), "scnn_model_forward"))
        goto done;
    t1 = now();
    printf("forward: %.1f ms\n", 1e3 * (t1 - t0));

    /* Softmax over the classes; then the K best, ties to the lower index. */
    if (!check(scnn_tensor_wrap(logits, classes, &classes, 1, &logits_t), "scnn_tensor_wrap")) goto done;
    if (!check(scnn_softmax(logits_t, -1, &probs_t), "scnn_softmax")) goto done;
    probs = scnn_tensor_data(probs_t);
    if (top > classes) top = (long)classes;
    best = (int64_t *)malloc((size_t)top * sizeof *best);
    if (!best) {
        fprintf(stderr, "onnx_classify: out of memory\n");
        goto done;
    }
    for (k = 0; k < top; k++) {
        best[k] = -1;
        for (i = 0; i < classes; i++) {
            int64_t m;
            int taken = 0;
            for (m = 0; m < k; m++) taken |= best[m] == i;
            if (!taken && (best[k] < 0 || logits[i] > logits[best[k]])) best[k] = i;
        }
    }
    printf("top-%ld of %lld classes:\n", top, (long long)classes);
    for (k = 0; k < top; k++) {
        const char *name = use_imagenet ? scnn_imagenet_class((int32_t)best[k]) : NULL;
        printf("  %2lld  %8.4f%%  %4lld  %s\n", (long long)k + 1, 100.0 * (double)probs[best[k]], (long long)best[k],
               name ? name : "-");
    }
    rc = 0;
done:
    scnn_tensor_destroy(probs_t);
    scnn_tensor_destroy(logits_t); /* before the buffer it wraps */
    scnn_tensor_destroy(resized);
    scnn_tensor_destroy(t);
    scnn_model_destroy(model);
    free(best);
    free(logits);
    free(img.pixels);
    return rc;
}
