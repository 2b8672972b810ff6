// AdamW (Loshchilov & Hutter 2019): Adam with bias correction and decoupled weight decay (skipped for
// parameters with `decays == false`), global-norm gradient clipping, and the learning-rate schedule
// (linear warm-up, then cosine decay to a floor). Optimizer moments can be exported and restored by
// parameter name so that training resumes exactly.
import CKernels
import Foundation

public final class AdamW {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var step = 0
    /// Each parameter's learning rate as a multiple of the schedule's (1 unless set): a grown model's kept
    /// tensors can move slower than its new ones.
    public var rateScales: [Float]
    private var m: [Tensor]
    private var v: [Tensor]

    public init(parameters: [Parameter], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = parameters.map { Tensor(shape: $0.value.shape) }
        v = parameters.map { Tensor(shape: $0.value.shape) }
        rateScales = parameters.map { _ in 1 }
    }

    /// Multiplies the learning rate of every parameter whose name starts with `prefix` by `scale`; returns how many.
    @discardableResult
    public func scaleLearningRate(prefix: String, by scale: Float) -> Int {
        var n = 0
        for (k, p) in parameters.enumerated() where p.name.hasPrefix(prefix) { rateScales[k] = scale; n += 1 }
        return n
    }

    /// One update with the parameters' current gradients.
    public func step(learningRate lr: Float? = nil) {
        step += 1
        let lr = lr ?? learningRate
        let c1 = 1 - powf(beta1, Float(step)), c2 = 1 - powf(beta2, Float(step))
        for (k, p) in parameters.enumerated() {
            let w = p.value.data, g = p.grad.data, mk = m[k].data, vk = v[k].data
            let decay = p.decays ? weightDecay : 0
            let (b1, b2, eps) = (beta1, beta2, epsilon)
            let lr = lr * rateScales[k]
            Parallel.forRanges(p.value.count, minChunk: 32768) { r in
                adamWUpdate(w: w + r.lowerBound, g: g + r.lowerBound, m: mk + r.lowerBound, v: vk + r.lowerBound,
                            count: r.count, lr: lr, beta1: b1, beta2: b2, c1: c1, c2: c2, eps: eps, decay: decay)
            }
        }
    }

    /// Moments and the step counter as named tensors ("<prefix>m.<name>", "<prefix>v.<name>", "<prefix>step").
    public func stateTensors(prefix: String) -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        for (k, p) in parameters.enumerated() {
            out.append(("\(prefix)m.\(p.name)", m[k]))
            out.append(("\(prefix)v.\(p.name)", v[k]))
        }
        out.append(("\(prefix)step", Tensor(shape: [1], values: [Float(step)])))
        return out
    }

    /// Restores what `stateTensors` exported; every moment must be present with the right shape.
    public func restore(_ state: [String: Tensor], prefix: String) throws {
        for (k, p) in parameters.enumerated() {
            for (kind, dst) in [("m", m[k]), ("v", v[k])] {
                let key = "\(prefix)\(kind).\(p.name)"
                guard let t = state[key] else { throw EngineError.missingTensor(name: key) }
                guard t.shape == dst.shape else { throw EngineError.shapeMismatch(name: key, expected: dst.shape, found: t.shape) }
                dst.copy(from: t)
            }
        }
        guard let s = state["\(prefix)step"] else { throw EngineError.missingTensor(name: "\(prefix)step") }
        step = Int(s[0])
    }
}

/// The AdamW update of `count` elements: m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², w ← w − lr·(m/c1 / (√(v/c2) + ε)
/// + decay·w), with c1, c2 the bias corrections. 16 lanes at a time (in C with AVX-512 or AVX2 where the CPU has it:
/// Swift's SIMD16 division and square root run lane by lane); each lane does the scalar formula's operations in the
/// same order (no fused multiply-add), so the result is bit-for-bit the scalar loop's.
@inline(__always)
func adamWUpdate(w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                 v: UnsafeMutablePointer<Float>, count n: Int, lr: Float, beta1 b1: Float, beta2 b2: Float,
                 c1: Float, c2: Float, eps: Float, decay: Float) {
    typealias V = SIMD16<Float>
    var i = 0
    if ElementwiseKernels.available {
        hv_adamw_update(w, g, m, v, n, lr, b1, b2, c1, c2, eps, decay)
        i = n - n % 16
    }
    while i + 16 <= n {
        let gi = V.load(g + i)
        let mi = b1 * V.load(m + i) + (1 - b1) * gi
        let vi = b2 * V.load(v + i) + (1 - b2) * gi * gi
        mi.store(m + i); vi.store(v + i)
        let wi = V.load(w + i)
        let mh = mi / c1, vh = vi / c2
        (wi - lr * (mh / (vh.squareRoot() + eps) + decay * wi)).store(w + i)
        i += 16
    }
    while i < n {
        m[i] = b1 * m[i] + (1 - b1) * g[i]
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
        let mh = m[i] / c1, vh = v[i] / c2
        w[i] -= lr * (mh / (vh.squareRoot() + eps) + decay * w[i])
        i += 1
    }
}

/// Exponential moving average of weights: average ← decay·average + (1 − decay)·value, element-wise
/// (the EMA of trained weights; same element count). Bit-for-bit the scalar formula, 16 lanes at a time.
public func emaUpdate(average: Tensor, value: Tensor, decay d: Float) {
    precondition(average.count == value.count, "emaUpdate: \(average.shape) vs \(value.shape)")
    let a = average.data, x = value.data
    Parallel.forRanges(average.count, minChunk: 32768) { r in
        typealias V = SIMD16<Float>
        var i = r.lowerBound
        while i + 16 <= r.upperBound {
            (d * V.load(a + i) + (1 - d) * V.load(x + i)).store(a + i)
            i += 16
        }
        while i < r.upperBound { a[i] = d * a[i] + (1 - d) * x[i]; i += 1 }
    }
}

/// Σ x[i]² over `count` elements: Float partial sums in 16 lanes over blocks of 1024, added up in Double.
func sumOfSquares(_ x: UnsafePointer<Float>, count n: Int) -> Double {
    var total: Double = 0
    var i = 0
    while i < n {
        let end = min(n, i + 1024)
        var acc = SIMD16<Float>()
        while i + 16 <= end { let v = SIMD16<Float>.load(x + i); acc += v * v; i += 16 }
        var s = Double(acc.sum())
        while i < end { s += Double(x[i] * x[i]); i += 1 }
        total += s
    }
    return total
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        let g = p.grad.data
        total += Parallel.sum(p.grad.count, minChunk: 65536) { r in sumOfSquares(g + r.lowerBound, count: r.count) }
    }
    let norm = Float(total.squareRoot())
    if norm > maxNorm && norm.isFinite {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters { p.grad.scale(by: s) }
    }
    return norm
}

/// Linear warm-up from 0 to `peak` over `warmupSteps`, then cosine decay to `peak · floorFraction` at `totalSteps`.
public struct LRSchedule: Sendable {
    public var peak: Float, warmupSteps: Int, totalSteps: Int, floorFraction: Float
    public init(peak: Float, warmupSteps: Int, totalSteps: Int, floorFraction: Float = 0.1) {
        self.peak = peak; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps; self.floorFraction = floorFraction
    }

    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        let floor = peak * floorFraction
        return floor + (peak - floor) * 0.5 * (1 + cosf(.pi * progress))
    }
}
