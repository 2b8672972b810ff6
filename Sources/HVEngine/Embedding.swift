// Token embedding lookup (torch.nn.Embedding): ids [N] -> rows of weight [vocab, dim]; backward scatter-adds
// dy rows into the gradient of the rows that were looked up.

public final class Embedding: ParameterOwner {
    public let vocab: Int, dim: Int
    /// name + ".weight", [vocab, dim], initialised N(0, 1) like torch.nn.Embedding (scale it as the model needs).
    public let weight: Parameter
    public let output = Tensor(shape: [0])
    private var ids: [Int32] = []
    public var parameters: [Parameter] { [weight] }

    public init(name: String, vocab: Int, dim: Int, rng: inout SeededRandom) {
        self.vocab = vocab; self.dim = dim
        weight = Parameter(name + ".weight", shape: [vocab, dim])
        weight.value.randomNormal(std: 1, rng: &rng)
    }

    /// Zero-initialised, for weights that will be loaded from a checkpoint.
    public init(name: String, vocab: Int, dim: Int) {
        self.vocab = vocab; self.dim = dim
        weight = Parameter(name + ".weight", shape: [vocab, dim])
    }

    /// ids: [N] -> layer-owned [N, dim]. Throws `indexOutOfRange` for an id outside 0..<vocab.
    public func forward(_ ids: [Int32]) throws -> Tensor {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocab }) {
            throw EngineError.indexOutOfRange(what: "token id", index: Int(bad), limit: vocab)
        }
        output.resize([ids.count, dim])
        let w = weight.value.data, y = output.data, d = dim
        ids.withUnsafeBufferPointer { idp in
            Parallel.forRanges(ids.count, minChunk: Swift.max(1, 8192 / Swift.max(d, 1))) { r in
                for i in r { (y + i * d).update(from: w + Int(idp[i]) * d, count: d) }
            }
        }
        self.ids = ids
        return output
    }

    /// dy: [N, dim]; weight.grad[id] += dy[n] for every looked-up id (repeated ids add up).
    public func backward(_ dy: Tensor) {
        let g = weight.grad.data, d = dim
        // Serial over tokens: repeated ids would race; the cost is N·dim adds.
        for (i, id) in ids.enumerated() {
            let row = g + Int(id) * d, src = dy.data + i * d
            for j in 0..<d { row[j] += src[j] }
        }
    }
}
