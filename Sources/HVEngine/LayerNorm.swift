// Layer normalisation over the last axis (Ba et al. 2016; torch.nn.LayerNorm): y = (x − μ)/√(σ² + ε)·w + b.
// Backward as in llm.c: dx = rstd·(dŷ − mean(dŷ) − x̂·mean(dŷ·x̂)), dŷ = dy·w; dw += Σ dy·x̂, db += Σ dy.

/// x, y: [N, C]; mean, rstd: [N] saved for backward.
public func layerNormForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                             y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                             rows n: Int, channels c: Int, eps: Float) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(c, 1))) { r in
        for i in r {
            let xi = x + i * c, yi = y + i * c
            var s: Float = 0
            for j in 0..<c { s += xi[j] }
            let m = s / Float(c)
            var v: Float = 0
            for j in 0..<c { let d = xi[j] - m; v += d * d }
            let rs = 1 / (v / Float(c) + eps).squareRoot()
            mean[i] = m; rstd[i] = rs
            if let bias { for j in 0..<c { yi[j] = (xi[j] - m) * rs * weight[j] + bias[j] } }
            else { for j in 0..<c { yi[j] = (xi[j] - m) * rs * weight[j] } }
        }
    }
}

/// dx overwritten; dWeight, dBias accumulated.
public func layerNormBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>, dx: UnsafeMutablePointer<Float>,
                              dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?, rows n: Int, channels c: Int) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(c, 1))) { r in
        for i in r {
            let xi = x + i * c, dyi = dy + i * c, dxi = dx + i * c
            let m = mean[i], rs = rstd[i]
            var sumD: Float = 0, sumDX: Float = 0
            for j in 0..<c { let d = dyi[j] * weight[j]; sumD += d; sumDX += d * (xi[j] - m) * rs }
            sumD /= Float(c); sumDX /= Float(c)
            for j in 0..<c { let xh = (xi[j] - m) * rs; dxi[j] = rs * (dyi[j] * weight[j] - sumD - xh * sumDX) }
        }
    }
    // Parameter gradients: column sums, parallel over channel chunks (each thread owns its columns).
    Parallel.forRanges(c, minChunk: 64) { r in
        for i in 0..<n {
            let xi = x + i * c, dyi = dy + i * c, m = mean[i], rs = rstd[i]
            for j in r { dWeight[j] += dyi[j] * (xi[j] - m) * rs; dBias?[j] += dyi[j] }
        }
    }
}

public final class LayerNorm: ParameterOwner {
    public let dim: Int
    public let eps: Float
    /// name + ".weight" (ones), name + ".bias" (zeros); neither decays.
    public let weight: Parameter, bias: Parameter
    public let output = Tensor(shape: [0]), gradInput = Tensor(shape: [0])
    let mean = Tensor(shape: [0]), rstd = Tensor(shape: [0])
    private var input: Tensor?
    public var parameters: [Parameter] { [weight, bias] }

    public init(name: String, dim: Int, eps: Float = 1e-5) {
        self.dim = dim; self.eps = eps
        weight = Parameter(name + ".weight", shape: [dim], decays: false)
        bias = Parameter(name + ".bias", shape: [dim], decays: false)
        weight.value.fill(1)
    }

    /// x: [..., dim] -> layer-owned y of the same shape.
    public func forward(_ x: Tensor) -> Tensor {
        let n = x.count / dim
        output.resize(x.shape); mean.resize([n]); rstd.resize([n])
        layerNormForward(x: x.data, weight: weight.value.data, bias: bias.value.data, y: output.data, mean: mean.data,
                         rstd: rstd.data, rows: n, channels: dim, eps: eps)
        input = x
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { return gradInput }
        gradInput.resize(x.shape)
        layerNormBackward(dy: dy.data, x: x.data, weight: weight.value.data, mean: mean.data, rstd: rstd.data, dx: gradInput.data,
                          dWeight: weight.grad.data, dBias: bias.grad.data, rows: x.count / dim, channels: dim)
        return gradInput
    }
}
