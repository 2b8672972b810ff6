// The AdamW update in 512-bit lanes (hv_kernels.h). Swift lowers SIMD16<Float> division and square root to sixteen
// scalar divss / sqrtss (the latter with a call to sqrtf for negative inputs), which made the update compute-bound;
// here each is one vdivps / vsqrtps. Multiplies and adds are separate intrinsics, never fused, in the scalar
// formula's order, and IEEE division and square root round the same in any width, so every lane is bit-for-bit the
// scalar loop's.
#include "hv_kernels.h"
#include <immintrin.h>

#define HV_AVX512 __attribute__((target("avx512f")))

HV_AVX512 void hv_adamw_update(float *w, const float *g, float *m, float *v, long n, float lr, float beta1,
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
