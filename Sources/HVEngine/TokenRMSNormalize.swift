// Per-token RMS normalisation without parameters: y = x / sqrt(mean_i x_i² + eps) over the last axis.
// Used in front of LFQ (as binary spherical quantisation normalises onto the sphere): sign(y) = sign(x),
// so codes are unchanged, but the commitment and entropy terms see unit-scale inputs and stay bounded —
// without it the pre-quantisation activations of a residual layer can grow without limit and their
// auxiliary gradients swamp the reconstruction gradient under global-norm clipping.

public final class TokenRMSNormalize {
    public let eps: Float
    private var input: Tensor?
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    private var inverseRMS: [Float] = []

    public init(eps: Float = 1e-6) { self.eps = eps }

    public func forward(_ x: Tensor) -> Tensor {
        input = x
        output.resize(x.shape)
        let d = x.shape[x.rank - 1], n = x.count / d
        if inverseRMS.count != n { inverseRMS = [Float](repeating: 0, count: n) }
        for t in 0..<n {
            var s: Float = 0
            for i in 0..<d { let v = x[t * d + i]; s += v * v }
            let r = 1 / (s / Float(d) + eps).squareRoot()
            inverseRMS[t] = r
            for i in 0..<d { output[t * d + i] = x[t * d + i] * r }
        }
        return output
    }

    /// dx = r·(dy − y·mean(dy·y)).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("TokenRMSNormalize.backward before forward") }
        gradInput.resize(x.shape)
        let d = x.shape[x.rank - 1], n = x.count / d
        for t in 0..<n {
            let r = inverseRMS[t]
            var dot: Float = 0
            for i in 0..<d { dot += dy[t * d + i] * x[t * d + i] * r }
            dot /= Float(d)
            for i in 0..<d { gradInput[t * d + i] = r * (dy[t * d + i] - x[t * d + i] * r * dot) }
        }
        return gradInput
    }
}
