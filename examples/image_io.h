/* Image reading for the examples: binary PPM (P6) and PGM (P5) always (ppm.h); PNG, JPEG,
 * BMP and GIF (its first frame) when the example is built with SCNN_EXAMPLES_STB defined and
 * linked with -lstb, the stb_image library of Debian's libstb-dev:
 *
 *   cc -std=c99 -IInclude -DSCNN_EXAMPLES_STB examples/classify.c -o classify \
 *      -Lbuild/lib -lswiftcnn -Wl,-rpath,$PWD/build/lib -lstb -lm
 *
 * `make examples` does that when libstb-dev is installed (`make stb` installs it where it
 * can). Without it the examples read PPM/PGM only, and a PNG or JPEG gets a message saying
 * so. Only the examples use stb_image; libswiftcnn itself reads no image files. A file goes
 * to stb_image only when its first bytes are one of those formats' signatures (stb_image
 * would also guess at headerless formats such as TGA, and may take other bytes for one).
 *
 * image_read gives 8-bit pixels, rows packed, top row first: 1 channel for a grayscale
 * file (an alpha channel is dropped), else 3 (RGB; alpha dropped, palettes expanded,
 * 16-bit samples reduced to 8). JPEG EXIF orientation is not applied. */
#ifndef SWIFTCNN_EXAMPLES_IMAGE_IO_H
#define SWIFTCNN_EXAMPLES_IMAGE_IO_H

#include <string.h>

#include "ppm.h"

#ifdef SCNN_EXAMPLES_STB
#include <stb/stb_image.h>
/* For usage texts: what else image_read reads. */
#define IMAGE_IO_MORE "a PNG or JPEG"
#else
#define IMAGE_IO_MORE "a PNG or JPEG when built with stb_image (libstb-dev)"
#endif

/* The format the file's first bytes name: "PPM" (binary PPM or PGM), "PNG", "JPEG", "BMP",
 * "GIF", or NULL. */
static inline const char *image_format(const unsigned char *head, size_t n) {
    if (n >= 2 && head[0] == 'P' && (head[1] == '5' || head[1] == '6')) return "PPM";
    if (n >= 8 && memcmp(head, "\x89PNG\r\n\x1a\n", 8) == 0) return "PNG";
    if (n >= 3 && head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF) return "JPEG";
    if (n >= 2 && head[0] == 'B' && head[1] == 'M') return "BMP";
    if (n >= 6 && (memcmp(head, "GIF87a", 6) == 0 || memcmp(head, "GIF89a", 6) == 0)) return "GIF";
    return NULL;
}

/* Reads a PPM/PGM, or (with stb_image) a PNG, JPEG, BMP or GIF, into
 * *img. Returns 0, or -1 with a message in err (img->pixels NULL). Free img->pixels with
 * free(). */
static inline int image_read(const char *path, ppm_image *img, char *err, size_t err_size) {
    unsigned char head[8];
    size_t n;
    const char *format;
    FILE *f = fopen(path, "rb");
    img->pixels = NULL;
    if (!f) { snprintf(err, err_size, "cannot open %s", path); return -1; }
    n = fread(head, 1, sizeof head, f);
    fclose(f);
    format = image_format(head, n);
    if (format && strcmp(format, "PPM") == 0) return ppm_read(path, img, err, err_size);
    if (!format) {
        snprintf(err, err_size, "%s: not a binary PGM (P5) or PPM (P6) file, nor a PNG, JPEG, BMP or GIF", path);
        return -1;
    }
#ifdef SCNN_EXAMPLES_STB
    {
        int w = 0, h = 0, comp = 0, want;
        unsigned char *data = NULL;
        size_t bytes;
        if (stbi_info(path, &w, &h, &comp)) {
            if (w <= 0 || h <= 0 || w > 65536 || h > 65536) {
                snprintf(err, err_size, "%s: unsupported size %dx%d (need width, height <= 65536)", path, w, h);
                return -1;
            }
            want = comp <= 2 ? 1 : 3; /* gray (+ alpha) -> gray; RGB (+ alpha) -> RGB */
            data = stbi_load(path, &w, &h, &comp, want);
        }
        if (!data) {
            snprintf(err, err_size, "%s: not a binary PPM/PGM, and stb_image cannot decode it as %s (%s)", path, format,
                     stbi_failure_reason() ? stbi_failure_reason() : "unknown error");
            return -1;
        }
        if (w <= 0 || h <= 0 || w > 65536 || h > 65536) { /* the file changed between the two reads */
            stbi_image_free(data);
            snprintf(err, err_size, "%s: unsupported size %dx%d (need width, height <= 65536)", path, w, h);
            return -1;
        }
        bytes = (size_t)w * (size_t)h * (size_t)want;
        img->pixels = (uint8_t *)malloc(bytes); /* the examples free() their pixels */
        if (!img->pixels) {
            stbi_image_free(data);
            snprintf(err, err_size, "out of memory");
            return -1;
        }
        memcpy(img->pixels, data, bytes);
        stbi_image_free(data);
        img->width = w;
        img->height = h;
        img->channels = want;
        return 0;
    }
#else
    snprintf(err, err_size,
             "%s: not a binary PPM/PGM but a %s file, and this example was built without stb_image, so it reads "
             "binary PPM/PGM only: "
             "install libstb-dev (apt-get install libstb-dev) and rebuild with `make examples`, or convert the "
             "image to PPM",
             path, format);
    return -1;
#endif
}

#endif
