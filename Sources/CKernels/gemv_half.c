// Matrix–vector products against half-precision weights, for decoding (hv_kernels.h). A decoding step multiplies
// one or two rows (the CFG batch) by every weight matrix of the generator: 14 MB in float32 for the `small`
// model, read once per token and compute-light, so the step is bound by how fast the weights arrive. Late in a
// clip the KV cache's passes share the last-level cache with them and push them out to DRAM; half the bytes keeps
// both resident longer and halves what still streams. Products and sums stay float32. AVX2 with FMA and F16C
// (also what AVX-512 CPUs run: the loop is bound by the loads and conversions, not the vector width).
#include "hv_kernels.h"
#include <immintrin.h>
#include <stddef.h>

#define HV_AVX2 __attribute__((target("avx2,fma,f16c")))
#define HV_LOADH(r) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(r)))

int hv_gemv_f16_available(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

// Lane t of the result is the sum of a[t]'s eight lanes.
HV_AVX2 static inline __m128 hsum4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 u = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(u), _mm256_extractf128_ps(u, 1));
}

// Four weight rows at a time against `m` (1 or 2, a constant after inlining) input rows: four independent FMA
// chains per input row cover the FMA latency, and each converted weight vector serves both rows.
HV_AVX2 static inline __attribute__((always_inline)) void gemv_rows(const float *x, long ldx, const uint16_t *w,
                                                                    long in, float *y, long ldy, long lo, long hi,
                                                                    const int m) {
    long o = lo;
    for (; o + 4 <= hi; o += 4) {
        const uint16_t *w0 = w + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (long k = 0; k < in; k += 8) {
            __m256 v0 = HV_LOADH(w0 + k), v1 = HV_LOADH(w1 + k), v2 = HV_LOADH(w2 + k), v3 = HV_LOADH(w3 + k);
            __m256 x0 = _mm256_loadu_ps(x + k);
            a0 = _mm256_fmadd_ps(x0, v0, a0); a1 = _mm256_fmadd_ps(x0, v1, a1);
            a2 = _mm256_fmadd_ps(x0, v2, a2); a3 = _mm256_fmadd_ps(x0, v3, a3);
            if (m == 2) {
                __m256 x1 = _mm256_loadu_ps(x + ldx + k);
                b0 = _mm256_fmadd_ps(x1, v0, b0); b1 = _mm256_fmadd_ps(x1, v1, b1);
                b2 = _mm256_fmadd_ps(x1, v2, b2); b3 = _mm256_fmadd_ps(x1, v3, b3);
            }
        }
        _mm_storeu_ps(y + o, hsum4x8(a0, a1, a2, a3));
        if (m == 2) _mm_storeu_ps(y + ldy + o, hsum4x8(b0, b1, b2, b3));
    }
    for (; o < hi; o++) {
        const uint16_t *wr = w + o * in;
        __m256 a = _mm256_setzero_ps(), b = a;
        for (long k = 0; k < in; k += 8) {
            __m256 v = HV_LOADH(wr + k);
            a = _mm256_fmadd_ps(_mm256_loadu_ps(x + k), v, a);
            if (m == 2) b = _mm256_fmadd_ps(_mm256_loadu_ps(x + ldx + k), v, b);
        }
        __m128 s = hsum4x8(a, b, a, b);
        y[o] = _mm_cvtss_f32(s);
        if (m == 2) y[ldy + o] = _mm_cvtss_f32(_mm_shuffle_ps(s, s, 1));
    }
}

HV_AVX2 static void gemv_one(const float *x, const uint16_t *w, long in, float *y, long lo, long hi) {
    gemv_rows(x, 0, w, in, y, 0, lo, hi, 1);
}

HV_AVX2 static void gemv_two(const float *x, long ldx, const uint16_t *w, long in, float *y, long ldy, long lo, long hi) {
    gemv_rows(x, ldx, w, in, y, ldy, lo, hi, 2);
}

// Four input rows (a batch of drafts): two weight rows at a time, eight FMA chains. Each (weight row, input row)
// pair keeps one chain over k and the same lane-symmetric reduction as above, so every output is bit for bit what
// the one- and two-row paths give it, while each converted weight vector serves four rows.
HV_AVX2 static void gemv_four(const float *x, long ldx, const uint16_t *w, long in, float *y, long ldy, long lo, long hi) {
    const float *x0 = x, *x1 = x + ldx, *x2 = x + 2 * ldx, *x3 = x + 3 * ldx;
    long o = lo;
    for (; o + 2 <= hi; o += 2) {
        const uint16_t *w0 = w + o * in, *w1 = w0 + in;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, b0 = a0, b1 = a0, c0 = a0, c1 = a0, d0 = a0, d1 = a0;
        for (long k = 0; k < in; k += 8) {
            __m256 v0 = HV_LOADH(w0 + k), v1 = HV_LOADH(w1 + k), t;
            t = _mm256_loadu_ps(x0 + k); a0 = _mm256_fmadd_ps(t, v0, a0); a1 = _mm256_fmadd_ps(t, v1, a1);
            t = _mm256_loadu_ps(x1 + k); b0 = _mm256_fmadd_ps(t, v0, b0); b1 = _mm256_fmadd_ps(t, v1, b1);
            t = _mm256_loadu_ps(x2 + k); c0 = _mm256_fmadd_ps(t, v0, c0); c1 = _mm256_fmadd_ps(t, v1, c1);
            t = _mm256_loadu_ps(x3 + k); d0 = _mm256_fmadd_ps(t, v0, d0); d1 = _mm256_fmadd_ps(t, v1, d1);
        }
        __m128 s = hsum4x8(a0, a1, b0, b1), u = hsum4x8(c0, c1, d0, d1);
        y[o] = _mm_cvtss_f32(s); y[o + 1] = _mm_cvtss_f32(_mm_shuffle_ps(s, s, 1));
        y[ldy + o] = _mm_cvtss_f32(_mm_shuffle_ps(s, s, 2)); y[ldy + o + 1] = _mm_cvtss_f32(_mm_shuffle_ps(s, s, 3));
        y[2 * ldy + o] = _mm_cvtss_f32(u); y[2 * ldy + o + 1] = _mm_cvtss_f32(_mm_shuffle_ps(u, u, 1));
        y[3 * ldy + o] = _mm_cvtss_f32(_mm_shuffle_ps(u, u, 2)); y[3 * ldy + o + 1] = _mm_cvtss_f32(_mm_shuffle_ps(u, u, 3));
    }
    if (o < hi) {
        gemv_rows(x0, ldx, w, in, y, ldy, o, hi, 2);
        gemv_rows(x2, ldx, w, in, y + 2 * ldy, ldy, o, hi, 2);
    }
}

void hv_gemv_f16(const float *x, int rows, const uint16_t *w, long out, long in, float *y, long lo, long hi) {
    int r = 0;
    for (; r + 4 <= rows; r += 4) gemv_four(x + r * in, in, w, in, y + r * out, out, lo, hi);
    for (; r + 2 <= rows; r += 2) gemv_two(x + r * in, in, w, in, y + r * out, out, lo, hi);
    if (r < rows) gemv_one(x + r * in, w, in, y + r * out, lo, hi);
}
