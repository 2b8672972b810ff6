// Peak multiply-add rate of one core, float32 FMA against the bfloat16 dot product (hv_kernels.h): 12 independent
// accumulator chains, more than either instruction's latency times its issue rate, so each loop is bound by
// throughput alone. The empty asm keeps the compiler from folding the loop away.
#include "hv_kernels.h"
#include <immintrin.h>
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define HV_KEEP(a)                                                                                                 \
    __asm__ volatile("" ::"v"(a[0]), "v"(a[1]), "v"(a[2]), "v"(a[3]), "v"(a[4]), "v"(a[5]), "v"(a[6]), "v"(a[7]),  \
                     "v"(a[8]), "v"(a[9]), "v"(a[10]), "v"(a[11]))

__attribute__((target("avx512f,fma"))) static double fp32_rate(long n) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_setzero_ps();
    const __m512 x = _mm512_set1_ps(1e-3f), w = _mm512_set1_ps(0.5f);
    double t = seconds();
    for (long k = 0; k < n; k++) {
        _Pragma("clang loop unroll(full)") for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(x, w, a[i]);
        HV_KEEP(a);
    }
    t = seconds() - t;
    return (double)n * 12 * 16 * 2 / t;
}

__attribute__((target("avx512f,avx512bf16"))) static double bf16_rate(long n) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_setzero_ps();
    // Every bfloat16 lane 1/8 and 1/2 (0x3E00, 0x3F00).
    const __m512bh x = (__m512bh)_mm512_set1_epi32(0x3E003E00), w = (__m512bh)_mm512_set1_epi32(0x3F003F00);
    double t = seconds();
    for (long k = 0; k < n; k++) {
        _Pragma("clang loop unroll(full)") for (int i = 0; i < 12; i++) a[i] = _mm512_dpbf16_ps(a[i], x, w);
        HV_KEEP(a);
    }
    t = seconds() - t;
    return (double)n * 12 * 32 * 2 / t;
}

double hv_fma_rate(int bf16, long iterations) {
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) return 0;
    if (!bf16) return fp32_rate(iterations);
    if (!__builtin_cpu_supports("avx512bf16")) return 0;
    return bf16_rate(iterations);
}
