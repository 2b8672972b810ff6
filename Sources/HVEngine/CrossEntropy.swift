// Softmax cross-entropy over logits [N, V] with Int32 targets, an ignore index and per-position weights:
// loss = Σ_n w_n·(lse_n − logit_n,target) / Σ_n w_n over positions whose target ≠ ignoreIndex
// (torch F.cross_entropy(reduction="none"), weighted, normalised by the kept weight). dlogits = w_n/W·(softmax − onehot).
import Foundation

/// Returns the loss; writes dlogits (when given; rows of ignored positions are zero). A target outside
/// 0..<V (other than ignoreIndex) throws. With no kept weight the loss and gradient are 0.
@discardableResult
public func softmaxCrossEntropy(logits: UnsafePointer<Float>, targets: [Int32], weights: [Float]? = nil, vocab v: Int,
                                ignoreIndex: Int32 = -100, dlogits: UnsafeMutablePointer<Float>?) throws -> Float {
    let n = targets.count
    var total: Double = 0
    for i in 0..<n where targets[i] != ignoreIndex {
        guard targets[i] >= 0 && Int(targets[i]) < v else {
            throw EngineError.indexOutOfRange(what: "target class", index: Int(targets[i]), limit: v)
        }
        total += Double(weights?[i] ?? 1)
    }
    guard total > 0 else {
        dlogits?.update(repeating: 0, count: n * v)
        return 0
    }
    let invW = Float(1 / total)
    var losses = [Double](repeating: 0, count: n)
    targets.withUnsafeBufferPointer { tp in losses.withUnsafeMutableBufferPointer { lp in
        Parallel.forRanges(n, minChunk: Swift.max(1, 4096 / Swift.max(v, 1))) { r in
            for i in r {
                let row = logits + i * v, t = tp[i]
                if t == ignoreIndex { dlogits.map { ($0 + i * v).update(repeating: 0, count: v) }; continue }
                let w = weights?[i] ?? 1
                let m = ExpKernel.max(row, count: v)
                let sum: Float
                if let dlogits {
                    let d = dlogits + i * v
                    sum = ExpKernel.expSum(row, d, count: v, scale: 1, shift: m)
                    let k = w * invW / sum
                    for j in 0..<v { d[j] *= k }
                    d[Int(t)] -= w * invW
                } else {
                    var s: Float = 0
                    for j in 0..<v { s += expf(row[j] - m) }
                    sum = s
                }
                lp[i] = Double(w) * (Double(m) + log(Double(sum)) - Double(row[Int(t)]))
            }
        }
    } }
    return Float(losses.reduce(0, +) / total)
}

/// Loss layer owning its dlogits buffer.
public final class CrossEntropyLoss {
    public var ignoreIndex: Int32
    public let gradLogits = Tensor(shape: [0])
    public init(ignoreIndex: Int32 = -100) { self.ignoreIndex = ignoreIndex }

    /// logits [N, V] -> loss; fills `gradLogits` [N, V] (d loss / d logits).
    public func forward(_ logits: Tensor, targets: [Int32], weights: [Float]? = nil) throws -> Float {
        let v = logits.shape.last ?? 0
        gradLogits.resize(logits.shape)
        return try softmaxCrossEntropy(logits: logits.data, targets: targets, weights: weights, vocab: v,
                                       ignoreIndex: ignoreIndex, dlogits: gradLogits.data)
    }
}
