/* The portable libswiftcnn.so: a small loader that picks a build of the library for the
 * CPU it runs on.
 *
 * The Makefile builds the whole library twice (Swift core + C ABI, static Swift runtime):
 * an AVX-512 variant (-target-cpu skylake-avx512: AVX512 F/CD/BW/DQ/VL, 16-lane kernels)
 * and an AVX2 variant (-target-cpu haswell: AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE; 8-lane
 * kernels). Both, stripped, are embedded in this library as data (variants.S), so the
 * product stays one file that can be copied anywhere.
 *
 * At load time (an ELF constructor: the dynamic linker runs it once, before dlopen or
 * program start returns, so no other thread can call in before it ends):
 *   1. cpuid and xgetbv say which variants the CPU and the OS (saved YMM/ZMM state) can run;
 *   2. SCNN_ISA=avx2|avx512|auto (default auto: the widest that runs) may narrow the
 *      choice; a path the CPU cannot run is never taken (the reason is kept for
 *      scnn_cpu_features());
 *   3. the chosen variant is written to an anonymous memory file (memfd_create) and
 *      opened with dlopen("/proc/self/fd/N", RTLD_NOW | RTLD_LOCAL); where memfd or /proc
 *      is missing, to a mkstemp file in $TMPDIR (else /tmp) that is unlinked right after
 *      dlopen;
 *   4. every exported function is resolved into a table (loader_gen.c, generated from the
 *      header by scripts/gen_loader.py); each exported scnn_* function calls through it.
 *
 * When no variant can be loaded (a CPU without AVX2 + FMA, no memfd and no writable
 * temporary directory, a missing symbol), every function fails cleanly: status functions
 * return SCNN_STATUS_UNSUPPORTED, pointer functions NULL, integer functions 0 (or -1 where
 * the header says -1 means failure), and scnn_last_error() gives the loader's reason;
 * scnn_version, scnn_abi_version, scnn_status_string and scnn_cpu_features keep working.
 *
 * SCNN_LOADER_NO_MEMFD=1 skips memfd_create (the tests use it to exercise the
 * temporary-file path).
 */
#define _GNU_SOURCE
#include <cpuid.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "swiftcnn.h"

/* Messages are cut to their buffers on purpose (snprintf). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wformat-truncation"
#endif

#define SCNN_LOADER_EXPORT __attribute__((visibility("default")))

#ifndef SCNN_LOADER_VERSION
#error "SCNN_LOADER_VERSION (the library's MAJOR.MINOR.PATCH) must be defined"
#endif

/* The embedded variants (variants.S). */
extern const unsigned char scnn_variant_avx512[], scnn_variant_avx512_end[];
extern const unsigned char scnn_variant_avx2[], scnn_variant_avx2_end[];

/* Why no variant is loaded ("" while one is); written only by the constructor. */
static char scnn_loader_message[768];
/* scnn_cpu_features()'s text; written only by the constructor. */
static char scnn_loader_features[768] = "none (cpu: )";
/* Set on a thread once one of its calls failed for want of a variant. */
static __thread int scnn_loader_thread_failed;

static void scnn_loader_failed(void) { scnn_loader_thread_failed = 1; }

#include "loader_gen.c"

/* ---- the loader's own answers ------------------------------------------------------- */

static char const *scnn_loader_own_scnn_version(void) { return SCNN_LOADER_VERSION; }

static int32_t scnn_loader_own_scnn_abi_version(void) { return SCNN_ABI_VERSION; }

/* The same names as Sources/SwiftCNNC/Status.swift (the tests compare them). */
static char const *scnn_loader_own_scnn_status_string(int32_t status) {
    static char const *const names[] = {"ok", "invalid argument", "shape mismatch", "out of memory",
                                        "I/O error", "format error", "unsupported", "internal error"};
    if (status >= 0 && status < (int32_t)(sizeof names / sizeof names[0])) return names[status];
    return "unknown status";
}

static char const *scnn_loader_own_scnn_last_error(void) {
    return scnn_loader_thread_failed ? scnn_loader_message : "";
}

static char const *scnn_loader_own_scnn_cpu_features(void) { return scnn_loader_features; }

/* ---- the CPU ------------------------------------------------------------------------ */

