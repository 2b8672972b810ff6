// Factorised output head for LFQ codes. A full softmax over 2^18 codes costs width·262144 multiply-adds per
// token (67M at width 256, 839M at 3200) — far too much on a CPU. LFQ codes are bit vectors, so the head splits
// a layer's `bits` into G near-equal groups of ≤ groupBits bits and predicts each group with its own softmax
// (2^g classes), conditionally independent given the context:
//     p(code | ctx) = Π_g softmax(z_g)[bits of group g]      (a proper distribution over all 2^bits codes)
// so NLL(code) = Σ_g (lse(z_g) − z_g[class_g]), and the per-layer likelihood is exact for this model. With
// groupBits 6 the head is width·(64+64+64) for 18 bits (192 outputs instead of 262144). groupBits 1 is the
// per-bit logistic head (a 2-way softmax per bit).
// CFG on group logits equals CFG on the joint log-probability (which is a sum over groups plus a constant).
import Foundation

public struct FactorisedHead: Equatable, Sendable {
    /// Group sizes in bits; group g covers code bits bitOffsets[g] ..< bitOffsets[g] + groups[g].
    public let groups: [Int]
    public let bitOffsets: [Int]
    /// Start of group g's 2^groups[g] logits in the head's output row.
    public let logitOffsets: [Int]
    /// Σ 2^groups[g].
    public let outputs: Int

    public init(groups: [Int]) {
        self.groups = groups
        var bo: [Int] = [], lo: [Int] = [], b = 0, l = 0
        for g in groups { bo.append(b); lo.append(l); b += g; l += 1 << g }
        bitOffsets = bo; logitOffsets = lo; outputs = l
    }

    public var bits: Int { groups.reduce(0, +) }

    /// Class of group g for `code`.
    @inline(__always) public func target(_ code: UInt32, group g: Int) -> Int {
        LFQBits.group(of: code, offset: bitOffsets[g], count: groups[g])
    }

    /// Code from one class per group.
    public func code(fromClasses classes: [Int]) -> UInt32 {
        var c: UInt32 = 0
        for (g, k) in classes.enumerated() { c |= UInt32(k) << UInt32(bitOffsets[g]) }
        return c
    }

    /// −log p(code) in nats for one row of logits; when `dlogits` is given, writes scale·(softmax − onehot) there.
    public func nll(_ row: UnsafePointer<Float>, code: UInt32, dlogits: UnsafeMutablePointer<Float>? = nil, scale: Float = 1) -> Double {
        var total = 0.0
        for g in groups.indices {
            let z = row + logitOffsets[g], n = 1 << groups[g], t = target(code, group: g)
            var m = -Float.infinity
            for j in 0..<n { m = max(m, z[j]) }
            var s: Double = 0
            for j in 0..<n { s += Double(expf(z[j] - m)) }
            total += Double(m) + log(s) - Double(z[t])
            if let d = dlogits.map({ $0 + logitOffsets[g] }) {
                let inv = Float(1 / s)
                for j in 0..<n { d[j] = scale * expf(z[j] - m) * inv }
                d[t] -= scale
            }
        }
        return total
    }

    /// The most likely code (argmax per group, which is the joint argmax of this factorised distribution).
    public func argmax(_ row: UnsafePointer<Float>) -> UInt32 {
        code(fromClasses: groups.indices.map { g in
            let z = row + logitOffsets[g]
            var best = 0
            for j in 1..<(1 << groups[g]) where z[j] > z[best] { best = j }
            return best
        })
    }
}

extension GeneratorConfig {
    public func head(ofLayer m: Int) -> FactorisedHead { FactorisedHead(groups: groups(ofLayer: m)) }
}
