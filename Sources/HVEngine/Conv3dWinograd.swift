// Winograd F(2×2, 3×3) for the forward pass and the input gradient of stride-1 3×3 (spatial) convolutions (the
// input gradient is the same kind of correlation, from dy with the kernel turned and transposed; the weight
// gradient stays with the direct or im2col kernels): every 2×2 block of outputs
// of one output frame is computed from the 4×4 input tile around it in a transformed domain where the 3×3
// correlation becomes 16 independent products, one per transformed position ξ (Lavin & Gray 2016, "Fast Algorithms
// for Convolutional Neural Networks"). Over the channels each ξ is a matrix product
//     M_ξ[tiles, Cout] = Σ_taps V_ξ[tiles, Cin] · U_ξ[Cin, Cout],
// so 16 SGEMMs do the work of 36 multiply-adds per (tile, Cin, Cout) in 16: 2.25× fewer than im2col or the direct
// kernels, which on the large planes (a whole 256² clip's 8×16², 8×32² and 16×32² layers) already ran at 90–98 %
// of SGEMM's rate. The temporal taps stay a sum: output frame t adds tap a's product with the transformed input
// frame `inputFrame(t, a)`, each input frame transformed once per chunk of output frames.
//     U = G g Gᵀ (weights), V = Bᵀ d B (input tiles), y = Aᵀ M A (outputs), with
//     Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1].
// F(2×2, 3×3)'s transforms only add, subtract and halve, so float32 rounding stays at the level of the direct sum
// (tests compare against the naive reference); larger tiles (F(4×4, 3×3)) save more but lose digits.
import Foundation

public enum Conv3dWinograd {
    /// Input and output channels at least this (and multiples of 8, the SIMD width of the transforms): with fewer,
    /// the 16 products are too thin for SGEMM to run near its peak (32 and 48 channels measured 0.60–1.69× the
    /// direct kernels from run to run on an AVX2 machine, docs/speed-training-step.md).
    public static var minimumChannels = 64
    /// Output planes at least this many positions: smaller planes have few tiles per product (96 and 128 channels
    /// on 8×8 planes ran at 0.76–0.79× the direct and im2col kernels).
    public static var minimumPlane = 16 * 16

    /// Whether a conv on input of `xShape` runs forward and input gradient here: stride 1, a 3×3 spatial kernel
    /// with "same" padding, any temporal taps and padding.
    public static func applies(_ g: Conv3dGeometry, xShape: [Int]) -> Bool {
        Conv3dTuning.winograd && g.kernel.h == 3 && g.kernel.w == 3 && g.stride == (1, 1, 1)
            && g.padH == 1 && g.padW == 1
            && g.inChannels >= minimumChannels && g.outChannels >= minimumChannels
            && g.inChannels % 8 == 0 && g.outChannels % 8 == 0
            && xShape[1] * xShape[2] >= minimumPlane
    }

    /// Floats of scratch a chunk of output frames may use for its transformed inputs and products.
    static var chunkFloats = 4 << 20

