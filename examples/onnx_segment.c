/* onnx_segment: semantic segmentation of an image (PPM/PGM; PNG, JPEG with stb_image) with a
 * model converted from ONNX: a colour label map (PASCAL VOC palette) and the class histogram.
 *
 *   cc -std=c99 -IInclude examples/onnx_segment.c -o onnx_segment -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib -lm
 *   ./onnx_segment MODEL.safetensors IMAGE OUT.ppm [--output NAME]
 *
 * MODEL is a swiftcnn model file converted from ONNX, e.g. torchvision's FCN-ResNet50:
 *     python -c "import torch, torchvision; m = torchvision.models.segmentation.fcn_resnet50(weights='DEFAULT').eval();
 *                torch.onnx.export(m, torch.zeros(1, 3, 320, 320), 'fcn.onnx', output_names=['out', 'aux'])"
 *     python -m swiftcnn.onnx convert fcn.onnx fcn.safetensors
 * It takes one RGB image [1, 3, H, W]; the output used is NAME ("out" by default; any output
 * or node of the model, e.g. "aux"), fetched with scnn_model_forward_outputs, and must be
 * per-pixel class scores [1, classes, h, w].
 * IMAGE is a binary PPM (P6), or a PNG or JPEG when built with stb_image
 * (examples/image_io.h); a gray image is read as gray RGB.
 *
 * Preprocessing as torchvision's: bytes / 255, then per channel (x - mean) / std with
 * ImageNet's mean 0.485, 0.456, 0.406 and std 0.229, 0.224, 0.225 (scnn_image_to_tensor), then
 * a bilinear resize to the model's input size (scnn_resize_bilinear; none when the image
 * already has that size). When the scores' size is not the image's, they are resized
 * bilinearly to the image's size, so the label map always has the image's size.
 * Each pixel's label is the argmax over the classes (the lowest class on ties).
 *
 * OUT is written as a binary PPM (P6) coloured with the PASCAL VOC palette (class c gets
 * the colour whose bits are c's bits interleaved: bit 3j of c sets bit 7-j of red, bit
 * 3j+1 of green, bit 3j+2 of blue), atomically: the pixels go to a temporary file next to
 * OUT, which is renamed onto OUT only once it is complete; on any failure the temporary file
 * is removed and an existing OUT is left as it was.
 *
 * Prints the model's input and outputs, the forward time, and the class histogram: one line
 * per class present, "  INDEX  NAME  PIXELS  PERCENT%" (VOC names for 21-class models).
 * Exit status: 0 on success, 1 when something fails (the message says what), 2 for bad
 * usage.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "swiftcnn.h"
#include "shape_text.h"
#include "image_io.h"

/* The 21 PASCAL VOC classes, in the order torchvision's segmentation models use. */
static const char *const voc_names[21] = {
    "background", "aeroplane", "bicycle", "bird",  "boat",        "bottle", "bus",
    "car",        "cat",       "chair",   "cow",   "diningtable", "dog",    "horse",
    "motorbike",  "person",    "pottedplant", "sheep", "sofa",   "train",  "tvmonitor"};

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "onnx_segment: %s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

