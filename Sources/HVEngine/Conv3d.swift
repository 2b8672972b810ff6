// Causal 3D convolution, channels-last: x [T, H, W, Cin] → y [T', H', W', Cout] with weight
// [kt, kh, kw, Cin, Cout]. Causal in time: the kernel's last tap is aligned with the last frame of
// output t's window, input frame t·st + st − 1, and the taps before it reach into the past; frames
// before the first are the first frame repeated (`.replicate`) or zeros. So output t sees exactly the
// input frames ≤ (t+1)·st − 1 — with a stride of 2 it sees both of its own frames (padding kt−1 in
// front instead would never show the last frame of a clip to any output). "Same" in space ((k−1)/2
// zeros each side). T' = ceil(T/st), H' = ceil(H/sh), W' = ceil(W/sw); when T is not a multiple of st
// the last window repeats the last frame.
// A `lookahead` of L shifts every tap L frames later, so output t also sees the L input frames after its
// window (the last frame repeated past the clip's end): a decoder whose first conv looks one latent frame
// ahead can interpolate towards it, as box means upsampled trilinearly do. L = 0 is the causal conv.
// The work is one SGEMM per chunk of output frames: im2col [P, K] · W [K, Cout] (K = kt·kh·kw·Cin);
// backward is two SGEMMs (dW += colᵀ·dy, dcol = dy·Wᵀ, dcol reusing col's buffer) and a col2im scatter,
// split by input channel on large chunks so the two cores never write the same element. Chunks are sized
// for the cache (`conv3dChunkFrames`). A naive 7-loop reference lives in Conv3dReference.swift.
import COpenBLAS
import Foundation

public enum TemporalPadding: String, Codable, Sendable {
    /// The first frame is repeated into the past (no black frames leak into early outputs).
    case replicate
    /// Zeros are padded into the past.
    case zero
}

/// Geometry of one 3D convolution.
public struct Conv3dGeometry: Equatable {
    public var kernel: (t: Int, h: Int, w: Int)
    public var stride: (t: Int, h: Int, w: Int)
    public var inChannels: Int
    public var outChannels: Int
    public var temporalPadding: TemporalPadding
    /// Input frames after the output's window that the last tap reaches (0: causal).
    public var lookahead: Int = 0
    /// Zeros before the first row and column (nil: "same", (k−1)/2), for the even kernels of `UpsampledConv3d`'s
    /// phases, whose taps sit on either side of the output.
    public var spatialPadding: (h: Int, w: Int)? = nil

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.inChannels == b.inChannels
            && a.outChannels == b.outChannels && a.temporalPadding == b.temporalPadding && a.lookahead == b.lookahead
            && a.padH == b.padH && a.padW == b.padW
    }

    var padH: Int { spatialPadding?.h ?? (kernel.h - 1) / 2 }
    var padW: Int { spatialPadding?.w ?? (kernel.w - 1) / 2 }
    /// Offset of the first tap relative to the window's first frame (negative: reaches into the past).
    var firstTap: Int { stride.t - kernel.t + lookahead }
    /// Columns of the im2col matrix.
    public var k: Int { kernel.t * kernel.h * kernel.w * inChannels }

    public func outputShape(_ x: [Int]) -> [Int] {
        [(x[0] + stride.t - 1) / stride.t, (x[1] + stride.h - 1) / stride.h, (x[2] + stride.w - 1) / stride.w, outChannels]
    }

    /// Input frame read by output frame `to` at kernel offset `a` (of T frames), or nil for a zero-padded frame.
    @inline(__always) func inputFrame(_ to: Int, _ a: Int, frames T: Int) -> Int? {
        let ti = to * stride.t + a + firstTap
        if ti >= T { return T - 1 }
        if ti >= 0 { return ti }
        return temporalPadding == .replicate ? 0 : nil
    }
}

