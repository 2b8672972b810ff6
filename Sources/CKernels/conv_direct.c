// Direct stride-1 convolution of one output row (hv_kernels.h), in AVX-512 or, on CPUs without it, AVX2 (at the end).
// A tile of NB output positions × NV·16 output channels stays in zmm registers for a pass over a block of input channels: per input channel, NV weight vectors
// are loaded once and each of the NB inputs is broadcast once, for NB·NV FMAs. The tile
// sizes keep NB·NV at 24 or below (of 32 zmm registers: the accumulators, the weights and a broadcast) and NB·NV ≥ 8
// where the row allows it, so the FMA units' latency is covered. Nothing is copied or packed: im2col's 27-fold copy of
// the input and OpenBLAS's packing are what this path avoids.
#include "hv_kernels.h"
#include <immintrin.h>
#include <stddef.h>

#define HV_AVX512 __attribute__((target("avx512f,fma")))
#define HV_AVX2 __attribute__((target("avx2,fma")))
// The tile loops must unroll completely for the accumulators to live in registers (clang leaves a 12-wide loop rolled,
// with the accumulators on the stack, unless told).
#define HV_UNROLL _Pragma("clang loop unroll(full)")

int hv_direct_conv_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") ? 1 : 0;
}

int hv_conv_rows_available(void) {
    __builtin_cpu_init();
    return hv_direct_conv_available() || (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) ? 1 : 0;
}

