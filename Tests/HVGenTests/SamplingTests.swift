// Tests of sampling and training: the CFG formula, RoPE positions per layer grid, loss decrease, overfitting one
// sequence and regenerating it greedily, and seed determinism.
import Foundation
import XCTest
import HVEngine
@testable import HVGen

final class SamplingTests: XCTestCase {
    func testCFGFormula() {
        let cond: [Float] = [1, 2, -3, 0.5], uncond: [Float] = [0.5, 2.5, 1, 0.5]
        var out = [Float](repeating: 0, count: 4)
        for scale: Float in [0, 1, 7.5] {
            Sampler.guide(cond: cond, uncond: uncond, scale: scale, count: 4, into: &out)
            for i in 0..<4 { XCTAssertEqual(out[i], uncond[i] + (cond[i] - uncond[i]) * scale, accuracy: 1e-6) }
        }
        Sampler.guide(cond: cond, uncond: uncond, scale: 7.5, count: 4, into: &out)
        XCTAssertEqual(out, [4.25, -1.25, -29, 0.5])
        // Greedy guided sampling picks the guided argmax (class 0 here), not the conditional one (class 1).
        let head = FactorisedHead(groups: [2])
        var rng = SeededRandom(seed: 0), scratch = [Float](repeating: 0, count: 4)
        let code = Sampler.sampleCode(head: head, cond: cond, uncond: uncond, options: SamplingOptions(cfgScale: 7.5, temperature: 0),
                                      scratch: &scratch, rng: &rng)
        XCTAssertEqual(code, 0)
    }

    func testTopKAndTopPRestrictTheClasses() {
        let z: [Float] = [0, 3, 1, 2.9, -1]
        var rng = SeededRandom(seed: 4)
        var seen = Set<Int>()
        for _ in 0..<300 { seen.insert(Sampler.sampleClass(z, count: 5, options: SamplingOptions(topK: 2), rng: &rng)) }
        XCTAssertEqual(seen, [1, 3])
        seen = []
        for _ in 0..<300 { seen.insert(Sampler.sampleClass(z, count: 5, options: SamplingOptions(topP: 0.01), rng: &rng)) }
        XCTAssertEqual(seen, [1])
        seen = []
        for _ in 0..<600 { seen.insert(Sampler.sampleClass(z, count: 5, options: SamplingOptions(), rng: &rng)) }
        XCTAssertEqual(seen.count, 5)
    }

    /// Each layer's tokens sit at their cell centres on the common 8×16×16 frame (half-units), text on 1D positions.
    func testRoPEPositionsPerLayerGrid() {
        let c = GeneratorConfig.small
        let lay = SequenceLayout(config: c)
        XCTAssertEqual(lay.coordinates.count, 3 * (32 + 2448))
        XCTAssertEqual(lay.layerOffsets, [0, 16, 144, 400])
        for i in 0..<c.textLength { XCTAssertTrue(lay.position(i) == (2 * i, 2 * i, 2 * i)) }
        let t0 = 2 * c.textLength
        // Layer 3 (1×4×4): token (0, i, j) at the centre of its 4×4 block of 16×16 and of all 8 frames.
        for i in 0..<4 { for j in 0..<4 {
            let p = lay.position(c.textLength + i * 4 + j)
            XCTAssertTrue(p == (t0 + 7, 8 * i + 3, 8 * j + 3), "L3 (\(i),\(j)) -> \(p)")
        } }
        // Layer 2 (2×8×8): frame pairs of 4, 2×2 blocks.
        XCTAssertTrue(lay.position(c.textLength + 16 + 64 + 8 + 1) == (t0 + 11, 5, 5))   // t 1, h 1, w 1
        // Layer 1 (4×8×8): frame pairs, 2×2 blocks.
        XCTAssertTrue(lay.position(c.textLength + 144 + 3 * 64) == (t0 + 13, 1, 1))
        // Layer 0 (8×16×16): the grid itself, doubled.
        XCTAssertTrue(lay.position(c.textLength + 400 + 5 * 256 + 7 * 16 + 9) == (t0 + 10, 14, 18))
        // A coarse token's position is the mean of the dense tokens it covers.
        var sum = (0, 0, 0)
        for t in 0..<8 { for h in 4..<8 { for w in 8..<12 {
            let p = lay.position(c.textLength + 400 + t * 256 + h * 16 + w); sum.0 += p.t; sum.1 += p.h; sum.2 += p.w
        } } }
        XCTAssertTrue((sum.0 / 128, sum.1 / 128, sum.2 / 128) == lay.position(c.textLength + 1 * 4 + 2))
    }

