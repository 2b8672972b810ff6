// Lookup-free quantisation (MAGVIT-v2, Yu et al. 2023): x [N, d] → q = sign(x) ∈ {−1, +1}^d with a
// straight-through gradient, index = Σ_i bit_i·2^i where bit_i = 1 iff x_i > 0 (bit 0 = channel 0).
// Auxiliary losses: commitment mean((x − sg(q))²) and the entropy penalty
//   E_n[H(p_n)] − H(E_n[p_n]),   p_n(c) = softmax_c(2·x_n·c/τ) over c ∈ {±1}^d.
// p_n factorises into independent bits, p(bit_i = +1) = σ(4·x_i/τ), so the per-sample entropy is a sum
// of d binary entropies. The codebook entropy does not factorise; it is computed exactly for d ≤ 18 by
// splitting the bits into a low and a high half: p_n(c) = A_n(c_lo)·B_n(c_hi), hence the mean
// distribution is one GEMM, P = Aᵀ·B / N ([2^dl × 2^dh]; 512 × 512 for d = 18), and its gradient is two
// more GEMMs. For d > 18 the codebook entropy is replaced by Σ_i H(mean_n p_ni) (the entropy of the
// product of the bit marginals, an upper bound), which keeps the penalty's intent at linear cost.
import Foundation

public final class LFQ {
    public let bits: Int
    public static let exactEntropyLimit = 18
    private let a = Tensor(shape: [0]), b = Tensor(shape: [0]), p = Tensor(shape: [0])
    private let dA = Tensor(shape: [0]), dB = Tensor(shape: [0]), gP = Tensor(shape: [0])

    public init(bits: Int) {
        precondition((1...24).contains(bits), "LFQ supports 1...24 bits")
        self.bits = bits
    }

    /// Writes ±1 codes of x [N, bits] into `codes` (resized) and returns the indices.
    public func quantize(_ x: Tensor, codes: Tensor) -> [UInt32] {
        codes.resize(x.shape)
        let n = x.count / bits
        var idx = [UInt32](repeating: 0, count: n)
        idx.withUnsafeMutableBufferPointer { ip in
            Parallel.forRanges(n, minChunk: 256) { r in
                for t in r {
                    var v: UInt32 = 0
                    for i in 0..<bits {
                        let pos = x[t * bits + i] > 0
                        codes[t * bits + i] = pos ? 1 : -1
                        if pos { v |= 1 << UInt32(i) }
                    }
                    ip[t] = v
                }
            }
        }
        return idx
    }

    /// ±1 code vectors of `indices` into `codes` ([N, bits]; resized to keep its leading dims if the count matches).
    public static func lookup(_ indices: [UInt32], bits: Int, into codes: Tensor) {
        if codes.count != indices.count * bits { codes.resize([indices.count, bits]) }
        for (t, v) in indices.enumerated() {
            for i in 0..<bits { codes[t * bits + i] = (v >> UInt32(i)) & 1 == 1 ? 1 : -1 }
        }
    }

    public struct Losses {
        public var entropy: Float = 0      // weighted penalty value (perSample − codebook) · weight
        public var perSample: Float = 0    // E_n H(p_n), nats
        public var codebook: Float = 0     // H(E_n p_n), nats
        public var commit: Float = 0       // mean (x − q)², unweighted
    }

    /// Computes the auxiliary losses for x [N, bits] and WRITES their weighted gradient into `gradient`.
    public func losses(_ x: Tensor, entropyWeight: Float, commitWeight: Float, temperature: Float = 1,
                       gradient: Tensor) -> Losses {
        gradient.resize(x.shape)
        gradient.zero()
        var out = Losses()
        let n = x.count / bits
        guard n > 0 else { return out }
        // Commitment.
        var c: Double = 0
        let cs = 2 * commitWeight / Float(x.count)
        for i in 0..<x.count {
            let q: Float = x[i] > 0 ? 1 : -1
            let d = x[i] - q
            c += Double(d * d)
            gradient[i] += cs * d
        }
        out.commit = Float(c / Double(x.count))
        if entropyWeight == 0 { return out }
        // Bit probabilities and per-sample entropy.
        p.resize(x.shape)
        let k = 4 / temperature
        var hs: Double = 0
        for i in 0..<x.count {
            let pi = 1 / (1 + expf(-k * x[i]))
            p[i] = pi
            hs += Double(binaryEntropy(pi))
            // d h/dx = log((1−p)/p) · k·p(1−p)  (written via the logit: log((1−p)/p) = −k·x)
            gradient[i] += entropyWeight / Float(n) * (-k * x[i]) * k * pi * (1 - pi)
        }
        out.perSample = Float(hs / Double(n))
        // Codebook entropy and its gradient (subtracted).
        let dpCode = Tensor(shape: x.shape)
        out.codebook = bits <= LFQ.exactEntropyLimit
            ? codebookEntropyExact(n: n, dp: dpCode) : codebookEntropyMarginal(n: n, dp: dpCode)
        for i in 0..<x.count {
            let pi = p[i]
            gradient[i] -= entropyWeight * dpCode[i] * k * pi * (1 - pi)
        }
        out.entropy = entropyWeight * (out.perSample - out.codebook)
        return out
    }