// One pass of a tile over kernel columns [0, kc) and input channels [ci0, ci1) of one entry: the accumulators are
// loaded from the output row (which stays in L1) and stored back, so the weight block of the pass is read from L1 by
// every tile of the row instead of streaming the whole kernel from L2 once per tile.
#define HV_TILE(NV, NB)                                                                                              \
    static HV_AVX512 void tile_##NV##_##NB(const float *x, const float *w, int kc, int cin, int cout, int ci0,     \
                                           int ci1, float *y) {                                                    \
        __m512 acc[NB][NV];                                                                                        \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++)                                                                               \
            HV_UNROLL                                                                                              \
            for (int v = 0; v < NV; v++) acc[j][v] = _mm512_loadu_ps(y + (size_t)j * cout + 16 * v);               \
        for (int c = 0; c < kc; c++) {                                                                             \
            const float *xc = x + (size_t)c * cin, *wc = w + (size_t)c * cin * cout;                               \
            for (int ci = ci0; ci < ci1; ci++) {                                                                   \
                __m512 wv[NV];                                                                                     \
                HV_UNROLL                                                                                          \
                for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(wc + (size_t)ci * cout + 16 * v);             \
                HV_UNROLL                                                                                          \
                for (int j = 0; j < NB; j++) {                                                                     \
                    __m512 xv = _mm512_set1_ps(xc[(size_t)j * cin + ci]);                                          \
                    HV_UNROLL                                                                                      \
                    for (int v = 0; v < NV; v++) acc[j][v] = _mm512_fmadd_ps(xv, wv[v], acc[j][v]);                \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++)                                                                               \
            HV_UNROLL                                                                                              \
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(y + (size_t)j * cout + 16 * v, acc[j][v]);               \
    }

typedef void (*hv_tile_fn)(const float *, const float *, int, int, int, int, int, float *);
typedef void (*hv_dwtile_fn)(const float *, const float *, const int *, int, int, int, float *);

// Full tiles: NV = 4 → 6 positions, 3 → 8, 2 → 12, 1 → 16; every narrower tile for the row's remainder.
HV_TILE(4, 1) HV_TILE(4, 2) HV_TILE(4, 3) HV_TILE(4, 4) HV_TILE(4, 5) HV_TILE(4, 6)
HV_TILE(3, 1) HV_TILE(3, 2) HV_TILE(3, 3) HV_TILE(3, 4) HV_TILE(3, 5) HV_TILE(3, 6) HV_TILE(3, 7) HV_TILE(3, 8)
HV_TILE(2, 1) HV_TILE(2, 2) HV_TILE(2, 3) HV_TILE(2, 4) HV_TILE(2, 5) HV_TILE(2, 6) HV_TILE(2, 7) HV_TILE(2, 8)
HV_TILE(2, 9) HV_TILE(2, 10) HV_TILE(2, 11) HV_TILE(2, 12)
HV_TILE(1, 1) HV_TILE(1, 2) HV_TILE(1, 3) HV_TILE(1, 4) HV_TILE(1, 5) HV_TILE(1, 6) HV_TILE(1, 7) HV_TILE(1, 8)
HV_TILE(1, 9) HV_TILE(1, 10) HV_TILE(1, 11) HV_TILE(1, 12) HV_TILE(1, 13) HV_TILE(1, 14) HV_TILE(1, 15) HV_TILE(1, 16)

static const hv_tile_fn tiles4[] = {0, tile_4_1, tile_4_2, tile_4_3, tile_4_4, tile_4_5, tile_4_6};
static const hv_tile_fn tiles3[] = {0, tile_3_1, tile_3_2, tile_3_3, tile_3_4, tile_3_5, tile_3_6, tile_3_7, tile_3_8};
static const hv_tile_fn tiles2[] = {0, tile_2_1, tile_2_2, tile_2_3, tile_2_4, tile_2_5, tile_2_6,
                                    tile_2_7, tile_2_8, tile_2_9, tile_2_10, tile_2_11, tile_2_12};
static const hv_tile_fn tiles1[] = {0, tile_1_1, tile_1_2, tile_1_3, tile_1_4, tile_1_5, tile_1_6, tile_1_7, tile_1_8,
                                    tile_1_9, tile_1_10, tile_1_11, tile_1_12, tile_1_13, tile_1_14, tile_1_15, tile_1_16};

// Input channels per pass (see HV_TILE): a pass covers every kernel column and input channel of its entry up to
// this many channels (all of them for every layer of the shipped models). Measured on 64→64 over 8×64² at one
// thread: 117, 129, 146 and 149 GFLOP/s with blocks of 16, 32, 64 and 256 channels (sgemm: 154).
#define HV_CI_BLOCK 256

// The tile sets of one instruction set: tables[nv] holds the tiles of nv 16-channel blocks by positions (1 … full[nv]).
// A tile that runs a position block's whole reduction — every entry, kernel column and input channel — in one call:
// its accumulators start at the bias (or zero) and are stored once, where the pass tiles load and store them once per
// entry and the row is first filled with the bias. Only AVX2 has them (see HV_TILE8_ALL).
typedef void (*hv_alltile_fn)(const float *const *rows, const float *const *weights, int entries, size_t xoffset,
                              size_t woffset, int kc, int cin, int cout, const float *bias, float *y);

typedef struct {
    int maxnv;
    const hv_tile_fn *tables[5];
    int full[5];
    const hv_alltile_fn *whole;    // by positions, 1 … full[1]; NULL where the instruction set has none
} hv_tiles;

typedef struct {
    int maxnv;
    const hv_dwtile_fn *tables[5];
    int full[5];
} hv_dwtiles;

static int whole_tiles = 1;

int hv_conv_whole_tiles(int enable) {
    int was = whole_tiles;
    if (enable >= 0) whole_tiles = enable ? 1 : 0;
    return was;
}

static void conv_row(const hv_tiles *k, const float *const *rows, const float *const *weights, int entries, int kw,
                     int cin, int cout, int width, int stride, int valid, int offset, const float *bias, float *y) {
    int columnsPerPass = cin <= HV_CI_BLOCK ? kw : 1;
    // The whole reduction in one call pays where the weights it walks for a 16-channel block stay in L1 (32 KB)
    // from tile to tile: the Winograd products of the thin layers (3 entries × 32 or 48 channels, 1.10–1.16× in a
    // harness on one core) but not the 9-entry direct rows of 48 or more channels (0.87–0.98×).
    int whole = k->whole && whole_tiles && cin <= HV_CI_BLOCK && (size_t)entries * kw * cin * 16 * sizeof(float) <= 32768;
    for (int co0 = 0; co0 < cout;) {
        int nv = (cout - co0) / 16;
        if (nv > k->maxnv) nv = k->maxnv;
        const hv_tile_fn *table = k->tables[nv];
        int full = k->full[nv];
        // Each run of kept positions (a frame row's first `valid` columns) is cut into equal tiles rather than full
        // ones and a thin remainder (a 32-wide run as 6+6+6+6+6+2 would spend a pass on a 2-position tile that
        // cannot hide the FMA latency). The columns past `valid` are never computed.
        for (int p = 0; p < width;) {
            int col = (offset + p) % stride, run = width - p < stride - col ? width - p : stride - col;
            int n = col < valid ? (run < valid - col ? run : valid - col) : 0;
            if (whole && nv == 1) {
                int tiles = (n + full - 1) / full;
                for (int t = 0, wo0 = p; t < tiles; t++) {
                    int nb = (p + n - wo0) / (tiles - t);
                    if (nb * (tiles - t) < p + n - wo0) nb++;
                    k->whole[nb](rows, weights, entries, (size_t)wo0 * cin, co0, kw, cin, cout, bias ? bias + co0 : NULL,
                                 y + (size_t)wo0 * cout + co0);
                    wo0 += nb;
                }
                p += run;
                continue;
            }
            for (int wo = p; wo < p + n; wo++)
                for (int l = 0; l < 16 * nv; l++) y[(size_t)wo * cout + co0 + l] = bias ? bias[co0 + l] : 0;
            int tiles = (n + full - 1) / full;
            for (int e = 0; e < entries; e++)
                for (int c = 0; c < kw; c += columnsPerPass)
                    for (int ci0 = 0; ci0 < cin; ci0 += HV_CI_BLOCK) {
                        int ci1 = ci0 + HV_CI_BLOCK < cin ? ci0 + HV_CI_BLOCK : cin;
                        const float *wb = weights[e] + (size_t)c * cin * cout + co0;
                        for (int t = 0, wo0 = p; t < tiles; t++) {
                            int nb = (p + n - wo0) / (tiles - t);
                            if (nb * (tiles - t) < p + n - wo0) nb++;
                            table[nb](rows[e] + (size_t)(wo0 + c) * cin, wb, columnsPerPass, cin, cout, ci0, ci1,
                                      y + (size_t)wo0 * cout + co0);
                            wo0 += nb;
                        }
                    }
            p += run;
        }
        co0 += 16 * nv;
    }
}

// Weight gradient of one output row (hv_kernels.h): a tile of NB input channels × NV·16 output channels of one
// kernel tap is loaded from dW, accumulates x ⊗ dy over the row's positions (per position NV loads of dy and NB
// broadcasts of x, for NB·NV FMAs), and is stored back. The row's dy stays in L1 for all the row's taps.
#define HV_DW_TILE(NV, NB)                                                                                           \
    static HV_AVX512 void dwtile_##NV##_##NB(const float *x, const float *dy, const int *runs, int nruns, int cin, \
                                             int cout, float *dw) {                                                \
        __m512 acc[NB][NV];                                                                                        \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++)                                                                               \
            HV_UNROLL                                                                                              \
            for (int v = 0; v < NV; v++) acc[j][v] = _mm512_loadu_ps(dw + (size_t)j * cout + 16 * v);              \
        for (int r = 0; r < nruns; r++)                                                                            \
        for (int wo = runs[2 * r]; wo < runs[2 * r + 1]; wo++) {                                                  \
            __m512 g[NV];                                                                                          \
            HV_UNROLL                                                                                              \
            for (int v = 0; v < NV; v++) g[v] = _mm512_loadu_ps(dy + (size_t)wo * cout + 16 * v);                  \
            HV_UNROLL                                                                                              \
            for (int j = 0; j < NB; j++) {                                                                         \
                __m512 xv = _mm512_set1_ps(x[(size_t)wo * cin + j]);                                               \
                HV_UNROLL                                                                                          \
                for (int v = 0; v < NV; v++) acc[j][v] = _mm512_fmadd_ps(xv, g[v], acc[j][v]);                     \
            }                                                                                                      \
        }                                                                                                          \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++)                                                                               \
            HV_UNROLL                                                                                              \
            for (int v = 0; v < NV; v++) _mm512_storeu_ps(dw + (size_t)j * cout + 16 * v, acc[j][v]);              \
    }

