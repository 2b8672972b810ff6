// Hand-written CPU kernels the engine calls where OpenBLAS has no routine for the job. Each one is compiled for
// AVX-512 through a function attribute and used only when the running CPU reports AVX-512F (hv_direct_conv_available);
// elsewhere the engine keeps its im2col + SGEMM path.
#ifndef HV_KERNELS_H
#define HV_KERNELS_H

/// 1 when this CPU runs the AVX-512 kernels below, else 0.
int hv_direct_conv_available(void);

/// One output row of a stride-1 convolution, channels-last, by direct summation with the outputs held in registers:
///   y[wo·cout + co] = bias[co] + Σ_e Σ_{c<kw} Σ_{ci<cin} rows[e][(wo + c)·cin + ci] · weights[e][(c·cin + ci)·cout + co]
/// for wo < width and co < cout. Each entry e is one input row (a frame and row of the zero-padded input, offset so
/// that wo + c is tap c of output wo) with the [kw][cin][cout] weights of its (frame tap, row tap) pair.
/// bias may be NULL (zeros). cout must be a multiple of 16.
void hv_conv_row(const float *const *rows, const float *const *weights, int entries, int kw, int cin, int cout,
                 int width, const float *bias, float *y);

/// The weight gradient of one output row of the same convolution, added into dweights:
///   dweights[e][(c·cin + ci)·cout + co] += Σ_{wo<width} rows[e][(wo + c)·cin + ci] · dy[wo·cout + co]
/// with rows and entries as in hv_conv_row and dy the row's output gradient [width][cout]. cout must be a multiple
/// of 16.
void hv_conv_row_dw(const float *const *rows, float *const *dweights, int entries, int kw, int cin, int cout,
                    int width, const float *dy);

#endif
