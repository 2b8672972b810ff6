// Exact codebook ("batch") entropy of LFQ: H(P) with P(c) = (1/N) Σ_n Π_i p_n,i(c_i), p_n,i = σ(4·x_n,i/τ),
// over all 2^d codes. Trick: split the bits into a low half (channels 0..<lo) and a high half; then
// p_n(c) = A_n(c_lo)·B_n(c_hi) with A, B each half's product distribution, so Pᵀ = (1/N)·Bᵀ·A is one SGEMM
// ([2^hi, N] × [N, 2^lo]; 512×512 for d = 18), stored [2^hi, 2^lo] so the flat index is the code index.
// Backward: G = dH/dP = −(ln P + 1); dA = (1/N)·B·G, dB = (1/N)·A·Gᵀ (two more SGEMMs); then through the
// products without division: dA_n(c)/dz_n,i = A_n(c)·(bit_i(c) − p_n,i), z = 4x/τ.
// Beyond `LFQCodebookEntropy.exactBitLimit` (18) bits the 2^d table is too large: we use the factorised
// marginal approximation H ≈ Σ_i h(mean_n p_n,i), an upper bound on the exact entropy (equal when the bits
// of the mean distribution are independent).
import Foundation

public final class LFQCodebookEntropy {
    public static let exactBitLimit = 18
    public let bits: Int
    public let lowBits: Int
    public var highBits: Int { bits - lowBits }
    /// Whether the entropy is exact (bits ≤ 18) or the factorised approximation.
    public var isExact: Bool { bits <= LFQCodebookEntropy.exactBitLimit }

    // Workspaces, reused across calls: probs [N, d], a [N, 2^lo], b [N, 2^hi], p and g [2^hi, 2^lo].
    let probs = Tensor(shape: [0]), a = Tensor(shape: [0]), b = Tensor(shape: [0])
    let p = Tensor(shape: [0]), g = Tensor(shape: [0]), da = Tensor(shape: [0]), db = Tensor(shape: [0])
    var marginals: [Double] = []
    var n = 0
    var temperature: Float = 1

    /// `lowBits` (0...bits) chooses the split; default bits/2.
    public init(bits: Int, lowBits: Int? = nil) {
        self.bits = bits
        self.lowBits = min(max(lowBits ?? bits / 2, 0), bits)
    }

    /// The last forward's mean code distribution [2^hi, 2^lo] (flat index = code index); exact mode only.
    public var meanDistribution: Tensor { p }

    /// Entropy (nats) of the mean code distribution of x: [count, bits]. Saves what backward needs.
    public func forward(x: UnsafePointer<Float>, count: Int, temperature tau: Float) -> Float {
        n = count
        temperature = tau
        let d = bits
        probs.resize([n, d])
        let pr = probs.data
        Parallel.forRanges(n * d, minChunk: 16_384) { r in for j in r { pr[j] = lfqSigmoid(4 * x[j] / tau) } }
        guard n > 0 else { return 0 }
        if !isExact {
            marginals = [Double](repeating: 0, count: d)
            for t in 0..<n { for i in 0..<d { marginals[i] += Double(pr[t * d + i]) } }
            var h: Double = 0
            for i in 0..<d {
                let m = min(max(marginals[i] / Double(n), 1e-12), 1 - 1e-12)
                marginals[i] = m
                h -= m * log(m) + (1 - m) * log(1 - m)
            }
            return Float(h)
        }
        let lo = lowBits, hi = highBits, sLo = 1 << lo, sHi = 1 << hi
        a.resize([n, sLo]); b.resize([n, sHi]); p.resize([sHi, sLo])
        let ap = a.data, bp = b.data
        Parallel.forRanges(n, minChunk: 64) { r in
            for t in r {
                LFQCodebookEntropy.productDistribution(probs: pr + t * d, bits: lo, into: ap + t * sLo)
                LFQCodebookEntropy.productDistribution(probs: pr + t * d + lo, bits: hi, into: bp + t * sHi)
            }
        }
        BLAS.gemm(transA: true, m: sHi, n: sLo, k: n, alpha: 1 / Float(n), a: bp, lda: sHi, b: ap, ldb: sLo, c: p.data, ldc: sLo)
        var h: Double = 0
        let pp = p.data
        for c in 0..<(sHi * sLo) where pp[c] > 0 { let v = Double(pp[c]); h -= v * log(v) }
        return Float(h)
    }