/// im2col for output frames [t0, t1): col[(to−t0)·Ho·Wo + ho·Wo + wo, ((a·kh + b)·kw + c)·Cin + ci].
/// For one row and one (a, b) the kw taps read neighbouring input columns, which lie next to each other in
/// x (channels-last) as they do in col: each (row, a, b) is one copy of up to kw·Cin floats, and zeros only
/// where the window leaves the frame.
func conv3dIm2col(_ x: UnsafePointer<Float>, xShape: [Int], g: Conv3dGeometry, t0: Int, t1: Int,
                  col: UnsafeMutablePointer<Float>, serial: Bool = false) {
    let T = xShape[0], H = xShape[1], W = xShape[2], C = xShape[3]
    let Ho = (H + g.stride.h - 1) / g.stride.h, Wo = (W + g.stride.w - 1) / g.stride.w
    let K = g.k, kh = g.kernel.h, kw = g.kernel.w, kt = g.kernel.t
    let rows = (t1 - t0) * Ho * Wo
    Parallel.forRanges(rows, minChunk: serial ? rows : 256) { range in
        for r in range {
            let to = t0 + r / (Ho * Wo), ho = (r / Wo) % Ho, wo = r % Wo
            let wFirst = wo * g.stride.w - g.padW
            // Taps [c0, c1) fall inside the frame.
            let c0 = max(0, -wFirst), c1 = min(kw, W - wFirst)
            var dst = col + r * K
            for a in 0..<kt {
                let ti = g.inputFrame(to, a, frames: T)
                for b in 0..<kh {
                    let hi = ho * g.stride.h + b - g.padH
                    if let ti, hi >= 0, hi < H, c0 < c1 {
                        if c0 > 0 { dst.update(repeating: 0, count: c0 * C) }
                        copyFloats(dst + c0 * C, x + ((ti * H + hi) * W + wFirst + c0) * C, count: (c1 - c0) * C)
                        if c1 < kw { (dst + c1 * C).update(repeating: 0, count: (kw - c1) * C) }
                    } else {
                        dst.update(repeating: 0, count: kw * C)
                    }
                    dst += kw * C
                }
            }
        }
    }
}

/// col2im (adds into dx) for output frames [t0, t1): the transpose of `conv3dIm2col`, with the same contiguous
/// (row, a, b) runs. Large chunks are split over the workers by channel range, so that two cores never write
/// the same element.
func conv3dCol2im(_ dcol: UnsafePointer<Float>, xShape: [Int], g: Conv3dGeometry, t0: Int, t1: Int,
                  dx: UnsafeMutablePointer<Float>, serial: Bool = false) {
    let T = xShape[0], H = xShape[1], W = xShape[2], C = xShape[3]
    let Ho = (H + g.stride.h - 1) / g.stride.h, Wo = (W + g.stride.w - 1) / g.stride.w
    let K = g.k, kh = g.kernel.h, kw = g.kernel.w, kt = g.kernel.t
    let rows = (t1 - t0) * Ho * Wo
    let split = !serial && rows * K >= 1 << 16 ? min(Parallel.workers, C) : 1
    let per = (C + split - 1) / split
    let body = { (s: Int) in
        let ch0 = s * per, ch1 = min(C, ch0 + per)
        if ch0 >= ch1 { return }
        let n = ch1 - ch0
        for r in 0..<rows {
            let to = t0 + r / (Ho * Wo), ho = (r / Wo) % Ho, wo = r % Wo
            let wFirst = wo * g.stride.w - g.padW
            let c0 = max(0, -wFirst), c1 = min(kw, W - wFirst)
            var src = dcol + r * K
            for a in 0..<kt {
                let ti = g.inputFrame(to, a, frames: T)
                for b in 0..<kh {
                    let hi = ho * g.stride.h + b - g.padH
                    if let ti, hi >= 0, hi < H, c0 < c1 {
                        let d = dx + ((ti * H + hi) * W + wFirst + c0) * C + ch0
                        if n == C {
                            addFloats(d, src + c0 * C, count: (c1 - c0) * C)
                        } else {
                            for c in 0..<(c1 - c0) { addFloats(d + c * C, src + (c0 + c) * C + ch0, count: n) }
                        }
                    }
                    src += kw * C
                }
            }
        }
    }
    if split == 1 { body(0) } else { Parallel.perform(split, body) }
}

