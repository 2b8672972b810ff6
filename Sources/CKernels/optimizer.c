// The AdamW update and SiLU in 512-bit lanes, or in two 256-bit halves of each 16 on AVX2 (hv_kernels.h). Swift
// lowers SIMD16<Float> division and square root to sixteen scalar divss / sqrtss (the latter with a call to sqrtf for
// negative inputs), which made the update compute-bound; here each is one vdivps / vsqrtps. Multiplies and adds are
// separate intrinsics in the scalar formula's order, and IEEE division and square root round the same in any width,
// so every lane is bit-for-bit the scalar loop's. The AVX2 functions are compiled without FMA so that the compiler
// cannot contract a multiply and an add into one rounding.
#include "hv_kernels.h"
#include <immintrin.h>

#define HV_AVX512 __attribute__((target("avx512f")))
#define HV_AVX2 __attribute__((target("avx2")))

enum { HV_LANES_NONE, HV_LANES_AVX2, HV_LANES_AVX512 };

static int lanes(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") ? HV_LANES_AVX512
                 : __builtin_cpu_supports("avx2")  ? HV_LANES_AVX2
                                                   : HV_LANES_NONE;
    }
    return cached;
}

int hv_elementwise_available(void) { return lanes() != HV_LANES_NONE; }

static HV_AVX512 void adamw512(float *w, const float *g, float *m, float *v, long n, float lr, float beta1,
                               float beta2, float c1, float c2, float eps, float decay) {
    const __m512 b1 = _mm512_set1_ps(beta1), b2 = _mm512_set1_ps(beta2);
    const __m512 ob1 = _mm512_set1_ps(1 - beta1), ob2 = _mm512_set1_ps(1 - beta2);
    const __m512 vc1 = _mm512_set1_ps(c1), vc2 = _mm512_set1_ps(c2), ve = _mm512_set1_ps(eps);
    const __m512 vlr = _mm512_set1_ps(lr), vd = _mm512_set1_ps(decay);
    for (long i = 0; i + 16 <= n; i += 16) {
        __m512 gi = _mm512_loadu_ps(g + i);
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(ob1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)), _mm512_mul_ps(_mm512_mul_ps(ob2, gi), gi));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        __m512 wi = _mm512_loadu_ps(w + i);
        __m512 mh = _mm512_div_ps(mi, vc1), vh = _mm512_div_ps(vi, vc2);
        __m512 step = _mm512_add_ps(_mm512_div_ps(mh, _mm512_add_ps(_mm512_sqrt_ps(vh), ve)), _mm512_mul_ps(vd, wi));
        _mm512_storeu_ps(w + i, _mm512_sub_ps(wi, _mm512_mul_ps(vlr, step)));
    }
}

// ExpKernel.exp (Swift) in 512-bit lanes, operation for operation: the same clamp (compare and select, so NaN
// passes through), Cephes' range reduction with the 1.5·2^23 rounding constant, the degree-6 polynomial with
// separate multiplies and adds, and 2^n from the rounded value's low mantissa bits.
static HV_AVX512 inline __m512 exp16(__m512 x) {
    x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(-87.3f), _CMP_LT_OQ), x, _mm512_set1_ps(-87.3f));
    x = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, _mm512_set1_ps(88.7f), _CMP_GT_OQ), x, _mm512_set1_ps(88.7f));
    const __m512 magic = _mm512_set1_ps(12582912.0f);
    __m512 t = _mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.4426950408889634f)), magic);
    __m512 n = _mm512_sub_ps(t, magic);
    __m512 r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.1219444005469058e-4f)));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(5.0000001201e-1f));
    __m512 y = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(p, _mm512_mul_ps(r, r)), r), _mm512_set1_ps(1.0f));
    __m512i e = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_sub_epi32(_mm512_castps_si512(t), _mm512_set1_epi32(0x4B400000)), _mm512_set1_epi32(127)),
        23);
    return _mm512_mul_ps(y, _mm512_castsi512_ps(e));
}

static HV_AVX512 inline __m512 negate16(__m512 v) {
    return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(v), _mm512_set1_epi32((int)0x80000000u)));
}

