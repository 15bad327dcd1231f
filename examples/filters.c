/* filters: the seed lecture's hand-made filters, applied with libswiftcnn.
 *
 *   cc -std=c99 -IInclude examples/filters.c -o filters -Lbuild/lib -lswiftcnn \
 *      -Wl,-rpath,$PWD/build/lib
 *   ./filters [IMAGE|-] [output-dir]      (- or nothing: a generated picture)
 *
 * 1. Prints the lecture's worked example: the 10x10 image f (a block of 90s) correlated
 *    with the 1/9 box filter g, h[m,n] = sum_{k,l} g[k,l] f[m+k,n+l], giving an 8x8 output.
 * 2. Applies each filter of the lecture (horizontal and vertical blur 1/5[1 1 1 1 1], box
 *    1/25, sharpen 1/4[[0,-1,0],[-1,8,-1],[0,-1,0]], the edge kernel [-1 0 1], Sobel) to an
 *    image -- the one given, or a generated test picture -- and writes one PPM/PGM each,
 *    and original.ppm/.pgm, the image as read. IMAGE is a binary PPM or PGM, or a PNG or
 *    JPEG when built with stb_image (examples/image_io.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "swiftcnn.h"
#include "image_io.h"

static int check(scnn_status s, const char *what) {
    if (s != SCNN_STATUS_OK) {
        fprintf(stderr, "%s failed: %s: %s\n", what, scnn_status_string(s), scnn_last_error());
        return 0;
    }
    return 1;
}

static void print_matrix(const char *title, const float *v, int rows, int cols) {
    int r, c;
    printf("%s\n", title);
    for (r = 0; r < rows; r++) {
        for (c = 0; c < cols; c++) printf("%4.0f", (double)v[r * cols + c]);
        printf("\n");
    }
}

/* The lecture's 10x10 image and its box-filtered 8x8 output. */
static int seed_example(void) {
    float f[100];
    int64_t fshape[4] = {1, 1, 10, 10};
    int64_t gshape[4] = {1, 1, 3, 3};
    scnn_tensor *image = NULL, *box = NULL, *kernel = NULL, *h = NULL;
    int r, c, ok;
    memset(f, 0, sizeof f);
    for (r = 2; r <= 5; r++)
        for (c = 3; c <= 7; c++) f[r * 10 + c] = 90;
    f[4 * 10 + 4] = 0; /* the hole in the block */
    f[8 * 10 + 2] = 90; /* the lone pixel */
    print_matrix("image f (10x10):", f, 10, 10);

    ok = check(scnn_tensor_wrap(f, 100, fshape, 4, &image), "wrap image") &&
         check(scnn_filter_box(3, &box), "box filter") &&
         check(scnn_tensor_reshape(box, gshape, 4, &kernel), "reshape kernel") &&
         check(scnn_conv2d(image, kernel, NULL, NULL, NULL, NULL, 1, &h), "conv2d");
    if (ok) {
        printf("\nh = f correlated with the 1/9 box filter g (valid, 8x8):\n");
        print_matrix("", scnn_tensor_data(h), 8, 8);
        printf("(the lecture's printed table has a typo in its last two rows; these are right)\n");
    }
    scnn_tensor_destroy(h);
    scnn_tensor_destroy(kernel);
    scnn_tensor_destroy(box);
    scnn_tensor_destroy(image);
    return ok;
}

/* A generated RGB test picture: a gradient sky, a dark disc and bars, with sharp edges. */
static ppm_image make_picture(void) {
    ppm_image img;
    int64_t x, y, w = 160, h = 120;
    img.width = w;
    img.height = h;
    img.channels = 3;
    img.pixels = (uint8_t *)malloc((size_t)(w * h * 3));
    if (!img.pixels) return img;
    for (y = 0; y < h; y++) {
        for (x = 0; x < w; x++) {
            uint8_t *p = img.pixels + (y * w + x) * 3;
            long dx = (long)x - 55, dy = (long)y - 60;
            p[0] = (uint8_t)(80 + y);
            p[1] = (uint8_t)(120 + y / 2);
            p[2] = (uint8_t)(230 - y / 3);
            if (dx * dx + dy * dy < 30 * 30) { p[0] = 40; p[1] = 40; p[2] = 50; }
            if (x > 100 && x < 140 && (y / 10) % 2 == 0) { p[0] = 250; p[1] = 200; p[2] = 30; }
        }
    }
    return img;
}

typedef scnn_status (*filter_maker)(scnn_tensor **);

