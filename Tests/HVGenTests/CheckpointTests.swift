// Generator checkpoints: save/load round trip, strict loading, exact resume, and formats/generator.md kept in
// step with the configuration keys and weight names.
import XCTest
import HVEngine
import HVFormat
@testable import HVGen

final class CheckpointTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = NSTemporaryDirectory() + "hvgen-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testSaveLoadRoundTripGivesTheSameLogits() throws {
        let config = GeneratorConfig.tiny()
        let model = try GeneratorModel(config: config, seed: 4)
        let id = TokenizerIdentity(name: "tok", hash: String(repeating: "ab", count: 32))
        try GeneratorCheckpoint.save(model, to: dir, tokenizer: id)
        let (back, tok) = try GeneratorCheckpoint.load(from: dir)
        XCTAssertEqual(tok, id)
        XCTAssertEqual(back.config, config)
        let ex = [GeneratorExample(text: randomText(rows: 2, dim: config.textDim, seed: 1), video: randomVideo(config, seed: 2))]
        XCTAssertEqual(try back.logits(ex).map(\.array), try model.logits(ex).map(\.array))
    }

    /// The metadata's `tokenizer` is a whole identity or empty; a short or loose string is refused by name.
    func testTheRecordedTokenizerIsATokenizerIdentity() throws {
        let model = try GeneratorModel(config: .tiny(), seed: 4)
        try GeneratorCheckpoint.save(model, to: dir)
        XCTAssertNil(try GeneratorCheckpoint.load(from: dir).tokenizer)
        let path = dir + "/" + GeneratorCheckpoint.weightsFile
        try SafeTensors.save(model.parameters.map { ($0.name, $0.value) }, dtype: .f32,
                             metadata: ["format": GeneratorCheckpoint.formatName, "tokenizer": "tok@abc"], to: path)
        XCTAssertThrowsError(try GeneratorCheckpoint.load(from: dir)) { XCTAssertTrue("\($0)".contains("'tokenizer'"), "\($0)") }
    }

    func testLoadingIsStrict() throws {
        let model = try GeneratorModel(config: .tiny(), seed: 4)
        try GeneratorCheckpoint.save(model, to: dir)
        // An extra weight, then a missing one, then a wrong shape.
        let path = dir + "/" + GeneratorCheckpoint.weightsFile
        let meta = ["format": GeneratorCheckpoint.formatName]
        var tensors = model.parameters.map { ($0.name, $0.value) }
        try SafeTensors.save(tensors + [("extra.weight", Tensor(shape: [1]))], dtype: .f32, metadata: meta, to: path)
        XCTAssertThrowsError(try GeneratorCheckpoint.load(from: dir)) { XCTAssertTrue("\($0)".contains("extra.weight")) }
        tensors.removeAll { $0.0 == "text.pad" }
        try SafeTensors.save(tensors, dtype: .f32, metadata: meta, to: path)
        XCTAssertThrowsError(try GeneratorCheckpoint.load(from: dir)) { XCTAssertTrue("\($0)".contains("text.pad")) }
        try SafeTensors.save(tensors + [("text.pad", Tensor(shape: [3]))], dtype: .f32, metadata: meta, to: path)
        XCTAssertThrowsError(try GeneratorCheckpoint.load(from: dir)) { XCTAssertTrue("\($0)".contains("text.pad")) }
        XCTAssertThrowsError(try GeneratorCheckpoint.load(from: dir + "/nothing")) {
            XCTAssertEqual(($0 as? GenError)?.exitCode, 66)
        }
    }

    /// 3 steps, save, 3 more steps in a fresh trainer from the checkpoint == 6 uninterrupted steps.
    func testResumeContinuesExactly() throws {
        var config = GeneratorConfig.tiny()
        config.tokenDropout = 0.2; config.residualDropout = 0.1; config.captionDropout = 0.3
        let data = (0..<2).map { LMExample(caption: randomText(rows: 2, dim: config.textDim, seed: UInt64($0)), video: randomVideo(config, seed: UInt64(9 + $0))) }
        var o = LMTrainingOptions(); o.steps = 6; o.warmupSteps = 2; o.learningRate = 3e-3
        let a = try LMTrainer(model: GeneratorModel(config: config, seed: 1), data: data, options: o)
        for _ in 0..<6 { _ = try a.trainStep() }
        let b = try LMTrainer(model: GeneratorModel(config: config, seed: 1), data: data, options: o)
        for _ in 0..<3 { _ = try b.trainStep() }
        try b.save(to: dir, tokenizer: nil)
        let c = try LMTrainer(model: GeneratorCheckpoint.load(from: dir).model, data: data, options: o)
        XCTAssertTrue(try c.resume(from: dir))
        XCTAssertEqual(c.step, 3)
        for _ in 0..<3 { _ = try c.trainStep() }
        for (p, q) in zip(a.model.parameters, c.model.parameters) { XCTAssertEqual(p.value.array, q.value.array, p.name) }
    }

    /// With balanced draws each source comes up about equally often however many clips it gave; without, a
    /// source comes up in proportion to its clips. Photo-motion clips NAME-vK are photograph NAME's.
    func testBalancedDrawsWeighSourcesEqually() throws {
        let config = GeneratorConfig.tiny()
        let text = randomText(rows: 2, dim: config.textDim, seed: 1), video = randomVideo(config, seed: 2)
        let names = (0..<8).map { "bbb/bbb-\($0)" } + ["aqua-v0.hvt", "aqua-v1.hvt", "tree.hvt"]
        let data = names.map { LMExample(caption: text, video: video, source: LMExample.source(ofClipNamed: $0)) }
        XCTAssertEqual(Set(data.map(\.source)), ["bbb-0", "bbb-1", "bbb-2", "bbb-3", "bbb-4", "bbb-5", "bbb-6", "bbb-7", "aqua", "tree"])
        XCTAssertEqual(LMExample.source(ofClipNamed: "out/lm/hubble-deep-field-v12.hvt"), "hubble-deep-field")
        XCTAssertEqual(LMExample.source(ofClipNamed: "kivy-v2x"), "kivy-v2x")
        // Eight clips of one video, two of a photograph, one of another video.
        let grouped = data.enumerated().map { i, ex in LMExample(caption: text, video: video, source: i < 8 ? "bbb" : ex.source) }
        func shares(balanced: Bool) throws -> [String: Double] {
            var o = LMTrainingOptions(); o.balanceSources = balanced
            let t = try LMTrainer(model: GeneratorModel(config: config, seed: 1), data: grouped, options: o)
            var rng = SeededRandom(seed: 7), counts: [String: Double] = [:]
            for _ in 0..<3000 { counts[grouped[t.drawClip(&rng)].source, default: 0] += 1 / 3000 }
            return counts
        }
        let even = try shares(balanced: true), uniform = try shares(balanced: false)
        for s in ["bbb", "aqua", "tree"] { XCTAssertEqual(even[s] ?? 0, 1.0 / 3, accuracy: 0.04, s) }
        XCTAssertEqual(uniform["bbb"] ?? 0, 8.0 / 11, accuracy: 0.04)
        XCTAssertEqual(uniform["tree"] ?? 0, 1.0 / 11, accuracy: 0.03)
    }

    /// The trainer's final score (forward only) is the training pass's loss without dropout, layer by layer.
    func testEvaluateMatchesTheTrainingPassWithoutDropout() throws {
        var config = GeneratorConfig.tiny()
        config.tokenDropout = 0.2; config.residualDropout = 0.1
        let data = (0..<3).map { LMExample(caption: randomText(rows: 2, dim: config.textDim, seed: UInt64($0)), video: randomVideo(config, seed: UInt64(5 + $0))) }
        let t = try LMTrainer(model: GeneratorModel(config: config, seed: 2), data: data, options: LMTrainingOptions())
        let got = try t.evaluate()
        var want = [Double](repeating: 0, count: config.layers.count), rng = SeededRandom(seed: 0)
        for ex in data {
            let l = try t.model.lossAndGradients([GeneratorExample(text: ex.caption, video: ex.video)],
                                                 layerWeights: config.layers.map { _ in 1 }, rng: &rng, train: false)
            for m in want.indices { want[m] += l.bitsPerToken[m] / 3 }
        }
        XCTAssertEqual(got.count, want.count)
        for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-4 * w); XCTAssertGreaterThan(g, 0.5) }
    }

    /// A config.json written before `text_condition` existed reads as `tokens`; `sentence` round-trips and needs
    /// a one-row prefix.
    func testTextConditionDefaultsToTokensAndSentenceNeedsOneRow() throws {
        var json = try JSONSerialization.jsonObject(with: GeneratorConfig.small.jsonData()) as! [String: Any]
        XCTAssertEqual(json["text_condition"] as? String, "tokens")
        json.removeValue(forKey: "text_condition")
        let old = try JSONDecoder().decode(GeneratorConfig.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(old, .small)
        var c = GeneratorConfig.small
        c.textCondition = .sentence
        XCTAssertThrowsError(try c.validate()) { XCTAssertTrue("\($0)".contains("text_length 1"), "\($0)") }
        c.textLength = 1
        XCTAssertNoThrow(try c.validate())
        XCTAssertEqual(try JSONDecoder().decode(GeneratorConfig.self, from: c.jsonData()), c)
        json["text_condition"] = "pooled"
        XCTAssertThrowsError(try JSONDecoder().decode(GeneratorConfig.self, from: JSONSerialization.data(withJSONObject: json)))
    }

    /// Every config key and every weight name (with indices generalised) appears in formats/generator.md.
    func testFormatDocumentNamesEveryKeyAndWeight() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let doc = try String(contentsOf: root.appendingPathComponent("formats/generator.md"), encoding: .utf8)
        var biased = GeneratorConfig.small; biased.sentenceBias = true     // writes every key
        let json = try JSONSerialization.jsonObject(with: biased.jsonData()) as! [String: Any]
        for key in json.keys { XCTAssertTrue(doc.contains("`\(key)`") || doc.contains(key + "`"), key) }
        for key in ["tokenizer_layer", "grid_t", "grid_h", "grid_w", "bits"] { XCTAssertTrue(doc.contains(key), key) }
        var tiny = GeneratorConfig.tiny(); tiny.sentenceBias = true          // has every weight
        let model = try GeneratorModel(config: tiny)
        for p in model.parameters {
            let generic = p.name.replacingOccurrences(of: #"\.(\d+)\."#, with: ".<i>.", options: .regularExpression)
            let alt = p.name.replacingOccurrences(of: #"\.(\d+)\."#, with: ".<m>.", options: .regularExpression)
            XCTAssertTrue(doc.contains("`\(generic)`") || doc.contains("`\(alt)`") || doc.contains("`\(p.name)`"), p.name)
        }
        XCTAssertTrue(doc.contains(GeneratorCheckpoint.formatName))
    }
}
