// Hand-written CPU kernels the engine calls where OpenBLAS has no routine for the job. Each one is compiled for
// AVX-512 through a function attribute and used only when the running CPU reports AVX-512F (hv_direct_conv_available);
// the conv rows also in AVX2 (hv_conv_rows_available). Elsewhere the engine keeps its im2col + SGEMM path.
#ifndef HV_KERNELS_H
#define HV_KERNELS_H

#include <stdint.h>

/// This thread's cap on the engine's parallel loops (0: none). `Parallel.independent` sets it to 1 on each thread
/// it runs a job on, so that every loop inside the job stays on that job's core.
int hv_thread_worker_cap(void);
void hv_set_thread_worker_cap(int cap);

/// 1 when this CPU runs the AVX-512 kernels below, else 0.
int hv_direct_conv_available(void);

/// 1 when this CPU runs hv_conv_row and hv_conv_row_dw: AVX-512F, or AVX2 with FMA (a 256-bit version of the same
/// tiles), else 0.
int hv_conv_rows_available(void);

/// 1 when this CPU runs hv_adamw_update and the SiLU kernels in wide lanes (AVX-512F, or AVX2 in 8-lane halves of
/// each 16), else 0.
int hv_elementwise_available(void);

/// One output row of a stride-1 convolution, channels-last, by direct summation with the outputs held in registers:
///   y[wo·cout + co] = bias[co] + Σ_e Σ_{c<kw} Σ_{ci<cin} rows[e][(wo + c)·cin + ci] · weights[e][(c·cin + ci)·cout + co]
/// for wo < width and co < cout. Each entry e is one input row (a frame and row of the zero-padded input, offset so
/// that wo + c is tap c of output wo) with the [kw][cin][cout] weights of its (frame tap, row tap) pair.
/// bias may be NULL (zeros). cout must be a multiple of 16. Only the kept positions are computed: position wo is
/// column (offset + wo) mod stride of a frame row, kept when that column is below `valid` (y at the others is left
/// as it was); stride = valid = width keeps them all.
void hv_conv_row(const float *const *rows, const float *const *weights, int entries, int kw, int cin, int cout,
                 int width, int stride, int valid, int offset, const float *bias, float *y);

/// The weight gradient of one output row of the same convolution, added into dweights:
///   dweights[e][(c·cin + ci)·cout + co] += Σ_{wo<width} rows[e][(wo + c)·cin + ci] · dy[wo·cout + co]
/// with rows and entries as in hv_conv_row and dy the row's output gradient [width][cout], the sum over the kept
/// positions only (stride, valid, offset as in hv_conv_row). cout must be a multiple of 16.
void hv_conv_row_dw(const float *const *rows, float *const *dweights, int entries, int kw, int cin, int cout,
                    int width, int stride, int valid, int offset, const float *dy);

/// The AdamW update of the first n − n mod 16 elements, each lane bit-for-bit the scalar formula
///   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g·g;  w ← w − lr·((m/c1) / (√(v/c2) + ε) + decay·w)
/// (no fused multiply-adds); the caller does the rest. AVX-512 or AVX2 (hv_elementwise_available); a no-op elsewhere.
void hv_adamw_update(float *w, const float *g, float *m, float *v, long n, float lr, float beta1, float beta2,
                     float c1, float c2, float eps, float decay);

/// SiLU over the first n − n mod 16 elements, each lane bit-for-bit the engine's SIMD16 form with ExpKernel's exp:
///   forward  y = x / (1 + exp(−x));  backward  dx = dy · s · (1 + x·(1 − s)), s = 1 / (1 + exp(−x)).
/// AVX-512 or AVX2 (hv_elementwise_available); a no-op elsewhere.
void hv_silu_forward(const float *x, float *y, long n);
void hv_silu_backward(const float *x, const float *dy, float *dx, long n);

/// Whether the half-precision KV-cache functions below run on this CPU: AVX-512F, or AVX2 with FMA and F16C.
int hv_kv_half_available(void);

/// IEEE half-precision copies (round to nearest even) and back, n elements.
void hv_f32_to_f16(const float *x, uint16_t *y, long n);
void hv_f16_to_f32(const uint16_t *x, float *y, long n);

/// One query against a half-precision key cache: scores[h·n + j] = Σ_d q[h·head_dim + d] · k[j·row_stride +
/// h·head_dim + d] for h < heads, j < n. head_dim must be a multiple of 16.
void hv_attend_scores_f16(const float *q, const uint16_t *k, int n, int heads, int head_dim, long row_stride,
                          float *scores);