    /// out[c] = Π_{i<bits} (bit_i(c) ? probs[i] : 1 − probs[i]), built by doubling (bit i of c = probs[i]).
    @inline(__always)
    static func productDistribution(probs: UnsafePointer<Float>, bits: Int, into out: UnsafeMutablePointer<Float>) {
        out[0] = 1
        for i in 0..<bits {
            let size = 1 << i, pi = probs[i], qi = 1 - probs[i]
            for j in 0..<size { let v = out[j]; out[j] = v * qi; out[j + size] = v * pi }
        }
    }

    /// dx += scale · dH/dx for the x of the last forward.
    public func backward(scale: Float, dx: UnsafeMutablePointer<Float>) {
        guard n > 0 else { return }
        let d = bits, tau = temperature, pr = probs.data
        if !isExact {
            let k = scale * 4 / (tau * Float(n))
            let logits = marginals.map { Float(log((1 - $0) / $0)) }   // dh/dm = ln((1−m)/m)
            Parallel.forRanges(n, minChunk: 256) { r in
                for t in r { for i in 0..<d {
                    let q = pr[t * d + i]
                    dx[t * d + i] += k * logits[i] * q * (1 - q)
                } }
            }
            return
        }
        let lo = lowBits, hi = highBits, sLo = 1 << lo, sHi = 1 << hi
        g.resize([sHi, sLo]); da.resize([n, sLo]); db.resize([n, sHi])
        let pp = p.data, gp = g.data
        let tiny = Float.leastNormalMagnitude
        Parallel.forRanges(sHi * sLo, minChunk: 16_384) { r in for c in r { gp[c] = -(logf(max(pp[c], tiny)) + 1) } }
        let invN = 1 / Float(n)
        BLAS.gemm(m: n, n: sLo, k: sHi, alpha: invN, a: b.data, lda: sHi, b: gp, ldb: sLo, c: da.data, ldc: sLo)
        BLAS.gemm(transB: true, m: n, n: sHi, k: sLo, alpha: invN, a: a.data, lda: sLo, b: gp, ldb: sLo, c: db.data, ldc: sHi)
        let ap = a.data, bp = b.data, dap = da.data, dbp = db.data
        let k = scale * 4 / tau
        Parallel.forRanges(n, minChunk: 64) { r in
            for t in r {
                LFQCodebookEntropy.chain(factor: ap + t * sLo, grad: dap + t * sLo, probs: pr + t * d, bits: lo,
                                         scale: k, dx: dx + t * d)
                LFQCodebookEntropy.chain(factor: bp + t * sHi, grad: dbp + t * sHi, probs: pr + t * d + lo, bits: hi,
                                         scale: k, dx: dx + t * d + lo)
            }
        }
    }

    /// dx_i += scale · Σ_c grad(c)·factor(c)·(bit_i(c) − p_i)   (d factor(c)/dz_i, z = 4x/τ; scale includes 4/τ).
    @inline(__always)
    static func chain(factor: UnsafePointer<Float>, grad: UnsafePointer<Float>, probs: UnsafePointer<Float>, bits: Int,
                      scale: Float, dx: UnsafeMutablePointer<Float>) {
        if bits == 0 { return }
        withUnsafeTemporaryAllocation(of: Double.self, capacity: bits) { perBit in
            perBit.initialize(repeating: 0)
            var total: Double = 0
            for c in 0..<(1 << bits) {
                let w = Double(grad[c] * factor[c])
                total += w
                var m = c, i = 0
                while m != 0 { if m & 1 == 1 { perBit[i] += w }; m >>= 1; i += 1 }
            }
            for i in 0..<bits { dx[i] += scale * Float(perBit[i] - Double(probs[i]) * total) }
        }
    }
}
