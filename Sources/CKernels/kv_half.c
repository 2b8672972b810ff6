// A half-precision copy of the generator's key/value cache and the two halves of one-query attention over it
// (hv_kernels.h). At the end of a clip every decoded token reads the whole cache — 2 480 positions × 256 floats ×
// keys and values × the CFG batch of two × 4 blocks, 40 MB in float32 — so decoding is bound by memory traffic;
// IEEE half (10 mantissa bits, against bfloat16's 7) halves it. The softmax between the two passes stays in the
// engine's float32 code. AVX-512, or AVX2 with FMA and F16C (8 lanes a register, the same arithmetic): each public
// function takes the widest the CPU has.
#include "hv_kernels.h"
#include "avx2_sums.h"
#include <immintrin.h>
#include <stddef.h>

#define HV_AVX512 __attribute__((target("avx512f,fma")))
#define HV_AVX2 __attribute__((target("avx2,fma,f16c")))

int hv_kv_half_available(void) {
    return hv_direct_conv_available() ||
           (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c"));
}

static int wide512(void) {
    static int wide = -1;
    if (wide < 0) wide = hv_direct_conv_available();
    return wide;
}

HV_AVX512 static void f32_to_f16_512(const float *x, uint16_t *y, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        uint16_t tail[16];
        _mm256_storeu_si256((__m256i *)tail, _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT));
        for (long t = 0; t < n - i; t++) y[i + t] = tail[t];
    }
}

HV_AVX512 static void f16_to_f32_512(const uint16_t *x, float *y, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
    for (; i < n; i++) {
        __m128i h = _mm_cvtsi32_si128(x[i]);
        y[i] = _mm_cvtss_f32(_mm_cvtph_ps(h));
    }
}

// Four positions at a time, so that four independent FMA chains cover the FMA latency.
HV_AVX512 static void attend_scores_512(const float *q, const uint16_t *k, int n, int heads, int head_dim,
                                        long row_stride, float *scores) {
    for (int h = 0; h < heads; h++) {
        const float *qh = q + (size_t)h * head_dim;
        const uint16_t *kh = k + (size_t)h * head_dim;
        float *s = scores + (size_t)h * n;
        int j = 0;
        for (; j + 4 <= n; j += 4) {
            __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            const uint16_t *r0 = kh + (size_t)j * row_stride, *r1 = r0 + row_stride, *r2 = r1 + row_stride,
                           *r3 = r2 + row_stride;
            for (int d = 0; d < head_dim; d += 16) {
                __m512 qv = _mm512_loadu_ps(qh + d);
                a0 = _mm512_fmadd_ps(qv, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r0 + d))), a0);
                a1 = _mm512_fmadd_ps(qv, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r1 + d))), a1);
                a2 = _mm512_fmadd_ps(qv, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r2 + d))), a2);
                a3 = _mm512_fmadd_ps(qv, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r3 + d))), a3);
            }
            s[j] = _mm512_reduce_add_ps(a0);
            s[j + 1] = _mm512_reduce_add_ps(a1);
            s[j + 2] = _mm512_reduce_add_ps(a2);
            s[j + 3] = _mm512_reduce_add_ps(a3);
        }
        for (; j < n; j++) {
            __m512 a = _mm512_setzero_ps();
            const uint16_t *r = kh + (size_t)j * row_stride;
            for (int d = 0; d < head_dim; d += 16)
                a = _mm512_fmadd_ps(_mm512_loadu_ps(qh + d), _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + d))), a);
            s[j] = _mm512_reduce_add_ps(a);
        }
    }
}

// The output of a head stays in registers (head_dim ≤ 128: at most 8 zmm) for the whole pass over the positions.
HV_AVX512 static void attend_values_512(const float *p, const uint16_t *v, int n, int heads, int head_dim,
                                        long row_stride, float *o) {
    for (int h = 0; h < heads; h++) {
        const uint16_t *vh = v + (size_t)h * head_dim;
        const float *ph = p + (size_t)h * n;
        float *oh = o + (size_t)h * head_dim;
        for (int d0 = 0; d0 < head_dim; d0 += 128) {
            int w = head_dim - d0 < 128 ? head_dim - d0 : 128;
            __m512 acc[8];
            for (int u = 0; u < 8; u++) acc[u] = _mm512_setzero_ps();
            for (int j = 0; j < n; j++) {
                __m512 pj = _mm512_set1_ps(ph[j]);
                const uint16_t *r = vh + (size_t)j * row_stride + d0;
                for (int u = 0; u < w / 16; u++)
                    acc[u] = _mm512_fmadd_ps(pj, _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(r + 16 * u))), acc[u]);
            }
            for (int u = 0; u < w / 16; u++) _mm512_storeu_ps(oh + d0 + 16 * u, acc[u]);
        }
    }
}

