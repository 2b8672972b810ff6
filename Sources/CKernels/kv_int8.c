// An 8-bit copy of the generator's key/value cache and one-query attention over it (hv_kernels.h). At the end of a
// clip each decoded token reads every cached row of every block — 2 480 positions × 256 numbers × keys and values ×
// 4 blocks, 10 MB a row in half precision — and that stream, not arithmetic, sets the token's time. Eight bits a
// number with one float scale per position and head (x ≈ scale · q, |q| ≤ 127: a 64-number head row costs 68 bytes
// instead of 128) halves it again. Queries, scores, softmax and output sums stay float32; each int8 vector is widened
// for the arithmetic: to 16 bits against a 16-bit copy of the query for the scores, to floats for the weighted sum.
// AVX2 with FMA (what AVX-512 CPUs run too: the passes are bound by the loads and widening, not the vector width).
#include "hv_kernels.h"
#include "avx2_sums.h"
#include <immintrin.h>
#include <math.h>
#include <stddef.h>

#define HV_AVX2 __attribute__((target("avx2,fma")))
#define HV_LOAD8(r) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(r))))

int hv_kv_int8_available(void) { return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"); }

void hv_quantize_i8(const float *x, int8_t *y, float *scales, long groups, int group_size) {
    for (long g = 0; g < groups; g++) {
        const float *xg = x + g * group_size;
        int8_t *yg = y + g * group_size;
        float m = 0;
        for (int d = 0; d < group_size; d++) m = fmaxf(m, fabsf(xg[d]));
        // An all-zero group keeps scale 0 and codes 0: exact zeros again.
        float inv = m > 0 ? 127.0f / m : 0;
        scales[g] = m / 127.0f;
        for (int d = 0; d < group_size; d++) yg[d] = (int8_t)lrintf(xg[d] * inv);
    }
}

// As the half kernel: the cache walked in position order, eight rows and every head of them at a time (one forward
// stream for the memory system), one transposing reduction for the eight sums. The query is rounded to 16-bit
// integers per head (x ≈ qscale · qi, |qi| ≤ 32767: 1.5e-5 of the head's largest entry at worst), so that one
// vpmaddwd multiplies 16 key codes, sign-extended to 16 bits, by it and adds them in pairs into exact 32-bit sums
// (|sum| ≤ 64 · 127 · 32767 < 2^31 for head_dim ≤ 64 a chunk; chunks are summed in float): three instructions for
// 16 numbers where widening to floats for an FMA takes six. Each sum is then multiplied by its row's scale.
HV_AVX2 static void scores_avx2(const float *q, const int8_t *k, const float *ks, int n, int heads, int head_dim,
                                long row_stride, float *scores) {
    int16_t qi[heads * head_dim];
    float qscale[heads];
    for (int h = 0; h < heads; h++) {
        const float *qh = q + (size_t)h * head_dim;
        float m = 0;
        for (int d = 0; d < head_dim; d++) m = fmaxf(m, fabsf(qh[d]));
        float inv = m > 0 ? 32767.0f / m : 0;
        qscale[h] = m / 32767.0f;
        for (int d = 0; d < head_dim; d++) qi[(size_t)h * head_dim + d] = (int16_t)lrintf(qh[d] * inv);
    }
    const __m256i scaleIndex = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(heads));
    int j = 0;
    for (; j + 8 <= n; j += 8) {
        const int8_t *rows = k + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            const int16_t *qh = qi + (size_t)h * head_dim;
            const int8_t *r = rows + (size_t)h * head_dim;
            __m256 total[8];
            for (int t = 0; t < 8; t++) total[t] = _mm256_setzero_ps();
            for (int d0 = 0; d0 < head_dim; d0 += 64) {
                int d1 = head_dim - d0 < 64 ? head_dim : d0 + 64;
                __m256i a[8];
                for (int t = 0; t < 8; t++) a[t] = _mm256_setzero_si256();
                for (int d = d0; d < d1; d += 16) {
                    __m256i qv = _mm256_loadu_si256((const __m256i *)(qh + d));
                    for (int t = 0; t < 8; t++)
                        a[t] = _mm256_add_epi32(a[t], _mm256_madd_epi16(qv, _mm256_cvtepi8_epi16(
                                                    _mm_loadu_si128((const __m128i *)(r + t * row_stride + d)))));
                }
                for (int t = 0; t < 8; t++) total[t] = _mm256_add_ps(total[t], _mm256_cvtepi32_ps(a[t]));
            }
            __m256 scale = _mm256_mul_ps(_mm256_i32gather_ps(ks + (size_t)j * heads + h, scaleIndex, 4),
                                         _mm256_set1_ps(qscale[h]));
            _mm256_storeu_ps(scores + (size_t)h * n + j, _mm256_mul_ps(hv_hsum8x8(total), scale));
        }
    }
    for (; j < n; j++) {
        const int8_t *row = k + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            const int16_t *qh = qi + (size_t)h * head_dim;
            int64_t s = 0;
            for (int d = 0; d < head_dim; d++) s += (int32_t)qh[d] * row[h * head_dim + d];
            scores[(size_t)h * n + j] = (float)s * ks[(size_t)j * heads + h] * qscale[h];
        }
    }
}

// Position order, the whole row per step, two positions per load and store of the outputs (which stay in L1); a
// row's scale is folded into its softmax weight.
HV_AVX2 static void values_avx2(const float *p, const int8_t *v, const float *vs, int n, int heads, int head_dim,
                                long row_stride, float *o) {
    const int width = heads * head_dim;
    for (int i = 0; i < width; i++) o[i] = 0;
    int j = 0;
    for (; j + 2 <= n; j += 2) {
        const int8_t *r0 = v + (size_t)j * row_stride, *r1 = r0 + row_stride;
        for (int h = 0; h < heads; h++) {
            __m256 p0 = _mm256_set1_ps(p[(size_t)h * n + j] * vs[(size_t)j * heads + h]);
            __m256 p1 = _mm256_set1_ps(p[(size_t)h * n + j + 1] * vs[(size_t)(j + 1) * heads + h]);
            float *oh = o + (size_t)h * head_dim;
            const int8_t *a = r0 + (size_t)h * head_dim, *b = r1 + (size_t)h * head_dim;
            for (int d = 0; d < head_dim; d += 8) {
                __m256 acc = _mm256_fmadd_ps(p0, HV_LOAD8(a + d), _mm256_loadu_ps(oh + d));
                _mm256_storeu_ps(oh + d, _mm256_fmadd_ps(p1, HV_LOAD8(b + d), acc));
            }
        }
    }
    for (; j < n; j++) {
        const int8_t *r = v + (size_t)j * row_stride;
        for (int h = 0; h < heads; h++) {
            __m256 pj = _mm256_set1_ps(p[(size_t)h * n + j] * vs[(size_t)j * heads + h]);
            float *oh = o + (size_t)h * head_dim;
            for (int d = 0; d < head_dim; d += 8)
                _mm256_storeu_ps(oh + d, _mm256_fmadd_ps(pj, HV_LOAD8(r + h * head_dim + d), _mm256_loadu_ps(oh + d)));
        }
    }
}

void hv_attend_scores_i8(const float *q, const int8_t *k, const float *k_scales, int n, int heads, int head_dim,
                         long row_stride, float *scores) {
    scores_avx2(q, k, k_scales, n, heads, head_dim, row_stride, scores);
}

void hv_attend_values_i8(const float *p, const int8_t *v, const float *v_scales, int n, int heads, int head_dim,
                         long row_stride, float *o) {
    values_avx2(p, v, v_scales, n, heads, head_dim, row_stride, o);
}
