// Root-mean-square normalisation over the last axis (Zhang & Sennrich 2019; torch.nn.RMSNorm):
// y = x·r·w with r = 1/√(mean(x²) + ε). Backward: dx = r·(dy·w − x·r²·mean(dy·w·x)); dw += Σ dy·x·r.

/// x, y: [N, C]; rstd: [N] saved for backward.
public func rmsNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
                           rstd: UnsafeMutablePointer<Float>, rows n: Int, channels c: Int, eps: Float) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(c, 1))) { r in
        for i in r {
            let xi = x + i * c, yi = y + i * c
            var s: Float = 0
            for j in 0..<c { s += xi[j] * xi[j] }
            let rs = 1 / (s / Float(c) + eps).squareRoot()
            rstd[i] = rs
            for j in 0..<c { yi[j] = xi[j] * rs * weight[j] }
        }
    }
}

/// dx overwritten; dWeight accumulated.
public func rmsNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                            rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>, dWeight: UnsafeMutablePointer<Float>,
                            rows n: Int, channels c: Int) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(c, 1))) { r in
        for i in r {
            let xi = x + i * c, dyi = dy + i * c, dxi = dx + i * c, rs = rstd[i]
            var dot: Float = 0
            for j in 0..<c { dot += dyi[j] * weight[j] * xi[j] }
            let k = rs * rs * dot / Float(c)
            for j in 0..<c { dxi[j] = rs * (dyi[j] * weight[j] - xi[j] * k) }
        }
    }
    Parallel.forRanges(c, minChunk: 64) { r in
        for i in 0..<n {
            let xi = x + i * c, dyi = dy + i * c, rs = rstd[i]
            for j in r { dWeight[j] += dyi[j] * xi[j] * rs }
        }
    }
}

public final class RMSNorm: ParameterOwner {
    public let dim: Int
    public let eps: Float
    /// name + ".weight" (ones, no decay).
    public let weight: Parameter
    public let output = Tensor(shape: [0]), gradInput = Tensor(shape: [0])
    let rstd = Tensor(shape: [0])
    private var input: Tensor?
    public var parameters: [Parameter] { [weight] }

    public init(name: String, dim: Int, eps: Float = 1e-6) {
        self.dim = dim; self.eps = eps
        weight = Parameter(name + ".weight", shape: [dim], decays: false)
        weight.value.fill(1)
    }

    /// x: [..., dim] -> layer-owned y of the same shape.
    public func forward(_ x: Tensor) -> Tensor { forward(x, into: output) }

    /// The same into the caller's `y` (not x).
    @discardableResult
    public func forward(_ x: Tensor, into y: Tensor) -> Tensor {
        precondition(x !== y, "RMSNorm writes its output beside its input")
        let n = x.count / dim
        y.resize(x.shape); rstd.resize([n])
        rmsNormForward(x: x.data, weight: weight.value.data, y: y.data, rstd: rstd.data, rows: n, channels: dim, eps: eps)
        input = x
        return y
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { return gradInput }
        gradInput.resize(x.shape)
        rmsNormBackward(dy: dy.data, x: x.data, weight: weight.value.data, rstd: rstd.data, dx: gradInput.data,
                        dWeight: weight.grad.data, rows: x.count / dim, channels: dim)
        return gradInput
    }
}
