/* shape_text: "[1, 3, 224, 224]"-style text of a tensor shape, for the examples' messages. */
#ifndef SWIFTCNN_EXAMPLES_SHAPE_TEXT_H
#define SWIFTCNN_EXAMPLES_SHAPE_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The text of shape[0 ..< rank] in buf (truncated to size); returns buf. */
static inline const char *shape_text(const int64_t *shape, int32_t rank, char *buf, size_t size) {
    size_t used = 0;
    int32_t i;
    buf[0] = '\0';
    for (i = 0; i < rank && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "[", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
    return buf;
}

#endif
