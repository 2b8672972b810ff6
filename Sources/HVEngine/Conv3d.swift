// Causal 3D convolution, channels-last: x [T, H, W, Cin] → y [T', H', W', Cout] with weight
// [kt, kh, kw, Cin, Cout]. Causal in time: the kernel's last tap is aligned with the last frame of
// output t's window, input frame t·st + st − 1, and the taps before it reach into the past; frames
// before the first are the first frame repeated (`.replicate`) or zeros. So output t sees exactly the
// input frames ≤ (t+1)·st − 1 — with a stride of 2 it sees both of its own frames (padding kt−1 in
// front instead would never show the last frame of a clip to any output). "Same" in space ((k−1)/2
// zeros each side). T' = ceil(T/st), H' = ceil(H/sh), W' = ceil(W/sw); when T is not a multiple of st
// the last window repeats the last frame.
// The work is one SGEMM per chunk of output frames: im2col [P, K] · W [K, Cout] (K = kt·kh·kw·Cin);
// backward is two SGEMMs (dW += colᵀ·dy, dcol = dy·Wᵀ) and a col2im scatter split by input channel so
// the two cores never write the same element. A naive 7-loop reference lives in Conv3dReference.swift.
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

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.inChannels == b.inChannels
            && a.outChannels == b.outChannels && a.temporalPadding == b.temporalPadding
    }

    var padH: Int { (kernel.h - 1) / 2 }
    var padW: Int { (kernel.w - 1) / 2 }
    /// Offset of the first tap relative to the window's first frame (negative: reaches into the past).
    var firstTap: Int { stride.t - kernel.t }
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
func conv3dIm2col(_ x: UnsafePointer<Float>, xShape: [Int], g: Conv3dGeometry, t0: Int, t1: Int,
                  col: UnsafeMutablePointer<Float>) {
    let T = xShape[0], H = xShape[1], W = xShape[2], C = xShape[3]
    let Ho = (H + g.stride.h - 1) / g.stride.h, Wo = (W + g.stride.w - 1) / g.stride.w
    let K = g.k, kh = g.kernel.h, kw = g.kernel.w, kt = g.kernel.t
    let rows = (t1 - t0) * Ho * Wo
    Parallel.forRanges(rows, minChunk: 256) { range in
        for r in range {
            let to = t0 + r / (Ho * Wo), ho = (r / Wo) % Ho, wo = r % Wo
            var dst = col + r * K
            for a in 0..<kt {
                let ti = g.inputFrame(to, a, frames: T)
                for b in 0..<kh {
                    let hi = ho * g.stride.h + b - g.padH
                    for c in 0..<kw {
                        let wi = wo * g.stride.w + c - g.padW
                        if let ti, hi >= 0, hi < H, wi >= 0, wi < W {
                            dst.update(from: x + ((ti * H + hi) * W + wi) * C, count: C)
                        } else {
                            dst.update(repeating: 0, count: C)
                        }
                        dst += C
                    }
                }
            }
        }
    }
}

/// col2im (adds into dx) for output frames [t0, t1); work split by input channel.
func conv3dCol2im(_ dcol: UnsafePointer<Float>, xShape: [Int], g: Conv3dGeometry, t0: Int, t1: Int,
                  dx: UnsafeMutablePointer<Float>) {
    let T = xShape[0], H = xShape[1], W = xShape[2], C = xShape[3]
    let Ho = (H + g.stride.h - 1) / g.stride.h, Wo = (W + g.stride.w - 1) / g.stride.w
    let K = g.k, kh = g.kernel.h, kw = g.kernel.w, kt = g.kernel.t
    let rows = (t1 - t0) * Ho * Wo
    let split = min(Parallel.workers, C)
    let per = (C + split - 1) / split
    DispatchQueue.concurrentPerform(iterations: split) { s in
        let c0 = s * per, c1 = min(C, c0 + per)
        if c0 >= c1 { return }
        let n = c1 - c0
        for r in 0..<rows {
            let to = t0 + r / (Ho * Wo), ho = (r / Wo) % Ho, wo = r % Wo
            var src = dcol + r * K + c0
            for a in 0..<kt {
                let ti = g.inputFrame(to, a, frames: T)
                for b in 0..<kh {
                    let hi = ho * g.stride.h + b - g.padH
                    for c in 0..<kw {
                        let wi = wo * g.stride.w + c - g.padW
                        if let ti, hi >= 0, hi < H, wi >= 0, wi < W {
                            let d = dx + ((ti * H + hi) * W + wi) * C + c0
                            for i in 0..<n { d[i] += src[i] }
                        }
                        src += C
                    }
                }
            }
        }
    }
}

/// Output frames per im2col chunk so that the column buffer stays under `maxFloats`.
func conv3dChunkFrames(outShape: [Int], k: Int, maxFloats: Int = 16 << 20) -> Int {
    let perFrame = outShape[1] * outShape[2] * k
    return max(1, min(outShape[0], maxFloats / max(perFrame, 1)))
}