/// dst[i] = src[i], 16 lanes at a time (the runs are a few hundred floats: no call into memmove).
@inline(__always) func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count n: Int) {
    var i = 0
    while i + 16 <= n { SIMD16<Float>.load(src + i).store(dst + i); i += 16 }
    while i < n { dst[i] = src[i]; i += 1 }
}

/// dst[i] += src[i], 16 lanes at a time.
@inline(__always) func addFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, count n: Int) {
    var i = 0
    while i + 16 <= n { (SIMD16<Float>.load(dst + i) + SIMD16<Float>.load(src + i)).store(dst + i); i += 16 }
    while i < n { dst[i] += src[i]; i += 1 }
}

/// Output frames per im2col chunk: as many as keep the column buffer under `maxFloats`, but at least enough for
/// `minRows` rows, and at least one frame. A chunk that fits in the core's cache (1 MiB of L2 here) is still there
/// when the GEMM packs it (forward, dW) and when col2im reads what the GEMM wrote (dx). The row minimum is for
/// the weight: OpenBLAS repacks all K·Cout of it in every call, which against a call of only a few dozen rows
/// (the 8×4×4 latent stages, K·Cout up to 1 M floats) costs as much as the product.
func conv3dChunkFrames(outShape: [Int], k: Int, maxFloats: Int = Conv3dTuning.columnFloats,
                       minRows: Int = Conv3dTuning.minimumRows) -> Int {
    let planeRows = max(outShape[1] * outShape[2], 1)
    let byBudget = maxFloats / max(planeRows * k, 1)
    let byRows = (minRows + planeRows - 1) / planeRows
    return max(1, min(outShape[0], max(byBudget, byRows)))
}

/// Size of the im2col chunks (see `conv3dChunkFrames`).
public enum Conv3dTuning {
    /// Floats of one column buffer (1 MiB).
    public static var columnFloats = 256 << 10
    /// Rows (output positions) a chunk has at least, budget or not.
    public static var minimumRows = 256
    /// Stride-1 convs run the direct kernel where the CPU and channel counts allow (Conv3dDirect.swift); off,
    /// every conv takes the im2col path (tests compare the two, benchmarks time both).
    public static var direct = true
    /// Stride-1 convs run on AMX tiles in bfloat16 where the CPU has them (Conv3dAMX.swift); off by default, so
    /// that inference and the float32 tests keep float32; hv-train turns it on (`--bf16`).
    public static var bf16 = false
    /// Stride-1 3×3 convs on large planes and wide channels run forward, and compute their input gradient, by
    /// Winograd F(2×2, 3×3) (Conv3dWinograd.swift); off, they take the direct or im2col path (tests compare,
    /// benchmarks time both).
    public static var winograd = true
}

/// Scratch a conv's direct backward needs: the padded output gradient, the flipped kernel and the other cores' dW.
/// The conv layers' column buffer (im2col columns, the direct kernels' padded input, Winograd's transforms), one per
/// thread and shared by every layer that thread runs: each use starts and ends within one forward or backward call,
/// so a model needs one the size of its largest layer's, not one per layer (on a 256² clip's encoder, hundreds of MB
/// that every process would first-touch). Replicas that train side by side run on their own threads.
public enum ConvColumns {
    public static var current: Tensor { ThreadScratch.tensor("hv.conv.columns") }
}

/// Scratch tensors kept per thread under a name, for buffers whose every use ends within one call.
public enum ThreadScratch {
    public static func tensor(_ name: String) -> Tensor {
        let d = Thread.current.threadDictionary
        if let t = d[name] as? Tensor { return t }
        let t = Tensor(shape: [0])
        d[name] = t
        return t
    }
}

