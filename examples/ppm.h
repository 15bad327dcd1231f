/* Minimal binary PPM (P6) / PGM (P5) reading and writing for the examples, so they need
 * no image library. 8-bit only (maxval 255). Every malformed file is reported, not crashed on. */
#ifndef SWIFTCNN_EXAMPLES_PPM_H
#define SWIFTCNN_EXAMPLES_PPM_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    int64_t width, height, channels; /* channels: 1 (PGM) or 3 (PPM) */
    uint8_t *pixels;                 /* height * width * channels bytes, rows packed */
} ppm_image;

/* Reads the next header integer, skipping whitespace and # comments; -1 on error. */
static long ppm_read_int(FILE *f) {
    int c;
    long v = 0;
    int digits = 0;
    for (;;) {
        c = fgetc(f);
        if (c == '#') {
            while (c != '\n' && c != EOF) c = fgetc(f);
        } else if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
    }
    while (c >= '0' && c <= '9') {
        if (v > 1000000) return -1;
        v = v * 10 + (c - '0');
        digits++;
        c = fgetc(f);
    }
    return digits ? v : -1;
}

/* Returns 0 and fills *img, or -1 with a message in err. Free img->pixels with free(). */
static int ppm_read(const char *path, ppm_image *img, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    char magic[2];
    long w, h, maxval;
    size_t n;
    img->pixels = NULL;
    if (!f) { snprintf(err, err_size, "cannot open %s", path); return -1; }
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || (magic[1] != '5' && magic[1] != '6')) {
        snprintf(err, err_size, "%s: not a binary PGM (P5) or PPM (P6) file", path);
        fclose(f);
        return -1;
    }
    w = ppm_read_int(f);
    h = ppm_read_int(f);
    maxval = ppm_read_int(f);
    if (w <= 0 || h <= 0 || w > 65536 || h > 65536 || maxval != 255) {
        snprintf(err, err_size, "%s: unsupported header (need width, height <= 65536, maxval 255)", path);
        fclose(f);
        return -1;
    }
    img->width = w;
    img->height = h;
    img->channels = magic[1] == '6' ? 3 : 1;
    n = (size_t)w * (size_t)h * (size_t)img->channels;
    img->pixels = (uint8_t *)malloc(n);
    if (!img->pixels) { snprintf(err, err_size, "out of memory"); fclose(f); return -1; }
    if (fread(img->pixels, 1, n, f) != n) {
        snprintf(err, err_size, "%s: truncated pixel data", path);
        free(img->pixels);
        img->pixels = NULL;
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

/* Writes to a temporary name, then renames, so a failed write leaves no half file. */
static int ppm_write(const char *path, const uint8_t *pixels, int64_t width, int64_t height, int64_t channels) {
    char tmp[4096];
    FILE *f;
    size_t n = (size_t)width * (size_t)height * (size_t)channels;
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return -1;
    f = fopen(tmp, "wb");
    if (!f) return -1;
    fprintf(f, "P%c\n%ld %ld\n255\n", channels == 3 ? '6' : '5', (long)width, (long)height);
    if (fwrite(pixels, 1, n, f) != n || fclose(f) != 0) { remove(tmp); return -1; }
    return rename(tmp, path);
}

/* A PGM's gray bytes as RGB (each byte three times): 0, or -1 when memory runs out (img
 * unchanged). */
static inline int ppm_gray_to_rgb(ppm_image *img) {
    size_t n = (size_t)img->width * (size_t)img->height, i;
    uint8_t *rgb = (uint8_t *)malloc(n * 3);
    if (!rgb) return -1;
    for (i = 0; i < n; i++) rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = img->pixels[i];
    free(img->pixels);
    img->pixels = rgb;
    img->channels = 3;
    return 0;
}

/* Draws the outline of the box x1..x2 × y1..y2 (pixel coordinates, inclusive; any order,
 * any values: clipped to the image) `thickness` pixels wide, inwards, in colour rgb on an
 * RGB image (channels 3; other images are left alone). Returns the number of pixels set. */
static inline long ppm_draw_rect(ppm_image *img, double x1, double y1, double x2, double y2, int thickness,
                                 const uint8_t rgb[3]) {
    long set = 0;
    int64_t left, top, right, bottom, x, y;
    double t;
    if (img->channels != 3 || img->width < 1 || img->height < 1 || thickness < 1) return 0;
    if (!(x1 == x1) || !(y1 == y1) || !(x2 == x2) || !(y2 == y2)) return 0; /* NaN */
    if (x1 > x2) { t = x1; x1 = x2; x2 = t; }
    if (y1 > y2) { t = y1; y1 = y2; y2 = t; }
    if (x2 < 0 || y2 < 0 || x1 > (double)(img->width - 1) || y1 > (double)(img->height - 1)) return 0;
    left = x1 < 0 ? 0 : (int64_t)x1;
    top = y1 < 0 ? 0 : (int64_t)y1;
    right = x2 > (double)(img->width - 1) ? img->width - 1 : (int64_t)x2;
    bottom = y2 > (double)(img->height - 1) ? img->height - 1 : (int64_t)y2;
    for (y = top; y <= bottom; y++) {
        for (x = left; x <= right; x++) {
            uint8_t *p;
            if (x - left >= thickness && right - x >= thickness && y - top >= thickness && bottom - y >= thickness)
                continue;
            p = img->pixels + 3 * (y * img->width + x);
            p[0] = rgb[0];
            p[1] = rgb[1];
            p[2] = rgb[2];
            set++;
        }
    }
    return set;
}

#endif
