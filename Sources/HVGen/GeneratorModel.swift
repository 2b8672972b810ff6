// The autoregressive text-to-video model (paper section 3.3): p(v|t) = Π_m Π_n p(v_n^m | t, v_<n^≤m).
// Inputs: caption per-token states (MiniLM, [len, textDim]) projected to the width, right-padded with a learned
// pad vector to textLength, or the learned null text (classifier-free guidance); then video codes, each embedded
// as a learned per-layer projection of its ±1 bit vector plus a learned layer embedding. Decoder blocks with 3D
// RoPE (SequenceLayout), final RMSNorm, and per-layer factorised heads (FactorisedHead). Sequence position
// textLength−1+n predicts video token n. Weight names are the checkpoint keys (formats/generator.md).
import Foundation
import HVEngine
import HVText

/// One training (or scoring) sequence: caption states (nil = the null text) and the whole video part.
public struct GeneratorExample {
    /// [len, textDim]; rows beyond textLength are dropped.
    public var text: Tensor?
    /// config.videoTokens codes, sequence order.
    public var video: [UInt32]
    public init(text: Tensor?, video: [UInt32]) { self.text = text; self.video = video }
}

/// Per-layer negative log-likelihood of a batch.
public struct GeneratorLoss {
    /// The weighted objective (nats per token, Σ_m w_m·NLL_m / Σ_m w_m).
    public var loss: Float
    /// Mean NLL per token of each layer (sequence order), in bits.
    public var bitsPerToken: [Double]
}

public final class GeneratorModel: ParameterOwner {
    public private(set) var config: GeneratorConfig
    public let layout: SequenceLayout
    public let heads: [FactorisedHead]
    /// `text.proj` [C, textDim] + bias; `text.null` [textLength, C]; `text.pad` [C].
    let textProj: Linear
    let nullText: Parameter, textPad: Parameter
    /// `video.<m>.bits` [C, bits_m] (no bias), `video.layer_embed` [L, C].
    let bitProj: [Linear]
    let layerEmbed: Parameter
    let blocks: [DecoderBlock]
    /// `norm` [C]; `head.<m>` [outputs_m, C] + bias.
    let finalNorm: RMSNorm
    let headProj: [Linear]
    let rope: RoPE
    /// With `sentence_bias`: `text.sentence` [C, textDim] + bias, `text.null_sentence` [C] (GeneratorConfig).
    let sentenceProj: Linear?
    let nullSentence: Parameter?

    public let parameters: [Parameter]

    /// Random initialisation (seeded): Linear layers as torch.nn.Linear, embeddings N(0, 0.02²).
    public init(config: GeneratorConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        layout = SequenceLayout(config: config)
        heads = config.layers.indices.map { config.head(ofLayer: $0) }
        var rng = SeededRandom(seed: seed)
        let c = config.width
        textProj = Linear(name: "text.proj", inFeatures: config.textDim, outFeatures: c, rng: &rng)
        nullText = Parameter("text.null", shape: [config.textLength, c])
        nullText.value.randomNormal(std: 0.02, rng: &rng)
        textPad = Parameter("text.pad", shape: [c])
        textPad.value.randomNormal(std: 0.02, rng: &rng)
        bitProj = config.layers.enumerated().map { m, l in
            Linear(name: "video.\(m).bits", inFeatures: l.bits, outFeatures: c, bias: false, rng: &rng)
        }
        layerEmbed = Parameter("video.layer_embed", shape: [config.layers.count, c])
        layerEmbed.value.randomNormal(std: 0.02, rng: &rng)
        blocks = (0..<config.depth).map { DecoderBlock(name: "layers.\($0)", config: config, rng: &rng) }
        finalNorm = RMSNorm(name: "norm", dim: c, eps: config.normEps)
        headProj = config.layers.indices.map { m in
            Linear(name: "head.\(m)", inFeatures: c, outFeatures: config.headOutputs(ofLayer: m), rng: &rng)
        }
        rope = RoPE(headDim: config.headDim, axes: 3, base: config.ropeBase)
        rope.setPositions(layout.coordinates, count: config.sequenceLength)
        // Drawn last, so that the other weights of a seed are those of the same model without it.
        if config.sentenceBias {
            sentenceProj = Linear(name: "text.sentence", inFeatures: config.textDim, outFeatures: c, rng: &rng)
            let p = Parameter("text.null_sentence", shape: [c])
            p.value.randomNormal(std: 0.02, rng: &rng)
            nullSentence = p
        } else {
            sentenceProj = nil; nullSentence = nil
        }
        var ps = textProj.parameters + [nullText, textPad]
        for p in bitProj { ps += p.parameters }
        ps.append(layerEmbed)
        for b in blocks { ps += b.parameters }
        ps += finalNorm.parameters
        for h in headProj { ps += h.parameters }
        if let sentenceProj, let nullSentence { ps += sentenceProj.parameters + [nullSentence] }
        parameters = ps
    }

