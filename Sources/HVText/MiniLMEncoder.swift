// all-MiniLM-L6-v2 forward pass (BERT encoder, inference only) on HVEngine (linearForward, layerNormForward,
// SGEMM attention over unpadded, packed sentences — the engine's attention is causal, BERT's is not), and the
// sentence-transformers head: mean pooling over the tokens, then L2 normalisation.
// Reference: transformers' BertModel (post-LayerNorm blocks, exact-erf GELU, absolute positions,
// token type 0) and sentence-transformers' Pooling(mean) + Normalize.
import Foundation
import HVCore
import HVEngine

public final class MiniLMEncoder {
    public static let encoderID = "sentence-transformers/all-MiniLM-L6-v2"

    public let config: BertConfig
    public let tokenizer: WordPieceTokenizer
    public let weights: BertWeights

    /// Loads `model.safetensors`, `vocab.txt` and (if present) `config.json` from `directory`.
    public convenience init(modelDirectory directory: String, maxLength: Int = 256) throws {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: configPath) ? try BertConfig.load(configPath) : BertConfig()
        let tokenizer = try WordPieceTokenizer(vocabularyFile: (directory as NSString).appendingPathComponent("vocab.txt"), maxLength: maxLength)
        let weights = try BertWeights(file: (directory as NSString).appendingPathComponent("model.safetensors"), config: config)
        try self.init(config: config, tokenizer: tokenizer, weights: weights)
    }

    public init(config: BertConfig, tokenizer: WordPieceTokenizer, weights: BertWeights) throws {
        guard tokenizer.maxLength <= config.maxPositions else {
            throw TextError.badConfig(path: "config", reason: "max length \(tokenizer.maxLength) exceeds \(config.maxPositions) position embeddings")
        }
        guard tokenizer.vocabulary.count == config.vocabularySize else {
            throw TextError.badVocabulary(path: "vocab.txt", reason: "\(tokenizer.vocabulary.count) tokens, the model has \(config.vocabularySize)")
        }
        self.config = config; self.tokenizer = tokenizer; self.weights = weights
    }

    /// Per-token hidden states of the last layer for each sentence: [S_i, hidden] (what a generator conditions on).
    public func hiddenStates(_ texts: [String]) -> [Tensor] {
        forward(texts.map { tokenizer.encode($0) })
    }

    /// Sentence embeddings: mean of the last hidden states over the sentence's tokens, L2-normalised.
    public func embed(_ texts: [String]) -> [[Float]] {
        hiddenStates(texts).map(MiniLMEncoder.meanPoolNormalize)
    }

    /// The sentence embedding of per-token states as a one-row tensor [1, hidden]: a generator's `sentence`
    /// text condition.
    public static func sentenceState(_ h: Tensor) -> Tensor {
        Tensor(shape: [1, h.shape[1]], values: meanPoolNormalize(h))
    }

    /// sentence-transformers' Pooling(mean) with an all-ones mask, then Normalize (x / max(‖x‖, 1e-12)).
    public static func meanPoolNormalize(_ h: Tensor) -> [Float] {
        let s = h.shape[0], d = h.shape[1]
        var mean = [Double](repeating: 0, count: d)
        for t in 0..<s { for j in 0..<d { mean[j] += Double(h.data[t * d + j]) } }
        for j in 0..<d { mean[j] /= Double(max(s, 1)) }
        let norm = max(mean.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return mean.map { Float($0 / norm) }
    }

    /// The encoder on a batch of token-id sequences, packed without padding: the linear layers run on all
    /// tokens at once ([ΣS, ·] GEMMs), attention runs per sentence. Returns one [S_i, hidden] per sequence.
    public func forward(_ batch: [[Int32]]) -> [Tensor] {
        let d = config.hiddenSize, heads = config.headCount, hd = d / heads, ff = config.intermediateSize
        let lengths = batch.map(\.count)
        let total = lengths.reduce(0, +)
        guard total > 0 else { return batch.map { _ in Tensor(shape: [0, d]) } }
        let x = Tensor(shape: [total, d])
        // Embeddings: word + position + token type 0, then LayerNorm.
        var row = 0
        for ids in batch {
            for (pos, id) in ids.enumerated() {
                let dst = x.data + row * d
                let w = weights.wordEmbeddings.data + Int(id) * d
                let p = weights.positionEmbeddings.data + pos * d
                let tt = weights.tokenTypeEmbeddings.data
                for j in 0..<d { dst[j] = w[j] + p[j] + tt[j] }
                row += 1
            }
        }
        layerNorm(x, weights.embeddingNorm, eps: config.layerNormEpsilon)

        let q = Tensor(shape: [total, d]), k = Tensor(shape: [total, d]), v = Tensor(shape: [total, d])
        let ctx = Tensor(shape: [total, d]), tmp = Tensor(shape: [total, d]), inter = Tensor(shape: [total, ff])
        let maxLen = lengths.max() ?? 0
        let scale = 1 / Float(hd).squareRoot()
        for layer in weights.layers {
            linear(x, layer.query, into: q)
            linear(x, layer.key, into: k)
            linear(x, layer.value, into: v)
            // Scaled dot-product attention per sentence and head (no mask: packed, no padding).
            var offsets: [Int] = []
            var o = 0
            for n in lengths { offsets.append(o); o += n }
            let work = batch.count * heads
            Parallel.forEach(work) { item in
                let b = item / heads, h = item % heads
                let n = lengths[b], base = offsets[b]
                if n == 0 { return }
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: maxLen * maxLen)
                defer { scores.deallocate() }
                let qp = q.data + base * d + h * hd, kp = k.data + base * d + h * hd, vp = v.data + base * d + h * hd
                // scores[n×n] = q_h · k_hᵀ · scale   (SGEMM, rows strided by d)
                BLAS.gemm(transB: true, m: n, n: n, k: hd, alpha: scale, a: qp, lda: d, b: kp, ldb: d, c: scores, ldc: n)
                for i in 0..<n {
                    let r = scores + i * n
                    var m = -Float.infinity
                    for j in 0..<n { m = max(m, r[j]) }
                    var sum: Float = 0
                    for j in 0..<n { r[j] = expf(r[j] - m); sum += r[j] }
                    let inv = 1 / sum
                    for j in 0..<n { r[j] *= inv }
                }
                // ctx_h[n×hd] = P · v_h
                BLAS.gemm(m: n, n: hd, k: n, a: scores, lda: n, b: vp, ldb: d, c: ctx.data + base * d + h * hd, ldc: d)
            }
            linear(ctx, layer.attentionOutput, into: tmp)
            addInPlace(x, tmp)
            layerNorm(x, layer.attentionNorm, eps: config.layerNormEpsilon)
            linear(x, layer.intermediate, into: inter)
            geluInPlace(inter)
            linear(inter, layer.output, into: tmp)
            addInPlace(x, tmp)
            layerNorm(x, layer.outputNorm, eps: config.layerNormEpsilon)
        }
        var out: [Tensor] = []
        row = 0
        for n in lengths {
            let t = Tensor(shape: [n, d])
            t.data.update(from: x.data + row * d, count: n * d)
            out.append(t)
            row += n
        }
        return out
    }

    // MARK: - Layers (shape contracts in the comments)

    /// y[T, out] = x[T, in] · Wᵀ + b, W [out, in] as PyTorch stores it (HVEngine.linearForward: one SGEMM).
    func linear(_ x: Tensor, _ l: BertWeights.Linear, into y: Tensor) {
        let t = x.shape[0], inF = l.weight.shape[1], outF = l.weight.shape[0]
        y.resize([t, outF])
        linearForward(x: x.data, weight: l.weight.data, bias: l.bias.data, y: y.data, rows: t, inFeatures: inF, outFeatures: outF)
    }

    /// LayerNorm over the last axis of x[T, D], in place via a scratch copy (HVEngine.layerNormForward).
    func layerNorm(_ x: Tensor, _ n: BertWeights.Norm, eps: Float) {
        let t = x.shape[0], d = x.shape[1]
        let input = x.clone()
        let mean = Tensor(shape: [t]), rstd = Tensor(shape: [t])
        layerNormForward(x: input.data, weight: n.weight.data, bias: n.bias.data, y: x.data, mean: mean.data, rstd: rstd.data,
                         rows: t, channels: d, eps: eps)
    }

    /// Exact GELU: x · ½ (1 + erf(x / √2)), in place.
    func geluInPlace(_ x: Tensor) {
        let p = x.data
        Parallel.forRanges(x.count) { r in
            for i in r { let v = p[i]; p[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
        }
    }

    func addInPlace(_ x: Tensor, _ y: Tensor) {
        let a = x.data, b = y.data
        Parallel.forRanges(x.count) { r in for i in r { a[i] += b[i] } }
    }
}
