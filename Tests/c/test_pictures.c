/* Pictures through the C ABI (scnn_picture_*): pixels checked against the documented layout
 * and scaling, PPM written byte for byte, PNG structure and CRCs. */
#include "harness.h"

#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#define PIC_MARGIN 4
#define PIC_TOP 15 /* margin 4 + title 7 + gap 4 */

static const char *pic_tmp(const char *name, char *buf, size_t size) {
    snprintf(buf, size, "/tmp/swiftcnn-ctest-pic-%ld-%s", (long)getpid(), name);
    return buf;
}

/* The pixel (x, y) of a picture as 0xRRGGBB (-1 outside). */
static long pic_at(const scnn_picture *p, int64_t x, int64_t y) {
    const uint8_t *d = scnn_picture_data(p);
    int64_t w = scnn_picture_width(p), h = scnn_picture_height(p);
    if (d == NULL || x < 0 || y < 0 || x >= w || y >= h) return -1;
    d += (y * w + x) * 3;
    return ((long)d[0] << 16) | ((long)d[1] << 8) | (long)d[2];
}

/* The documented min-max scaling, in float32, halves away from zero. */
static int pic_scaled(float v, float lo, float hi) {
    float s;
    if (lo == hi) return 128;
    s = (v - lo) / (hi - lo) * 255.0f;
    return (int)floorf(s + 0.5f);
}

static unsigned long pic_crc32(const unsigned char *p, size_t n) {
    unsigned long c = 0xFFFFFFFFul;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320ul ^ (c >> 1) : c >> 1;
    }
    return c ^ 0xFFFFFFFFul;
}

static unsigned long pic_be32(const unsigned char *p) {
    return ((unsigned long)p[0] << 24) | ((unsigned long)p[1] << 16) | ((unsigned long)p[2] << 8) | p[3];
}

static long pic_read_file(const char *path, unsigned char *buf, long size) {
    FILE *f = fopen(path, "rb");
    long n;
    if (f == NULL) return -1;
    n = (long)fread(buf, 1, (size_t)size, f);
    fclose(f);
    return n;
}