HV_AVX2 static void f32_to_f16_256(const float *x, uint16_t *y, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++) y[i] = (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(x[i]), _MM_FROUND_TO_NEAREST_INT), 0);
}

HV_AVX2 static void f16_to_f32_256(const uint16_t *x, float *y, long n) {
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i))));
    for (; i < n; i++) y[i] = _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(x[i])));
}

HV_AVX2 static inline float hsum256(__m256 a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

#define HV_LOADH(r) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r)))

// The cache is walked in position order, eight rows at a time and every head of those rows before the next eight,
// so that memory sees one forward stream (a head-by-head walk reads a quarter of every row, four times over).
// Eight positions' FMA chains cover the FMA latency; one transposing reduction replaces eight horizontal sums.
HV_AVX2 static void attend_scores_256(const float *q, const uint16_t *k, int n, int heads, int head_dim,
                                      long row_stride, float *scores) {
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const uint16_t *rows = k + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            const float *qh = q + (size_t)h * head_dim;
            const uint16_t *r = rows + (size_t)h * head_dim;
            __m256 a[8];
            for (int t = 0; t < 8; t++) a[t] = _mm256_setzero_ps();
            for (int d = 0; d < head_dim; d += 8) {
                __m256 qv = _mm256_loadu_ps(qh + d);
                for (int t = 0; t < 8; t++) a[t] = _mm256_fmadd_ps(qv, HV_LOADH(r + t * row_stride + d), a[t]);
            }
            _mm256_storeu_ps(scores + (size_t)h * n + j, hv_hsum8x8(a));
        }
    }
    for (; j < n; j++) {
        const uint16_t *row = k + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            const float *qh = q + (size_t)h * head_dim;
            __m256 a = _mm256_setzero_ps();
            for (int d = 0; d < head_dim; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(qh + d), HV_LOADH(row + h * head_dim + d), a);
            scores[(size_t)h * n + j] = hsum256(a);
        }
    }
}

// Position order again, the whole row (every head) per step: the outputs, heads × head_dim floats, stay in L1 and
// take two positions per load and store.
HV_AVX2 static void attend_values_256(const float *p, const uint16_t *v, int n, int heads, int head_dim,
                                      long row_stride, float *o) {
    const int width = heads * head_dim;
    for (int i = 0; i < width; i++) o[i] = 0;
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        const uint16_t *r0 = v + (size_t)j * row_stride, *r1 = r0 + row_stride;
        for (int h = 0; h < heads; h++) {
            __m256 p0 = _mm256_set1_ps(p[(size_t)h * n + j]), p1 = _mm256_set1_ps(p[(size_t)h * n + j + 1]);
            float *oh = o + (size_t)h * head_dim;
            const uint16_t *a = r0 + (size_t)h * head_dim, *b = r1 + (size_t)h * head_dim;
            for (int d = 0; d < head_dim; d += 8) {
                __m256 acc = _mm256_fmadd_ps(p0, HV_LOADH(a + d), _mm256_loadu_ps(oh + d));
                _mm256_storeu_ps(oh + d, _mm256_fmadd_ps(p1, HV_LOADH(b + d), acc));
            }
        }
    }
    for (; j < n; j++) {
        const uint16_t *r = v + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            __m256 pj = _mm256_set1_ps(p[(size_t)h * n + j]);
            float *oh = o + (size_t)h * head_dim;
            for (int d = 0; d < head_dim; d += 8)
                _mm256_storeu_ps(oh + d, _mm256_fmadd_ps(pj, HV_LOADH(r + h * head_dim + d), _mm256_loadu_ps(oh + d)));
        }
    }
}

void hv_f32_to_f16(const float *x, uint16_t *y, long n) {
    if (wide512()) f32_to_f16_512(x, y, n); else f32_to_f16_256(x, y, n);
}

void hv_f16_to_f32(const uint16_t *x, float *y, long n) {
    if (wide512()) f16_to_f32_512(x, y, n); else f16_to_f32_256(x, y, n);
}

void hv_attend_scores_f16(const float *q, const uint16_t *k, int n, int heads, int head_dim, long row_stride,
                          float *scores) {
    if (wide512()) attend_scores_512(q, k, n, heads, head_dim, row_stride, scores);
    else attend_scores_256(q, k, n, heads, head_dim, row_stride, scores);
}

void hv_attend_values_f16(const float *p, const uint16_t *v, int n, int heads, int head_dim, long row_stride,
                          float *o) {
    if (wide512()) attend_values_512(p, v, n, heads, head_dim, row_stride, o);
    else attend_values_256(p, v, n, heads, head_dim, row_stride, o);
}
