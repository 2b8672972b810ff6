// AdamW (Loshchilov & Hutter 2019): Adam with bias correction and decoupled weight decay (skipped for
// parameters with `decays == false`), global-norm gradient clipping, and the learning-rate schedule
// (linear warm-up, then cosine decay to a floor). Optimizer moments can be exported and restored by
// parameter name so that training resumes exactly.
import Foundation

public final class AdamW {
    public let parameters: [Parameter]
    public var learningRate: Float
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    public private(set) var step = 0
    private var m: [Tensor]
    private var v: [Tensor]

    public init(parameters: [Parameter], learningRate: Float, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        m = parameters.map { Tensor(shape: $0.value.shape) }
        v = parameters.map { Tensor(shape: $0.value.shape) }
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
            Parallel.forRanges(p.value.count) { r in
                for i in r {
                    mk[i] = b1 * mk[i] + (1 - b1) * g[i]
                    vk[i] = b2 * vk[i] + (1 - b2) * g[i] * g[i]
                    let mh = mk[i] / c1, vh = vk[i] / c2
                    w[i] -= lr * (mh / (vh.squareRoot() + eps) + decay * w[i])
                }
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

/// Scales all gradients so that their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters { for i in 0..<p.grad.count { let g = Double(p.grad[i]); total += g * g } }
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