public final class Conv3dScratch {
    let padded = Tensor(shape: [0])
    let flipped = Tensor(shape: [0])
    let partial = Tensor(shape: [0])
    /// The bfloat16 tiles of the AMX path (packed weights, output-gradient pairs).
    let packed = Tensor(shape: [0])
    public init() {}
}

/// y = conv(x, w) + bias. x [T,H,W,Cin], w [kt,kh,kw,Cin,Cout], bias [Cout] or nil, y resized to the output shape.
/// `col` is scratch space (resized as needed).
public func conv3dForward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor, col: Tensor) {
    if Conv3dAMX.appliesForward(g) {
        Conv3dAMX.forward(x: x, weight: weight, bias: bias, geometry: g, y: y, scratch: col)
        return
    }
    if Conv3dWinograd.applies(g, xShape: x.shape) {
        Conv3dWinograd.forward(x: x, weight: weight, bias: bias, geometry: g, y: y, scratch: col)
        return
    }
    if Conv3dDirect.appliesForward(g, width: x.shape[2]) {
        Conv3dDirect.forward(x: x, weight: weight, bias: bias, geometry: g, y: y, padded: col)
        return
    }
    let outShape = g.outputShape(x.shape)
    y.resize(outShape)
    let Cout = g.outChannels, K = g.k
    let pointwise = g.kernel == (1, 1, 1) && g.stride == (1, 1, 1)
    if pointwise {
        let P = x.count / g.inChannels
        if Conv3dAMX.appliesProduct(.nn, n: Cout, k: K) {
            Conv3dAMX.gemm(.nn, m: P, n: Cout, k: K, a: x.data, b: weight.data, c: y.data, serial: false)
        } else {
            BLAS.gemm(m: P, n: Cout, k: K, a: x.data, lda: K, b: weight.data, ldb: Cout, c: y.data, ldc: Cout)
        }
    } else {
        let chunk = conv3dChunkFrames(outShape: outShape, k: K)
        let planeRows = outShape[1] * outShape[2]
        let chunks = (outShape[0] + chunk - 1) / chunk
        let split = min(Parallel.workers, chunks)
        let colFloats = chunk * planeRows * K
        col.resize([split * colFloats])
        func run(_ t0: Int, _ t1: Int, _ col: UnsafeMutablePointer<Float>, serial: Bool) {
            conv3dIm2col(x.data, xShape: x.shape, g: g, t0: t0, t1: t1, col: col, serial: serial)
            if Conv3dAMX.appliesProduct(.nn, n: Cout, k: K) {
                Conv3dAMX.gemm(.nn, m: (t1 - t0) * planeRows, n: Cout, k: K, a: col, b: weight.data,
                               c: y.data + t0 * planeRows * Cout, serial: serial)
                return
            }
            BLAS.gemm(m: (t1 - t0) * planeRows, n: Cout, k: K, a: col, lda: K, b: weight.data, ldb: Cout,
                      c: y.data + t0 * planeRows * Cout, ldc: Cout)
        }
        if split > 1 {
            conv3dChunkBlocks(chunks: chunks, chunk: chunk, frames: outShape[0], workers: split) { w, t0, t1 in
                run(t0, t1, col.data + w * colFloats, serial: true)
            }
        } else {
            var t0 = 0
            while t0 < outShape[0] {
                let t1 = min(outShape[0], t0 + chunk)
                run(t0, t1, col.data, serial: false)
                t0 = t1
            }
        }
    }
    if let bias { addBiasRows(y, bias) }
}

