// Tests of the text-to-video generator: KV-cache decoding against whole-sequence recomputation, gradients by
// finite differences, the factorised head's likelihood, the configurations' shapes and parameter counts.
import XCTest
import HVEngine
@testable import HVGen

func randomText(rows: Int, dim: Int, seed: UInt64) -> Tensor {
    var rng = SeededRandom(seed: seed)
    let t = Tensor(shape: [rows, dim])
    t.randomNormal(std: 1, rng: &rng)
    return t
}

func randomVideo(_ config: GeneratorConfig, seed: UInt64) -> [UInt32] {
    var rng = SeededRandom(seed: seed)
    var out: [UInt32] = []
    for l in config.layers { for _ in 0..<l.tokenCount { out.append(UInt32(truncatingIfNeeded: rng.next()) & ((1 << UInt32(l.bits)) - 1)) } }
    return out
}

final class GeneratorModelTests: XCTestCase {
    /// Decoding with the KV cache (prefill + one row per step, batch of two with the null text) gives the same
    /// logits as recomputing the whole sequence, to float32 state tolerance.
    func testKVCacheLogitsEqualFullRecomputation() throws {
        try checkKVCacheLogits(cache: .float32, tolerance: 1e-4)
    }

    /// The same with the cache's half-precision copies, which every decoding step reads where the CPU allows
    /// (tiny's head size is 16): the rounding of keys and values costs a few 1e-4 of the logits.
    func testHalfKVCacheLogitsStayCloseToFullRecomputation() throws {
        try XCTSkipUnless(KVCache.halfAvailable(headDim: GeneratorConfig.tiny().headDim), "no half-precision KV kernels on this CPU (AVX-512, or AVX2 with F16C)")
        try checkKVCacheLogits(cache: .half, tolerance: 3e-3)
    }

    /// The same with the cache's 8-bit copies (what hv-gen decodes with where the CPU allows): codes of 1/127 of a
    /// head row's largest entry move the logits by about 1e-2 of their scale, and differently from the half copies'.
    func testInt8KVCacheLogitsStayCloseToFullRecomputation() throws {
        try XCTSkipUnless(KVCache.available(.int8, headDim: GeneratorConfig.tiny().headDim), "no 8-bit KV kernels on this CPU (AVX2 with FMA)")
        let err = try checkKVCacheLogits(cache: .int8, tolerance: 3e-2)
        if KVCache.halfAvailable(headDim: GeneratorConfig.tiny().headDim) {
            XCTAssertNotEqual(err, try checkKVCacheLogits(cache: .half, tolerance: 3e-3), "the 8-bit copies must be what was read")
        }
    }

    /// And with the projections' half-precision copies as well (what hv-gen decodes with where the CPU allows):
    /// weights rounded to 11 significant bits move the logits by about 1e-3 of their scale.
    func testHalfWeightsLogitsStayCloseToFullRecomputation() throws {
        try XCTSkipUnless(HalfWeight.available && KVCache.halfAvailable(headDim: GeneratorConfig.tiny().headDim),
                          "no half-precision kernels on this CPU (AVX2 with FMA and F16C)")
        let err = try checkKVCacheLogits(cache: .half, halfWeights: true, tolerance: 1e-2)
        let cacheOnly = try checkKVCacheLogits(cache: .half, tolerance: 3e-3)
        XCTAssertNotEqual(err, cacheOnly, "the half weights must be what the decoder multiplied by")
    }

    /// The same with `sentence_bias`: the caption's vector and the null text's are added to every row the cache
    /// sees as they are to the whole sequence.
    func testKVCacheLogitsEqualFullRecomputationWithSentenceBias() throws {
        var config = GeneratorConfig.tiny(); config.sentenceBias = true
        try checkKVCacheLogits(cache: .float32, tolerance: 1e-4, config: config)
    }

    /// Returns the largest difference from the recomputation.
    @discardableResult
    private func checkKVCacheLogits(cache: KVCache.Precision, halfWeights: Bool = false, tolerance: Float,
                                    config: GeneratorConfig = .tiny()) throws -> Float {
        let saved = (KVCache.defaultPrecision, Generator.halfWeightsByDefault)
        (KVCache.defaultPrecision, Generator.halfWeightsByDefault) = (cache, halfWeights)
        defer { (KVCache.defaultPrecision, Generator.halfWeightsByDefault) = saved }
        let model = try GeneratorModel(config: config, seed: 3)
        let text = randomText(rows: 3, dim: config.textDim, seed: 1)
        let video = randomVideo(config, seed: 2)
        let full = try model.logits([GeneratorExample(text: text, video: video), GeneratorExample(text: nil, video: video)])
        var maxErr: Float = 0, maxAbs: Float = 0, steps = 0
        _ = try Generator(model: model).decode(texts: [text, nil]) { n, m, logits in
            let (layer, j) = model.layout.layer(ofVideoToken: n)
            XCTAssertEqual(layer, m)
            let outs = model.heads[m].outputs, ref = full[m], per = ref.shape[1]
            for b in 0..<2 { for k in 0..<outs {
                let a = logits[b * outs + k], r = ref[(b * per + j) * outs + k]
                maxErr = max(maxErr, abs(a - r)); maxAbs = max(maxAbs, abs(r))
            } }
            steps += 1
            return video[n]
        }
        XCTAssertEqual(steps, config.videoTokens)
        XCTAssertLessThan(maxErr, tolerance * max(1, maxAbs), "KV-cache logits differ from recomputation by \(maxErr)")
        return maxErr
    }