HV_DW_TILE(4, 1) HV_DW_TILE(4, 2) HV_DW_TILE(4, 3) HV_DW_TILE(4, 4) HV_DW_TILE(4, 5) HV_DW_TILE(4, 6)
HV_DW_TILE(3, 1) HV_DW_TILE(3, 2) HV_DW_TILE(3, 3) HV_DW_TILE(3, 4) HV_DW_TILE(3, 5) HV_DW_TILE(3, 6)
HV_DW_TILE(3, 7) HV_DW_TILE(3, 8)
HV_DW_TILE(2, 1) HV_DW_TILE(2, 2) HV_DW_TILE(2, 3) HV_DW_TILE(2, 4) HV_DW_TILE(2, 5) HV_DW_TILE(2, 6)
HV_DW_TILE(2, 7) HV_DW_TILE(2, 8) HV_DW_TILE(2, 9) HV_DW_TILE(2, 10) HV_DW_TILE(2, 11) HV_DW_TILE(2, 12)
HV_DW_TILE(1, 1) HV_DW_TILE(1, 2) HV_DW_TILE(1, 3) HV_DW_TILE(1, 4) HV_DW_TILE(1, 5) HV_DW_TILE(1, 6)
HV_DW_TILE(1, 7) HV_DW_TILE(1, 8) HV_DW_TILE(1, 9) HV_DW_TILE(1, 10) HV_DW_TILE(1, 11) HV_DW_TILE(1, 12)
HV_DW_TILE(1, 13) HV_DW_TILE(1, 14) HV_DW_TILE(1, 15) HV_DW_TILE(1, 16)