/// dW += colᵀ · dy chunk by chunk, for a backward whose dx comes from elsewhere (Winograd).
func conv3dWeightGradientIm2col(x: Tensor, dy: Tensor, geometry g: Conv3dGeometry, dWeight: Tensor, col: Tensor) {
    let outShape = dy.shape, K = g.k, Cout = g.outChannels
    let chunk = conv3dChunkFrames(outShape: outShape, k: K)
    let planeRows = outShape[1] * outShape[2]
    col.resize([chunk * planeRows * K])
    var t0 = 0
    while t0 < outShape[0] {
        let t1 = min(outShape[0], t0 + chunk)
        conv3dIm2col(x.data, xShape: x.shape, g: g, t0: t0, t1: t1, col: col.data)
        BLAS.gemm(transA: true, m: K, n: Cout, k: (t1 - t0) * planeRows, a: col.data, lda: K,
                  b: dy.data + t0 * planeRows * Cout, ldb: Cout, beta: 1, c: dWeight.data, ldc: Cout)
        t0 = t1
    }
}

/// Accumulates dW (and dbias) and writes dx (resized to x's shape) for y = conv(x, w) + bias; with `dWeight` nil
/// only dx (what a gradient with respect to the input alone needs, e.g. a search over a decoder's input). With
/// `scratch`, a stride-1 conv whose channel counts allow it takes the direct kernels (Conv3dDirect.swift) for both.
public func conv3dBackward(x: Tensor, weight: Tensor, geometry g: Conv3dGeometry, dy: Tensor,
                           dx: Tensor, dWeight: Tensor?, dBias: Tensor?, col: Tensor, scratch: Conv3dScratch? = nil) {
    let outShape = dy.shape
    let Cout = g.outChannels, K = g.k
    dx.resize(x.shape)
    if let dBias { sumRows(dy, into: dBias) }
    if let scratch, Conv3dAMX.appliesBackward(g) {
        if let dWeight {
            Conv3dAMX.weightGradient(x: x, dy: dy, geometry: g, dWeight: dWeight, scratch: col, dyWide: scratch.padded,
                                     blocks: scratch.packed)
        }
        Conv3dAMX.inputGradient(dy: dy, weight: weight, geometry: g, xShape: x.shape, dx: dx, scratch: scratch.padded,
                                packed: scratch.packed)
        return
    }
    if !Conv3dTuning.bf16 && Conv3dWinograd.applies(g, xShape: x.shape) {
        if let dWeight {
            if Conv3dWinograd.weightGradients(g, plane: x.shape[1] * x.shape[2]) {
                Conv3dWinograd.weightGradient(x: x, dy: dy, geometry: g, dWeight: dWeight, scratch: col)
            } else if let scratch, Conv3dDirect.appliesBackward(g, width: x.shape[2]) {
                Conv3dDirect.weightGradient(x: x, dy: dy, geometry: g, dWeight: dWeight, padded: col, dyWide: scratch.padded,
                                            partial: scratch.partial)
            } else {
                conv3dWeightGradientIm2col(x: x, dy: dy, geometry: g, dWeight: dWeight, col: col)
            }
        }
        Conv3dWinograd.inputGradient(dy: dy, weight: weight, geometry: g, xShape: x.shape, dx: dx, scratch: col)
        return
    }
    if let scratch, Conv3dDirect.appliesBackward(g, width: x.shape[2]) {
        if let dWeight {
            Conv3dDirect.weightGradient(x: x, dy: dy, geometry: g, dWeight: dWeight, padded: col, dyWide: scratch.padded,
                                        partial: scratch.partial)
        }
        Conv3dDirect.inputGradient(dy: dy, weight: weight, geometry: g, xShape: x.shape, dx: dx,
                                   scratch: scratch.padded, flipped: scratch.flipped)
        return
    }
    dx.zero()
    let pointwise = g.kernel == (1, 1, 1) && g.stride == (1, 1, 1)
    if pointwise {
        let P = x.count / g.inChannels
        if Conv3dAMX.appliesProduct(.tn, n: Cout, k: K) {
            if let dWeight { Conv3dAMX.gemm(.tn, m: P, n: Cout, k: K, a: x.data, b: dy.data, c: dWeight.data, serial: false) }
            Conv3dAMX.gemm(.nt, m: P, n: Cout, k: K, a: dy.data, b: weight.data, c: dx.data, serial: false)
            return
        }
        if let dWeight {
            BLAS.gemm(transA: true, m: K, n: Cout, k: P, a: x.data, lda: K, b: dy.data, ldb: Cout, beta: 1, c: dWeight.data, ldc: Cout)
        }
        BLAS.gemm(transB: true, m: P, n: K, k: Cout, a: dy.data, lda: Cout, b: weight.data, ldb: Cout, c: dx.data, ldc: K)
        return
    }
    let chunk = conv3dChunkFrames(outShape: outShape, k: K)
    let planeRows = outShape[1] * outShape[2]
    let chunks = (outShape[0] + chunk - 1) / chunk
    let split = min(Parallel.workers, chunks)
    // dW's GEMM is done with the column matrix before dcol's GEMM overwrites it: one buffer serves both.
    let colFloats = chunk * planeRows * K
    func run(_ t0: Int, _ t1: Int, _ col: UnsafeMutablePointer<Float>, dW: UnsafeMutablePointer<Float>?,
             dx: UnsafeMutablePointer<Float>, serial: Bool) {
        let rows = (t1 - t0) * planeRows
        let dyChunk = dy.data + t0 * planeRows * Cout
        let amx = Conv3dAMX.appliesProduct(.tn, n: Cout, k: K)
        if let dW {
            conv3dIm2col(x.data, xShape: x.shape, g: g, t0: t0, t1: t1, col: col, serial: serial)
            if amx {
                Conv3dAMX.gemm(.tn, m: rows, n: Cout, k: K, a: col, b: dyChunk, c: dW, serial: serial)
            } else {
                BLAS.gemm(transA: true, m: K, n: Cout, k: rows, a: col, lda: K, b: dyChunk, ldb: Cout, beta: 1, c: dW, ldc: Cout)
            }
        }
        if amx {
            Conv3dAMX.gemm(.nt, m: rows, n: Cout, k: K, a: dyChunk, b: weight.data, c: col, serial: serial)
        } else {
            BLAS.gemm(transB: true, m: rows, n: K, k: Cout, a: dyChunk, lda: Cout, b: weight.data, ldb: Cout, c: col, ldc: K)
        }
        conv3dCol2im(col, xShape: x.shape, g: g, t0: t0, t1: t1, dx: dx, serial: serial)
    }
    if split > 1 {
        // Worker 0 adds into dW and dx; the others into their own zeroed partials (neighbouring chunks share
        // input frames), added up afterwards in worker order.
        let partFloats = K * Cout + x.count
        col.resize([split * colFloats + (split - 1) * partFloats])
        let parts = col.data + split * colFloats
        parts.update(repeating: 0, count: (split - 1) * partFloats)
        conv3dChunkBlocks(chunks: chunks, chunk: chunk, frames: outShape[0], workers: split) { w, t0, t1 in
            let part = parts + (w - 1) * partFloats
            run(t0, t1, col.data + w * colFloats, dW: dWeight.map { w == 0 ? $0.data : part },
                dx: w == 0 ? dx.data : part + K * Cout, serial: true)
        }
        for w in 1..<split {
            let part = parts + (w - 1) * partFloats
            if let dWeight { addFloats(dWeight.data, part, count: K * Cout) }
            let dxPart = UnsafePointer(part + K * Cout), d = dx.data
            Parallel.forRanges(x.count, minChunk: 1 << 15) { r in
                addFloats(d + r.lowerBound, dxPart + r.lowerBound, count: r.count)
            }
        }
    } else {
        col.resize([colFloats])
        var t0 = 0
        while t0 < outShape[0] {
            let t1 = min(outShape[0], t0 + chunk)
            run(t0, t1, col.data, dW: dWeight?.data, dx: dx.data, serial: false)
            t0 = t1
        }
    }
}

