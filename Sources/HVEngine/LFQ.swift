// Lookup-free quantisation (MAGVIT-v2: Yu et al. 2024, "Language Model Beats Diffusion", §3.1, eq. 4–5).
// x: [N, d] -> q = sign(x) ∈ {−1, +1}^d (x > 0 -> +1, x ≤ 0 -> −1), straight-through gradient dx = dq.
// Code index = Σ_i bit_i · 2^i with bit_i = 1 iff x[n, i] > 0: channel 0 is the least significant bit.
// Losses: commitment mean((x − sg(q))²); entropy penalty H_sample − γ·H_codebook at temperature τ, with the
// per-token code distribution softmax_c(2·x·c/τ) = Π_i Bernoulli(σ(4·x_i/τ)) (see `LFQCodebookEntropy`).
import Foundation

/// Valid code widths: indices are Int32.
public let lfqValidBits = 1...31

/// Sign quantisation. x, q: [n, bits]; indices: [n] (bit i = x[·, i] > 0, index = Σ bit_i·2^i).
public func lfqQuantize(x: UnsafePointer<Float>, count n: Int, bits d: Int,
                        q: UnsafeMutablePointer<Float>, indices: UnsafeMutablePointer<Int32>) {
    Parallel.forRanges(n, minChunk: 1024) { r in
        for t in r {
            var code: UInt32 = 0
            for i in 0..<d {
                let positive = x[t * d + i] > 0
                q[t * d + i] = positive ? 1 : -1
                if positive { code |= 1 << UInt32(i) }
            }
            indices[t] = Int32(bitPattern: code)
        }
    }
}

/// The ±1 code vectors of `indices` (the decoder's input for given codes): -> [indices.count, bits].
public func lfqLookup(indices: [Int32], bits d: Int, into q: Tensor) {
    q.resize([indices.count, d])
    for (t, code) in indices.enumerated() {
        let c = UInt32(bitPattern: code)
        for i in 0..<d { q.data[t * d + i] = (c >> UInt32(i)) & 1 == 1 ? 1 : -1 }
    }
}

public func lfqLookup(indices: [Int32], bits d: Int) -> Tensor {
    let q = Tensor(shape: [indices.count, d])
    lfqLookup(indices: indices, bits: d, into: q)
    return q
}

/// Commitment loss mean((x − q)²) over `count` elements.
public func lfqCommitmentLoss(x: UnsafePointer<Float>, q: UnsafePointer<Float>, count: Int) -> Float {
    var s: Double = 0
    for i in 0..<count { let e = Double(x[i] - q[i]); s += e * e }
    return count == 0 ? 0 : Float(s / Double(count))
}

/// dx += scale · d mean((x − sg(q))²)/dx = scale · 2(x − q)/count.
public func lfqCommitmentBackward(x: UnsafePointer<Float>, q: UnsafePointer<Float>, count: Int, scale: Float,
                                  dx: UnsafeMutablePointer<Float>) {
    guard count > 0 else { return }
    let k = 2 * scale / Float(count)
    Parallel.forRanges(count, minChunk: 16_384) { r in for i in r { dx[i] += k * (x[i] - q[i]) } }
}

@inline(__always) func lfqSigmoid(_ z: Float) -> Float {
    z >= 0 ? 1 / (1 + expf(-z)) : { let e = expf(z); return e / (1 + e) }()
}

/// Mean over tokens of the per-token code entropy (nats): (1/n) Σ_t Σ_i h(σ(4·x[t,i]/τ)),
/// h(σ(z)) = softplus(z) − z·σ(z) (stable for large |z|). x: [n, bits].
public func lfqSampleEntropy(x: UnsafePointer<Float>, count n: Int, bits d: Int, temperature tau: Float) -> Float {
    guard n > 0 else { return 0 }
    var s: Double = 0
    for j in 0..<(n * d) {
        let z = 4 * x[j] / tau
        let softplus = max(z, 0) + log1pf(expf(-abs(z)))
        s += Double(softplus - z * lfqSigmoid(z))
    }
    return Float(s / Double(n))
}

/// dx += scale · d(sample entropy)/dx, with dh/dz = −z·σ(z)·(1 − σ(z)) and dz/dx = 4/τ.
public func lfqSampleEntropyBackward(x: UnsafePointer<Float>, count n: Int, bits d: Int, temperature tau: Float,
                                     scale: Float, dx: UnsafeMutablePointer<Float>) {
    guard n > 0 else { return }
    let k = scale * 4 / (tau * Float(n))
    Parallel.forRanges(n * d, minChunk: 16_384) { r in
        for j in r {
            let z = 4 * x[j] / tau
            let p = lfqSigmoid(z)
            dx[j] += k * (-z * p * (1 - p))
        }
    }
}