    /// The recomputation itself must depend on earlier tokens (else the test above would be vacuous).
    func testLogitsDependOnEarlierTokens() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config, seed: 3)
        var video = randomVideo(config, seed: 2)
        let a = try model.logits([GeneratorExample(text: nil, video: video)])
        video[0] ^= 1
        let b = try model.logits([GeneratorExample(text: nil, video: video)])
        let last = config.layers.count - 1
        XCTAssertNotEqual(a[last].array, b[last].array)
        XCTAssertEqual(Array(a[0].array.prefix(model.heads[0].outputs)), Array(b[0].array.prefix(model.heads[0].outputs)),
                       "the first prediction sees only the text")
    }

    /// Analytic gradients of the weighted loss against central finite differences (in Double-free float32, so
    /// a loose relative tolerance on the largest gradients of a few tensors).
    func testGradientsMatchFiniteDifferences() throws {
        try checkGradients(config: .tiny(), extra: [])
    }

    /// The sentence bias's projection and null vector, and what it changes elsewhere, by finite differences.
    func testGradientsMatchFiniteDifferencesWithSentenceBias() throws {
        var config = GeneratorConfig.tiny(); config.sentenceBias = true
        try checkGradients(config: config, extra: ["text.sentence.weight", "text.sentence.bias", "text.null_sentence"])
    }

    private func checkGradients(config: GeneratorConfig, extra: [String]) throws {
        let model = try GeneratorModel(config: config, seed: 5)
        let batch = [GeneratorExample(text: randomText(rows: 2, dim: config.textDim, seed: 7), video: randomVideo(config, seed: 8)),
                     GeneratorExample(text: nil, video: randomVideo(config, seed: 9))]
        let weights: [Float] = [1, 0.5]
        func loss() throws -> Float {
            var r = SeededRandom(seed: 0)
            return try model.lossAndGradients(batch, layerWeights: weights, rng: &r, train: false).loss
        }
        model.zeroGrad()
        _ = try loss()
        let names = ["text.proj.weight", "text.null", "text.pad", "video.0.bits.weight", "video.layer_embed",
                     "layers.0.attn.qkv.weight", "layers.1.ffn.down.weight", "layers.0.attn_norm.weight", "head.1.bias"] + extra
        let grads = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.grad.clone()) })
        for name in names {
            guard let p = model.parameters.first(where: { $0.name == name }) else { return XCTFail("no parameter \(name)") }
            let g = grads[name]!
            // The three largest-gradient entries of the tensor.
            let idx = (0..<g.count).sorted { abs(g[$0]) > abs(g[$1]) }.prefix(3)
            for i in idx {
                let old = p.value[i], h: Float = 1e-2
                p.value[i] = old + h; let lp = try loss()
                p.value[i] = old - h; let lm = try loss()
                p.value[i] = old
                let fd = (lp - lm) / (2 * h)
                XCTAssertEqual(fd, g[i], accuracy: 0.05 * abs(g[i]) + 2e-4, "\(name)[\(i)]")
            }
        }
    }

    /// exp(−NLL) sums to 1 over every code: the factorised head is a proper distribution.
    /// `bits` (forward only, what `hv-train lm-rank` scores) equals the training loss's bits per token times the
    /// layer's token count, example by example; scoring only the coarsest layer gives that layer's bits alone,
    /// and the text changes the score.
    func testBitsMatchTheTrainingLoss() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config, seed: 5)
        let batch = [GeneratorExample(text: randomText(rows: 2, dim: config.textDim, seed: 7), video: randomVideo(config, seed: 8)),
                     GeneratorExample(text: nil, video: randomVideo(config, seed: 9))]
        let scored = try model.bits(batch)
        for (i, ex) in batch.enumerated() {
            var r = SeededRandom(seed: 0)
            let l = try model.lossAndGradients([ex], layerWeights: [1, 1], rng: &r, train: false)
            for m in config.layers.indices {
                XCTAssertEqual(scored[i][m], l.bitsPerToken[m] * Double(config.layers[m].tokenCount),
                               accuracy: 1e-3 * scored[i][m], "example \(i) layer \(m)")
            }
        }
        let coarse = try model.bits(batch, layers: 1)
        XCTAssertEqual(coarse.map(\.count), [1, 1])
        for i in batch.indices { XCTAssertEqual(coarse[i][0], scored[i][0], accuracy: 1e-3 * scored[i][0]) }
        let other = try model.bits([GeneratorExample(text: randomText(rows: 2, dim: config.textDim, seed: 70), video: batch[0].video)])
        XCTAssertNotEqual(other[0].reduce(0, +), scored[0].reduce(0, +))
    }

    func testFactorisedHeadIsADistribution() {
        let head = FactorisedHead(groups: [3, 2])
        XCTAssertEqual(head.outputs, 12)
        var rng = SeededRandom(seed: 1)
        let z = (0..<head.outputs).map { _ in rng.normal() * 2 }
        var total = 0.0
        z.withUnsafeBufferPointer { zp in for code in 0..<32 { total += exp(-head.nll(zp.baseAddress!, code: UInt32(code))) } }
        XCTAssertEqual(total, 1, accuracy: 1e-5)
        // argmax is the most likely code.
        let best = z.withUnsafeBufferPointer { head.argmax($0.baseAddress!) }
        let nlls = z.withUnsafeBufferPointer { zp in (0..<32).map { head.nll(zp.baseAddress!, code: UInt32($0)) } }
        XCTAssertEqual(Int(best), nlls.indices.min { nlls[$0] < nlls[$1] })
    }

    func testGroupSplitAndHeadSizes() {
        let c = GeneratorConfig.small
        XCTAssertEqual(c.groups(ofLayer: 0), [6, 6])          // L3, 12 bits
        XCTAssertEqual(c.groups(ofLayer: 1), [5, 5, 4])       // L2, 14 bits
        XCTAssertEqual(c.groups(ofLayer: 3), [6, 6, 6])       // L0, 18 bits
        XCTAssertEqual(c.headOutputs(ofLayer: 3), 192)
        XCTAssertEqual(c.videoTokens, 2448)
    }

    /// The configuration's formula equals the built model's count; `paper` is Table 2's 3.1B-class model.
    func testParameterCounts() throws {
        var biased = GeneratorConfig.small; biased.sentenceBias = true
        for c in [GeneratorConfig.tiny(), GeneratorConfig.small, biased] {
            XCTAssertEqual(try GeneratorModel(config: c).parameterCount, c.parameterCount, c.name)
        }
        XCTAssertEqual(biased.parameterCount - GeneratorConfig.small.parameterCount, 384 * 256 + 2 * 256)
        let paper = GeneratorConfig.paper
        XCTAssertEqual(paper.depth, 24); XCTAssertEqual(paper.width, 3200); XCTAssertEqual(paper.heads, 32)
        XCTAssertEqual(paper.textLength, 120)
        XCTAssertGreaterThan(paper.parameterCount, 2_900_000_000)
        XCTAssertLessThan(paper.parameterCount, 3_200_000_000)
        XCTAssertNoThrow(try paper.validate())
    }

    func testConfigRoundTripsThroughJSON() throws {
        let c = GeneratorConfig.small
        let back = try JSONDecoder().decode(GeneratorConfig.self, from: c.jsonData())
        XCTAssertEqual(back, c)
        XCTAssertTrue(String(decoding: try c.jsonData(), as: UTF8.self).contains("\"text_length\""))
        XCTAssertFalse(String(decoding: try c.jsonData(), as: UTF8.self).contains("sentence_bias"),
                       "a model without the sentence bias keeps the config.json it had")
        var b = c; b.sentenceBias = true
        XCTAssertEqual(try JSONDecoder().decode(GeneratorConfig.self, from: b.jsonData()), b)
    }

    /// With the sentence bias the caption reaches the first prediction through its sentence vector too: two
    /// captions with the same first rows but different later rows (beyond text_length) give different logits.
    /// Without it they give the same, since the prefix holds only the first text_length rows.
    func testSentenceBiasSeesTheWholeCaption() throws {
        for bias in [false, true] {
            var config = GeneratorConfig.tiny(textLength: 2); config.sentenceBias = bias
            let model = try GeneratorModel(config: config, seed: 3)
            let video = randomVideo(config, seed: 2)
            let a = randomText(rows: 4, dim: config.textDim, seed: 1), b = a.clone()
            for i in (2 * config.textDim)..<(4 * config.textDim) { b[i] += 1 }
            let la = try model.logits([GeneratorExample(text: a, video: video)])[0].array
            let lb = try model.logits([GeneratorExample(text: b, video: video)])[0].array
            if bias { XCTAssertNotEqual(la, lb) } else { XCTAssertEqual(la, lb) }
        }
    }

    func testBadConfigsAreRefused() {
        var c = GeneratorConfig.tiny(); c.heads = 3
        XCTAssertThrowsError(try c.validate())
        c = .tiny(); c.tokenDropout = 1
        XCTAssertThrowsError(try c.validate())
        c = .tiny(); c.layers = []
        XCTAssertThrowsError(try GeneratorModel(config: c))
    }

    func testBadCodesAreRefused() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config)
        var video = randomVideo(config, seed: 1)
        video[0] = 1 << 20
        var r = SeededRandom(seed: 0)
        XCTAssertThrowsError(try model.lossAndGradients([GeneratorExample(text: nil, video: video)], layerWeights: [1, 1], rng: &r))
        XCTAssertThrowsError(try model.lossAndGradients([GeneratorExample(text: nil, video: [1, 2])], layerWeights: [1, 1], rng: &r))
    }
}