/// Runs `body(worker, t0, t1)` for every chunk of output frames, the chunks split into `workers` contiguous blocks
/// that run on their own cores with OpenBLAS single-threaded inside: one im2col + SGEMM stream per core and no
/// fork-join inside each chunk, where OpenBLAS splitting every small chunk GEMM over both cores scaled poorly.
func conv3dChunkBlocks(chunks: Int, chunk: Int, frames: Int, workers: Int, _ body: (Int, Int, Int) -> Void) {
    BLAS.singleThreaded {
        Parallel.perform(workers) { w in
            for c in (w * chunks / workers)..<((w + 1) * chunks / workers) {
                body(w, c * chunk, min(frames, (c + 1) * chunk))
            }
        }
    }
}

/// y[p, c] += bias[c] for every row p.
func addBiasRows(_ y: Tensor, _ bias: Tensor) {
    let C = bias.count, rows = y.count / C
    Parallel.forRanges(rows, minChunk: 1024) { r in
        for p in r { let row = y.data + p * C; for c in 0..<C { row[c] += bias.data[c] } }
    }
}

/// into[c] += Σ_p dy[p, c].
func sumRows(_ dy: Tensor, into out: Tensor) {
    let C = out.count, rows = dy.count / C
    for p in 0..<rows { let row = dy.data + p * C; for c in 0..<C { out.data[c] += row[c] } }
}