static const hv_dwtile_fn dwtiles4[] = {0, dwtile_4_1, dwtile_4_2, dwtile_4_3, dwtile_4_4, dwtile_4_5, dwtile_4_6};
static const hv_dwtile_fn dwtiles3[] = {0, dwtile_3_1, dwtile_3_2, dwtile_3_3, dwtile_3_4,
                                        dwtile_3_5, dwtile_3_6, dwtile_3_7, dwtile_3_8};
static const hv_dwtile_fn dwtiles2[] = {0, dwtile_2_1, dwtile_2_2, dwtile_2_3, dwtile_2_4, dwtile_2_5, dwtile_2_6,
                                        dwtile_2_7, dwtile_2_8, dwtile_2_9, dwtile_2_10, dwtile_2_11, dwtile_2_12};
static const hv_dwtile_fn dwtiles1[] = {0, dwtile_1_1, dwtile_1_2, dwtile_1_3, dwtile_1_4, dwtile_1_5, dwtile_1_6,
                                        dwtile_1_7, dwtile_1_8, dwtile_1_9, dwtile_1_10, dwtile_1_11, dwtile_1_12,
                                        dwtile_1_13, dwtile_1_14, dwtile_1_15, dwtile_1_16};

static void conv_row_dw(const hv_dwtiles *k, const float *const *rows, float *const *dweights, int entries, int kw,
                        int cin, int cout, int width, int stride, int valid, int offset, const float *dy) {
    // The kept positions as [start, end) runs: the dropped columns' dy is zero and adds nothing, so they are skipped.
    int runs[2 * (width / stride + 2)], nruns = 0;
    for (int p = 0; p < width;) {
        int col = (offset + p) % stride, run = width - p < stride - col ? width - p : stride - col;
        if (col < valid) {
            runs[2 * nruns] = p;
            runs[2 * nruns + 1] = p + (run < valid - col ? run : valid - col);
            nruns++;
        }
        p += run;
    }
    for (int co0 = 0; co0 < cout;) {
        int nv = (cout - co0) / 16;
        if (nv > k->maxnv) nv = k->maxnv;
        const hv_dwtile_fn *table = k->tables[nv];
        int full = k->full[nv];
        int tiles = (cin + full - 1) / full;
        for (int e = 0; e < entries; e++)
            for (int c = 0; c < kw; c++)
                for (int t = 0, ci0 = 0; t < tiles; t++) {
                    int nb = (cin - ci0) / (tiles - t);
                    if (nb * (tiles - t) < cin - ci0) nb++;
                    table[nb](rows[e] + (size_t)c * cin + ci0, dy + co0, runs, nruns, cin, cout,
                              dweights[e] + ((size_t)c * cin + ci0) * cout + co0);
                    ci0 += nb;
                }
        co0 += 16 * nv;
    }
}