static HV_AVX2 void adamw256(float *w, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2,
                             float c1, float c2, float eps, float decay) {
    const __m256 b1 = _mm256_set1_ps(beta1), b2 = _mm256_set1_ps(beta2);
    const __m256 ob1 = _mm256_set1_ps(1 - beta1), ob2 = _mm256_set1_ps(1 - beta2);
    const __m256 vc1 = _mm256_set1_ps(c1), vc2 = _mm256_set1_ps(c2), ve = _mm256_set1_ps(eps);
    const __m256 vlr = _mm256_set1_ps(lr), vd = _mm256_set1_ps(decay);
    for (long i = 0; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_loadu_ps(g + i);
        __m256 mi = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(m + i)), _mm256_mul_ps(ob1, gi));
        __m256 vi = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(v + i)), _mm256_mul_ps(_mm256_mul_ps(ob2, gi), gi));
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
        __m256 wi = _mm256_loadu_ps(w + i);
        __m256 mh = _mm256_div_ps(mi, vc1), vh = _mm256_div_ps(vi, vc2);
        __m256 step = _mm256_add_ps(_mm256_div_ps(mh, _mm256_add_ps(_mm256_sqrt_ps(vh), ve)), _mm256_mul_ps(vd, wi));
        _mm256_storeu_ps(w + i, _mm256_sub_ps(wi, _mm256_mul_ps(vlr, step)));
    }
}

void hv_adamw_update(float *w, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2,
                     float c1, float c2, float eps, float decay) {
    n -= n % 16;
    if (lanes() == HV_LANES_AVX512) adamw512(w, g, m, v, n, lr, beta1, beta2, c1, c2, eps, decay);
    else if (lanes() == HV_LANES_AVX2) adamw256(w, g, m, v, n, lr, beta1, beta2, c1, c2, eps, decay);
}

// exp16 in 256-bit lanes: a compare and blend for each clamp, the same constants and operation order.
static HV_AVX2 inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.3f), hi = _mm256_set1_ps(88.7f);
    x = _mm256_blendv_ps(x, lo, _mm256_cmp_ps(x, lo, _CMP_LT_OQ));
    x = _mm256_blendv_ps(x, hi, _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 t = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.4426950408889634f)), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(0.693359375f)));
    r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(-2.1219444005469058e-4f)));
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(5.0000001201e-1f));
    __m256 y = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(p, _mm256_mul_ps(r, r)), r), _mm256_set1_ps(1.0f));
    __m256i e = _mm256_slli_epi32(
        _mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000)), _mm256_set1_epi32(127)),
        23);
    return _mm256_mul_ps(y, _mm256_castsi256_ps(e));
}

static HV_AVX2 inline __m256 negate8(__m256 v) { return _mm256_xor_ps(v, _mm256_set1_ps(-0.0f)); }

static HV_AVX2 void silu_forward256(const float *x, float *y, long n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (long i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(negate8(v)))));
    }
}

static HV_AVX2 void silu_backward256(const float *x, const float *dy, float *dx, long n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    for (long i = 0; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, exp8(negate8(v))));
        __m256 slope = _mm256_add_ps(one, _mm256_mul_ps(v, _mm256_sub_ps(one, s)));
        _mm256_storeu_ps(dx + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + i), s), slope));
    }
}

static HV_AVX512 void silu_forward512(const float *x, float *y, long n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        _mm512_storeu_ps(y + i, _mm512_div_ps(v, _mm512_add_ps(one, exp16(negate16(v)))));
    }
}

static HV_AVX512 void silu_backward512(const float *x, const float *dy, float *dx, long n) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long i = 0; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512 s = _mm512_div_ps(one, _mm512_add_ps(one, exp16(negate16(v))));
        __m512 slope = _mm512_add_ps(one, _mm512_mul_ps(v, _mm512_sub_ps(one, s)));
        _mm512_storeu_ps(dx + i, _mm512_mul_ps(_mm512_mul_ps(_mm512_loadu_ps(dy + i), s), slope));
    }
}

void hv_silu_forward(const float *x, float *y, long n) {
    n -= n % 16;
    if (lanes() == HV_LANES_AVX512) silu_forward512(x, y, n);
    else if (lanes() == HV_LANES_AVX2) silu_forward256(x, y, n);
}

void hv_silu_backward(const float *x, const float *dy, float *dx, long n) {
    n -= n % 16;
    if (lanes() == HV_LANES_AVX512) silu_backward512(x, dy, dx, n);
    else if (lanes() == HV_LANES_AVX2) silu_backward256(x, dy, dx, n);
}
