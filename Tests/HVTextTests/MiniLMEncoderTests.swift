// The all-MiniLM-L6-v2 encoder against sentence-transformers (Golden/embeddings.json, from make_golden.py):
// sentence embeddings with cosine ≥ 0.9999 and per-token hidden states within 1e-3.
import XCTest
import HVEngine
@testable import HVText

final class MiniLMEncoderTests: XCTestCase {
    static var cached: MiniLMEncoder?
    func encoder() throws -> MiniLMEncoder {
        if let e = MiniLMEncoderTests.cached { return e }
        let e = try MiniLMEncoder(modelDirectory: try TextFixtures.requireModel())
        MiniLMEncoderTests.cached = e
        return e
    }

    static func cosine(_ a: [Float], _ b: [Float]) -> Double {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for (x, y) in zip(a, b) { ab += Double(x) * Double(y); aa += Double(x) * Double(x); bb += Double(y) * Double(y) }
        return ab / (aa.squareRoot() * bb.squareRoot())
    }

    func testSentenceEmbeddingsMatchSentenceTransformers() throws {
        let enc = try encoder()
        let g = try TextFixtures.json("embeddings.json")
        let sentences = try XCTUnwrap(g["sentences"] as? [String])
        let want = try XCTUnwrap(g["embeddings"] as? [[Double]])
        let got = enc.embed(sentences)   // one packed batch of different lengths
        XCTAssertEqual(got.count, sentences.count)
        let cosines = sentences.indices.map { MiniLMEncoderTests.cosine(got[$0], want[$0].map(Float.init)) }
        print("MiniLM golden: min cosine \(cosines.min()!) over \(sentences.count) sentences")
        for (i, s) in sentences.enumerated() {
            XCTAssertEqual(got[i].count, 384)
            let c = MiniLMEncoderTests.cosine(got[i], want[i].map(Float.init))
            XCTAssertGreaterThanOrEqual(c, 0.9999, "cosine \(c) for \(s.prefix(40).debugDescription)")
            let norm = got[i].reduce(0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        // Batching does not change a sentence's embedding.
        let single = enc.embed([sentences[1]])[0]
        XCTAssertGreaterThan(MiniLMEncoderTests.cosine(single, got[1]), 0.999999)
    }

    func testHiddenStatesMatchTransformers() throws {
        let enc = try encoder()
        let g = try TextFixtures.json("embeddings.json")
        let sentence = try XCTUnwrap(g["hidden_sentence"] as? String)
        let shape = try XCTUnwrap(g["hidden_shape"] as? [Int])
        let want = try XCTUnwrap(g["hidden"] as? [Double])
        let h = enc.hiddenStates([sentence])[0]
        XCTAssertEqual(h.shape, shape)
        var maxErr = 0.0
        for i in 0..<h.count { maxErr = max(maxErr, abs(Double(h[i]) - want[i])) }
        print("MiniLM golden: max abs error of hidden states \(maxErr)")
        XCTAssertLessThan(maxErr, 1e-3, "max abs error of hidden states")
    }

    func testMisshapedWeightIsNamed() throws {
        let dir = try TextFixtures.requireModel()
        var config = BertConfig()
        config.hiddenSize = 256
        config.headCount = 8
        XCTAssertThrowsError(try BertWeights(file: (dir as NSString).appendingPathComponent("model.safetensors"), config: config)) { e in
            XCTAssertTrue("\(e)".contains("embeddings.word_embeddings.weight"), "\(e)")
        }
    }

    func testMeanPoolNormalizeNaive() {
        let t = Tensor(shape: [2, 2], values: [3, 0, 1, 4])  // mean (2, 2) → (1/√2, 1/√2)
        let v = MiniLMEncoder.meanPoolNormalize(t)
        XCTAssertEqual(v[0], 0.70710678, accuracy: 1e-6)
        XCTAssertEqual(v[1], 0.70710678, accuracy: 1e-6)
        let row = MiniLMEncoder.sentenceState(t)
        XCTAssertEqual(row.shape, [1, 2])
        XCTAssertEqual(row.array, v)
    }
}