// The same tiles in 256-bit registers for CPUs with AVX2 and FMA but no AVX-512. With 16 ymm registers one tile is
// 6 positions × 16 channels (two vectors): 12 accumulators, two weight vectors and a broadcast — the shape of
// OpenBLAS's own Haswell sgemm kernel. Narrower tiles cover a row's remainder.
// Load and store the NB × 2 accumulators of a 256-bit tile from and to NB rows of 16 channels at `base`, `cout` apart.
#define HV_ACC8_LOAD(NB, base)                                                                                       \
    HV_UNROLL                                                                                                      \
    for (int j = 0; j < NB; j++)                                                                                   \
        HV_UNROLL                                                                                                  \
        for (int v = 0; v < 2; v++) acc[j][v] = _mm256_loadu_ps((base) + (size_t)j * cout + 8 * v);
#define HV_ACC8_STORE(NB, base)                                                                                      \
    HV_UNROLL                                                                                                      \
    for (int j = 0; j < NB; j++)                                                                                   \
        HV_UNROLL                                                                                                  \
        for (int v = 0; v < 2; v++) _mm256_storeu_ps((base) + (size_t)j * cout + 8 * v, acc[j][v]);

// The FMAs of one kernel column over input channels [CI0, CI1): per channel two weight vectors and NB broadcasts of
// the inputs (xc, wc: that column's input row and weights; acc: the tile's accumulators).
#define HV_TILE8_CHANNELS(NB, CI0, CI1)                                                                              \
    for (int ci = (CI0); ci < (CI1); ci++) {                                                                       \
        __m256 w0 = _mm256_loadu_ps(wc + (size_t)ci * cout), w1 = _mm256_loadu_ps(wc + (size_t)ci * cout + 8);     \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++) {                                                                             \
            __m256 xv = _mm256_broadcast_ss(xc + (size_t)j * cin + ci);                                            \
            acc[j][0] = _mm256_fmadd_ps(xv, w0, acc[j][0]);                                                        \
            acc[j][1] = _mm256_fmadd_ps(xv, w1, acc[j][1]);                                                        \
        }                                                                                                          \
    }

#define HV_TILE8(NB)                                                                                                 \
    static HV_AVX2 void tile8_##NB(const float *x, const float *w, int kc, int cin, int cout, int ci0, int ci1,      \
                                   float *y) {                                                                     \
        __m256 acc[NB][2];                                                                                         \
        HV_ACC8_LOAD(NB, y)                                                                                        \
        for (int c = 0; c < kc; c++) {                                                                             \
            const float *xc = x + (size_t)c * cin, *wc = w + (size_t)c * cin * cout;                               \
            HV_TILE8_CHANNELS(NB, ci0, ci1)                                                                        \
        }                                                                                                          \
        HV_ACC8_STORE(NB, y)                                                                                       \
    }

#define HV_DW_TILE8(NB)                                                                                              \
    static HV_AVX2 void dwtile8_##NB(const float *x, const float *dy, const int *runs, int nruns, int cin, int cout, \
                                     float *dw) {                                                                  \
        __m256 acc[NB][2];                                                                                         \
        HV_ACC8_LOAD(NB, dw)                                                                                       \
        for (int r = 0; r < nruns; r++)                                                                            \
        for (int wo = runs[2 * r]; wo < runs[2 * r + 1]; wo++) {                                                  \
            __m256 g0 = _mm256_loadu_ps(dy + (size_t)wo * cout), g1 = _mm256_loadu_ps(dy + (size_t)wo * cout + 8);  \
            HV_UNROLL                                                                                              \
            for (int j = 0; j < NB; j++) {                                                                         \
                __m256 xv = _mm256_broadcast_ss(x + (size_t)wo * cin + j);                                         \
                acc[j][0] = _mm256_fmadd_ps(xv, g0, acc[j][0]);                                                    \
                acc[j][1] = _mm256_fmadd_ps(xv, g1, acc[j][1]);                                                    \
            }                                                                                                      \
        }                                                                                                          \
        HV_ACC8_STORE(NB, dw)                                                                                      \
    }

