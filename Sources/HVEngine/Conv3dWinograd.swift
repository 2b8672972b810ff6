// Winograd F(2×2, 3×3) for the forward pass, the input gradient and (wide layers) the weight gradient of stride-1
// 3×3 (spatial) convolutions (the input gradient is the same kind of correlation, from dy with the kernel turned and
// transposed; the weight gradient is its transpose, `weightGradient`): every 2×2 block of outputs
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
import CKernels
import Foundation

public enum Conv3dWinograd {
    /// Input and output channels at least this (and multiples of 8, the SIMD width of the transforms): with fewer,
    /// the 16 products are too thin for SGEMM to run near its peak (32 and 48 channels measured 0.60–1.69× the
    /// direct kernels from run to run on an AVX2 machine, docs/speed-training-step.md).
    public static var minimumChannels = 64
    /// Output planes at least this many positions: smaller planes have few tiles per product (96 and 128 channels
    /// on 8×8 planes ran at 0.76–0.79× the direct and im2col kernels).
    public static var minimumPlane = 16 * 16
    /// Thinner layers (32 and 48 channels) run fused (`fusedForward`, `fusedInputGradient`) where the CPU has
    /// CKernels' register tiles: channels at least this many, multiples of 16 …
    public static var minimumChannelsFused = 32
    /// … on planes of at least this many positions (on 8² planes the fused path measured 0.8–2.5× the direct
    /// kernels from run to run, on 16² and larger 1.0–1.7×; docs/speed-training-step.md).
    public static var minimumPlaneFused = 16 * 16
    /// Tiles per band of the fused path: at 32 channels a band's ring of transformed input frames and its products
    /// take about 330 KB, inside a core's L2.
    static var bandTiles = 32

    /// Whether a conv on input of `xShape` runs forward and input gradient here: stride 1, a 3×3 spatial kernel
    /// with "same" padding, any temporal taps and padding.
    public static func applies(_ g: Conv3dGeometry, xShape: [Int]) -> Bool {
        Conv3dTuning.winograd && g.kernel.h == 3 && g.kernel.w == 3 && g.stride == (1, 1, 1)
            && g.padH == 1 && g.padW == 1
            && g.inChannels % 8 == 0 && g.outChannels % 8 == 0
            && (wide(g, plane: xShape[1] * xShape[2]) || fused(g, plane: xShape[1] * xShape[2]))
    }

    /// The wide layers' weight gradient here too (`weightGradient`): their backward ran 1.4–1.6× faster than with
    /// the direct kernels' dW. The fused thin layers keep the direct kernels' (with it: 0.7–1.3× from run to run).
    public static var wideWeightGradient = true

    static func weightGradients(_ g: Conv3dGeometry, plane: Int) -> Bool {
        wideWeightGradient && wide(g, plane: plane)
    }

    /// The layers whose 16 products are SGEMMs over whole chunks of frames.
    static func wide(_ g: Conv3dGeometry, plane: Int) -> Bool {
        g.inChannels >= minimumChannels && g.outChannels >= minimumChannels && plane >= minimumPlane
    }

    /// The thinner layers that run fused, band by band: products of 32 or 48 channels are too thin for SGEMM's
    /// packing to pay, and a whole frame's transformed tiles (4× the frame) would stream through memory.
    static func fused(_ g: Conv3dGeometry, plane: Int) -> Bool {
        !wide(g, plane: plane) && Conv3dDirect.available
            && g.inChannels % 16 == 0 && g.outChannels % 16 == 0
            && g.inChannels >= minimumChannelsFused && g.outChannels >= minimumChannelsFused
            && plane >= minimumPlaneFused
    }

    /// Floats of scratch a chunk of output frames may use for its transformed inputs and products.
    static var chunkFloats = 4 << 20