static void usage(FILE *to, const char *prog) {
    fprintf(to,
            "usage: %s MODEL.safetensors IMAGE OUT.ppm [--output NAME]\n"
            "  MODEL     a swiftcnn model file converted from ONNX (python -m swiftcnn.onnx convert)\n"
            "  IMAGE     a binary PPM (P6) or PGM (P5) image, or " IMAGE_IO_MORE "\n"
            "  OUT       the colour label map to write (binary PPM, PASCAL VOC palette)\n"
            "  --output  the model output holding the class scores (default \"out\")\n",
            prog);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The PASCAL VOC colour of class c: c's bits interleaved into R, G, B from the top bit down. */
static void voc_color(int64_t c, uint8_t rgb[3]) {
    int j;
    rgb[0] = rgb[1] = rgb[2] = 0;
    for (j = 0; j < 8; j++) {
        rgb[0] |= (uint8_t)(((c >> 0) & 1) << (7 - j));
        rgb[1] |= (uint8_t)(((c >> 1) & 1) << (7 - j));
        rgb[2] |= (uint8_t)(((c >> 2) & 1) << (7 - j));
        c >>= 3;
    }
}

/* Writes a P6 file atomically: a temporary file in OUT's directory (mkstemp), synced, then
 * renamed onto path. On failure returns -1 with a message in err and leaves no temporary
 * file; an existing file at path is unchanged. */
static int write_ppm_atomic(const char *path, const uint8_t *rgb, int64_t width, int64_t height, char *err,
                            size_t err_size) {
    size_t n = (size_t)width * (size_t)height * 3, len = strlen(path);
    char *tmp = (char *)malloc(len + sizeof ".tmp-XXXXXX");
    FILE *f = NULL;
    mode_t mask;
    int fd = -1, ok;
    if (!tmp) { snprintf(err, err_size, "out of memory"); return -1; }
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp-XXXXXX", sizeof ".tmp-XXXXXX");
    fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, err_size, "cannot create a temporary file for %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* mkstemp makes the file 0600; give it the mode a new file gets (0666 less the umask). */
    mask = umask(0);
    umask(mask);
    ok = fchmod(fd, (mode_t)(0666 & ~mask)) == 0 && (f = fdopen(fd, "wb")) != NULL;
    if (!ok) {
        snprintf(err, err_size, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    ok = fprintf(f, "P6\n%lld %lld\n255\n", (long long)width, (long long)height) > 0 && fwrite(rgb, 1, n, f) == n &&
         fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (!ok) snprintf(err, err_size, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && ok) {
        snprintf(err, err_size, "cannot write %s: %s", tmp, strerror(errno));
        ok = 0;
    }
    if (ok && rename(tmp, path) != 0) {
        snprintf(err, err_size, "cannot write %s: %s", path, strerror(errno));
        ok = 0;
    }
    if (!ok) unlink(tmp);
    free(tmp);
    return ok ? 0 : -1;
}

int main(int argc, char **argv) {
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, stdev[3] = {0.229f, 0.224f, 0.225f};
    const char *model_path = NULL, *image_path = NULL, *out_path = NULL, *output = "out";
    ppm_image img;
    char err[512], text[128];
    scnn_model *model = NULL;
    scnn_tensor *t = NULL, *resized = NULL, *batch = NULL, *scores = NULL, *scaled = NULL;
    int64_t in_shape[8], shape[8], batch_shape[4], classes, h, w, plane, p, c, *hist = NULL;
    int32_t in_rank = 0, rank = 0, j;
    uint8_t *labels_rgb = NULL;
    const float *s;
    double t0, t1;
    int rc = 1, a;

    (void)ppm_write; /* not atomic enough here: write_ppm_atomic */
    memset(&img, 0, sizeof img);
    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-h") == 0 || strcmp(argv[a], "--help") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[a], "--output") == 0) {
            if (a + 1 >= argc || argv[a + 1][0] == '\0') {
                fprintf(stderr, "onnx_segment: --output needs the name of a model output\n");
                return 2;
            }
            output = argv[++a];
        } else if (argv[a][0] == '-' && argv[a][1] == '-') {
            fprintf(stderr, "onnx_segment: unknown option %s\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        } else if (!model_path) {
            model_path = argv[a];
        } else if (!image_path) {
            image_path = argv[a];
        } else if (!out_path) {
            out_path = argv[a];
        } else {
            fprintf(stderr, "onnx_segment: unexpected argument \"%s\"\n", argv[a]);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (!model_path || !image_path || !out_path) {
        usage(stderr, argv[0]);
        return 2;
    }

    /* The model file is the whole network with its weights. */
    if (!check(scnn_model_open(model_path, &model), "scnn_model_open")) return 1;
    if (!check(scnn_model_io_shape(model, 0, 0, in_shape, 8, &in_rank), "scnn_model_io_shape(input)")) goto done;
    if (in_rank != 4 || in_shape[1] != 3) {
        fprintf(stderr, "onnx_segment: %s takes %s; this example needs RGB images [1, 3, H, W]\n", model_path,
                shape_text(in_shape, in_rank, text, sizeof text));
        goto done;
    }
    printf("model %s: \"%s\", input \"%s\" %s\n", model_path, scnn_model_get_name(model),
           scnn_model_input_name(model, 0), shape_text(in_shape, in_rank, text, sizeof text));
    for (j = 0; j < scnn_model_output_count(model); j++) {
        if (!check(scnn_model_io_shape(model, 1, j, shape, 8, &rank), "scnn_model_io_shape(output)")) goto done;
        printf("  output %d \"%s\": %s\n", (int)j, scnn_model_output_name(model, j), shape_text(shape, rank, text, sizeof text));
    }

    /* ImageNet normalization, then a bilinear resize to the model's input size. */
    if (image_read(image_path, &img, err, sizeof err) != 0) {
        fprintf(stderr, "onnx_segment: %s\n", err);
        goto done;
    }
    if (img.channels == 1 && ppm_gray_to_rgb(&img) != 0) {
        fprintf(stderr, "onnx_segment: out of memory\n");
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
    batch_shape[0] = 1;
    batch_shape[1] = 3;
    batch_shape[2] = in_shape[2];
    batch_shape[3] = in_shape[3];
    if (!check(scnn_tensor_reshape(t, batch_shape, 4, &batch), "scnn_tensor_reshape")) goto done;

    /* The named output, not only output 0 (torchvision's FCN also has "aux"). */
    t0 = now();
    if (!check(scnn_model_forward_outputs(model, batch, 1, &output, &scores), "scnn_model_forward_outputs")) {
        fprintf(stderr, "onnx_segment: the model's outputs are:");
        for (j = 0; j < scnn_model_output_count(model); j++) fprintf(stderr, " \"%s\"", scnn_model_output_name(model, j));
        fprintf(stderr, " (--output NAME picks one)\n");
        goto done;
    }
    t1 = now();
    rank = scnn_tensor_rank(scores);
    if (!check(scnn_tensor_shape(scores, shape, 8), "scnn_tensor_shape")) goto done;
    if (rank != 4 || shape[0] != 1) {
        fprintf(stderr, "onnx_segment: output \"%s\" is %s; expected class scores [1, classes, h, w]\n", output,
                shape_text(shape, rank, text, sizeof text));
        goto done;
    }
    printf("forward: %.1f ms; output \"%s\" %s\n", 1e3 * (t1 - t0), output, shape_text(shape, rank, text, sizeof text));
    if (shape[2] != img.height || shape[3] != img.width) {
        if (!check(scnn_resize_bilinear(scores, img.height, img.width, &scaled), "scnn_resize_bilinear")) goto done;
        scnn_tensor_destroy(scores);
        scores = scaled;
        scaled = NULL;
        printf("scores resized %lldx%lld -> %lldx%lld (bilinear)\n", (long long)shape[3], (long long)shape[2],
               (long long)img.width, (long long)img.height);
    }
    classes = shape[1];
    h = img.height;
    w = img.width;
    plane = h * w;

    /* Per-pixel argmax over the classes (the first maximum wins), coloured with the VOC palette. */
    s = scnn_tensor_data(scores);
    hist = (int64_t *)calloc((size_t)classes, sizeof *hist);
    labels_rgb = (uint8_t *)malloc((size_t)plane * 3);
    if (!hist || !labels_rgb) {
        fprintf(stderr, "onnx_segment: out of memory\n");
        goto done;
    }
    for (p = 0; p < plane; p++) {
        int64_t best = 0;
        float v = s[p];
        for (c = 1; c < classes; c++) {
            if (s[c * plane + p] > v) {
                v = s[c * plane + p];
                best = c;
            }
        }
        hist[best]++;
        voc_color(best, labels_rgb + 3 * p);
    }
    if (write_ppm_atomic(out_path, labels_rgb, w, h, err, sizeof err) != 0) {
        fprintf(stderr, "onnx_segment: %s\n", err);
        goto done;
    }
    printf("label map %s: %lldx%lld, %lld classes\n", out_path, (long long)w, (long long)h, (long long)classes);
    printf("class histogram (pixels):\n");
    for (c = 0; c < classes; c++) {
        char fallback[32];
        const char *name = classes == 21 ? voc_names[c] : NULL;
        if (hist[c] == 0) continue;
        if (!name) {
            snprintf(fallback, sizeof fallback, "class%lld", (long long)c);
            name = fallback;
        }
        printf("  %3lld  %-12s %9lld  %7.3f%%\n", (long long)c, name, (long long)hist[c],
               100.0 * (double)hist[c] / (double)plane);
    }
    rc = 0;
done:
    scnn_tensor_destroy(scaled);
    scnn_tensor_destroy(scores);
    scnn_tensor_destroy(batch);
    scnn_tensor_destroy(resized);
    scnn_tensor_destroy(t);
    scnn_model_destroy(model);
    free(hist);
    free(labels_rgb);
    free(img.pixels);
    return rc;
}
