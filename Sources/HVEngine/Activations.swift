// Element-wise activations with their derivatives, as layers that cache their input:
// SiLU x·σ(x); GELU exact (x·Φ(x), erf — what BERT uses) or tanh approximation; Sigmoid.
// All loops are split over the cores with Parallel.forRanges.
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

    public func forward(_ x: Tensor) -> Tensor {
        input = x
        output.resize(x.shape)
        let src = x.data, dst = output.data
        Parallel.forRanges(x.count) { r in for i in r { dst[i] = self.f(src[i]) } }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("backward before forward") }
        gradInput.resize(x.shape)
        let src = x.data, g = dy.data, dst = gradInput.data
        Parallel.forRanges(x.count) { r in for i in r { dst[i] = g[i] * self.df(src[i]) } }
        return gradInput
    }
}

public final class SiLU: ElementwiseLayer {
    override func f(_ x: Float) -> Float { x * sigmoidf(x) }
    override func df(_ x: Float) -> Float { let s = sigmoidf(x); return s * (1 + x * (1 - s)) }
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