// HV_TILE8 over a position block's whole reduction (hv_alltile_fn). The sums are taken in the same order as the pass
// tiles take them (the bias, then entry by entry, column by column, channel by channel), so both give the same bits.
#define HV_TILE8_ALL(NB)                                                                                             \
    static HV_AVX2 void tile8all_##NB(const float *const *rows, const float *const *weights, int entries,          \
                                      size_t xoffset, size_t woffset, int kc, int cin, int cout, const float *bias, \
                                      float *y) {                                                                  \
        __m256 b0 = bias ? _mm256_loadu_ps(bias) : _mm256_setzero_ps();                                            \
        __m256 b1 = bias ? _mm256_loadu_ps(bias + 8) : _mm256_setzero_ps();                                        \
        __m256 acc[NB][2];                                                                                         \
        HV_UNROLL                                                                                                  \
        for (int j = 0; j < NB; j++) { acc[j][0] = b0; acc[j][1] = b1; }                                           \
        for (int e = 0; e < entries; e++)                                                                          \
            for (int c = 0; c < kc; c++) {                                                                         \
                const float *xc = rows[e] + xoffset + (size_t)c * cin;                                             \
                const float *wc = weights[e] + woffset + (size_t)c * cin * cout;                                   \
                HV_TILE8_CHANNELS(NB, 0, cin)                                                                      \
            }                                                                                                      \
        HV_ACC8_STORE(NB, y)                                                                                       \
    }

HV_TILE8(1) HV_TILE8(2) HV_TILE8(3) HV_TILE8(4) HV_TILE8(5) HV_TILE8(6)
HV_TILE8_ALL(1) HV_TILE8_ALL(2) HV_TILE8_ALL(3) HV_TILE8_ALL(4) HV_TILE8_ALL(5) HV_TILE8_ALL(6)
HV_DW_TILE8(1) HV_DW_TILE8(2) HV_DW_TILE8(3) HV_DW_TILE8(4) HV_DW_TILE8(5) HV_DW_TILE8(6)

static const hv_tile_fn tiles8[] = {0, tile8_1, tile8_2, tile8_3, tile8_4, tile8_5, tile8_6};
static const hv_alltile_fn alltiles8[] = {0, tile8all_1, tile8all_2, tile8all_3, tile8all_4, tile8all_5, tile8all_6};
static const hv_dwtile_fn dwtiles8[] = {0, dwtile8_1, dwtile8_2, dwtile8_3, dwtile8_4, dwtile8_5, dwtile8_6};

static const hv_tiles avx512_tiles = {4, {0, tiles1, tiles2, tiles3, tiles4}, {0, 16, 12, 8, 6}, NULL};
static const hv_dwtiles avx512_dwtiles = {4, {0, dwtiles1, dwtiles2, dwtiles3, dwtiles4}, {0, 16, 12, 8, 6}};
static const hv_tiles avx2_tiles = {1, {0, tiles8}, {0, 6}, alltiles8};
static const hv_dwtiles avx2_dwtiles = {1, {0, dwtiles8}, {0, 6}};

// AVX-512's tiles where the CPU has them, else AVX2's; asked once (a benign race: every thread stores the same value).
static int wide = -1;

void hv_conv_row(const float *const *rows, const float *const *weights, int entries, int kw, int cin, int cout,
                 int width, int stride, int valid, int offset, const float *bias, float *y) {
    if (wide < 0) wide = hv_direct_conv_available();
    conv_row(wide ? &avx512_tiles : &avx2_tiles, rows, weights, entries, kw, cin, cout, width,
             stride, valid, offset, bias, y);
}

void hv_conv_row_dw(const float *const *rows, float *const *dweights, int entries, int kw, int cin, int cout,
                    int width, int stride, int valid, int offset, const float *dy) {
    if (wide < 0) wide = hv_direct_conv_available();
    conv_row_dw(wide ? &avx512_dwtiles : &avx2_dwtiles, rows, dweights, entries, kw, cin, cout,
                width, stride, valid, offset, dy);
}