    // MARK: - Sentence bias

    /// The vector `sentence_bias` adds to every position of a sequence with these caption states (nil: the null
    /// text), [C]; nil when the model has no sentence bias.
    func conditionVector(_ states: Tensor?) -> [Float]? {
        guard let sentenceProj, let nullSentence else { return nil }
        let c = config.width
        guard let states else { return Array(UnsafeBufferPointer(start: nullSentence.value.data, count: c)) }
        let s = MiniLMEncoder.meanPoolNormalize(states)
        var y = [Float](repeating: 0, count: c)
        s.withUnsafeBufferPointer { sp in y.withUnsafeMutableBufferPointer { yp in
            linearForward(x: sp.baseAddress!, weight: sentenceProj.weight.value.data, bias: sentenceProj.bias!.value.data,
                          y: yp.baseAddress!, rows: 1, inFeatures: config.textDim, outFeatures: c)
        } }
        return y
    }

    /// dst[r, :] += v for `rows` rows of width C.
    func addCondition(_ v: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, rows: Int) {
        let c = config.width
        for r in 0..<rows { let row = dst + r * c; for q in 0..<c { row[q] += v[q] } }
    }

    // MARK: - Embedding

    /// Writes the text prefix of one sequence into `dst` [textLength, C]: projected states, pad rows, or null.
    /// Returns the number of caption rows used.
    @discardableResult
    func embedText(_ states: Tensor?, into dst: UnsafeMutablePointer<Float>) -> Int {
        let c = config.width, tl = config.textLength
        guard let states else { dst.update(from: nullText.value.data, count: tl * c); return 0 }
        let len = min(states.shape[0], tl)
        if len > 0 {
            linearForward(x: states.data, weight: textProj.weight.value.data, bias: textProj.bias!.value.data, y: dst,
                          rows: len, inFeatures: config.textDim, outFeatures: c)
        }
        for i in len..<tl { (dst + i * c).update(from: textPad.value.data, count: c) }
        return len
    }

    /// Embedding of one code of sequence layer m into `dst` [C]: W_m·signs(code) + layer_embed[m].
    func embedCode(_ code: UInt32, layer m: Int, into dst: UnsafeMutablePointer<Float>) {
        let c = config.width, bits = config.layers[m].bits, w = bitProj[m].weight.value.data
        var s = [Float](repeating: 0, count: bits)
        s.withUnsafeMutableBufferPointer { LFQBits.signs(of: code, bits: bits, into: $0.baseAddress!) }
        let e = layerEmbed.value.data + m * c
        for j in 0..<c {
            var acc = e[j]
            for i in 0..<bits { acc += w[j * bits + i] * s[i] }
            dst[j] = acc
        }
    }

    // MARK: - Whole-sequence forward (training, scoring, reference for the KV cache)

    private let input = Tensor(shape: [0])
    private let textRows = Tensor(shape: [0]), sentenceRows = Tensor(shape: [0])
    private var textUsed: [(b: Int, rows: Int)] = []
    private var signTensors: [Tensor] = []
    private var headInputs: [Tensor] = []
    private let dHidden = Tensor(shape: [0]), dRows = Tensor(shape: [0])

