// Convolution rows on AMX tiles in bfloat16 (hv_kernels.h). A tile multiply-add (TDPBF16PS) sums 16×32 bfloat16
// products into each of a 16×16 float32 tile, 16 384 FLOPs an instruction: on this project's Xeons about five times
// one core's float32 FMA rate (`hv-bench`'s gemm section measures both). Inputs are rounded to bfloat16 once, in
// the copies below; sums stay float32. The layouts are the direct kernels' (conv_direct.c): a zero-padded frame is
// one long row of positions, so the 16 rows of an A tile are 16 consecutive positions of one (frame tap, row tap)
// entry shifted by the column tap, loaded with the row's channel stride — no im2col copy. Channels are padded with
// zeros to a multiple of 32 in the copies (a tile's K is 32 bfloat16 pairs' worth), which costs work only on the
// 48- and 96-channel layers.
#include "hv_kernels.h"
#include <immintrin.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <cpuid.h>

#define HV_AMX __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#define HV_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))

// Linux keeps AMX's 8 KB tile state off until a process asks for it (arch_prctl ARCH_REQ_XCOMP_PERM for
// XFEATURE_XTILEDATA); a kernel that refuses, or a hypervisor that hides the feature, leaves the float32 kernels.
int hv_amx_available(void) {
    static int state = -1;
    if (state >= 0) return state;
    unsigned a, b, c, d;
    int ok = 0;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 22)) && (d & (1u << 24)) && (b & (1u << 16)) &&
        (b & (1u << 30)) && (b & (1u << 31))) {
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5)))
            ok = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
    }
    state = ok;
    return state;
}

typedef struct {
    uint8_t palette, start;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} hv_tilecfg;

// Tiles 0–3 accumulate 16×16 floats, 4–5 are A (16 rows of 32 bfloat16), 6–7 are B (16 rows of 16 pairs).
HV_AMX static void configure(void) {
    hv_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int i = 0; i < 8; i++) {
        cfg.rows[i] = 16;
        cfg.colsb[i] = 64;
    }
    _tile_loadconfig(&cfg);
}

// Round-to-nearest-even bfloat16 of 16 floats.
HV_BF16 static inline __m256i bf16x16(__m512 v) { return (__m256i)_mm512_cvtneps_pbh(v); }