/// The weighted sum of a half-precision value cache: o[h·head_dim + d] = Σ_j p[h·n + j] · v[j·row_stride +
/// h·head_dim + d]. head_dim must be a multiple of 16.
void hv_attend_values_f16(const float *p, const uint16_t *v, int n, int heads, int head_dim, long row_stride,
                          float *o);

/// Whether the 8-bit KV-cache functions below run on this CPU: AVX2 with FMA.
int hv_kv_int8_available(void);

/// Symmetric 8-bit codes of `groups` groups of `group_size` floats: scales[g] = max |x| / 127 over group g and
/// y = round(x / scales[g]) (to nearest even), so x ≈ scales[g] · y with |y| ≤ 127; an all-zero group gets scale 0.
/// x must be finite.
void hv_quantize_i8(const float *x, int8_t *y, float *scales, long groups, int group_size);

/// One query against an 8-bit key cache: scores[h·n + j] = k_scales[j·heads + h] · Σ_d q[h·head_dim + d] ·
/// k[j·row_stride + h·head_dim + d] for h < heads, j < n, with q rounded to 16-bit integers per head (1.5e-5 of the
/// head's largest |q| at worst) for exact integer products. head_dim must be a multiple of 16.
void hv_attend_scores_i8(const float *q, const int8_t *k, const float *k_scales, int n, int heads, int head_dim,
                         long row_stride, float *scores);

/// The weighted sum of an 8-bit value cache: o[h·head_dim + d] = Σ_j p[h·n + j] · v_scales[j·heads + h] ·
/// v[j·row_stride + h·head_dim + d]. head_dim must be a multiple of 16.
void hv_attend_values_i8(const float *p, const int8_t *v, const float *v_scales, int n, int heads, int head_dim,
                         long row_stride, float *o);

/// Whether hv_gemv_f16 runs on this CPU: AVX2 with FMA and F16C.
int hv_gemv_f16_available(void);

/// y[r·out + o] = Σ_k x[r·in + k] · w[o·in + k] for r < rows and lo ≤ o < hi: `rows` float32 rows (row stride `in`)
/// times a half-precision weight [out, in] (torch.nn.Linear's layout), transposed. `in` must be a multiple of 8.
void hv_gemv_f16(const float *x, int rows, const uint16_t *w, long out, long in, float *y, long lo, long hi);

/// Multiply-add throughput of the calling thread, in FLOP/s, over `iterations` rounds of 12 independent 512-bit
/// accumulators: `bf16` 0 times vfmadd231ps (16 float multiply-adds an instruction), 1 times vdpbf16ps (32 bfloat16
/// products summed in pairs into 16 floats). 0 when the CPU lacks the instruction. What `hv-bench` measures to say
/// whether BF16 arithmetic could pay on this core (issue 16).
double hv_fma_rate(int bf16, long iterations);

/// 1 when this CPU and kernel run AMX bfloat16 tiles (AMX-TILE, AMX-BF16, AVX512-BF16, and Linux granted the tile
/// state to this process), else 0. The first call asks the kernel; later calls return the answer.
int hv_amx_available(void);

/// bfloat16 copies (round to nearest even) of n floats. AVX512-BF16 only (hv_amx_available).
void hv_f32_to_bf16(const float *x, uint16_t *y, long n);

/// `rows` rows of `width` positions × c channels (x; NULL for rows of zeros) into bfloat16 rows of
/// left + width + right positions × cp channels, zeros in the margins and in channels c…cp−1.
void hv_amx_pad_rows(const float *x, int rows, int width, int c, int cp, int left, int right, uint16_t *y);

/// hv_conv_row on AMX, for `positions` consecutive positions of a long row (all computed, none skipped):
///   y[p·cout + co] = bias[co] + Σ_e Σ_{c<kw} Σ_{ci<cinp} rows[e][(p + c)·cinp + ci] · W_e[c][ci][co]
/// with rows[e] bfloat16 [position][cinp] and weights[e] the entry's kw taps, each [cinp / 2][cout][2] as hv_amx_pack_pairs
/// packs a tap's [cin][cout] (its cin as the pairs' positions, so cinp is cin rounded up to 32).
/// cinp must be a multiple of 32 and cout of 16. Positions are computed in blocks of 16 (32 at once): y must have
/// room for `positions` rounded up to 32 rows, and rows[e] must be readable that far (+ kw − 1).
void hv_amx_conv_rows(const uint16_t *const *rows, const uint16_t *const *weights, int entries, int kw, int cinp,
                      int cout, int positions, const float *bias, float *y);