/// A causal (or `lookahead`) 3D convolution layer owning its weight [kt, kh, kw, Cin, Cout], bias [Cout] and buffers.
public final class Conv3d: ParameterOwner {
    public let geometry: Conv3dGeometry
    public let weight: Parameter
    public let bias: Parameter?
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var col: Tensor { ConvColumns.current }
    private let scratch = Conv3dScratch()

    public init(name: String, inChannels: Int, outChannels: Int, kernel: (t: Int, h: Int, w: Int),
                stride: (t: Int, h: Int, w: Int) = (1, 1, 1), bias: Bool = true,
                temporalPadding: TemporalPadding = .replicate, lookahead: Int = 0, rng: inout SeededRandom) {
        precondition(lookahead >= 0 && lookahead < kernel.t, "a conv's lookahead must leave its first tap in the window or before")
        geometry = Conv3dGeometry(kernel: kernel, stride: stride, inChannels: inChannels, outChannels: outChannels,
                                  temporalPadding: temporalPadding, lookahead: lookahead)
        weight = Parameter("\(name).weight", shape: [kernel.t, kernel.h, kernel.w, inChannels, outChannels])
        // Kaiming-uniform for a SiLU/ReLU-like nonlinearity: U(−b, b), b = sqrt(6 / fan_in).
        let bound = (6.0 / Float(geometry.k)).squareRoot()
        for i in 0..<weight.value.count { weight.value[i] = (rng.uniform() * 2 - 1) * bound }
        self.bias = bias ? Parameter("\(name).bias", shape: [outChannels], decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// When false, `backward` writes dx only and leaves weight.grad and bias.grad alone (a gradient with respect to
    /// the input, at about half the cost).
    public var accumulatesParameterGradients = true

    /// x [T, H, W, Cin] → layer-owned y, valid until the next forward.
    public func forward(_ x: Tensor) -> Tensor { forward(x, into: output) }

    /// The same into the caller's `y` (not x).
    @discardableResult
    public func forward(_ x: Tensor, into y: Tensor) -> Tensor {
        precondition(x !== y, "a conv writes its output beside its input")
        input = x
        conv3dForward(x: x, weight: weight.value, bias: bias?.value, geometry: geometry, y: y, col: col)
        return y
    }

    /// dy → layer-owned dx; accumulates into weight.grad and bias.grad.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv3d.backward before forward") }
        let grads = accumulatesParameterGradients
        conv3dBackward(x: x, weight: weight.value, geometry: geometry, dy: dy, dx: gradInput,
                       dWeight: grads ? weight.grad : nil, dBias: grads ? bias?.grad : nil, col: col, scratch: scratch)
        return gradInput
    }
}
