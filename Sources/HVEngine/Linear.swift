// Fully connected layer y = x·Wᵀ + b (torch.nn.Linear; weight [out, in] as in PyTorch/safetensors, so
// Hugging Face weights load directly). Forward and both weight gradients are single SGEMM calls.

/// y[N, out] = x[N, in] · w[out, in]ᵀ (+ b[out]).
public func linearForward(x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                          y: UnsafeMutablePointer<Float>, rows n: Int, inFeatures: Int, outFeatures: Int) {
    BLAS.gemm(transB: true, m: n, n: outFeatures, k: inFeatures, a: x, lda: inFeatures, b: weight, ldb: inFeatures,
              c: y, ldc: outFeatures)
    if let bias {
        Parallel.forRanges(n, minChunk: Swift.max(1, 16_384 / Swift.max(outFeatures, 1))) { r in
            for i in r { let row = y + i * outFeatures; for j in 0..<outFeatures { row[j] += bias[j] } }
        }
    }
}

/// dx[N, in] = dy·w (overwritten, skipped when nil); dw[out, in] += dyᵀ·x; db[out] += Σ_rows dy.
public func linearBackward(dy: UnsafePointer<Float>, x: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                           dx: UnsafeMutablePointer<Float>?, dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?,
                           rows n: Int, inFeatures: Int, outFeatures: Int) {
    if let dx {
        BLAS.gemm(m: n, n: inFeatures, k: outFeatures, a: dy, lda: outFeatures, b: weight, ldb: inFeatures, c: dx, ldc: inFeatures)
    }
    BLAS.gemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy, lda: outFeatures, b: x, ldb: inFeatures,
              beta: 1, c: dWeight, ldc: inFeatures)
    if let dBias {
        Parallel.forRanges(outFeatures, minChunk: 64) { r in
            for j in r { var s: Float = 0; for i in 0..<n { s += dy[i * outFeatures + j] }; dBias[j] += s }
        }
    }
}

public final class Linear: ParameterOwner {
    public let inFeatures: Int, outFeatures: Int
    /// name + ".weight", [out, in].
    public let weight: Parameter
    /// name + ".bias", [out] (no weight decay).
    public let bias: Parameter?
    public let output = Tensor(shape: [0])
    public let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// Initialised as torch.nn.Linear: U(−1/√in, 1/√in) for weight and bias.
    public init(name: String, inFeatures: Int, outFeatures: Int, bias: Bool = true, rng: inout SeededRandom) {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(name + ".weight", shape: [outFeatures, inFeatures])
        self.bias = bias ? Parameter(name + ".bias", shape: [outFeatures], decays: false) : nil
        let bound = 1 / Float(Swift.max(inFeatures, 1)).squareRoot()
        for i in 0..<weight.value.count { weight.value[i] = (2 * rng.uniform() - 1) * bound }
        if let b = self.bias { for i in 0..<outFeatures { b.value[i] = (2 * rng.uniform() - 1) * bound } }
    }

    /// x: [..., in] -> layer-owned [..., out]. Keeps a reference to x for backward.
    public func forward(_ x: Tensor) -> Tensor {
        let n = x.count / inFeatures
        output.resize(Array(x.shape.dropLast()) + [outFeatures])
        linearForward(x: x.data, weight: weight.value.data, bias: bias?.value.data, y: output.data,
                      rows: n, inFeatures: inFeatures, outFeatures: outFeatures)
        input = x
        return output
    }

    /// The same with `half`, this layer's half-precision weight, for inputs of at most `maxRows` rows (a decoding
    /// step); anything else, or nil, runs the float32 product.
    public func forward(_ x: Tensor, half: HalfWeight?, maxRows: Int = HalfWeight.maxRows) -> Tensor {
        let n = x.count / inFeatures
        guard let half, n <= maxRows, half.inFeatures == inFeatures, half.outFeatures == outFeatures else {
            return forward(x)
        }
        output.resize(Array(x.shape.dropLast()) + [outFeatures])
        half.forward(x: x.data, rows: n, bias: bias?.value.data, y: output.data)
        input = x
        return output
    }

    /// dy: [..., out] -> layer-owned dx [..., in]; accumulates into weight.grad and bias.grad.
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { return gradInput }
        gradInput.resize(x.shape)
        linearBackward(dy: dy.data, x: x.data, weight: weight.value.data, dx: gradInput.data, dWeight: weight.grad.data,
                       dBias: bias?.grad.data, rows: x.count / inFeatures, inFeatures: inFeatures, outFeatures: outFeatures)
        return gradInput
    }
}
