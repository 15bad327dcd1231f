/* The two builds of the library, embedded as data in the portable libswiftcnn.so
   (see loader.c). The Makefile passes their paths as SCNN_VARIANT_AVX512 / _AVX2. */
        .section .rodata.scnn_variants, "a"
        .balign 4096
        .globl scnn_variant_avx512
        .hidden scnn_variant_avx512
scnn_variant_avx512:
        .incbin SCNN_VARIANT_AVX512
        .globl scnn_variant_avx512_end
        .hidden scnn_variant_avx512_end
scnn_variant_avx512_end:
        .balign 4096
        .globl scnn_variant_avx2
        .hidden scnn_variant_avx2
scnn_variant_avx2:
        .incbin SCNN_VARIANT_AVX2
        .globl scnn_variant_avx2_end
        .hidden scnn_variant_avx2_end
scnn_variant_avx2_end:
        .section .note.GNU-stack, "", @progbits