struct scnn_cpu {
    int sse4_2, avx, avx2, fma, f16c, bmi1, bmi2, lzcnt, movbe, popcnt;
    int avx512f, avx512cd, avx512bw, avx512dq, avx512vl, avx512_vnni, avx512_bf16;
    int os_ymm, os_zmm; /* the OS saves YMM / opmask + ZMM state (XCR0) */
};

static struct scnn_cpu scnn_read_cpu(void) {
    struct scnn_cpu c;
    unsigned a, b, cx, d, max;
    memset(&c, 0, sizeof c);
    if (!__get_cpuid(0, &max, &b, &cx, &d)) return c;
    __get_cpuid(1, &a, &b, &cx, &d);
    c.sse4_2 = (cx >> 20) & 1;
    c.movbe = (cx >> 22) & 1;
    c.popcnt = (cx >> 23) & 1;
    c.fma = (cx >> 12) & 1;
    c.f16c = (cx >> 29) & 1;
    int osxsave = (cx >> 27) & 1, avx_bit = (cx >> 28) & 1;
    if (osxsave) {
        unsigned lo, hi;
        __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        (void)hi;
        c.os_ymm = (lo & 0x6) == 0x6;            /* SSE + AVX state */
        c.os_zmm = c.os_ymm && (lo & 0xe0) == 0xe0; /* opmask, ZMM_Hi256, Hi16_ZMM */
    }
    c.avx = avx_bit && c.os_ymm;
    if (!c.os_ymm) c.fma = c.f16c = 0;
    if (max >= 7) {
        __cpuid_count(7, 0, a, b, cx, d);
        c.bmi1 = (b >> 3) & 1;
        c.bmi2 = (b >> 8) & 1;
        c.avx2 = ((b >> 5) & 1) && c.os_ymm;
        if (c.os_zmm) {
            c.avx512f = (b >> 16) & 1;
            c.avx512dq = (b >> 17) & 1;
            c.avx512cd = (b >> 28) & 1;
            c.avx512bw = (b >> 30) & 1;
            c.avx512vl = (b >> 31) & 1;
            c.avx512_vnni = (cx >> 11) & 1;
            __cpuid_count(7, 1, a, b, cx, d);
            c.avx512_bf16 = (a >> 5) & 1;
        }
    }
    __get_cpuid(0x80000000u, &max, &b, &cx, &d);
    if (max >= 0x80000001u) {
        __get_cpuid(0x80000001u, &a, &b, &cx, &d);
        c.lzcnt = (cx >> 5) & 1;
    }
    return c;
}

struct scnn_feature { char const *name; size_t offset; int needed_avx2, needed_avx512, shown; };

#define SCNN_F(field, avx2, avx512, shown) {#field, offsetof(struct scnn_cpu, field), avx2, avx512, shown}
static const struct scnn_feature scnn_features[] = {
    SCNN_F(sse4_2, 1, 1, 1), SCNN_F(popcnt, 1, 1, 0), SCNN_F(avx, 1, 1, 1), SCNN_F(avx2, 1, 1, 1),
    SCNN_F(fma, 1, 1, 1), SCNN_F(f16c, 1, 1, 1), SCNN_F(bmi1, 1, 1, 0), SCNN_F(bmi2, 1, 1, 1),
    SCNN_F(lzcnt, 1, 1, 0), SCNN_F(movbe, 1, 1, 0), SCNN_F(avx512f, 0, 1, 1), SCNN_F(avx512cd, 0, 1, 1),
    SCNN_F(avx512bw, 0, 1, 1), SCNN_F(avx512dq, 0, 1, 1), SCNN_F(avx512vl, 0, 1, 1),
    SCNN_F(avx512_vnni, 0, 0, 1), SCNN_F(avx512_bf16, 0, 0, 1),
};
#define SCNN_FEATURE_COUNT (sizeof scnn_features / sizeof scnn_features[0])

static int scnn_has(const struct scnn_cpu *c, size_t i) {
    int v;
    memcpy(&v, (const char *)c + scnn_features[i].offset, sizeof v);
    return v;
}

/* Appends `s` to buf (always NUL-terminated, truncated when full). */
static void scnn_append(char *buf, size_t cap, char const *s) {
    size_t n = strlen(buf);
    if (n + 1 >= cap) return;
    snprintf(buf + n, cap - n, "%s", s);
}