static scnn_status make_hblur(scnn_tensor **out) { return scnn_filter_horizontal_blur(5, out); }
static scnn_status make_vblur(scnn_tensor **out) { return scnn_filter_vertical_blur(5, out); }
static scnn_status make_box5(scnn_tensor **out) { return scnn_filter_box(5, out); }
static scnn_status make_gauss(scnn_tensor **out) { return scnn_filter_gaussian(7, 1.5f, out); }

static int apply_all(const ppm_image *img, const char *outdir) {
    struct { const char *name; filter_maker make; int32_t border; } filters[] = {
        {"blur_horizontal", make_hblur, SCNN_BORDER_REPLICATE},
        {"blur_vertical", make_vblur, SCNN_BORDER_REPLICATE},
        {"box5", make_box5, SCNN_BORDER_REPLICATE},
        {"gaussian", make_gauss, SCNN_BORDER_REFLECT},
        {"sharpen", scnn_filter_sharpen, SCNN_BORDER_REPLICATE},
        {"edge", scnn_filter_edge, SCNN_BORDER_REPLICATE},
        {"sobel_x", scnn_filter_sobel_x, SCNN_BORDER_REPLICATE},
        {"sobel_y", scnn_filter_sobel_y, SCNN_BORDER_REPLICATE},
    };
    scnn_tensor *image = NULL;
    size_t i, nbytes = (size_t)(img->width * img->height * img->channels);
    uint8_t *out_pixels = (uint8_t *)malloc(nbytes);
    char path[4096];
    int ok = out_pixels != NULL;
    /* Pixels to a [C,H,W] tensor with values 0..255 (scale 1, no normalisation). */
    ok = ok && check(scnn_image_to_tensor(img->pixels, img->width, img->height, img->channels, 0, 1.0f,
                                          NULL, NULL, &image), "image_to_tensor");
    for (i = 0; ok && i < sizeof filters / sizeof filters[0]; i++) {
        scnn_tensor *kernel = NULL, *filtered = NULL;
        ok = check(filters[i].make(&kernel), filters[i].name) &&
             check(scnn_filter_apply(image, kernel, filters[i].border, &filtered), "filter_apply") &&
             check(scnn_tensor_to_image(filtered, 1.0f, NULL, NULL, out_pixels, (int64_t)nbytes, 0),
                   "tensor_to_image");
        if (ok) {
            snprintf(path, sizeof path, "%s/%s.%s", outdir, filters[i].name, img->channels == 3 ? "ppm" : "pgm");
            if (ppm_write(path, out_pixels, img->width, img->height, img->channels) != 0) {
                fprintf(stderr, "cannot write %s\n", path);
                ok = 0;
            } else {
                printf("  %-16s -> %s\n", filters[i].name, path);
            }
        }
        scnn_tensor_destroy(filtered);
        scnn_tensor_destroy(kernel);
    }
    scnn_tensor_destroy(image);
    free(out_pixels);
    return ok;
}

int main(int argc, char **argv) {
    const char *input = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL; /* "-": generate one */
    const char *outdir = argc > 2 ? argv[2] : ".";
    ppm_image img;
    char err[512];
    int ok;
    printf("swiftcnn %s -- filters from the lecture\n\n", scnn_version());
    if (!seed_example()) return 1;

    if (input) {
        if (image_read(input, &img, err, sizeof err) != 0) {
            fprintf(stderr, "%s\n", err);
            return 1;
        }
        /* the pixels as read (a PNG or JPEG decoded), for comparing and converting */
        snprintf(err, sizeof err, "%s/original.%s", outdir, img.channels == 3 ? "ppm" : "pgm");
        if (ppm_write(err, img.pixels, img.width, img.height, img.channels) != 0) {
            fprintf(stderr, "cannot write %s\n", err);
            free(img.pixels);
            return 1;
        }
        printf("\nread a %ldx%ld image (%ld channel%s) -> %s\n", (long)img.width, (long)img.height,
               (long)img.channels, img.channels == 1 ? "" : "s", err);
    } else {
        img = make_picture();
        if (!img.pixels) return 1;
        snprintf(err, sizeof err, "%s/original.ppm", outdir);
        if (ppm_write(err, img.pixels, img.width, img.height, img.channels) == 0)
            printf("\ngenerated a %ldx%ld test picture -> %s\n", (long)img.width, (long)img.height, err);
    }
    printf("applying the lecture's filters:\n");
    ok = apply_all(&img, outdir);
    free(img.pixels);
    return ok ? 0 : 1;
}
