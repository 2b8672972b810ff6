// Horizontal sums shared by the AVX2 attention kernels (kv_half.c, kv_int8.c). Private to CKernels: not in include/,
// so Swift never sees it. Compiled for plain AVX2, which lets any caller built for AVX2 plus more inline it.
#ifndef HV_AVX2_SUMS_H
#define HV_AVX2_SUMS_H
#include <immintrin.h>

// Sum each of eight accumulators across its lanes: lane t of the result is a[t]'s total. One transposing reduction
// in place of eight horizontal sums.
__attribute__((target("avx2"))) static inline __m256 hv_hsum8x8(const __m256 a[8]) {
    __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a[0], a[1]), _mm256_hadd_ps(a[2], a[3]));
    __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a[4], a[5]), _mm256_hadd_ps(a[6], a[7]));
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

#endif