    /// Trains a tiny model for `steps` on `data` and returns the first and last losses.
    @discardableResult
    func train(_ model: GeneratorModel, _ data: [GeneratorExample], steps: Int, lr: Float) throws -> (Float, Float) {
        let opt = AdamW(parameters: model.parameters, learningRate: lr, weightDecay: 0)
        var rng = SeededRandom(seed: 11)
        var first: Float = 0, last: Float = 0
        for s in 0..<steps {
            model.zeroGrad()
            let l = try model.lossAndGradients(data, layerWeights: Array(repeating: 1, count: model.config.layers.count), rng: &rng)
            clipGradNorm(model.parameters, maxNorm: 1)
            opt.step()
            if s == 0 { first = l.loss }
            last = l.loss
        }
        return (first, last)
    }

    func testLossDecreasesOnATinyDataset() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config, seed: 1)
        let data = (0..<3).map { GeneratorExample(text: randomText(rows: 2, dim: config.textDim, seed: UInt64($0)),
                                                   video: randomVideo(config, seed: UInt64(100 + $0))) }
        let (first, last) = try train(model, data, steps: 40, lr: 3e-3)
        XCTAssertLessThan(last, 0.6 * first, "loss \(first) -> \(last)")
    }

    /// A tiny model overfitted on one captioned sequence regenerates it exactly under greedy decoding.
    func testOverfittedModelRegeneratesItsSequenceGreedily() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config, seed: 2)
        let text = randomText(rows: 3, dim: config.textDim, seed: 5)
        let video = randomVideo(config, seed: 6)
        let (_, last) = try train(model, [GeneratorExample(text: text, video: video)], steps: 150, lr: 5e-3)
        XCTAssertLessThan(last, 0.05)
        let gen = Generator(model: model)
        let out = try gen.sample(text: text, options: SamplingOptions(cfgScale: 1, temperature: 0))
        XCTAssertEqual(out, video)
        // An untrained model does not (the check can fail).
        let fresh = try Generator(model: GeneratorModel(config: config, seed: 2)).sample(text: text, options: SamplingOptions(cfgScale: 1, temperature: 0))
        XCTAssertNotEqual(fresh, video)
    }

    /// The tiny preset's generator with random weights, and a random two-row caption for it.
    func tinyGenerator(seed: UInt64, textSeed: UInt64) throws -> (GeneratorConfig, Generator, Tensor) {
        let config = GeneratorConfig.tiny()
        return (config, Generator(model: try GeneratorModel(config: config, seed: seed)), randomText(rows: 2, dim: config.textDim, seed: textSeed))
    }

    func testSameSeedSameTokens() throws {
        let (config, gen, text) = try tinyGenerator(seed: 9, textSeed: 1)
        let o = SamplingOptions(cfgScale: 3, temperature: 1, topK: 4, seed: 42)
        let a = try gen.sample(text: text, options: o), b = try gen.sample(text: text, options: o)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.count, config.videoTokens)
        var o2 = o; o2.seed = 43
        XCTAssertNotEqual(try gen.sample(text: text, options: o2), a)
        // Only the first (coarse) layer.
        XCTAssertEqual(try gen.sample(text: text, options: o, count: 4), Array(a.prefix(4)))
    }

    /// A temperature per layer: the coarse layer sampled greedily is the greedy decoder's, whatever the seed,
    /// while the layers sampled warm still follow the seed.
    func testPerLayerTemperatures() throws {
        let (config, gen, text) = try tinyGenerator(seed: 9, textSeed: 1)
        let coarse = config.layers[0].tokenCount
        let greedy = try gen.sample(text: text, options: SamplingOptions(cfgScale: 3, temperature: 0))
        var o = SamplingOptions(cfgScale: 3, temperature: 1, layerTemperatures: [0], seed: 42)
        let a = try gen.sample(text: text, options: o)
        o.seed = 43
        let b = try gen.sample(text: text, options: o)
        XCTAssertEqual(Array(a.prefix(coarse)), Array(greedy.prefix(coarse)))
        XCTAssertEqual(Array(b.prefix(coarse)), Array(greedy.prefix(coarse)))
        XCTAssertNotEqual(Array(a.dropFirst(coarse)), Array(b.dropFirst(coarse)))
        XCTAssertEqual(o.forLayer(0).temperature, 0)
        XCTAssertEqual(o.forLayer(1).temperature, 1)
        XCTAssertThrowsError(try SamplingOptions(layerTemperatures: [0, -1]).validate())
    }

    /// A guidance scale per layer: the coarse layer guided like everywhere-guided sampling gives the same codes there
    /// (same seed), the unguided fine layer differs from the guided one.
    func testPerLayerGuidance() throws {
        let (config, gen, text) = try tinyGenerator(seed: 9, textSeed: 1)
        let coarse = config.layers[0].tokenCount
        let everywhere = try gen.sample(text: text, options: SamplingOptions(cfgScale: 4, seed: 5))
        let o = SamplingOptions(cfgScale: 1, layerCfgScales: [4], seed: 5)
        XCTAssertTrue(o.guided)
        XCTAssertFalse(SamplingOptions(cfgScale: 1, layerCfgScales: [1, 1]).guided)
        let coarseOnly = try gen.sample(text: text, options: o)
        XCTAssertEqual(Array(coarseOnly.prefix(coarse)), Array(everywhere.prefix(coarse)))
        XCTAssertNotEqual(Array(coarseOnly.dropFirst(coarse)), Array(everywhere.dropFirst(coarse)))
        XCTAssertEqual(o.forLayer(0).cfgScale, 4)
        XCTAssertEqual(o.forLayer(1).cfgScale, 1)
        XCTAssertThrowsError(try SamplingOptions(layerCfgScales: [.nan]).validate())
    }

    /// One draft is plain sampling (same seed, same codes); with several, the kept draft is the best scored one,
    /// its score recomputed here by teacher forcing: Σ log p(code | text) − log p(code | null).
    func testRerankedSamplingKeepsTheBestDraft() throws {
        let (config, gen, text) = try tinyGenerator(seed: 4, textSeed: 3)
        let o = SamplingOptions(cfgScale: 3, temperature: 1, seed: 11)
        let plain = try gen.sample(text: text, options: o)
        XCTAssertEqual(try gen.sampleReranked(text: text, options: o, candidates: 1, layers: 1).codes, plain)
        let (codes, scores) = try gen.sampleReranked(text: text, options: o, candidates: 6, layers: 2)
        XCTAssertEqual(scores.count, 6)
        XCTAssertEqual(codes.count, config.videoTokens)
        let lead = config.layers[0].tokenCount + config.layers[1].tokenCount
        var score = 0.0
        _ = try gen.decode(texts: [text, nil], count: lead) { n, m, logits in
            let head = gen.model.heads[m]
            score += head.nll(logits.data + head.outputs, code: codes[n]) - head.nll(logits.data, code: codes[n])
            return codes[n]
        }
        XCTAssertEqual(score, scores.max()!, accuracy: 1e-6)
        XCTAssertGreaterThan(scores.max()!, scores.min()!)
        XCTAssertThrowsError(try gen.sampleReranked(text: text, options: o, candidates: 0, layers: 1))
        XCTAssertThrowsError(try gen.sampleReranked(text: text, options: o, candidates: 2, layers: config.layers.count + 1))
    }

    /// Drafts scored by their likelihood under the prompt alone: the kept draft's score is its log p(d | text),
    /// recomputed by teacher forcing on the prompt's row; without guidance the null row is never decoded, so the
    /// drafts are those of plain sampling's stream; likelihood and contrast together are refused.
    func testLikelihoodRerankKeepsTheMostProbableDraft() throws {
        let (config, gen, text) = try tinyGenerator(seed: 4, textSeed: 3)
        let lead = config.layers[0].tokenCount + config.layers[1].tokenCount
        for cfg: Float in [1, 3] {
            let o = SamplingOptions(cfgScale: cfg, temperature: 1, seed: 13)
            let (codes, scores) = try gen.sampleReranked(text: text, options: o, candidates: 6, layers: 2, likelihood: true)
            XCTAssertEqual(scores.count, 6)
            XCTAssertEqual(codes.count, config.videoTokens)
            XCTAssertTrue(scores.allSatisfy { $0 < 0 }, "\(scores)")
            var logp = 0.0
            _ = try gen.decode(texts: [text], count: lead) { n, m, logits in
                logp -= gen.model.heads[m].nll(logits.data, code: codes[n])
                return codes[n]
            }
            XCTAssertEqual(logp, scores.max()!, accuracy: 1e-3)
            XCTAssertGreaterThan(scores.max()!, scores.min()!)
            let pmi = try gen.sampleReranked(text: text, options: o, candidates: 6, layers: 2)
            if cfg != 1 { XCTAssertNotEqual(pmi.scores, scores, "another score of the same drafts") }
        }
        XCTAssertThrowsError(try gen.sampleReranked(text: text, options: SamplingOptions(cfgScale: 1, seed: 1), candidates: 2,
                                                    layers: 1, contrast: [text], likelihood: true))
    }

    /// The two-stage search: the coarsest layer is the one a search of that layer alone keeps (the same draws of the
    /// same stream), and the second stage's drafts all continue it, the best of them scored over both layers.
    func testStagedRerankKeepsTheBestCoarseLayerFirst() throws {
        let (config, gen, text) = try tinyGenerator(seed: 4, textSeed: 3)
        let first = config.layers[0].tokenCount, lead = first + config.layers[1].tokenCount
        let o = SamplingOptions(cfgScale: 1, temperature: 1, seed: 17)
        let alone = try gen.sampleReranked(text: text, options: o, candidates: 8, layers: 1, likelihood: true)
        let (codes, scores) = try gen.sampleReranked(text: text, options: o, candidates: 5, layers: 2, firstCandidates: 8,
                                                     likelihood: true)
        XCTAssertEqual(Array(codes.prefix(first)), Array(alone.codes.prefix(first)))
        XCTAssertEqual(scores.count, 5)
        XCTAssertEqual(codes.count, config.videoTokens)
        var logp = 0.0
        _ = try gen.decode(texts: [text], count: lead) { n, m, logits in
            logp -= gen.model.heads[m].nll(logits.data, code: codes[n])
            return codes[n]
        }
        XCTAssertEqual(logp, scores.max()!, accuracy: 1e-3)
        let joint = try gen.sampleReranked(text: text, options: o, candidates: 5, layers: 2, likelihood: true)
        XCTAssertNotEqual(joint.codes, codes, "the staged search draws other drafts")
        XCTAssertThrowsError(try gen.sampleReranked(text: text, options: o, candidates: 2, layers: 2, firstCandidates: 0))
    }

    /// Drafts decoded side by side as one batch against the same drafts decoded one after another (the reference):
    /// the same codes, the same scores to the bit, whatever the scoring, guidance, stages and per-layer temperatures
    /// (a greedy layer takes no uniforms from the stream, so the drafts' streams must skip only the sampled ones).
    func testBatchedDraftsMatchDraftsDecodedOneAfterAnother() throws {
        let (config, gen, text) = try tinyGenerator(seed: 4, textSeed: 3)
        try XCTSkipUnless(gen.canBatchDrafts(rows: 2), "no half-precision decoding kernels on this CPU")
        let others = [randomText(rows: 2, dim: config.textDim, seed: 21)]
        let cases: [(SamplingOptions, Int, Int, Int, [Tensor], Bool)] = [
            (SamplingOptions(cfgScale: 1, temperature: 1, seed: 17), 5, 2, 8, [], true),
            (SamplingOptions(cfgScale: 1, temperature: 0.5, seed: 3), 6, 1, 1, [], true),
            (SamplingOptions(cfgScale: 2, temperature: 1, topK: 3, seed: 7), 4, 2, 1, [], false),
            (SamplingOptions(cfgScale: 2, temperature: 1, layerTemperatures: [0], seed: 9), 3, 2, 4, [], true),
            (SamplingOptions(cfgScale: 1.5, temperature: 0.8, seed: 11), 3, 2, 1, others, false),
        ]
        defer { Generator.batchedDrafts = true }
        for (i, (o, n, k, first, contrast, likelihood)) in cases.enumerated() {
            func run(_ batched: Bool) throws -> (codes: [UInt32], scores: [Double]) {
                Generator.batchedDrafts = batched
                return try gen.sampleReranked(text: text, options: o, candidates: n, layers: k, firstCandidates: first,
                                              contrast: contrast, likelihood: likelihood)
            }
            let batched = try run(true), reference = try run(false)
            XCTAssertEqual(batched.codes, reference.codes, "case \(i)")
            XCTAssertEqual(batched.scores, reference.scores, "case \(i)")
            XCTAssertEqual(Set(batched.scores).count, n, "case \(i): the drafts differ")
        }
    }

    /// The same on the shipped generator (`small`: 64-number heads, the 8-bit cache, the four-row half product, drafts
    /// of L3 + L2 + L1: 32 + 400 positions), staged as `sampling.json` stages it.
    func testBatchedDraftsMatchOneAfterAnotherOnTheShippedGenerator() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let (model, _) = try GeneratorCheckpoint.load(from: root.appendingPathComponent("models/generator").path)
        let gen = Generator(model: model)
        try XCTSkipUnless(gen.canBatchDrafts(rows: 1), "no half-precision decoding kernels on this CPU")
        let text = randomText(rows: 6, dim: model.config.textDim, seed: 5)
        let o = SamplingOptions(cfgScale: 1, temperature: 0.5, seed: 2)
        defer { Generator.batchedDrafts = true }
        func run(_ batched: Bool) throws -> (codes: [UInt32], scores: [Double]) {
            Generator.batchedDrafts = batched
            return try gen.sampleReranked(text: text, options: o, candidates: 3, layers: 3, firstCandidates: 4,
                                          likelihood: true, count: 400)
        }
        let batched = try run(true), reference = try run(false)
        XCTAssertEqual(batched.codes, reference.codes)
        XCTAssertEqual(batched.scores, reference.scores)
        XCTAssertEqual(batched.codes.count, 400)
    }

    /// Drafts weighed against contrast captions: the kept draft's score, recomputed here by teacher forcing, is the
    /// posterior of the prompt among itself and the contrast, log p(d | text) − log Σ_c p(d | c); a contrast that is
    /// the prompt itself makes every draft's posterior one half.
    func testContrastRerankScoresThePromptsPosterior() throws {
        let (config, gen, text) = try tinyGenerator(seed: 4, textSeed: 3)
        let others = [randomText(rows: 2, dim: config.textDim, seed: 21), randomText(rows: 3, dim: config.textDim, seed: 22)]
        let o = SamplingOptions(cfgScale: 2, temperature: 1, seed: 7)
        let (codes, scores) = try gen.sampleReranked(text: text, options: o, candidates: 5, layers: 2, contrast: others)
        XCTAssertEqual(scores.count, 5)
        XCTAssertEqual(codes.count, config.videoTokens)
        XCTAssertTrue(scores.allSatisfy { $0 < 0 }, "\(scores)")
        let lead = config.layers[0].tokenCount + config.layers[1].tokenCount
        var nll = [Double](repeating: 0, count: 3)
        _ = try gen.decode(texts: [text] + others, count: lead) { n, m, logits in
            let head = gen.model.heads[m]
            for i in 0..<3 { nll[i] += head.nll(logits.data + i * head.outputs, code: codes[n]) }
            return codes[n]
        }
        let posterior = -nll[0] - log(nll.map { exp(-$0) }.reduce(0, +))
        XCTAssertEqual(posterior, scores.max()!, accuracy: 1e-3)
        XCTAssertGreaterThan(scores.max()!, scores.min()!)
        // The same draws as the null-text score (the contrast rows do not touch the random stream), another choice.
        let plain = try gen.sampleReranked(text: text, options: o, candidates: 5, layers: 2)
        XCTAssertEqual(plain.scores.count, 5)
        let twin = try gen.sampleReranked(text: text, options: o, candidates: 4, layers: 1, contrast: [text])
        for s in twin.scores { XCTAssertEqual(s, -log(2.0), accuracy: 1e-3) }
        XCTAssertEqual(Generator.posterior(nll: [3, 50, 3, 3]), -log(3.0), accuracy: 1e-12)
        XCTAssertEqual(Generator.posterior(nll: [900, 0, 1000]), -log1p(exp(-100.0)), accuracy: 1e-12)
        XCTAssertEqual(Generator.posterior(nll: [1000, 0, 900]), -100 - log1p(exp(-100.0)), accuracy: 1e-9)
    }

    func testContrastCaptionsTakeEachNamesFirst() {
        let text = "# captions\nbus\ta red bus\nbus\ta bus, red\n\n  sea\t calm waves \na plain line\nsea\tagain\n"
        XCTAssertEqual(Generator.contrastCaptions(text), ["a red bus", "calm waves", "a plain line"])
        XCTAssertEqual(Generator.contrastCaptions("# nothing\n \n"), [])
    }

    func testBadSamplingOptionsAreRefused() {
        XCTAssertThrowsError(try SamplingOptions(temperature: -1).validate())
        XCTAssertThrowsError(try SamplingOptions(topK: 0).validate())
        XCTAssertThrowsError(try SamplingOptions(topP: 1.5).validate())
        XCTAssertThrowsError(try SamplingOptions(cfgScale: .nan).validate())
    }
}
