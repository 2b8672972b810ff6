// Element-wise activations with their derivatives, as layers that cache their input:
// SiLU x·σ(x); GELU exact (x·Φ(x), erf — what BERT uses) or tanh approximation; Sigmoid.
// All loops are split over the cores with Parallel.forRanges.
import CKernels
import Foundation

@inline(__always) func sigmoidf(_ x: Float) -> Float { 1 / (1 + expf(-x)) }

public enum GELUApproximation: Sendable { case exact, tanh }

/// Shared shape of an element-wise layer: y = f(x), dx = dy · f'(x).
public class ElementwiseLayer {
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    public init() {}

    func f(_ x: Float) -> Float { x }
    func df(_ x: Float) -> Float { 1 }

    public func forward(_ x: Tensor) -> Tensor { forward(x, into: output) }

    /// y = f(x) into the caller's `y` (which may be x itself); a backward after it needs x unchanged.
    @discardableResult
    public func forward(_ x: Tensor, into y: Tensor) -> Tensor {
        input = x
        y.resize(x.shape)
        let src = x.data, dst = y.data
        Parallel.forRanges(x.count) { r in self.forwardRun(src + r.lowerBound, dst + r.lowerBound, count: r.count) }
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("backward before forward") }
        gradInput.resize(x.shape)
        let src = x.data, g = dy.data, dst = gradInput.data
        Parallel.forRanges(x.count) { r in
            self.backwardRun(src + r.lowerBound, g + r.lowerBound, dst + r.lowerBound, count: r.count)
        }
        return gradInput
    }

    /// y[i] = f(x[i]) for a run of elements: one dynamic call per run, not per element; a layer with a
    /// vector form overrides this.
    func forwardRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { y[i] = f(x[i]) }
    }

    /// dx[i] = dy[i] · f′(x[i]) for a run of elements.
    func backwardRun(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count n: Int) {
        for i in 0..<n { dx[i] = dy[i] * df(x[i]) }
    }
}

public final class SiLU: ElementwiseLayer {
    override func f(_ x: Float) -> Float { x * sigmoidf(x) }
    override func df(_ x: Float) -> Float { let s = sigmoidf(x); return s * (1 + x * (1 - s)) }

    // 16 lanes with ExpKernel's exp (relative error ≈ 2e-7 against expf); the tail uses the scalar forms.
    // Swift runs SIMD16 division lane by lane (sixteen divss), so where the CPU has AVX-512 or AVX2 the lanes run in C
    // (hv_silu_forward / hv_silu_backward: the same operations in the same order, bit-identical).
    override func forwardRun(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        if ElementwiseKernels.available { hv_silu_forward(x, y, n); i = n - n % 16 }
        Self.forward(x, y, from: i, count: n)
    }

    override func backwardRun(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>, count n: Int) {
        var i = 0
        if ElementwiseKernels.available { hv_silu_backward(x, dy, dx, n); i = n - n % 16 }
        Self.backward(x, dy, dx, from: i, count: n)
    }

    /// Elements from..<count in Swift: 16 lanes, then the scalar forms for the tail.
    static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, from start: Int, count n: Int) {
        var i = start
        while i + 16 <= n {
            let v = SIMD16<Float>.load(x + i)
            (v / (1 + ExpKernel.exp(-v))).store(y + i)
            i += 16
        }
        while i < n { y[i] = x[i] * sigmoidf(x[i]); i += 1 }
    }

    static func backward(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                         from start: Int, count n: Int) {
        var i = start
        while i + 16 <= n {
            let v = SIMD16<Float>.load(x + i)
            let s = 1 / (1 + ExpKernel.exp(-v))
            (SIMD16<Float>.load(dy + i) * s * (1 + v * (1 - s))).store(dx + i)
            i += 16
        }
        while i < n { let s = sigmoidf(x[i]); dx[i] = dy[i] * (s * (1 + x[i] * (1 - s))); i += 1 }
    }
}

public final class Sigmoid: ElementwiseLayer {
    override func f(_ x: Float) -> Float { sigmoidf(x) }
    override func df(_ x: Float) -> Float { let s = sigmoidf(x); return s * (1 - s) }
}

public final class GELU: ElementwiseLayer {
    public let approximation: GELUApproximation
    public init(approximation: GELUApproximation = .exact) { self.approximation = approximation; super.init() }

    override func f(_ x: Float) -> Float { geluForward(x, approximation) }
    override func df(_ x: Float) -> Float { geluDerivative(x, approximation) }
}

@inline(__always) public func geluForward(_ x: Float, _ a: GELUApproximation) -> Float {
    switch a {
    case .exact: return 0.5 * x * (1 + erff(x * 0.70710678))
    case .tanh:
        let k: Float = 0.7978845608  // sqrt(2/π)
        return 0.5 * x * (1 + tanhf(k * (x + 0.044715 * x * x * x)))
    }
}

@inline(__always) public func geluDerivative(_ x: Float, _ a: GELUApproximation) -> Float {
    switch a {
    case .exact:
        let cdf = 0.5 * (1 + erff(x * 0.70710678))
        let pdf = expf(-0.5 * x * x) * 0.3989422804
        return cdf + x * pdf
    case .tanh:
        let k: Float = 0.7978845608
        let u = k * (x + 0.044715 * x * x * x)
        let t = tanhf(u)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * k * (1 + 3 * 0.044715 * x * x)
    }
}