/// Naive reference for the codebook entropy: the explicit sum over all 2^bits codes (Double). For tests.
public func lfqCodebookEntropyNaive(x: [Float], count n: Int, bits d: Int, temperature tau: Float) -> Double {
    var probs = [Double](repeating: 0, count: n * d)
    for j in 0..<(n * d) { probs[j] = 1 / (1 + exp(-4 * Double(x[j]) / Double(tau))) }
    var h: Double = 0
    for c in 0..<(1 << d) {
        var pc: Double = 0
        for t in 0..<n {
            var prod: Double = 1
            for i in 0..<d { let p = probs[t * d + i]; prod *= (c >> i) & 1 == 1 ? p : 1 - p }
            pc += prod
        }
        pc /= Double(n)
        if pc > 0 { h -= pc * log(pc) }
    }
    return h
}

/// Convenience layer: quantise, compute the losses, and back-propagate them with the straight-through
/// estimator. Loss = commitmentWeight·mean((x−sg(q))²) + entropyWeight·(H_sample − diversityWeight·H_codebook).
/// The layer keeps a reference to the forward input for `backward`; do not modify it in between.
public final class LFQ {
    public let bits: Int
    /// τ of the entropy terms.
    public var temperature: Float
    /// q: [N, bits] of ±1 (layer-owned, reused).
    public let output = Tensor(shape: [0])
    /// Code of each row of the last forward.
    public private(set) var indices: [Int32] = []
    public private(set) var commitmentLoss: Float = 0
    public private(set) var sampleEntropy: Float = 0
    public private(set) var codebookEntropy: Float = 0
    /// H_sample − H_codebook of the last forward (MAGVIT-v2's entropy penalty with γ = 1).
    public var entropyPenalty: Float { sampleEntropy - codebookEntropy }

    public let codebook: LFQCodebookEntropy
    private let gradInput = Tensor(shape: [0])
    private var input: Tensor?

    /// `lowBits` sets the split of the exact codebook entropy (default bits/2); see `LFQCodebookEntropy`.
    public init(bits: Int, temperature: Float = 1, lowBits: Int? = nil) {
        precondition(lfqValidBits.contains(bits), "LFQ bits must be in \(lfqValidBits)")
        self.bits = bits
        self.temperature = temperature
        codebook = LFQCodebookEntropy(bits: bits, lowBits: lowBits)
    }

    /// x: [..., bits] -> layer-owned q of the same shape. Computes indices and (if `losses`) the loss terms.
    @discardableResult
    public func forward(_ x: Tensor, losses: Bool = true) -> Tensor {
        let n = x.count / bits
        output.resize(x.shape)
        if indices.count != n { indices = [Int32](repeating: 0, count: n) }
        indices.withUnsafeMutableBufferPointer { lfqQuantize(x: x.data, count: n, bits: bits, q: output.data, indices: $0.baseAddress!) }
        input = x
        if losses {
            commitmentLoss = lfqCommitmentLoss(x: x.data, q: output.data, count: x.count)
            sampleEntropy = lfqSampleEntropy(x: x.data, count: n, bits: bits, temperature: temperature)
            codebookEntropy = codebook.forward(x: x.data, count: n, temperature: temperature)
        }
        return output
    }

    /// dq: gradient at q (same shape) -> layer-owned dx = dq (straight-through) + the weighted loss gradients.
    /// Requires the last forward to have run with `losses: true` when any weight is non-zero.
    public func backward(_ dq: Tensor, commitmentWeight: Float, entropyWeight: Float, diversityWeight: Float = 1) -> Tensor {
        guard let x = input else { return gradInput }
        let n = x.count / bits
        gradInput.resize(x.shape)
        gradInput.data.update(from: dq.data, count: x.count)
        if commitmentWeight != 0 {
            lfqCommitmentBackward(x: x.data, q: output.data, count: x.count, scale: commitmentWeight, dx: gradInput.data)
        }
        if entropyWeight != 0 {
            lfqSampleEntropyBackward(x: x.data, count: n, bits: bits, temperature: temperature, scale: entropyWeight, dx: gradInput.data)
            codebook.backward(scale: -entropyWeight * diversityWeight, dx: gradInput.data)
        }
        return gradInput
    }
}