SCNN_TEST(picture_from_rgb_and_save) {
    uint8_t rgb[2 * 8];    /* 2 rows of 2 pixels, row stride 8 bytes */
    unsigned char file[4096];
    char ppm[256], png[256], bad[256];
    scnn_picture *p = NULL;
    long n;
    int i;
    unsigned long pos;
    int chunks_ok = 1, saw_iend = 0;
    for (i = 0; i < 16; i++) rgb[i] = (uint8_t)(i * 10);
    CHECK_OK(scnn_picture_from_rgb(rgb, 2, 2, 8, &p));
    CHECK(scnn_picture_width(p) == 2 && scnn_picture_height(p) == 2);
    CHECK(pic_at(p, 1, 0) == ((30L << 16) | (40L << 8) | 50L));
    CHECK(pic_at(p, 0, 1) == ((80L << 16) | (90L << 8) | 100L));
    /* PPM: header and the packed rows, byte for byte */
    CHECK_OK(scnn_picture_save(p, pic_tmp("a.ppm", ppm, sizeof ppm), SCNN_PICTURE_FORMAT_AUTO));
    n = pic_read_file(ppm, file, sizeof file);
    CHECK(n == 11 + 12);
    CHECK(n >= 11 && memcmp(file, "P6\n2 2\n255\n", 11) == 0);
    CHECK(n == 23 && file[11 + 3] == 30 && file[11 + 6] == 80 && file[22] == 130);
    /* PNG: signature, IHDR (2x2, 8-bit RGB), every chunk's CRC, ending with IEND */
    CHECK_OK(scnn_picture_save(p, pic_tmp("a.png", png, sizeof png), SCNN_PICTURE_FORMAT_AUTO));
    n = pic_read_file(png, file, sizeof file);
    CHECK(n > 8 + 25 + 12 && memcmp(file, "\x89PNG\r\n\x1a\n", 8) == 0);
    CHECK(n > 33 && memcmp(file + 12, "IHDR", 4) == 0 && pic_be32(file + 16) == 2 && pic_be32(file + 20) == 2 &&
          file[24] == 8 && file[25] == 2);
    for (pos = 8; n > 0 && pos + 12 <= (unsigned long)n;) {
        unsigned long len = pic_be32(file + pos);
        if (pos + 12 + len > (unsigned long)n) { chunks_ok = 0; break; }
        if (pic_crc32(file + pos + 4, len + 4) != pic_be32(file + pos + 8 + len)) chunks_ok = 0;
        if (memcmp(file + pos + 4, "IEND", 4) == 0) saw_iend = (pos + 12 + len == (unsigned long)n);
        pos += 12 + len;
    }
    CHECK(chunks_ok && saw_iend);
    /* the same bytes as PPM through an explicit format */
    CHECK_OK(scnn_picture_save(p, pic_tmp("b.data", bad, sizeof bad), SCNN_PICTURE_FORMAT_PPM));
    CHECK(pic_read_file(bad, file, sizeof file) == 23);
    unlink(ppm);
    unlink(png);
    unlink(bad);
    CHECK_STATUS(scnn_picture_save(p, pic_tmp("a.jpg", bad, sizeof bad), SCNN_PICTURE_FORMAT_AUTO),
                 SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_save(p, ppm, 7), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_save(p, "/nonexistent-dir/x.png", SCNN_PICTURE_FORMAT_AUTO), SCNN_STATUS_IO);
    CHECK_STATUS(scnn_picture_save(NULL, ppm, 0), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_from_rgb(rgb, 2, 2, 5, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    CHECK_STATUS(scnn_picture_create(0, 5, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(scnn_picture_width(NULL) == 0 && scnn_picture_data(NULL) == NULL);
    scnn_picture_destroy(NULL);
}

SCNN_TEST(picture_filter_grid_of_a_known_kernel) {
    float w[6 * 25];
    int64_t shape[4] = {6, 1, 5, 5};
    scnn_model *m = NULL;
    scnn_tensor *t = NULL;
    scnn_picture *p = NULL;
    int f, i, ok = 1;
    for (f = 0; f < 6; f++)
        for (i = 0; i < 25; i++) w[f * 25 + i] = (float)(i * (f + 1) - 3 * f);
    for (i = 0; i < 25; i++) w[5 * 25 + i] = 0.5f; /* constant: mid grey */
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_tensor_from_data(w, 150, shape, 4, &t));
    CHECK_OK(scnn_model_set_parameter(m, "features.0.weight", t));
    CHECK_OK(scnn_picture_filters(m, "features.0.weight", 0, &p));
    /* 3 x 2 tiles of 5x5 enlarged 8 times, 1 px apart; the title is 32 characters = 191 px */
    CHECK(scnn_picture_width(p) == 191 + 2 * PIC_MARGIN);
    CHECK(scnn_picture_height(p) == PIC_TOP + 2 * 41 - 1 + PIC_MARGIN);
    for (f = 0; f < 6; f++) {
        float lo = w[f * 25], hi = w[f * 25];
        int ty, tx;
        for (i = 0; i < 25; i++) {
            if (w[f * 25 + i] < lo) lo = w[f * 25 + i];
            if (w[f * 25 + i] > hi) hi = w[f * 25 + i];
        }
        for (ty = 0; ty < 5; ty++)
            for (tx = 0; tx < 5; tx++) {
                long v = pic_scaled(w[f * 25 + ty * 5 + tx], lo, hi);
                long want = (v << 16) | (v << 8) | v;
                int64_t x0 = PIC_MARGIN + (f % 3) * 41 + tx * 8, y0 = PIC_TOP + (f / 3) * 41 + ty * 8;
                if (pic_at(p, x0, y0) != want || pic_at(p, x0 + 7, y0 + 7) != want) ok = 0;
            }
    }
    CHECK(ok);
    CHECK(pic_at(p, PIC_MARGIN, PIC_TOP) == 0);                             /* filter 0's minimum */
    CHECK(pic_at(p, PIC_MARGIN + 39, PIC_TOP + 39) == 0xFFFFFFL);           /* and maximum */
    CHECK(pic_at(p, PIC_MARGIN + 2 * 41 + 3, PIC_TOP + 41 + 3) == 0x808080L); /* the constant filter */
    CHECK(pic_at(p, PIC_MARGIN + 40, PIC_TOP + 5) == 0xFFFFFFL);            /* the white gap */
    scnn_picture_destroy(p);
    p = NULL;
    CHECK_STATUS(scnn_picture_filters(m, "classifier.0", 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_filters(m, "nope", 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_filters(m, "features.0", 999, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    scnn_tensor_destroy(t);
    scnn_model_destroy(m);
}

SCNN_TEST(picture_activation_map_of_a_gradient) {
    float w[6 * 25], x[32 * 32];
    int64_t wshape[4] = {6, 1, 5, 5}, xshape[4] = {1, 1, 32, 32};
    scnn_model *m = NULL;
    scnn_tensor *wt = NULL, *xt = NULL;
    scnn_picture *p = NULL;
    int i, y, ok = 1;
    memset(w, 0, sizeof w);
    w[2 * 5 + 2] = 1.0f; /* map 0: the input, cropped by 2 */
    for (i = 0; i < 32 * 32; i++) x[i] = (float)i; /* x[y][x] = 32 y + x */
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    CHECK_OK(scnn_tensor_from_data(w, 150, wshape, 4, &wt));
    CHECK_OK(scnn_model_set_parameter(m, "features.0.weight", wt));
    CHECK_OK(scnn_tensor_from_data(x, 1024, xshape, 4, &xt));
    {
        float zeros[6] = {0, 0, 0, 0, 0, 0};
        int64_t bshape[1] = {6};
        scnn_tensor *b = NULL;
        CHECK_OK(scnn_tensor_from_data(zeros, 6, bshape, 1, &b));
        CHECK_OK(scnn_model_set_parameter(m, "features.0.bias", b));
        scnn_tensor_destroy(b);
    }
    CHECK_OK(scnn_picture_activations(m, xt, "features.0", 0, &p));
    /* 28x28 maps enlarged 2 times: map 0 holds 32 (y + 2) + x + 2, from 66 to 957 */
    for (y = 0; y < 28; y++) {
        int xx;
        for (xx = 0; xx < 28; xx++) {
            long v = pic_scaled((float)(32 * (y + 2) + xx + 2), 66.0f, 957.0f);
            if (pic_at(p, PIC_MARGIN + 2 * xx + 1, PIC_TOP + 2 * y + 1) != ((v << 16) | (v << 8) | v)) ok = 0;
        }
    }
    CHECK(ok);
    CHECK(pic_at(p, PIC_MARGIN + 57 + 10, PIC_TOP + 10) == 0x808080L); /* map 1: all zero, mid grey */
    scnn_picture_destroy(p);
    p = NULL;
    CHECK_STATUS(scnn_picture_activations(m, xt, "classifier.0", 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_activations(m, NULL, "features.0", 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    scnn_tensor_destroy(wt);
    scnn_tensor_destroy(xt);
    scnn_model_destroy(m);
}

SCNN_TEST(picture_receptive_field_of_a_first_layer_unit) {
    scnn_model *m = NULL;
    scnn_picture *p = NULL;
    long red = (230L << 16) | (25L << 8) | 75L;
    CHECK_OK(scnn_model_create("lenet5", 10, &m));
    /* unit (2, 3) of C1 (5x5, stride 1, no padding) sees rows 2..6 and columns 3..7; the 32x32
     * grey canvas is enlarged 8 times, outlines 2 px wide */
    CHECK_OK(scnn_picture_receptive_field(m, "features.0", 2, 3, NULL, 0, &p));
    CHECK(pic_at(p, PIC_MARGIN + 3 * 8 + 10, PIC_TOP + 2 * 8) == red);      /* top edge */
    CHECK(pic_at(p, PIC_MARGIN + 3 * 8 + 10, PIC_TOP + 2 * 8 + 1) == red);
    CHECK(pic_at(p, PIC_MARGIN + 3 * 8 + 10, PIC_TOP + 2 * 8 + 2) == 0x808080L);
    CHECK(pic_at(p, PIC_MARGIN + 8 * 8 - 1, PIC_TOP + 4 * 8) == red);       /* right edge: column 7 */
    CHECK(pic_at(p, PIC_MARGIN + 8 * 8, PIC_TOP + 4 * 8) == 0x808080L);
    CHECK(pic_at(p, PIC_MARGIN + 3 * 8, PIC_TOP + 7 * 8 - 1) == red);       /* bottom-left corner: row 6 */
    CHECK(pic_at(p, PIC_MARGIN + 3 * 8 - 1, PIC_TOP + 7 * 8 - 1) == 0x808080L);
    scnn_picture_destroy(p);
    p = NULL;
    CHECK_STATUS(scnn_picture_receptive_field(m, "features.0", 28, 0, NULL, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_receptive_field(m, "classifier.2", 0, 0, NULL, 0, &p), SCNN_STATUS_UNSUPPORTED);
    CHECK(p == NULL);
    scnn_model_destroy(m);
}

SCNN_TEST(picture_detections_at_known_places) {
    scnn_picture *img = NULL, *p = NULL;
    float boxes[4] = {10.0f, 20.0f, 30.0f, 40.0f};
    float scores[1] = {0.87f};
    int64_t labels[1] = {2};
    const char *names[3] = {"bg", "cat", "dog"};
    long blue = (0L << 16) | (130L << 8) | 200L;
    int y, x, ok = 1;
    CHECK_OK(scnn_picture_create(50, 50, &img));
    CHECK_OK(scnn_picture_detections(img, 1, boxes, scores, labels, names, 3, &p));
    /* columns 10..29, rows 20..39, 2 px wide; the caption band is rows 11..19 */
    for (y = 0; y < 50; y++)
        for (x = 0; x < 50; x++) {
            int in_box = x >= 10 && x <= 29 && y >= 20 && y <= 39;
            int edge = in_box && (x <= 11 || x >= 28 || y <= 21 || y >= 38);
            int band = y >= 11 && y <= 19 && x >= 10;
            long v = pic_at(p, x, y);
            if (edge && v != blue) ok = 0;
            if (!edge && !band && v != 0) ok = 0;
        }
    CHECK(ok);
    CHECK(pic_at(p, 10, 11) == blue);
    CHECK(pic_at(img, 10, 20) == 0); /* the input is not changed */
    scnn_picture_destroy(p);
    p = NULL;
    CHECK_OK(scnn_picture_detections(img, 0, NULL, NULL, NULL, NULL, 0, &p));
    CHECK(p != NULL && memcmp(scnn_picture_data(p), scnn_picture_data(img), 50 * 50 * 3) == 0);
    scnn_picture_destroy(p);
    p = NULL;
    boxes[2] = NAN;
    CHECK_STATUS(scnn_picture_detections(img, 1, boxes, scores, labels, NULL, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_detections(img, -1, boxes, scores, labels, NULL, 0, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_detections(img, 1, boxes, scores, labels, NULL, 2, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    scnn_picture_destroy(img);
}

SCNN_TEST(picture_label_map_colours) {
    int64_t labels[6] = {0, 1, 2, 3, 15, 255};
    scnn_picture *p = NULL, *img = NULL;
    uint8_t grey[6 * 3];
    CHECK_OK(scnn_picture_label_map(labels, 2, 3, NULL, 0.5f, NULL, 0, 0, 1, &p));
    CHECK(scnn_picture_width(p) == 3 && scnn_picture_height(p) == 2);
    CHECK(pic_at(p, 0, 0) == 0);
    CHECK(pic_at(p, 1, 0) == (128L << 16));
    CHECK(pic_at(p, 2, 0) == (128L << 8));
    CHECK(pic_at(p, 0, 1) == ((128L << 16) | (128L << 8)));
    CHECK(pic_at(p, 1, 1) == ((192L << 16) | (128L << 8) | 128L));
    CHECK(pic_at(p, 2, 1) == ((224L << 16) | (224L << 8) | 192L));
    scnn_picture_destroy(p);
    p = NULL;
    memset(grey, 100, sizeof grey);
    CHECK_OK(scnn_picture_from_rgb(grey, 3, 2, 0, &img));
    CHECK_OK(scnn_picture_label_map(labels, 2, 3, img, 0.5f, NULL, 0, 0, 1, &p));
    CHECK(pic_at(p, 1, 1) == ((146L << 16) | (114L << 8) | 114L)); /* (100 + 192) / 2, (100 + 128) / 2 */
    scnn_picture_destroy(p);
    p = NULL;
    labels[0] = -1;
    CHECK_STATUS(scnn_picture_label_map(labels, 2, 3, NULL, 0.5f, NULL, 0, 0, 1, &p), SCNN_STATUS_INVALID_ARGUMENT);
    labels[0] = 0;
    CHECK_STATUS(scnn_picture_label_map(labels, 3, 2, img, 0.5f, NULL, 0, 0, 1, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(scnn_picture_label_map(labels, 2, 3, NULL, 1.5f, NULL, 0, 0, 1, &p), SCNN_STATUS_INVALID_ARGUMENT);
    CHECK(p == NULL);
    scnn_picture_destroy(img);
}