    /// y = conv(x, w) + bias, `scratch` resized as needed.
    public static func forward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor,
                               scratch: Tensor) {
        if fused(g, plane: x.shape[1] * x.shape[2]) {
            fusedForward(x: x, weight: weight, bias: bias, geometry: g, y: y, scratch: scratch)
            return
        }
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let outShape = g.outputShape(x.shape)
        y.resize(outShape)
        let To = outShape[0]
        let (th, tw, tiles) = tiling(height: H, width: W)
        let chunk = chunkFrames(To, tiles: tiles, channels: ci + co, kt: kt)
        let (u, v, m) = chunkScratch(scratch, kt: kt, ci: ci, co: co, chunk: chunk, tiles: tiles, read: ci, written: co)
        transformWeights(weight.data, kt: kt, ci: ci, co: co, into: u)
        var t0 = 0
        while t0 < To {
            let t1 = min(To, t0 + chunk)
            // Tap kt − 1 (the window's last frame) always reads a frame.
            let (lo, hi) = inputFrames(g, outputs: t0..<t1, frames: T)!
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

    /// Tile rows and columns of a plane (2×2 output blocks; odd sizes round up).
    static func tiling(height H: Int, width W: Int) -> (rows: Int, columns: Int, tiles: Int) {
        ((H + 1) / 2, (W + 1) / 2, (H + 1) / 2 * ((W + 1) / 2))
    }

    /// Frames per chunk, out of `frames`: each frame's 16 transformed tiles of `channels` (inputs and products
    /// together), and the up to kt − 1 more frames a chunk reads, within `chunkFloats`.
    static func chunkFrames(_ frames: Int, tiles: Int, channels: Int, kt: Int) -> Int {
        max(1, min(frames, chunkFloats / (16 * tiles * channels) - (kt - 1)))
    }

    /// `scratch` resized and cut into a chunk's buffers: the 16·kt transformed kernels (Cin × Cout each), the
    /// transformed tiles of the up to chunk + kt − 1 frames it reads (`read` channels) and those of the chunk's own
    /// frames (`written` channels).
    static func chunkScratch(_ scratch: Tensor, kt: Int, ci: Int, co: Int, chunk: Int, tiles: Int, read: Int,
                             written: Int) -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>,
                                               UnsafeMutablePointer<Float>) {
        let uFloats = 16 * kt * ci * co, vFloats = 16 * (chunk + kt - 1) * tiles * read
        scratch.resize([uFloats + vFloats + 16 * chunk * tiles * written])
        return (scratch.data, scratch.data + uFloats, scratch.data + uFloats + vFloats)
    }

    /// The input frames that output frames `outputs` read, first and last, nil when none: a contiguous range (a
    /// stride-1 tap moves one frame per output frame; the padding maps the ends to the first or last frame, or to
    /// nothing).
    static func inputFrames(_ g: Conv3dGeometry, outputs: Range<Int>, frames T: Int) -> (Int, Int)? {
        var lo = Int.max, hi = -1
        for t in outputs { for a in 0..<g.kernel.t { if let f = g.inputFrame(t, a, frames: T) { lo = min(lo, f); hi = max(hi, f) } } }
        return hi < 0 ? nil : (lo, hi)
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
        if fused(g, plane: xShape[1] * xShape[2]) {
            fusedInputGradient(dy: dy, weight: weight, geometry: g, xShape: xShape, dx: dx, scratch: scratch)
            return
        }
        let T = xShape[0], H = xShape[1], W = xShape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let To = dy.shape[0]
        dx.resize(xShape)
        let (th, tw, tiles) = tiling(height: H, width: W)
        let chunk = chunkFrames(T, tiles: tiles, channels: ci + co, kt: kt)
        let (u, v, m) = chunkScratch(scratch, kt: kt, ci: ci, co: co, chunk: chunk, tiles: tiles, read: co, written: ci)
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

    /// dW += the weight gradient of y = conv(x, w) in the transformed domain. Per tile y = Aᵀ (U ⊙ V) A with
    /// U = G g Gᵀ, so dL/dU = (A dy Aᵀ) ⊙ V and dL/dg = Gᵀ (dL/dU) G; summed over tiles, channels and taps,
    ///     dU[ξ][a][ci][co] = Σ_t Σ_tiles V_ξ[inputFrame(t, a)][tile][ci] · D_ξ[t][tile][co],   D = A dy Aᵀ,
    /// 16·kt SGEMMs whose depth is the tiles (thousands: the shape SGEMM runs fastest), for 16 multiply-adds per
    /// (tile, Cin, Cout) where the direct and im2col kernels take 36. dy past an odd frame's edge is zero.
    public static func weightGradient(x: Tensor, dy: Tensor, geometry g: Conv3dGeometry, dWeight: Tensor,
                                      scratch: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let To = dy.shape[0]
        let tiles = tiling(height: H, width: W).tiles
        let chunk = chunkFrames(To, tiles: tiles, channels: ci + co, kt: kt)
        let (du, v, d) = chunkScratch(scratch, kt: kt, ci: ci, co: co, chunk: chunk, tiles: tiles, read: ci, written: co)
        du.update(repeating: 0, count: 16 * kt * ci * co)
        var t0 = 0
        while t0 < To {
            let t1 = min(To, t0 + chunk)
            guard let (lo, hi) = inputFrames(g, outputs: t0..<t1, frames: T) else { t0 = t1; continue }
            let nf = hi - lo + 1
            transformInput(x.data, frames: lo..<(hi + 1), height: H, width: W, channels: ci, into: v)
            transformGradient(dy.data + t0 * H * W * co, frames: t1 - t0, chunk: chunk, height: H, width: W,
                              channels: co, into: d)
            let workers = min(Parallel.workers, 16)
            Parallel.independent(workers) { w in
                for xi in stride(from: w, to: 16, by: workers) {
                    for a in 0..<kt {
                        var t = t0
                        while t < t1 {
                            guard let f = g.inputFrame(t, a, frames: T) else { t += 1; continue }
                            var n = 1
                            while t + n < t1, let f2 = g.inputFrame(t + n, a, frames: T), f2 == f + n { n += 1 }
                            BLAS.gemm(transA: true, m: ci, n: co, k: n * tiles,
                                      a: v + ((xi * nf + (f - lo)) * tiles) * ci, lda: ci,
                                      b: d + ((xi * chunk + (t - t0)) * tiles) * co, ldb: co,
                                      beta: 1, c: du + (xi * kt + a) * ci * co, ldc: co)
                            t += n
                        }
                    }
                }
            }
            t0 = t1
        }
        // dW[a][i][j][ci][co] += (Gᵀ dU G)[i][j], vectorised over 8 outputs.
        let plane = ci * co
        let dw = dWeight.data
        Parallel.forRanges(kt * ci, minChunk: 16) { range in
            for r in range {
                let a = r / ci, c = r % ci
                for o in stride(from: 0, to: co, by: 8) {
                    @inline(__always) func m(_ p: Int, _ q: Int) -> SIMD8<Float> {
                        load8(du + ((p * 4 + q) * kt + a) * plane + c * co + o)
                    }
                    let half = SIMD8<Float>(repeating: 0.5)
                    // Gᵀ dU: three rows of four.
                    var rows = [[SIMD8<Float>]](repeating: [], count: 3)
                    for q in 0..<4 {
                        let m0 = m(0, q), m1 = m(1, q), m2 = m(2, q), m3 = m(3, q)
                        rows[0].append(m0 + half * (m1 + m2))
                        rows[1].append(half * (m1 - m2))
                        rows[2].append(half * (m1 + m2) + m3)
                    }
                    for i in 0..<3 {
                        let e = rows[i]
                        let cols = [e[0] + half * (e[1] + e[2]), half * (e[1] - e[2]), half * (e[1] + e[2]) + e[3]]
                        for j in 0..<3 {
                            let dst = dw + (((a * 3 + i) * 3 + j) * ci + c) * co + o
                            store8(load8(dst) + cols[j], dst)
                        }
                    }
                }
            }
        }
    }

    /// D[ξ][t][tile][co] = (A dy Aᵀ)[ξ] for the 2×2 output block of each tile of `frames` frames of dy (laid out for
    /// `chunk` frames; zeros past an odd frame's edge), vectorised over 8 channels.
    static func transformGradient(_ dy: UnsafePointer<Float>, frames: Int, chunk: Int, height H: Int, width W: Int,
                                  channels c: Int, into d: UnsafeMutablePointer<Float>) {
        let (th, tw, tiles) = tiling(height: H, width: W)
        let xiStride = chunk * tiles * c
        Parallel.forRanges(frames * th, minChunk: 1) { range in
            for r in range {
                let t = r / th, ty = r % th
                for tx in 0..<tw {
                    let out = d + (t * tiles + ty * tw + tx) * c
                    for k in stride(from: 0, to: c, by: 8) {
                        @inline(__always) func g(_ p: Int, _ q: Int) -> SIMD8<Float> {
                            let hi = 2 * ty + p, wi = 2 * tx + q
                            return hi < H && wi < W ? load8(dy + ((t * H + hi) * W + wi) * c + k) : .zero
                        }
                        let g00 = g(0, 0), g01 = g(0, 1), g10 = g(1, 0), g11 = g(1, 1)
                        // A dy: four rows of two.
                        let e: [(SIMD8<Float>, SIMD8<Float>)] = [(g00, g01), (g00 + g10, g01 + g11), (g00 - g10, g01 - g11), (-g10, -g11)]
                        for i in 0..<4 {
                            let (e0, e1) = e[i]
                            store8(e0, out + (i * 4 + 0) * xiStride + k)
                            store8(e0 + e1, out + (i * 4 + 1) * xiStride + k)
                            store8(e0 - e1, out + (i * 4 + 2) * xiStride + k)
                            store8(-e1, out + (i * 4 + 3) * xiStride + k)
                        }
                    }
                }
            }
        }
    }

    /// V[ξ][f][tile][ci] = (Bᵀ d B)[ξ] for frame `frames.lowerBound + f` and the 4×4 input tile d at rows 2·ty − 1 …,
    /// columns 2·tx − 1 … (zeros outside the frame), vectorised over 8 channels.
    static func transformInput(_ x: UnsafePointer<Float>, frames: Range<Int>, height H: Int, width W: Int, channels c: Int,
                               into v: UnsafeMutablePointer<Float>) {
        let (th, tw, tiles) = tiling(height: H, width: W), nf = frames.count
        let xiStride = nf * tiles * c
        Parallel.forRanges(nf * th, minChunk: 1) { range in
            for r in range {
                let f = r / th, ty = r % th
                transformTiles(x + (frames.lowerBound + f) * H * W * c, height: H, width: W, channels: c,
                               tileRow: ty, into: v + (f * tiles + ty * tw) * c, xiStride: xiStride)
            }
        }
    }

    /// Whether the tile transforms run in CKernels' AVX2 (hv_winograd_input_tiles, hv_winograd_output_tiles): the
    /// same sums in the same order as the Swift references below, in 256-bit instructions where Swift's SIMD8 gets
    /// pairs of SSE ones.
    /// Off, the Swift references run (`hv-bench all --swift-transforms` times both).
    public static var transformsInC = hv_winograd_tiles_available() != 0

    /// The transformed tiles of tile row `ty` of one frame: out[ξ·xiStride + tx·c + k].
    static func transformTiles(_ x: UnsafePointer<Float>, height H: Int, width W: Int, channels c: Int, tileRow ty: Int,
                               into out: UnsafeMutablePointer<Float>, xiStride: Int) {
        if transformsInC {
            hv_winograd_input_tiles(x, Int32(H), Int32(W), Int32(c), Int32(ty), out, xiStride)
        } else {
            transformTilesReference(x, height: H, width: W, channels: c, tileRow: ty, into: out, xiStride: xiStride)
        }
    }

    /// `transformTiles` in Swift: the reference of the C version and the path of CPUs without AVX2.
    static func transformTilesReference(_ x: UnsafePointer<Float>, height H: Int, width W: Int, channels c: Int,
                                        tileRow ty: Int, into out: UnsafeMutablePointer<Float>, xiStride: Int) {
        let tw = (W + 1) / 2
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 16) { buf in
            let d = buf.baseAddress!
            for tx in 0..<tw {
                let o = out + tx * c
                for k in stride(from: 0, to: c, by: 8) {
                    for i in 0..<4 {
                        let hi = 2 * ty - 1 + i
                        for j in 0..<4 {
                            let wi = 2 * tx - 1 + j
                            d[i * 4 + j] = hi >= 0 && hi < H && wi >= 0 && wi < W
                                ? load8(x + (hi * W + wi) * c + k) : .zero
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
                        store8(e0 - e2, o + (i * 4 + 0) * xiStride + k)
                        store8(e1 + e2, o + (i * 4 + 1) * xiStride + k)
                        store8(e2 - e1, o + (i * 4 + 2) * xiStride + k)
                        store8(e1 - e3, o + (i * 4 + 3) * xiStride + k)
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
            for r in range {
                let t = r / th, ty = r % th
                untransformTiles(m + (t * tiles + ty * tw) * c, xiStride: xiStride, height: H, width: W, channels: c,
                                 tileRow: ty, bias: bias, into: y + t * H * W * c)
            }
        }
    }

    /// Rows 2·ty and 2·ty + 1 of one output frame y from tile row `ty`'s products m[ξ·xiStride + tx·c + k].
    static func untransformTiles(_ m: UnsafePointer<Float>, xiStride: Int, height H: Int, width W: Int, channels c: Int,
                                 tileRow ty: Int, bias: UnsafePointer<Float>?, into y: UnsafeMutablePointer<Float>) {
        if transformsInC {
            hv_winograd_output_tiles(m, xiStride, Int32(H), Int32(W), Int32(c), Int32(ty), bias, y)
        } else {
            untransformTilesReference(m, xiStride: xiStride, height: H, width: W, channels: c, tileRow: ty, bias: bias, into: y)
        }
    }

    /// `untransformTiles` in Swift: the reference of the C version and the path of CPUs without AVX2.
    static func untransformTilesReference(_ m: UnsafePointer<Float>, xiStride: Int, height H: Int, width W: Int,
                                          channels c: Int, tileRow ty: Int, bias: UnsafePointer<Float>?,
                                          into y: UnsafeMutablePointer<Float>) {
        let tw = (W + 1) / 2
        withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: 8) { buf in
            let s = buf.baseAddress!
            for tx in 0..<tw {
                let src = m + tx * c
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
                        store8(e0 + e1 + e2 + b, y + (hi * W + 2 * tx) * c + k)
                        if 2 * tx + 1 < W { store8(e1 - e2 - e3 + b, y + (hi * W + 2 * tx + 1) * c + k) }
                    }
                }
            }
        }
    }

    // MARK: The fused path for thinner layers

    /// The forward of a `fused` layer: the plane is cut into bands of tile rows, split over the cores, and each band
    /// walks the output frames, transforming each input frame's band once into a small ring (`BandRing`), summing
    /// the taps' products in registers (hv_conv_row: one column, the taps as entries) and untransforming at once.
    static func fusedForward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor,
                             scratch: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let outShape = g.outputShape(x.shape)
        y.resize(outShape)
        let To = outShape[0]
        let sources = (0..<To).map { t in (0..<kt).compactMap { a in g.inputFrame(t, a, frames: T).map { (frame: $0, tap: a) } } }
        let xp = UnsafePointer(x.data), b = bias.map { UnsafePointer($0.data) }
        fusedBands(height: H, width: W, kt: kt, inChannels: ci, outChannels: co, sources: sources, scratch: scratch,
                   weights: { u in transformWeights(weight.data, kt: kt, ci: ci, co: co, into: u) },
                   input: { f in xp + f * H * W * ci }, bias: b,
                   output: { t in y.data + t * H * W * co })
    }

    /// The input gradient of a `fused` layer: bands as in `fusedForward`, walking the input frames; each collects
    /// the products of every (output frame, tap) that read it, from dy's transformed bands and the turned kernel.
    static func fusedInputGradient(dy: Tensor, weight: Tensor, geometry g: Conv3dGeometry, xShape: [Int], dx: Tensor,
                                   scratch: Tensor) {
        let T = xShape[0], H = xShape[1], W = xShape[2]
        let ci = g.inChannels, co = g.outChannels, kt = g.kernel.t
        let To = dy.shape[0]
        dx.resize(xShape)
        var sources = [[(frame: Int, tap: Int)]](repeating: [], count: T)
        for t in 0..<To { for a in 0..<kt { if let f = g.inputFrame(t, a, frames: T) { sources[f].append((t, a)) } } }
        let dyp = UnsafePointer(dy.data)
        fusedBands(height: H, width: W, kt: kt, inChannels: co, outChannels: ci, sources: sources, scratch: scratch,
                   weights: { u in
                       // The turned kernel, transposed to [Cout][Cin] per (ξ, tap): the register tiles read their
                       // weights as [product input][product output].
                       let n = 16 * kt * ci * co
                       transformWeights(weight.data, kt: kt, ci: ci, co: co, flip: true, into: u + n)
                       Parallel.forRanges(16 * kt, minChunk: 1) { r in
                           for blk in r {
                               let src = u + n + blk * ci * co, dst = u + blk * ci * co
                               for c in 0..<ci { for o in 0..<co { dst[o * ci + c] = src[c * co + o] } }
                           }
                       }
                   },
                   input: { t in dyp + t * H * W * co }, bias: nil,
                   output: { f in dx.data + f * H * W * ci })
    }

    /// out[f] = Σ_{(s, a) ∈ sources[f]} conv-tap a of in[s], for every output frame f, band by band. `weights` writes
    /// U[ξ][a][cin][cout] (16·kt·cin·cout floats; it may use as many again after them as scratch).
    static func fusedBands(height H: Int, width W: Int, kt: Int, inChannels cin: Int, outChannels cout: Int,
                           sources: [[(frame: Int, tap: Int)]], scratch: Tensor,
                           weights: (UnsafeMutablePointer<Float>) -> Void, input: (Int) -> UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, output: (Int) -> UnsafeMutablePointer<Float>) {
        let (th, tw, _) = tiling(height: H, width: W)
        let rowsPerBand = max(1, min(th, bandTiles / tw))
        let bands = (th + rowsPerBand - 1) / rowsPerBand
        let maxTiles = rowsPerBand * tw
        // A ring slot per input frame a band may need at once, and one more so a frame is never evicted by the one
        // that replaces it while both are read.
        let slots = (sources.map { Set($0.map(\.frame)).count }.max() ?? 1) + 1
        let slotFloats = 16 * maxTiles * cin, mFloats = 16 * maxTiles * cout
        let perWorker = slots * slotFloats + mFloats
        let workers = min(Parallel.workers, bands)
        let uFloats = 16 * kt * cin * cout
        scratch.resize([max(2 * uFloats, uFloats + workers * perWorker)])
        let u = scratch.data
        weights(u)
        Parallel.independent(workers) { w in
            let ring = u + uFloats + w * perWorker, m = ring + slots * slotFloats
            var frameOf = [Int](repeating: -1, count: slots), used = [Int](repeating: 0, count: slots), clock = 0
            var rows = [UnsafePointer<Float>](repeating: UnsafePointer(ring), count: sources.map(\.count).max() ?? 0)
            var taps = rows
            for band in stride(from: w, to: bands, by: workers) {
                let r0 = band * rowsPerBand, r1 = min(th, r0 + rowsPerBand), n = (r1 - r0) * tw
                for i in 0..<slots { frameOf[i] = -1 }
                for f in sources.indices {
                    let entries = sources[f].count
                    for (e, src) in sources[f].enumerated() {
                        clock += 1
                        var slot = frameOf.firstIndex(of: src.frame) ?? -1
                        if slot < 0 {
                            slot = used.indices.min { used[$0] < used[$1] }!
                            frameOf[slot] = src.frame
                            for ty in r0..<r1 {
                                transformTiles(input(src.frame), height: H, width: W, channels: cin, tileRow: ty,
                                               into: ring + slot * slotFloats + (ty - r0) * tw * cin, xiStride: n * cin)
                            }
                        }
                        used[slot] = clock
                        rows[e] = UnsafePointer(ring + slot * slotFloats)
                        taps[e] = UnsafePointer(u + src.tap * cin * cout)
                    }
                    for xi in 0..<16 {
                        let mx = m + xi * n * cout
                        if entries == 0 { mx.update(repeating: 0, count: n * cout); continue }
                        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 2 * entries) { buf in
                            let r = buf.baseAddress!, wt = r + entries
                            for e in 0..<entries {
                                r[e] = rows[e] + xi * n * cin
                                wt[e] = taps[e] + xi * kt * cin * cout
                            }
                            hv_conv_row(r, wt, Int32(entries), 1, Int32(cin), Int32(cout), Int32(n), Int32(n),
                                        Int32(n), 0, nil, mx)
                        }
                    }
                    for ty in r0..<r1 {
                        untransformTiles(m + (ty - r0) * tw * cout, xiStride: n * cout, height: H, width: W,
                                         channels: cout, tileRow: ty, bias: bias, into: output(f))
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