/// dy [positions][cout] (float32) as AMX B tiles of position pairs: y[p / 2][co][p % 2] in bfloat16, for p below
/// `positions` rounded up to 32 (zeros past it). cout must be a multiple of 16.
void hv_amx_pack_pairs(const float *dy, int positions, int cout, uint16_t *y);

/// Tap `tap` (of kt·kh·kw) of the input gradient's kernel as B tiles: w [kt][kh][kw][cin][cout] flipped in space
/// with its channel axes swapped (Conv3dDirect.flip), as y[co / 2][ci][co % 2] for co below cout rounded up to 32.
void hv_amx_pack_flipped(const float *w, int kh, int kw, int cin, int cout, int tap, uint16_t *y);

/// dy [positions][cout] (float32) as bfloat16 blocks of 32 positions, y[p / 32][co][p % 32], for p below
/// `positions` rounded up to 32 (zeros past it): A tiles of 16 output channels × 32 positions, each contiguous.
void hv_amx_block_transpose(const float *dy, int positions, int cout, uint16_t *y);

/// The weight gradient of one kernel tap on AMX, over `frames` frames:
///   dweight[ci·cout + co] += Σ_f Σ_{p<positions} x_f[p + shift][ci] · dy_f[p][co]
/// with dyt[f] frame f's output gradient blocked by hv_amx_block_transpose and pairs[f] the input frame x_f read by
/// it as hv_amx_pack_pairs packs it, its pairs starting at position shift mod 2 (a copy for each parity; pairs[f]
/// points at that copy's first pair); dweight is the tap's [cin][cout], of which the input channels ci0…ci1 − 1 are
/// added. positions must be a multiple of 32, cin, ci0, ci1 and cout of 16; pairs[f] must be readable to
/// (positions + shift) / 2 pairs.
void hv_amx_conv_dw(const uint16_t *const *pairs, const uint16_t *const *dyt, int frames, int shift, int cin, int ci0,
                    int ci1, int cout, int positions, float *dweight);

/// The weight gradient of several kernel taps for one output frame, as dWᵀ accumulators:
///   acc[j][co·cin + ci] += Σ_{p<positions} x_j[p][ci] · dy[p][co]
/// with dyt the frame's output gradient blocked by hv_amx_block_transpose and pairs[j] the pair copy of the input
/// frame tap j reads, already at its shift (pairs of positions shift, shift + 1, …; NULL: the tap reads no frame).
/// positions must be a multiple of 32, cin and cout of 16.
void hv_amx_conv_dw_taps(const uint16_t *const *pairs, float *const *acc, int taps, const uint16_t *dyt, int cin,
                         int cout, int positions);

/// Multiply-add rate of the calling thread on AMX bfloat16 tiles, in FLOP/s (4 independent 16×16 accumulators);
/// 0 without AMX.
double hv_amx_rate(long iterations);

/// Whether hv_conv_row may run a position block's whole reduction in one AVX2 tile call where its weights fit in L1
/// (1, the default) or only the per-entry pass tiles (0): the same sums in the same order, so tests compare the two
/// bit for bit and benchmarks time both. enable < 0 only asks; returns the setting before the call.
int hv_conv_whole_tiles(int enable);

/// 1 when this CPU runs the Winograd tile transforms below (AVX2 with FMA).
int hv_winograd_tiles_available(void);
/// Winograd F(2×2, 3×3) input transform of tile row `ty` of one frame x [H][W][c] (c a multiple of 8; the tiles'
/// 4×4 windows start one row and column before 2·ty, 2·tx, zero outside the frame): out[ξ·xi_stride + tx·c + k] for
/// ξ = 0 … 15 and every tile column tx. The same sums in the same order as Conv3dWinograd.transformTiles.
void hv_winograd_input_tiles(const float *x, int H, int W, int c, int ty, float *out, long xi_stride);
/// The output transform: rows 2·ty and 2·ty + 1 of y [H][W][c] (rows and columns past the frame not written) from
/// tile row ty's products m[ξ·xi_stride + tx·c + k], plus bias (NULL: none). As Conv3dWinograd.untransformTiles.
void hv_winograd_output_tiles(const float *m, long xi_stride, int H, int W, int c, int ty, const float *bias, float *y);

#endif
