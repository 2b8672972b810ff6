import XCTest
import HVEngine
@testable import HVTokenizer

final class TokenizerCheckpointTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "hvtok-\(UUID().uuidString)"
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func clip() -> Tensor {
        let x = Tensor(shape: [8, 32, 32, 3])
        var rng = SeededRandom(seed: 9)
        for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        return x
    }

    func testSaveLoadGivesIdenticalOutputs() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 11)
        let id = try TokenizerCheckpoint.save(m, to: dir)
        XCTAssertEqual(id.hash.count, 64)
        let loaded = try TokenizerCheckpoint.load(from: dir)
        XCTAssertEqual(loaded.identity, id)
        let x = clip()
        XCTAssertEqual(m.encode(x), loaded.encode(x))
        let idx = m.encode(x).map { Optional($0) }
        XCTAssertEqual(m.decode(indices: idx, frames: 8, height: 32, width: 32).array,
                       loaded.decode(indices: idx, frames: 8, height: 32, width: 32).array)
    }

    func testEncodingIsDeterministic() throws {
        let a = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let b = try HierarchicalTokenizer(config: .tiny, seed: 3)
        XCTAssertEqual(a.encode(clip()), b.encode(clip()))
    }

    func testDifferentWeightsGiveDifferentIdentity() throws {
        let a = try HierarchicalTokenizer(config: .tiny, seed: 1)
        let b = try HierarchicalTokenizer(config: .tiny, seed: 2)
        let ia = try TokenizerCheckpoint.save(a, to: dir + "/a")
        let ib = try TokenizerCheckpoint.save(b, to: dir + "/b")
        XCTAssertEqual(ia.name, ib.name)
        XCTAssertNotEqual(ia.hash, ib.hash)
    }

    func testStrictLoadRejectsWrongCheckpoint() throws {
        // Weights of one architecture under the config of another: a named weight is missing or mis-shaped.
        let m = try HierarchicalTokenizer(config: .tiny, seed: 1)
        try TokenizerCheckpoint.save(m, to: dir)
        var other = TokenizerConfig.tiny
        other.stages[0].channels = 12
        try other.canonicalJSON().write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try TokenizerCheckpoint.load(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("encoder."), "error should name the weight: \(e)")
        }
    }

    func testMissingCheckpointIsClearError() {
        XCTAssertThrowsError(try TokenizerCheckpoint.load(from: dir + "/nothing")) { e in
            XCTAssertTrue("\(e)".contains("no tokenizer checkpoint"), "\(e)")
        }
    }
}
