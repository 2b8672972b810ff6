// The tile transforms of Winograd F(2×2, 3×3) (Conv3dWinograd.swift) in AVX2: Swift's SIMD8 compiles to pairs of SSE
// instructions on the baseline target, and in the fused path of the 32- and 48-channel layers the transforms took
// about a fifth of the time. Each takes the same additions in the same order as the Swift functions it stands in for
// (Conv3dWinograd.transformTiles / untransformTiles, which stay as the reference), so both give the same bits.
#include "hv_kernels.h"
#include <immintrin.h>
#include <stddef.h>

#define HV_AVX2 __attribute__((target("avx2,fma")))

int hv_winograd_tiles_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

HV_AVX2 void hv_winograd_input_tiles(const float *x, int H, int W, int c, int ty, float *out, long xi_stride) {
    const int tw = (W + 1) / 2;
    for (int tx = 0; tx < tw; tx++) {
        float *o = out + (size_t)tx * c;
        for (int k = 0; k < c; k += 8) {
            __m256 d[4][4];
            for (int i = 0; i < 4; i++) {
                int hi = 2 * ty - 1 + i;
                for (int j = 0; j < 4; j++) {
                    int wi = 2 * tx - 1 + j;
                    d[i][j] = hi >= 0 && hi < H && wi >= 0 && wi < W ? _mm256_loadu_ps(x + ((size_t)hi * W + wi) * c + k)
                                                                     : _mm256_setzero_ps();
                }
            }
            for (int j = 0; j < 4; j++) {    // Bᵀ d: rows
                __m256 d0 = d[0][j], d1 = d[1][j], d2 = d[2][j], d3 = d[3][j];
                d[0][j] = _mm256_sub_ps(d0, d2);
                d[1][j] = _mm256_add_ps(d1, d2);
                d[2][j] = _mm256_sub_ps(d2, d1);
                d[3][j] = _mm256_sub_ps(d1, d3);
            }
            for (int i = 0; i < 4; i++) {    // (Bᵀ d) B: columns
                __m256 e0 = d[i][0], e1 = d[i][1], e2 = d[i][2], e3 = d[i][3];
                _mm256_storeu_ps(o + (size_t)(i * 4 + 0) * xi_stride + k, _mm256_sub_ps(e0, e2));
                _mm256_storeu_ps(o + (size_t)(i * 4 + 1) * xi_stride + k, _mm256_add_ps(e1, e2));
                _mm256_storeu_ps(o + (size_t)(i * 4 + 2) * xi_stride + k, _mm256_sub_ps(e2, e1));
                _mm256_storeu_ps(o + (size_t)(i * 4 + 3) * xi_stride + k, _mm256_sub_ps(e1, e3));
            }
        }
    }
}

HV_AVX2 void hv_winograd_output_tiles(const float *m, long xi_stride, int H, int W, int c, int ty, const float *bias,
                                      float *y) {
    const int tw = (W + 1) / 2;
    for (int tx = 0; tx < tw; tx++) {
        const float *src = m + (size_t)tx * c;
        for (int k = 0; k < c; k += 8) {
            __m256 s[2][4];
            for (int j = 0; j < 4; j++) {    // Aᵀ M: two rows of four
                __m256 m0 = _mm256_loadu_ps(src + (size_t)(0 * 4 + j) * xi_stride + k);
                __m256 m1 = _mm256_loadu_ps(src + (size_t)(1 * 4 + j) * xi_stride + k);
                __m256 m2 = _mm256_loadu_ps(src + (size_t)(2 * 4 + j) * xi_stride + k);
                __m256 m3 = _mm256_loadu_ps(src + (size_t)(3 * 4 + j) * xi_stride + k);
                s[0][j] = _mm256_add_ps(_mm256_add_ps(m0, m1), m2);
                s[1][j] = _mm256_sub_ps(_mm256_sub_ps(m1, m2), m3);
            }
            __m256 b = bias ? _mm256_loadu_ps(bias + k) : _mm256_setzero_ps();
            for (int i = 0; i < 2; i++) {
                int hi = 2 * ty + i;
                if (hi >= H) continue;
                __m256 e0 = s[i][0], e1 = s[i][1], e2 = s[i][2], e3 = s[i][3];
                float *row = y + ((size_t)hi * W + 2 * tx) * c + k;
                _mm256_storeu_ps(row, _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(e0, e1), e2), b));
                if (2 * tx + 1 < W) _mm256_storeu_ps(row + c, _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(e1, e2), e3), b));
            }
        }
    }
}