    /// x [B, S, C] for sequences truncated to S = textLength + (video tokens given) positions; video codes beyond
    /// S − textLength are not embedded. `tokenDrop` zeroes a video token's bit vector with that probability.
    func embed(_ batch: [GeneratorExample], length s: Int, tokenDrop: Float, rng: inout SeededRandom) throws -> Tensor {
        let c = config.width, tl = config.textLength, b = batch.count
        input.resize([b, s, c])
        textUsed = []
        // Text: caption rows go through textProj as one GEMM (kept for backward); pad/null rows are copied.
        var rows: [(Int, Int)] = []       // (batch item, text row)
        for (i, ex) in batch.enumerated() { if let t = ex.text { for r in 0..<min(t.shape[0], tl) { rows.append((i, r)) } } }
        textRows.resize([rows.count, config.textDim])
        for (k, (i, r)) in rows.enumerated() {
            guard let t = batch[i].text, t.shape.count == 2, t.shape[1] == config.textDim else {
                throw GenError.badTokens(reason: "caption states must be [length, \(config.textDim)]")
            }
            (textRows.data + k * config.textDim).update(from: t.data + r * config.textDim, count: config.textDim)
        }
        for (i, ex) in batch.enumerated() {
            let dst = input.data + i * s * c
            if ex.text == nil { dst.update(from: nullText.value.data, count: min(tl, s) * c); continue }
            let len = min(ex.text!.shape[0], tl)
            textUsed.append((i, len))
            for r in len..<min(tl, s) { (dst + r * c).update(from: textPad.value.data, count: c) }
        }
        if !rows.isEmpty {
            let y = textProj.forward(textRows)
            for (k, (i, r)) in rows.enumerated() where r < s { (input.data + (i * s + r) * c).update(from: y.data + k * c, count: c) }
        }
        // Video: per layer, signs of every embedded token [B·n_m, bits] through bitProj[m].
        let nv = max(0, s - tl)
        while signTensors.count < config.layers.count { signTensors.append(Tensor(shape: [0])) }
        for (m, l) in config.layers.enumerated() {
            let lo = layout.layerOffsets[m], hi = min(lo + l.tokenCount, nv)
            let n = max(0, hi - lo), st = signTensors[m]
            st.resize([b * n, l.bits])
            guard n > 0 else { continue }
            for (i, ex) in batch.enumerated() {
                guard ex.video.count >= hi else { throw GenError.badTokens(reason: "a sequence has \(ex.video.count) video tokens, expected \(config.videoTokens)") }
                for j in 0..<n {
                    let code = ex.video[lo + j]
                    guard code >> UInt32(l.bits) == 0 else { throw GenError.badTokens(reason: "code \(code) exceeds \(l.bits) bits in layer \(l.name)") }
                    let row = st.data + (i * n + j) * l.bits
                    if tokenDrop > 0 && rng.uniform() < tokenDrop { row.update(repeating: 0, count: l.bits) }
                    else { LFQBits.signs(of: code, bits: l.bits, into: row) }
                }
            }
            let y = bitProj[m].forward(st)
            let e = layerEmbed.value.data + m * c
            for i in 0..<b { for j in 0..<n {
                let dst = input.data + (i * s + tl + lo + j) * c, src = y.data + (i * n + j) * c
                for q in 0..<c { dst[q] = src[q] + e[q] }
            } }
        }
        if let sentenceProj {
            // Captions' sentence vectors through one GEMM (kept for backward); the null text adds its own vector.
            let texts = batch.indices.filter { batch[$0].text != nil }
            sentenceRows.resize([texts.count, config.textDim])
            for (k, i) in texts.enumerated() {
                let v = MiniLMEncoder.meanPoolNormalize(batch[i].text!)
                (sentenceRows.data + k * config.textDim).update(from: v, count: config.textDim)
            }
            let y = texts.isEmpty ? nil : sentenceProj.forward(sentenceRows)
            var k = 0
            for (i, ex) in batch.enumerated() {
                let v: UnsafeMutablePointer<Float>
                if ex.text == nil { v = nullSentence!.value.data } else { v = y!.data + k * c; k += 1 }
                addCondition(v, to: input.data + i * s * c, rows: s)
            }
        }
        return input
    }

    /// Decoder stack + final norm on x [B, S, C] -> hidden [B, S, C] (final norm's output).
    func trunk(_ x: Tensor, dropout: inout DropoutDraw?) -> Tensor {
        var h = x
        for blk in blocks { h = blk.forward(h, rope: rope, dropout: &dropout) }
        return finalNorm.forward(h)
    }

