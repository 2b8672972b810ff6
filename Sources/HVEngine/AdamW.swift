// AdamW (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization"), as torch.optim.AdamW:
//   p ← p − lr·λ·p (only when `Parameter.decays`),  m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²,
//   p ← p − lr · (m / (1−β1^t)) / (√(v / (1−β2^t)) + ε).
// Moments are exposed by parameter name ("exp_avg.<name>", "exp_avg_sq.<name>", as PyTorch calls them)
// and saved/loaded as safetensors, with the step count in the metadata, so training can resume.
import Foundation

public final class AdamW {
    public let parameters: [Parameter]
    public var learningRate: Float
    public var beta1: Float
    public var beta2: Float
    public var epsilon: Float
    public var weightDecay: Float
    /// Number of updates done so far (t in the bias correction).
    public private(set) var stepCount: Int = 0
    /// First and second moments, one per parameter, same order and shapes.
    public let firstMoments: [Tensor]
    public let secondMoments: [Tensor]

    public init(parameters: [Parameter], learningRate: Float = 1e-4, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate
        self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon; self.weightDecay = weightDecay
        firstMoments = parameters.map { Tensor(shape: $0.value.shape) }
        secondMoments = parameters.map { Tensor(shape: $0.value.shape) }
    }

    /// One update from the gradients currently in `parameters` (they are not zeroed).
    /// `learningRate` overrides the stored rate for this step (pass the schedule's value).
    public func step(learningRate lrOverride: Float? = nil) {
        stepCount += 1
        let lr = lrOverride ?? learningRate
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = 1 - Float(pow(Double(b1), Double(stepCount)))
        let c2 = 1 - Float(pow(Double(b2), Double(stepCount)))
        let stepSize = lr / c1
        let c2Sqrt = c2.squareRoot()
        for (i, p) in parameters.enumerated() {
            let decay: Float = p.decays ? 1 - lr * weightDecay : 1
            let w = p.value.data, g = p.grad.data, m = firstMoments[i].data, v = secondMoments[i].data
            Parallel.forRanges(p.value.count, minChunk: 16_384) { r in
                for j in r {
                    let gj = g[j]
                    let mj = b1 * m[j] + (1 - b1) * gj
                    let vj = b2 * v[j] + (1 - b2) * gj * gj
                    m[j] = mj; v[j] = vj
                    // torch: denom = sqrt(v)/sqrt(c2) + eps; p -= (lr/c1) · m / denom
                    w[j] = w[j] * decay - stepSize * mj / (vj.squareRoot() / c2Sqrt + eps)
                }
            }
        }
    }

    /// Moment tensors keyed "exp_avg.<name>" and "exp_avg_sq.<name>".
    public var stateTensors: [(name: String, tensor: Tensor)] {
        var out: [(String, Tensor)] = []
        for (i, p) in parameters.enumerated() {
            out.append(("exp_avg." + p.name, firstMoments[i]))
            out.append(("exp_avg_sq." + p.name, secondMoments[i]))
        }
        return out
    }

    /// Writes the optimizer state (F32 moments; step and hyper-parameters in the metadata).
    public func saveState(to url: URL) throws {
        let meta = ["format": "hv-adamw", "version": "1", "step": String(stepCount),
                    "beta1": String(beta1), "beta2": String(beta2), "epsilon": String(epsilon),
                    "weight_decay": String(weightDecay)]
        try SafeTensors.write(stateTensors.map { .init(name: $0.name, tensor: $0.tensor) }, to: url, metadata: meta)
    }

    /// Restores moments and step count written by `saveState`; strict (every moment present, shapes equal,
    /// nothing extra). Hyper-parameters stay as configured.
    public func loadState(from file: SafeTensorsFile) throws {
        guard let s = file.metadata["step"], let step = Int(s), step >= 0 else {
            throw EngineError.optimizerStateMismatch(reason: "\(file.source) has no valid 'step' metadata")
        }
        var wanted = Set<String>()
        for (name, t) in stateTensors {
            wanted.insert(name)
            try file.read(name, into: t)
        }
        if let extra = file.names.first(where: { !wanted.contains($0) }) {
            throw EngineError.unexpectedTensor(name: extra, source: file.source)
        }
        stepCount = step
    }

    public func loadState(from url: URL) throws { try loadState(from: SafeTensorsFile(contentsOf: url)) }
}

/// Scales all gradients so that their global L2 norm is at most `maxNorm` (torch.nn.utils.clip_grad_norm_:
/// factor maxNorm / (norm + 1e-6), applied only when the norm exceeds maxNorm). Returns the norm before
/// clipping. A non-finite norm is returned without touching the gradients, so the caller can skip the step.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters {
        let g = p.grad.data
        var s: Double = 0
        for j in 0..<p.grad.count { let x = Double(g[j]); s += x * x }
        total += s
    }
    let norm = Float(total.squareRoot())
    guard norm.isFinite, norm > maxNorm else { return norm }
    let scale = maxNorm / (norm + 1e-6)
    for p in parameters {
        let g = p.grad.data
        Parallel.forRanges(p.grad.count, minChunk: 65_536) { r in for j in r { g[j] *= scale } }
    }
    return norm
}