HV_BF16 static void to_bf16(const float *x, uint16_t *y, long n) {
    long i = 0;
    for (; i + 16 <= n; i += 16) _mm256_storeu_si256((__m256i *)(y + i), bf16x16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm256_mask_storeu_epi16(y + i, m, bf16x16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void hv_f32_to_bf16(const float *x, uint16_t *y, long n) { to_bf16(x, y, n); }

HV_BF16 void hv_amx_pad_rows(const float *x, int rows, int width, int c, int cp, int left, int right,
                             uint16_t *y) {
    int wp = width + left + right;
    for (int r = 0; r < rows; r++) {
        uint16_t *dst = y + (size_t)r * wp * cp;
        if (!x) {
            memset(dst, 0, (size_t)wp * cp * 2);
            continue;
        }
        memset(dst, 0, (size_t)left * cp * 2);
        const float *src = x + (size_t)r * width * c;
        if (c == cp) {
            to_bf16(src, dst + (size_t)left * cp, (long)width * c);
        } else {
            for (int w = 0; w < width; w++) {
                uint16_t *d = dst + (size_t)(left + w) * cp;
                to_bf16(src + (size_t)w * c, d, c);
                memset(d + c, 0, (size_t)(cp - c) * 2);
            }
        }
        memset(dst + (size_t)(left + width) * cp, 0, (size_t)right * cp * 2);
    }
}

HV_AMX void hv_amx_conv_rows(const uint16_t *const *rows, const uint16_t *const *weights, int entries, int kw,
                             int cinp, int cout, int positions, const float *bias, float *y) {
    configure();
    const long astride = (long)cinp * 2, bstride = (long)cout * 4, ystride = (long)cout * 4;
    for (int p = 0; p < positions; p += 32) {
        int two = positions - p > 16;
        for (int co = 0; co < cout; co += 32) {
            int pair = cout - co > 16;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int e = 0; e < entries; e++)
                for (int c = 0; c < kw; c++) {
                    const uint16_t *a = rows[e] + (size_t)(p + c) * cinp;
                    const uint16_t *b = weights[e] + ((size_t)c * cinp / 2 * cout + co) * 2;
                    for (int k = 0; k < cinp; k += 32) {
                        _tile_loadd(4, a + k, astride);
                        _tile_loadd(6, b + (size_t)k / 2 * cout * 2, bstride);
                        _tile_dpbf16ps(0, 4, 6);
                        if (pair) {
                            _tile_loadd(7, b + (size_t)k / 2 * cout * 2 + 32, bstride);
                            _tile_dpbf16ps(1, 4, 7);
                        }
                        if (two) {
                            _tile_loadd(5, a + (size_t)16 * cinp + k, astride);
                            _tile_dpbf16ps(2, 5, 6);
                            if (pair) _tile_dpbf16ps(3, 5, 7);
                        }
                    }
                }
            float *out = y + (size_t)p * cout + co;
            _tile_stored(0, out, ystride);
            if (pair) _tile_stored(1, out + 16, ystride);
            if (two) {
                _tile_stored(2, out + (size_t)16 * cout, ystride);
                if (pair) _tile_stored(3, out + (size_t)16 * cout + 16, ystride);
            }
            if (bias)
                for (int q = 0; q < (two ? 32 : 16); q++)
                    for (int l = 0; l < (pair ? 32 : 16); l++) out[(size_t)q * cout + l] += bias[co + l];
        }
    }
    _tile_release();
}

HV_BF16 void hv_amx_pack_pairs(const float *dy, int positions, int cout, uint16_t *y) {
    // y[p / 2][co][p % 2] for p < positions rounded up to 32, zero past `positions`.
    int padded = (positions + 31) / 32 * 32;
    for (int p = 0; p < padded; p += 2) {
        for (int co = 0; co < cout; co += 16) {
            __m512 a = p < positions ? _mm512_loadu_ps(dy + (size_t)p * cout + co) : _mm512_setzero_ps();
            __m512 b = p + 1 < positions ? _mm512_loadu_ps(dy + (size_t)(p + 1) * cout + co) : _mm512_setzero_ps();
            // cvtne2ps_pbh(hi, lo) puts lo's 16 values in the low half; interleave them pairwise.
            __m512i ab = (__m512i)_mm512_cvtne2ps_pbh(b, a);
            const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7,
                                                 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
            _mm512_storeu_si512(y + ((size_t)p / 2 * cout + co) * 2, _mm512_permutexvar_epi16(idx, ab));
        }
    }
}

HV_BF16 void hv_amx_pack_flipped(const float *w, int kh, int kw, int cin, int cout, int tap, uint16_t *y) {
    // Tap (a, b', c') of the input gradient's kernel is w's tap (a, kh−1−b', kw−1−c') with its channel axes swapped:
    // B tile rows are pairs of output channels (the gradient's input), y[co / 2][ci][co % 2], zero for co ≥ cout.
    int a = tap / (kh * kw), b = (tap / kw) % kh, c = tap % kw;
    const float *src = w + ((size_t)(a * kh + (kh - 1 - b)) * kw + (kw - 1 - c)) * cin * cout;
    int coutp = (cout + 31) / 32 * 32;
    uint16_t row[coutp];
    for (int ci = 0; ci < cin; ci++) {
        to_bf16(src + (size_t)ci * cout, row, cout);
        for (int co = cout; co < coutp; co++) row[co] = 0;
        for (int p = 0; p < coutp / 2; p++) {
            uint16_t *d = y + ((size_t)p * cin + ci) * 2;
            d[0] = row[2 * p];
            d[1] = row[2 * p + 1];
        }
    }
}

// One 32-position step of the weight gradient's dWᵀ tiles: A from the blocked dy (16 output channels × 32
// positions, contiguous), B from the pair copy of x (16 rows of position pairs × 16 input channels); `two` and
// `pair` say whether the second block of output and of input channels exists.
HV_AMX static inline void dw_step(const uint16_t *ap, const uint16_t *bp, long bstride, int two, int pair) {
    _tile_loadd(4, ap, 64);
    _tile_loadd(6, bp, bstride);
    _tile_dpbf16ps(0, 4, 6);
    if (pair) {
        _tile_loadd(7, bp + 32, bstride);
        _tile_dpbf16ps(1, 4, 7);
    }
    if (two) {
        _tile_loadd(5, ap + 16 * 32, 64);
        _tile_dpbf16ps(2, 5, 6);
        if (pair) _tile_dpbf16ps(3, 5, 7);
    }
}

HV_BF16 void hv_amx_block_transpose(const float *dy, int positions, int cout, uint16_t *y) {
    // y[p / 32][co][p % 32] = bf16(dy[p][co]) for p below `positions` rounded up to 32 (zeros past it).
    int blocks = (positions + 31) / 32;
    for (int b = 0; b < blocks; b++)
        for (int h = 0; h < 32; h += 16) {
            int p0 = b * 32 + h, n = positions - p0 < 16 ? (positions - p0 > 0 ? positions - p0 : 0) : 16;
            for (int co = 0; co < cout; co++) {
                float v[16];
                for (int q = 0; q < n; q++) v[q] = dy[(size_t)(p0 + q) * cout + co];
                for (int q = n; q < 16; q++) v[q] = 0;
                _mm256_storeu_si256((__m256i *)(y + ((size_t)b * cout + co) * 32 + h), bf16x16(_mm512_loadu_ps(v)));
            }
        }
}

HV_AMX void hv_amx_conv_dw(const uint16_t *const *pairs, const uint16_t *const *dyt, int frames, int shift, int cin,
                           int ci0, int ci1, int cout, int positions, float *dweight) {
    // dWᵀ tiles: A = 16 output channels × 32 positions of dy (one contiguous kilobyte of the blocked copy), B = 32
    // positions × 16 input channels of x as pairs (16 consecutive rows of the pair copy whose pairs start at the
    // shift's parity). Every tile load reads consecutive memory; the tiles then add into dw transposed.
    configure();
    const long bstride = (long)cin * 4;
    float t[4][256];
    for (int co = 0; co < cout; co += 32) {
        int two = cout - co > 16;
        for (int ci = ci0; ci < ci1; ci += 32) {
            int pair = ci1 - ci > 16;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int f = 0; f < frames; f++) {
                const uint16_t *xb = pairs[f] + ((size_t)(shift / 2) * cin + ci) * 2;
                const uint16_t *a = dyt[f] + (size_t)co * 32;
                for (int p = 0; p < positions; p += 32) {
                    const uint16_t *ap = a + (size_t)p * cout, *bp = xb + (size_t)p / 2 * cin * 2;
                    dw_step(ap, bp, bstride, two, pair);
                }
            }
            _tile_stored(0, t[0], 64);
            if (pair) _tile_stored(1, t[1], 64);
            if (two) {
                _tile_stored(2, t[2], 64);
                if (pair) _tile_stored(3, t[3], 64);
            }
            for (int k = 0; k < 4; k++) {
                int o = co + (k >> 1) * 16, i = ci + (k & 1) * 16;
                if ((k >> 1) && !two) continue;
                if ((k & 1) && !pair) continue;
                for (int r = 0; r < 16; r++)
                    for (int q = 0; q < 16; q++) dweight[(size_t)(i + q) * cout + o + r] += t[k][r * 16 + q];
            }
        }
    }
    _tile_release();
}

HV_AMX void hv_amx_conv_dw_taps(const uint16_t *const *pairs, float *const *acc, int taps, const uint16_t *dyt,
                                int cin, int cout, int positions) {
    // All of a worker's taps, one block of positions at a time: the block of dy and of the input frames it reads
    // (a few hundred kilobytes) stays in cache while every tap's accumulators pass through the tiles, where a tap at a
    // time would stream the whole frame once per tap and block of channels.
    enum { BLOCK = 256 };
    configure();
    const long bstride = (long)cin * 4, cstride = (long)cin * 4;
    for (int p0 = 0; p0 < positions; p0 += BLOCK) {
        int p1 = positions - p0 < BLOCK ? positions : p0 + BLOCK;
        for (int j = 0; j < taps; j++) {
            if (!pairs[j]) continue;
            for (int co = 0; co < cout; co += 32) {
                int two = cout - co > 16;
                for (int ci = 0; ci < cin; ci += 32) {
                    int pair = cin - ci > 16;
                    float *c = acc[j] + (size_t)co * cin + ci;
                    _tile_loadd(0, c, cstride);
                    if (pair) _tile_loadd(1, c + 16, cstride);
                    if (two) {
                        _tile_loadd(2, c + (size_t)16 * cin, cstride);
                        if (pair) _tile_loadd(3, c + (size_t)16 * cin + 16, cstride);
                    }
                    const uint16_t *xb = pairs[j] + (size_t)ci * 2, *a = dyt + (size_t)co * 32;
                    for (int p = p0; p < p1; p += 32) {
                        const uint16_t *ap = a + (size_t)p * cout, *bp = xb + (size_t)p / 2 * cin * 2;
                        dw_step(ap, bp, bstride, two, pair);
                    }
                    _tile_stored(0, c, cstride);
                    if (pair) _tile_stored(1, c + 16, cstride);
                    if (two) {
                        _tile_stored(2, c + (size_t)16 * cin, cstride);
                        if (pair) _tile_stored(3, c + (size_t)16 * cin + 16, cstride);
                    }
                }
            }
        }
    }
    _tile_release();
}

HV_AMX double hv_amx_rate(long iterations) {
    if (!hv_amx_available()) return 0;
    configure();
    static uint16_t a[2][512] __attribute__((aligned(64)));
    memset(a, 0, sizeof a);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, a[0], 64);
    _tile_loadd(5, a[1], 64);
    _tile_loadd(6, a[0], 64);
    _tile_loadd(7, a[1], 64);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < iterations; i++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    _tile_release();
    double s = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return (double)iterations * 4 * 16 * 16 * 32 * 2 / s;
}