/* The features (shown ones only, or all) the CPU has, or those `level` needs that it lacks. */
static void scnn_feature_list(const struct scnn_cpu *c, int missing_for, char *buf, size_t cap) {
    buf[0] = '\0';
    for (size_t i = 0; i < SCNN_FEATURE_COUNT; i++) {
        const struct scnn_feature *f = &scnn_features[i];
        int want;
        if (missing_for == 0) want = f->shown && scnn_has(c, i);
        else want = (missing_for == 2 ? f->needed_avx2 : f->needed_avx512) && !scnn_has(c, i);
        if (!want) continue;
        if (buf[0]) scnn_append(buf, cap, " ");
        scnn_append(buf, cap, f->name);
    }
}

/* ---- loading a variant --------------------------------------------------------------- */

static int scnn_write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += (size_t)w;
        n -= (size_t)w;
    }
    return 0;
}

/* Gives back the resident pages of the embedded bytes [data, end) once they are copied
   (they are file-backed and read-only: the kernel reads them again if ever needed). */
static void scnn_release_pages(const unsigned char *data, const unsigned char *end) {
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0) return;
    uintptr_t lo = ((uintptr_t)data + (uintptr_t)page - 1) & ~((uintptr_t)page - 1);
    uintptr_t hi = (uintptr_t)end & ~((uintptr_t)page - 1);
    if (hi > lo) (void)madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/* dlopen of the bytes [data, end): memfd first, then a temporary file. NULL with `err` set. */
static void *scnn_open_variant(char const *name, const unsigned char *data, const unsigned char *end,
                               char *err, size_t errcap) {
    size_t size = (size_t)(end - data);
    char path[4096];
    void *handle = NULL;
    err[0] = '\0';
#ifdef SYS_memfd_create
    char const *no_memfd = getenv("SCNN_LOADER_NO_MEMFD");
    if (!(no_memfd && no_memfd[0] == '1')) {
        int fd = (int)syscall(SYS_memfd_create, name, 1u /* MFD_CLOEXEC */);
        if (fd < 0) {
            snprintf(err, errcap, "memfd_create: %s", strerror(errno));
        } else if (scnn_write_all(fd, data, size) != 0) {
            snprintf(err, errcap, "writing the memfd: %s", strerror(errno));
            close(fd);
        } else {
            /* The dynamic linker knows an object by the name it was opened with, and would
               hand back an object already loaded under this name instead of opening ours:
               another copy of this library in the process (a plugin host with two plugins
               that each ship one) opened its variant as /proc/self/fd/N and closed N, so
               our memfd may well be N too. Move the memfd up to a number no loaded object
               is named after. */
            int named = 0;
            for (int tries = 0; fd >= 0 && tries < 256; tries++) {
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
                void *loaded = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
                if (!loaded) {
                    named = 1;
                    break;
                }
                dlclose(loaded);
                int up = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1);
                int saved = errno;
                close(fd);
                fd = up;
                errno = saved;
            }
            if (!named) {
                snprintf(err, errcap, "no free name for the memfd: %s", fd < 0 ? strerror(errno) : "256 tried");
                if (fd >= 0) close(fd);
            } else {
                handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
                if (!handle) {
                    char const *e = dlerror();
                    snprintf(err, errcap, "dlopen of the memfd: %s", e ? e : "unknown error");
                }
                close(fd);
                if (handle) return handle;
            }
        }
    } else {
        snprintf(err, errcap, "memfd skipped (SCNN_LOADER_NO_MEMFD=1)");
    }
#else
    snprintf(err, errcap, "no memfd_create on this system");