    /// Head logits of every prediction position of a whole-sequence forward: per layer [B, n_m, outputs_m],
    /// where row j predicts video token offset_m + j (from position textLength − 1 + offset_m + j).
    func headLogits(_ hidden: Tensor, predicted nv: Int) -> [Tensor] {
        let b = hidden.shape[0], s = hidden.shape[1], c = config.width, tl = config.textLength
        while headInputs.count < config.layers.count { headInputs.append(Tensor(shape: [0])) }
        return config.layers.indices.map { m in
            let lo = layout.layerOffsets[m], n = max(0, min(lo + config.layers[m].tokenCount, nv) - lo)
            let hin = headInputs[m]
            hin.resize([b * n, c])
            for i in 0..<b { for j in 0..<n {
                (hin.data + (i * n + j) * c).update(from: hidden.data + (i * s + tl - 1 + lo + j) * c, count: c)
            } }
            let y = headProj[m].forward(hin)
            y.reshape([b, n, heads[m].outputs])
            return y
        }
    }

    /// Logits of the whole sequence (no dropout): per layer [B, n_m, outputs_m] for the first `predicted`
    /// video tokens (default all). Inputs are the text and the video tokens before each predicted one.
    public func logits(_ batch: [GeneratorExample], predicted: Int? = nil) throws -> [Tensor] {
        let nv = min(predicted ?? config.videoTokens, config.videoTokens)
        var rng = SeededRandom(seed: 0), drop: DropoutDraw? = nil
        let x = try embed(batch, length: config.textLength + max(nv - 1, 0), tokenDrop: 0, rng: &rng)
        return headLogits(trunk(x, dropout: &drop), predicted: nv).map { $0.clone() }
    }

    /// Bits of each example's video under its text (nil: the null condition), per layer (sequence order): the summed
    /// NLL of every token given the text and the tokens before it, forward only and without dropout. With `layers`,
    /// only the first (coarsest) that many layers are scored, and the model runs only over their tokens.
    public func bits(_ batch: [GeneratorExample], layers: Int? = nil) throws -> [[Double]] {
        let k = min(layers ?? config.layers.count, config.layers.count)
        let lg = try logits(batch, predicted: config.layers.prefix(k).reduce(0) { $0 + $1.tokenCount })
        return batch.indices.map { i in
            (0..<k).map { m in
                let n = config.layers[m].tokenCount, lo = layout.layerOffsets[m], outs = heads[m].outputs
                var total = 0.0
                for j in 0..<n { total += heads[m].nll(lg[m].data + (i * n + j) * outs, code: batch[i].video[lo + j]) }
                return total / log(2)
            }
        }
    }

    // MARK: - Training step

    /// Forward and backward of one batch: accumulates every parameter's gradient of the weighted loss
    /// Σ_m w_m·mean_n NLL(v_n^m) / Σ_m w_m. Dropouts (config) are drawn from `rng`; pass `train: false` to
    /// score without dropout (gradients are still accumulated).
    public func lossAndGradients(_ batch: [GeneratorExample], layerWeights: [Float], rng: inout SeededRandom,
                                 train: Bool = true) throws -> GeneratorLoss {
        guard layerWeights.count == config.layers.count else {
            throw GenError.badOption(reason: "need \(config.layers.count) layer weights, got \(layerWeights.count)")
        }
        let nv = config.videoTokens, c = config.width, tl = config.textLength
        let s = tl + nv - 1, b = batch.count
        let x = try embed(batch, length: s, tokenDrop: train ? config.tokenDropout : 0, rng: &rng)
        var drop: DropoutDraw? = train && (config.residualDropout > 0 || config.ffnDropout > 0)
            ? DropoutDraw(residual: config.residualDropout, ffn: config.ffnDropout, rng: SeededRandom(seed: rng.next())) : nil
        let hidden = trunk(x, dropout: &drop)
        let logits = headLogits(hidden, predicted: nv)
        let wsum = layerWeights.reduce(0, +)
        guard wsum > 0 else { throw GenError.badOption(reason: "layer weights must not all be zero") }
        dHidden.resize([b, s, c]); dHidden.zero()
        var loss = 0.0, bits: [Double] = []
        for m in config.layers.indices {
            let n = config.layers[m].tokenCount, lo = layout.layerOffsets[m], head = heads[m], outs = head.outputs
            let scale = layerWeights[m] / wsum / Float(b * n)
            let lg = logits[m]
            dRows.resize([b * n, outs])
            var total = 0.0
            for i in 0..<b { for j in 0..<n {
                let r = i * n + j
                total += head.nll(lg.data + r * outs, code: batch[i].video[lo + j], dlogits: dRows.data + r * outs, scale: scale)
            } }
            let mean = total / Double(b * n)
            loss += Double(layerWeights[m] / wsum) * mean
            bits.append(mean / log(2))
            let dh = headProj[m].backward(dRows)
            for i in 0..<b { for j in 0..<n {
                let dst = dHidden.data + (i * s + tl - 1 + lo + j) * c, src = dh.data + (i * n + j) * c
                for q in 0..<c { dst[q] += src[q] }
            } }
        }
        // Back through the trunk and the embeddings.
        var g = finalNorm.backward(dHidden)
        for blk in blocks.reversed() { g = blk.backward(g, rope: rope) }
        backwardEmbedding(g, batch: batch, length: s)
        return GeneratorLoss(loss: Float(loss), bitsPerToken: bits)
    }