/// y = conv(x, w) + bias. x [T,H,W,Cin], w [kt,kh,kw,Cin,Cout], bias [Cout] or nil, y resized to the output shape.
/// `col` is scratch space (resized as needed).
public func conv3dForward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor, col: Tensor) {
    let outShape = g.outputShape(x.shape)
    y.resize(outShape)
    let Cout = g.outChannels, K = g.k
    let pointwise = g.kernel == (1, 1, 1) && g.stride == (1, 1, 1)
    if pointwise {
        let P = x.count / g.inChannels
        BLAS.gemm(m: P, n: Cout, k: K, a: x.data, lda: K, b: weight.data, ldb: Cout, c: y.data, ldc: Cout)
    } else {
        let chunk = conv3dChunkFrames(outShape: outShape, k: K)
        let planeRows = outShape[1] * outShape[2]
        col.resize([chunk * planeRows * K])
        var t0 = 0
        while t0 < outShape[0] {
            let t1 = min(outShape[0], t0 + chunk)
            conv3dIm2col(x.data, xShape: x.shape, g: g, t0: t0, t1: t1, col: col.data)
            let rows = (t1 - t0) * planeRows
            BLAS.gemm(m: rows, n: Cout, k: K, a: col.data, lda: K, b: weight.data, ldb: Cout,
                      c: y.data + t0 * planeRows * Cout, ldc: Cout)
            t0 = t1
        }
    }
    if let bias { addBiasRows(y, bias) }
}

/// Accumulates dW (and dbias) and writes dx (resized to x's shape) for y = conv(x, w) + bias.
public func conv3dBackward(x: Tensor, weight: Tensor, geometry g: Conv3dGeometry, dy: Tensor,
                           dx: Tensor, dWeight: Tensor, dBias: Tensor?, col: Tensor) {
    let outShape = dy.shape
    let Cout = g.outChannels, K = g.k
    dx.resize(x.shape)
    dx.zero()
    if let dBias { sumRows(dy, into: dBias) }
    let pointwise = g.kernel == (1, 1, 1) && g.stride == (1, 1, 1)
    if pointwise {
        let P = x.count / g.inChannels
        BLAS.gemm(transA: true, m: K, n: Cout, k: P, a: x.data, lda: K, b: dy.data, ldb: Cout, beta: 1, c: dWeight.data, ldc: Cout)
        BLAS.gemm(transB: true, m: P, n: K, k: Cout, a: dy.data, lda: Cout, b: weight.data, ldb: Cout, c: dx.data, ldc: K)
        return
    }
    let chunk = conv3dChunkFrames(outShape: outShape, k: K, maxFloats: 8 << 20)
    let planeRows = outShape[1] * outShape[2]
    col.resize([2 * chunk * planeRows * K])
    let dcol = col.data + chunk * planeRows * K
    var t0 = 0
    while t0 < outShape[0] {
        let t1 = min(outShape[0], t0 + chunk)
        let rows = (t1 - t0) * planeRows
        let dyChunk = dy.data + t0 * planeRows * Cout
        conv3dIm2col(x.data, xShape: x.shape, g: g, t0: t0, t1: t1, col: col.data)
        BLAS.gemm(transA: true, m: K, n: Cout, k: rows, a: col.data, lda: K, b: dyChunk, ldb: Cout, beta: 1, c: dWeight.data, ldc: Cout)
        BLAS.gemm(transB: true, m: rows, n: K, k: Cout, a: dyChunk, lda: Cout, b: weight.data, ldb: Cout, c: dcol, ldc: K)
        conv3dCol2im(dcol, xShape: x.shape, g: g, t0: t0, t1: t1, dx: dx.data)
        t0 = t1
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

/// A causal 3D convolution layer owning its weight [kt, kh, kw, Cin, Cout], bias [Cout] and buffers.
public final class Conv3d: ParameterOwner {
    public let geometry: Conv3dGeometry
    public let weight: Parameter
    public let bias: Parameter?
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private let col = Tensor(shape: [0])

    public init(name: String, inChannels: Int, outChannels: Int, kernel: (t: Int, h: Int, w: Int),
                stride: (t: Int, h: Int, w: Int) = (1, 1, 1), bias: Bool = true,
                temporalPadding: TemporalPadding = .replicate, rng: inout SeededRandom) {
        geometry = Conv3dGeometry(kernel: kernel, stride: stride, inChannels: inChannels, outChannels: outChannels,
                                  temporalPadding: temporalPadding)
        weight = Parameter("\(name).weight", shape: [kernel.t, kernel.h, kernel.w, inChannels, outChannels])
        // Kaiming-uniform for a SiLU/ReLU-like nonlinearity: U(−b, b), b = sqrt(6 / fan_in).
        let bound = (6.0 / Float(geometry.k)).squareRoot()
        for i in 0..<weight.value.count { weight.value[i] = (rng.uniform() * 2 - 1) * bound }
        self.bias = bias ? Parameter("\(name).bias", shape: [outChannels], decays: false) : nil
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }

    /// x [T, H, W, Cin] → layer-owned y, valid until the next forward.
    public func forward(_ x: Tensor) -> Tensor {
        input = x
        conv3dForward(x: x, weight: weight.value, bias: bias?.value, geometry: geometry, y: output, col: col)
        return output
    }

    /// dy → layer-owned dx; accumulates into weight.grad and bias.grad.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Conv3d.backward before forward") }
        conv3dBackward(x: x, weight: weight.value, geometry: geometry, dy: dy, dx: gradInput,
                       dWeight: weight.grad, dBias: bias?.grad, col: col)
        return gradInput
    }
}