#endif
    char const *dirs[2] = {getenv("TMPDIR"), "/tmp"};
    for (int i = 0; i < 2; i++) {
        char const *dir = dirs[i];
        if (!dir || !dir[0]) continue;
        if (i == 1 && dirs[0] && strcmp(dirs[0], "/tmp") == 0) break;
        int n = snprintf(path, sizeof path, "%s/%s-XXXXXX", dir, name);
        if (n < 0 || (size_t)n >= sizeof path) continue;
        int fd = mkostemp(path, O_CLOEXEC);
        char step[600];
        if (fd < 0) {
            snprintf(step, sizeof step, "; mkstemp in %s: %s", dir, strerror(errno));
            scnn_append(err, errcap, step);
            continue;
        }
        if (scnn_write_all(fd, data, size) != 0) {
            snprintf(step, sizeof step, "; writing %s: %s", path, strerror(errno));
            scnn_append(err, errcap, step);
        } else {
            handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
            if (!handle) {
                char const *e = dlerror();
                snprintf(step, sizeof step, "; dlopen of %s: %s", path, e ? e : "unknown error");
                scnn_append(err, errcap, step);
            }
        }
        unlink(path);
        close(fd);
        if (handle) return handle;
    }
    return NULL;
}

__attribute__((constructor)) static void scnn_loader_init(void) {
    struct scnn_cpu cpu = scnn_read_cpu();
    char have[256], lacks2[256], lacks512[256], note[256] = "";
    scnn_feature_list(&cpu, 0, have, sizeof have);
    scnn_feature_list(&cpu, 2, lacks2, sizeof lacks2);
    scnn_feature_list(&cpu, 512, lacks512, sizeof lacks512);
    int can2 = lacks2[0] == '\0', can512 = can2 && lacks512[0] == '\0';

    char const *isa = getenv("SCNN_ISA");
    int want = can512 ? 512 : 2; /* auto */
    if (isa && isa[0] && strcmp(isa, "auto") != 0) {
        if (strcmp(isa, "avx2") == 0) {
            want = 2;
        } else if (strcmp(isa, "avx512") == 0) {
            if (can512) want = 512;
            else if (can2) snprintf(note, sizeof note, "SCNN_ISA=avx512 ignored: the CPU lacks %s", lacks512);
        } else {
            snprintf(note, sizeof note, "SCNN_ISA=%.40s not understood (avx2, avx512 or auto): auto", isa);
        }
    }

    char const *path = "none";
    if (!can2) {
        snprintf(scnn_loader_message, sizeof scnn_loader_message,
                 "swiftcnn needs an x86-64 CPU with AVX2 and FMA (x86-64-v3); this one lacks %s (it has: %s)",
                 lacks2, have[0] ? have : "none of sse4_2 avx avx2 fma f16c bmi2");
    } else {
        char err[600];
        int is512 = want == 512;
        const unsigned char *data = is512 ? scnn_variant_avx512 : scnn_variant_avx2;
        const unsigned char *end = is512 ? scnn_variant_avx512_end : scnn_variant_avx2_end;
        void *handle = scnn_open_variant(is512 ? "libswiftcnn-avx512.so" : "libswiftcnn-avx2.so", data, end,
                                         err, sizeof err);
        scnn_release_pages(data, end);
        if (!handle) {
            snprintf(scnn_loader_message, sizeof scnn_loader_message,
                     "swiftcnn could not load its %s variant: %s", is512 ? "avx512" : "avx2", err);
        } else {
            char const *missing = scnn_loader_bind(handle);
            if (missing) {
                snprintf(scnn_loader_message, sizeof scnn_loader_message,
                         "swiftcnn's %s variant lacks %s (a broken build)", is512 ? "avx512" : "avx2", missing);
            } else if (scnn_loader_table.scnn_abi_version() != SCNN_ABI_VERSION) {
                snprintf(scnn_loader_message, sizeof scnn_loader_message,
                         "swiftcnn's %s variant has ABI version %d, the loader %d (a broken build)",
                         is512 ? "avx512" : "avx2", (int)scnn_loader_table.scnn_abi_version(), SCNN_ABI_VERSION);
                struct scnn_loader_table fallbacks = SCNN_LOADER_FALLBACKS;
                scnn_loader_table = fallbacks;
            } else {
                path = is512 ? "avx512" : "avx2";
                /* The loader answers this one itself: it knows the CPU and why it chose. */
                scnn_loader_table.scnn_cpu_features = scnn_loader_fallback_scnn_cpu_features;
            }
        }
    }
    char const *reason = scnn_loader_message[0] ? scnn_loader_message : note;
    snprintf(scnn_loader_features, sizeof scnn_loader_features, "%s (cpu: %s)%s%s", path, have,
             reason[0] ? "; " : "", reason);
}
