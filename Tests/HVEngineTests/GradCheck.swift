import XCTest
@testable import HVEngine

/// Central finite differences of a scalar function of a tensor, in Double.
func numericGradient(_ x: Tensor, eps: Float = 1e-2, _ f: () -> Double) -> [Double] {
    var g = [Double](repeating: 0, count: x.count)
    for i in 0..<x.count {
        let v = x[i]
        x[i] = v + eps; let fp = f()
        x[i] = v - eps; let fm = f()
        x[i] = v
        g[i] = (fp - fm) / (2 * Double(eps))
    }
    return g
}

/// Max |a − b| / (max |b| + tiny): a normalised error that ignores the overall scale.
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    let scale = max(b.map { abs($0) }.max() ?? 0, 1e-6)
    return zip(a, b).map { abs($0 - $1) }.max()! / scale
}

func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var rng = SeededRandom(seed: seed)
    let t = Tensor(shape: shape)
    t.randomNormal(std: std, rng: &rng)
    return t
}

/// Σ y·r for a fixed random r: a scalar whose gradient w.r.t. y is r.
func dot(_ y: Tensor, _ r: Tensor) -> Double {
    var s: Double = 0
    for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
    return s
}