    /// y = conv(x, w) + bias, `scratch` resized as needed.
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor,
                               scratch: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let outShape = g.outputShape(x.shape)
        y.resize(outShape)
        let To = outShape[0]
        let th = (H + 1) / 2, tw = (W + 1) / 2, tiles = th * tw
        // Output frames per chunk: their products and the input frames they read (up to kt − 1 more) in budget.
        let perFrame = 16 * tiles * (ci + co)
        let chunk = max(1, min(To, chunkFloats / perFrame - (kt - 1)))
        let uFloats = 16 * kt * ci * co
        let vFloats = 16 * (chunk + kt - 1) * tiles * ci
        let mFloats = 16 * chunk * tiles * co
        scratch.resize([uFloats + vFloats + mFloats])
        let u = scratch.data, v = u + uFloats, m = v + vFloats
        transformWeights(weight.data, kt: kt, ci: ci, co: co, into: u)
        var t0 = 0
        while t0 < To {
            let t1 = min(To, t0 + chunk)
            // Input frames this chunk reads: a contiguous range (a stride-1 tap moves one frame per output frame;
            // the padding maps the ends to the first or last frame, or to nothing).
            var lo = Int.max, hi = -1
            for t in [t0, t1 - 1] { for a in 0..<kt { if let f = g.inputFrame(t, a, frames: T) { lo = min(lo, f); hi = max(hi, f) } } }
            let nf = hi - lo + 1
            transformInput(x.data, frames: lo..<(hi + 1), height: H, width: W, channels: ci, into: v)
            let rows = tiles
            // Tap kt − 1 (the window's last frame) always reads a frame, so it writes M (beta 0) and the others add.
            let taps = Array((0..<kt).reversed())
            let workers = min(Parallel.workers, 16)
            Parallel.independent(workers) { w in
                for xi in stride(from: w, to: 16, by: workers) {
                    for a in taps {
                        let ub = u + (xi * kt + a) * ci * co
                        var t = t0
                        while t < t1 {
                            guard let f = g.inputFrame(t, a, frames: T) else { t += 1; continue }
                            // A run of output frames whose inputs are consecutive frames is one product.
                            var n = 1
                            while t + n < t1, let f2 = g.inputFrame(t + n, a, frames: T), f2 == f + n { n += 1 }
                            BLAS.gemm(m: n * rows, n: co, k: ci,
                                      a: v + ((xi * nf + (f - lo)) * tiles) * ci, lda: ci, b: ub, ldb: co,
                                      beta: a == kt - 1 ? 0 : 1,
                                      c: m + ((xi * chunk + (t - t0)) * tiles) * co, ldc: co)
                            t += n
                        }
                    }
                }
            }
            transformOutput(m, frames: t1 - t0, chunk: chunk, tileRows: th, tileCols: tw, height: H, width: W,
                            channels: co, bias: bias?.data, into: y.data + t0 * H * W * co)
            t0 = t1
        }
    }

    /// U[ξ][a][ci][co] = (G g Gᵀ)[ξ] for the 3×3 kernel g of tap a, input ci, output co (weight [kt, 3, 3, Ci, Co]),
    /// or with `flip` for the kernel turned half a turn in space (g(2 − i, 2 − j)); vectorised over 8 outputs.
    /// It runs on every call (the weights change between training steps), so it has to stay cheap beside the products.
    static func transformWeights(_ w: UnsafePointer<Float>, kt: Int, ci: Int, co: Int, flip: Bool = false,
                                 into u: UnsafeMutablePointer<Float>) {
        let plane = ci * co, xiStep = kt * plane
        Parallel.forRanges(kt * ci, minChunk: 16) { range in
            for r in range {
                let a = r / ci, c = r % ci
                for o in stride(from: 0, to: co, by: 8) {
                    @inline(__always) func g(_ i: Int, _ j: Int) -> SIMD8<Float> {
                        load8(w + (((a * 3 + (flip ? 2 - i : i)) * 3 + (flip ? 2 - j : j)) * ci + c) * co + o)
                    }
                    let g0 = (g(0, 0), g(0, 1), g(0, 2)), g1 = (g(1, 0), g(1, 1), g(1, 2)), g2 = (g(2, 0), g(2, 1), g(2, 2))
                    let half = SIMD8<Float>(repeating: 0.5)
                    // The rows of G g, each then times Gᵀ.
                    @inline(__always) func put(_ i: Int, _ r0: SIMD8<Float>, _ r1: SIMD8<Float>, _ r2: SIMD8<Float>) {
                        let base = u + (i * 4 * kt + a) * plane + c * co + o
                        store8(r0, base)
                        store8(half * (r0 + r1 + r2), base + xiStep)
                        store8(half * (r0 - r1 + r2), base + 2 * xiStep)
                        store8(r2, base + 3 * xiStep)
                    }
                    put(0, g0.0, g0.1, g0.2)
                    put(1, half * (g0.0 + g1.0 + g2.0), half * (g0.1 + g1.1 + g2.1), half * (g0.2 + g1.2 + g2.2))
                    put(2, half * (g0.0 - g1.0 + g2.0), half * (g0.1 - g1.1 + g2.1), half * (g0.2 - g1.2 + g2.2))
                    put(3, g2.0, g2.1, g2.2)
                }
            }
        }
    }

    /// dx (resized to `xShape` and overwritten) of y = conv(x, w): the same correlation from dy with the kernel
    /// turned half a turn in space and its channels swapped, each output frame's gradient added to the input frame
    /// each tap read (`inputFrame`; with replicated padding the first frame collects the taps before the clip).
    /// Chunks of input frames: the dy frames a chunk needs are transformed once for it, and every product adds into
    /// the chunk's zeroed M before one output transform writes dx.
    public static func inputGradient(dy: Tensor, weight: Tensor, geometry g: Conv3dGeometry, xShape: [Int], dx: Tensor,
                                     scratch: Tensor) {
        let T = xShape[0], H = xShape[1], W = xShape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let To = dy.shape[0]
        dx.resize(xShape)
        let th = (H + 1) / 2, tw = (W + 1) / 2, tiles = th * tw
        let chunk = max(1, min(T, chunkFloats / (16 * tiles * (ci + co)) - (kt - 1)))
        let uFloats = 16 * kt * ci * co
        let vFloats = 16 * (chunk + kt - 1) * tiles * co
        let mFloats = 16 * chunk * tiles * ci
        scratch.resize([uFloats + vFloats + mFloats])
        let u = scratch.data, v = u + uFloats, m = v + vFloats
        // U[ξ][a][ci][co] of the turned kernel; each product reads it transposed (Cout × Cin).
        transformWeights(weight.data, kt: kt, ci: ci, co: co, flip: true, into: u)
        var i0 = 0
        while i0 < T {
            let i1 = min(T, i0 + chunk)
            var lo = Int.max, hi = -1
            for t in 0..<To { for a in 0..<kt { if let f = g.inputFrame(t, a, frames: T), f >= i0, f < i1 { lo = min(lo, t); hi = max(hi, t) } } }
            if hi < 0 {
                (dx.data + i0 * H * W * ci).update(repeating: 0, count: (i1 - i0) * H * W * ci)
                i0 = i1
                continue
            }
            let nf = hi - lo + 1
            precondition(nf <= chunk + kt - 1, "a chunk of input frames reads more output frames than budgeted")
            transformInput(dy.data, frames: lo..<(hi + 1), height: H, width: W, channels: co, into: v)
            let workers = min(Parallel.workers, 16)
            Parallel.independent(workers) { wk in
                for xi in stride(from: wk, to: 16, by: workers) {
                    let mb = m + xi * chunk * tiles * ci
                    mb.update(repeating: 0, count: (i1 - i0) * tiles * ci)
                    for a in 0..<kt {
                        let ub = u + (xi * kt + a) * co * ci
                        var t = lo
                        while t <= hi {
                            guard let f = g.inputFrame(t, a, frames: T), f >= i0, f < i1 else { t += 1; continue }
                            var n = 1
                            while t + n <= hi, let f2 = g.inputFrame(t + n, a, frames: T), f2 == f + n, f2 < i1 { n += 1 }
                            BLAS.gemm(transB: true, m: n * tiles, n: ci, k: co, a: v + ((xi * nf + (t - lo)) * tiles) * co,
                                      lda: co, b: ub, ldb: co, beta: 1, c: mb + (f - i0) * tiles * ci, ldc: ci)
                            t += n
                        }
                    }
                }
            }
            transformOutput(m, frames: i1 - i0, chunk: chunk, tileRows: th, tileCols: tw, height: H, width: W,
                            channels: ci, bias: nil, into: dx.data + i0 * H * W * ci)
            i0 = i1
        }
    }

    /// V[ξ][f][tile][ci] = (Bᵀ d B)[ξ] for frame `frames.lowerBound + f` and the 4×4 input tile d at rows 2·ty − 1 …,
    /// columns 2·tx − 1 … (zeros outside the frame), vectorised over 8 channels.
    static func transformInput(_ x: UnsafePointer<Float>, frames: Range<Int>, height H: Int, width W: Int, channels c: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let th = (H + 1) / 2, tw = (W + 1) / 2, tiles = th * tw, nf = frames.count
        let xiStride = nf * tiles * c
        Parallel.forRanges(nf * th, minChunk: 1) { range in
            let d = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 16)
            defer { d.deallocate() }
            for r in range {
                let f = r / th, ty = r % th, ti = frames.lowerBound + f
                for tx in 0..<tw {
                    let tile = ty * tw + tx
                    let out = v + (f * tiles + tile) * c
                    for k in stride(from: 0, to: c, by: 8) {
                        for i in 0..<4 {
                            let hi = 2 * ty - 1 + i
                            for j in 0..<4 {
                                let wi = 2 * tx - 1 + j
                                d[i * 4 + j] = hi >= 0 && hi < H && wi >= 0 && wi < W
                                    ? load8(x + ((ti * H + hi) * W + wi) * c + k) : .zero
                            }
                        }
                        // Bᵀ d: rows.
                        for j in 0..<4 {
                            let d0 = d[j], d1 = d[4 + j], d2 = d[8 + j], d3 = d[12 + j]
                            d[j] = d0 - d2; d[4 + j] = d1 + d2; d[8 + j] = d2 - d1; d[12 + j] = d1 - d3
                        }
                        // (Bᵀ d) B: columns.
                        for i in 0..<4 {
                            let e0 = d[i * 4], e1 = d[i * 4 + 1], e2 = d[i * 4 + 2], e3 = d[i * 4 + 3]
                            store8(e0 - e2, out + (i * 4 + 0) * xiStride + k)
                            store8(e1 + e2, out + (i * 4 + 1) * xiStride + k)
                            store8(e2 - e1, out + (i * 4 + 2) * xiStride + k)
                            store8(e1 - e3, out + (i * 4 + 3) * xiStride + k)
                        }
                    }
                }
            }
        }
    }

    /// y[t][2·ty + i][2·tx + j][co] = (Aᵀ M A)[i][j] + bias for the `frames` output frames of M (laid out for
    /// `chunk` frames: M[ξ][t][tile][co]); rows and columns past the frame (odd sizes) are not written.
    static func transformOutput(_ m: UnsafePointer<Float>, frames: Int, chunk: Int, tileRows th: Int, tileCols tw: Int,
                                height H: Int, width W: Int, channels c: Int, bias: UnsafePointer<Float>?,
                                into y: UnsafeMutablePointer<Float>) {
        let tiles = th * tw, xiStride = chunk * tiles * c
        Parallel.forRanges(frames * th, minChunk: 1) { range in
            let s = UnsafeMutablePointer<SIMD8<Float>>.allocate(capacity: 8)
            defer { s.deallocate() }
            for r in range {
                let t = r / th, ty = r % th
                for tx in 0..<tw {
                    let src = m + (t * tiles + ty * tw + tx) * c
                    for k in stride(from: 0, to: c, by: 8) {
                        // Aᵀ M: two rows of four.
                        for j in 0..<4 {
                            let m0 = load8(src + (0 * 4 + j) * xiStride + k), m1 = load8(src + (1 * 4 + j) * xiStride + k)
                            let m2 = load8(src + (2 * 4 + j) * xiStride + k), m3 = load8(src + (3 * 4 + j) * xiStride + k)
                            s[j] = m0 + m1 + m2
                            s[4 + j] = m1 - m2 - m3
                        }
                        let b = bias.map { load8($0 + k) } ?? .zero
                        for i in 0..<2 {
                            let hi = 2 * ty + i
                            if hi >= H { continue }
                            let e0 = s[i * 4], e1 = s[i * 4 + 1], e2 = s[i * 4 + 2], e3 = s[i * 4 + 3]
                            store8(e0 + e1 + e2 + b, y + ((t * H + hi) * W + 2 * tx) * c + k)
                            if 2 * tx + 1 < W { store8(e1 - e2 - e3 + b, y + ((t * H + hi) * W + 2 * tx + 1) * c + k) }
                        }
                    }
                }
            }
        }
    }

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }
    @inline(__always) static func store8(_ s: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: s, as: SIMD8<Float>.self)
    }
}