    private let dText = Tensor(shape: [0]), dVideo = Tensor(shape: [0]), dSentence = Tensor(shape: [0])

    private func backwardEmbedding(_ dx: Tensor, batch: [GeneratorExample], length s: Int) {
        let c = config.width, tl = config.textLength
        if let sentenceProj, let nullSentence {
            // Every position's gradient, summed per sequence, is the gradient of its added vector.
            dSentence.resize([sentenceRows.shape[0], c]); dSentence.zero()
            var k = 0
            for (i, ex) in batch.enumerated() {
                let g: UnsafeMutablePointer<Float>
                if ex.text == nil { g = nullSentence.grad.data } else { g = dSentence.data + k * c; k += 1 }
                for r in 0..<s { let row = dx.data + (i * s + r) * c; for q in 0..<c { g[q] += row[q] } }
            }
            if k > 0 { _ = sentenceProj.backward(dSentence) }
        }
        // Text rows: projected caption rows -> textProj; pad rows -> text.pad; null -> text.null.
        var k = 0
        dText.resize([textRows.shape[0], c])
        for (i, ex) in batch.enumerated() {
            let src = dx.data + i * s * c
            guard let t = ex.text else {
                let g = nullText.grad.data
                for q in 0..<(min(tl, s) * c) { g[q] += src[q] }
                continue
            }
            let len = min(t.shape[0], tl)
            for r in 0..<len { (dText.data + (k + r) * c).update(from: src + r * c, count: c) }
            k += len
            for r in len..<min(tl, s) { let row = src + r * c; for q in 0..<c { textPad.grad[q] += row[q] } }
        }
        if textRows.shape[0] > 0 { _ = textProj.backward(dText) }
        // Video rows: per layer through bitProj[m]; layer_embed[m] gets their sum.
        let nv = s - tl, b = batch.count
        for (m, l) in config.layers.enumerated() {
            let lo = layout.layerOffsets[m], n = max(0, min(lo + l.tokenCount, nv) - lo)
            guard n > 0 else { continue }
            dVideo.resize([b * n, c])
            let e = layerEmbed.grad.data + m * c
            for i in 0..<b { for j in 0..<n {
                let src = dx.data + (i * s + tl + lo + j) * c
                (dVideo.data + (i * n + j) * c).update(from: src, count: c)
                for q in 0..<c { e[q] += src[q] }
            } }
            _ = bitProj[m].backward(dVideo)
        }
    }
}

extension GeneratorModel {
    /// Sets the rates that only training reads (caption and video-token dropout), e.g. when a resumed run changes
    /// them; the weights and every shape stay as they are. Rates must be in [0, 1).
    public func setTrainingDropouts(caption: Float? = nil, token: Float? = nil) throws {
        for p in [caption, token].compactMap({ $0 }) where !(p >= 0 && p < 1) {
            throw GenError.badOption(reason: "a dropout rate must be in [0, 1), not \(p)")
        }
        if let caption { config.captionDropout = caption }
        if let token { config.tokenDropout = token }
    }
}
