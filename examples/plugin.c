/* plugin: loads libswiftcnn.so at run time with dlopen/dlsym alone -- no link-time
 * dependency -- checks the ABI version, and runs the lecture's 3x3x3 image through a
 * 2x2x3 filter, as another tool would use the library as a plugin.
 *
 *   cc -std=c99 -IInclude examples/plugin.c -o plugin -ldl
 *   ./plugin [path/to/libswiftcnn.so]
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "swiftcnn.h" /* types and SCNN_ABI_VERSION only; every function comes from dlsym */

typedef int32_t (*abi_version_fn)(void);
typedef const char *(*string_fn)(void);
typedef scnn_status (*wrap_fn)(const float *, int64_t, const int64_t *, int32_t, scnn_tensor **);
typedef scnn_status (*conv2d_fn)(const scnn_tensor *, const scnn_tensor *, const scnn_tensor *, const int64_t *,
                                 const int64_t *, const int64_t *, int64_t, scnn_tensor **);
typedef const float *(*data_fn)(const scnn_tensor *);
typedef void (*destroy_fn)(scnn_tensor *);

/* dlsym returns void *; converting it to a function pointer goes through memcpy to stay
 * within ISO C. */
static int load(void *lib, const char *name, void *fn, size_t size) {
    void *sym = dlsym(lib, name);
    if (!sym) {
        fprintf(stderr, "missing symbol %s\n", name);
        return 0;
    }
    memcpy(fn, &sym, size);
    return 1;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "libswiftcnn.so";
    abi_version_fn abi_version;
    string_fn version, last_error;
    wrap_fn wrap;
    conv2d_fn conv2d;
    data_fn data;
    destroy_fn destroy;
    float image[27], filter[12];
    int64_t ishape[4] = {1, 3, 3, 3}, fshape[4] = {1, 3, 2, 2};
    scnn_tensor *x = NULL, *w = NULL, *y = NULL, *bad = NULL;
    const float *out;
    int i, ok;
    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen failed: %s\n", dlerror());
        return 1;
    }
    if (!load(lib, "scnn_abi_version", &abi_version, sizeof abi_version) ||
        !load(lib, "scnn_version", &version, sizeof version) ||
        !load(lib, "scnn_last_error", &last_error, sizeof last_error) ||
        !load(lib, "scnn_tensor_wrap", &wrap, sizeof wrap) || !load(lib, "scnn_conv2d", &conv2d, sizeof conv2d) ||
        !load(lib, "scnn_tensor_data", &data, sizeof data) ||
        !load(lib, "scnn_tensor_destroy", &destroy, sizeof destroy))
        return 1;
    if (abi_version() != SCNN_ABI_VERSION) {
        fprintf(stderr, "refusing %s: ABI version %d, this program needs %d\n", path, abi_version(),
                SCNN_ABI_VERSION);
        return 1;
    }
    printf("loaded %s: swiftcnn %s, ABI %d\n", path, version(), abi_version());

    /* The lecture's 3x3x3 image x1..x27 (channel-major) and 2x2x3 filter w1..w12. */
    for (i = 0; i < 27; i++) image[i] = (float)(i + 1);
    for (i = 0; i < 12; i++) filter[i] = (float)(i % 4 == 0 ? 1 : 0); /* picks the top-left of each window */
    ok = wrap(image, 27, ishape, 4, &x) == SCNN_STATUS_OK && wrap(filter, 12, fshape, 4, &w) == SCNN_STATUS_OK &&
         conv2d(x, w, NULL, NULL, NULL, NULL, 1, &y) == SCNN_STATUS_OK;
    if (!ok) {
        fprintf(stderr, "conv2d failed: %s\n", last_error());
        return 1;
    }
    out = data(y);
    /* y1 = w1 x1 + w5 x10 + w9 x19 = 1 + 10 + 19 = 30, and so on. */
    printf("3x3x3 image * 2x2x3 filter -> 2x2x1 activation map:\n  %g %g\n  %g %g\n", (double)out[0],
           (double)out[1], (double)out[2], (double)out[3]);

    /* Bad input is answered with a status and a message, not a crash. */
    if (conv2d(x, NULL, NULL, NULL, NULL, NULL, 1, &bad) != SCNN_STATUS_OK && bad == NULL)
        printf("conv2d with a NULL weight: refused (%s)\n", last_error());
    destroy(y);
    destroy(w);
    destroy(x);
    dlclose(lib);
    return 0;
}