    @inline(__always) func binaryEntropy(_ q: Float) -> Float {
        let e: Float = 1e-12
        return -(q * logf(max(q, e)) + (1 - q) * logf(max(1 - q, e)))
    }

    /// Product distribution of bits [lo, lo+m) of token t over 2^m codes into dst.
    private func halfDistribution(token t: Int, lo: Int, m: Int, dst: UnsafeMutablePointer<Float>) {
        dst[0] = 1
        var size = 1
        for j in 0..<m {
            let pj = p[t * bits + lo + j]
            for c in 0..<size { let v = dst[c]; dst[c] = v * (1 - pj); dst[c + size] = v * pj }
            size *= 2
        }
    }

    /// d Σ_c g(c)·Π_j f_j(c) / d p_j for the half [lo, lo+m) of token t, added into dp.
    private func halfGradient(token t: Int, lo: Int, m: Int, g: UnsafePointer<Float>, dp: Tensor) {
        var rest = [Float](repeating: 0, count: 1 << max(m - 1, 0))
        for i in 0..<m {
            // Distribution over the other bits of the half (bit i removed from the code).
            rest[0] = 1
            var size = 1
            for j in 0..<m where j != i {
                let pj = p[t * bits + lo + j]
                for c in 0..<size { let v = rest[c]; rest[c] = v * (1 - pj); rest[c + size] = v * pj }
                size *= 2
            }
            // Sum over codes: (g(code with bit i = 1) − g(code with bit i = 0)) · rest(other bits).
            var s: Float = 0
            for r in 0..<size {
                let low = r & ((1 << i) - 1), high = (r >> i) << (i + 1)
                let c0 = high | low, c1 = c0 | (1 << i)
                s += (g[c1] - g[c0]) * rest[r]
            }
            dp[t * bits + lo + i] += s
        }
    }

    /// Exact H(E_n p_n) via P = Aᵀ·B / N; writes dH/dp into dp.
    private func codebookEntropyExact(n: Int, dp: Tensor) -> Float {
        let dl = bits / 2, dh = bits - dl
        let L = 1 << dl, Hh = 1 << dh
        a.resize([n, L]); b.resize([n, Hh])
        for t in 0..<n {
            halfDistribution(token: t, lo: 0, m: dl, dst: a.data + t * L)
            halfDistribution(token: t, lo: dl, m: dh, dst: b.data + t * Hh)
        }
        gP.resize([L, Hh])
        BLAS.gemm(transA: true, m: L, n: Hh, k: n, alpha: 1 / Float(n), a: a.data, lda: L, b: b.data, ldb: Hh, c: gP.data, ldc: Hh)
        var h: Double = 0
        for i in 0..<gP.count {
            let v = gP[i]
            if v > 0 { h -= Double(v) * Double(logf(v)) }
            gP[i] = -(logf(max(v, 1e-30)) + 1)   // dH/dP
        }
        // dA = B·Gᵀ / N, dB = A·G / N.
        dA.resize([n, L]); dB.resize([n, Hh])
        BLAS.gemm(transB: true, m: n, n: L, k: Hh, alpha: 1 / Float(n), a: b.data, lda: Hh, b: gP.data, ldb: Hh, c: dA.data, ldc: L)
        BLAS.gemm(m: n, n: Hh, k: L, alpha: 1 / Float(n), a: a.data, lda: L, b: gP.data, ldb: Hh, c: dB.data, ldc: Hh)
        for t in 0..<n {
            halfGradient(token: t, lo: 0, m: dl, g: dA.data + t * L, dp: dp)
            halfGradient(token: t, lo: dl, m: dh, g: dB.data + t * Hh, dp: dp)
        }
        return Float(h)
    }

    /// Σ_i H(mean_n p_ni) for wide codes; writes its gradient into dp.
    private func codebookEntropyMarginal(n: Int, dp: Tensor) -> Float {
        var h: Float = 0
        for i in 0..<bits {
            var m: Float = 0
            for t in 0..<n { m += p[t * bits + i] }
            m /= Float(n)
            h += binaryEntropy(m)
            let g = logf(max(1 - m, 1e-12) / max(m, 1e-12)) / Float(n)
            for t in 0..<n { dp[t * bits + i] += g }
        }
        return h
    }

    /// Reference: H(E_n p_n) by explicit enumeration of all 2^bits codes (tests only; small bits).
    public static func codebookEntropyNaive(_ x: Tensor, bits: Int, temperature: Float = 1) -> Double {
        let n = x.count / bits
        var P = [Double](repeating: 0, count: 1 << bits)
        for t in 0..<n {
            for code in 0..<(1 << bits) {
                var pr: Double = 1
                for i in 0..<bits {
                    let pi = 1 / (1 + exp(-4 * Double(x[t * bits + i]) / Double(temperature)))
                    pr *= (code >> i) & 1 == 1 ? pi : 1 - pi
                }
                P[code] += pr / Double(n)
            }
        }
        return -P.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
    }
}
