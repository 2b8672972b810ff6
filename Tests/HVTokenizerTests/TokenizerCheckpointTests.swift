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

    /// Averaging the last K snapshots gives each weight's mean over exactly those snapshots (older ones left out);
    /// asking for more than the run has, or a snapshot of another architecture, is a clear error.
    func testAveragingSnapshotsIsTheMeanOfTheLastOnes() throws {
        let run = dir + "/run"
        let m = try HierarchicalTokenizer(config: .tiny, seed: 1)
        try TokenizerCheckpoint.save(m, to: run)
        var versions: [[[Float]]] = []
        for step in 1...3 {
            for p in m.parameters { for j in 0..<p.value.count { p.value[j] = Float(step * 10 + j % 7) * (j % 2 == 0 ? 1 : -0.5) } }
            versions.append(m.parameters.map { $0.value.array })
            try TokenizerCheckpoint.saveSnapshot(m, run: run, step: step * 250)
        }
        XCTAssertEqual(TokenizerCheckpoint.snapshots(run: run).map { ($0 as NSString).lastPathComponent },
                       ["step-00000250.safetensors", "step-00000500.safetensors", "step-00000750.safetensors"])
        let (avg, used) = try TokenizerCheckpoint.averagingSnapshots(run: run, last: 2)
        XCTAssertEqual(used.count, 2)
        XCTAssertTrue(used[0].hasSuffix("step-00000500.safetensors"))
        for (i, p) in avg.parameters.enumerated() {
            for j in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 5)) {
                XCTAssertEqual(p.value[j], (versions[1][i][j] + versions[2][i][j]) / 2, accuracy: 1e-5, p.name)
            }
        }
        XCTAssertThrowsError(try TokenizerCheckpoint.averagingSnapshots(run: run, last: 4)) { e in
            XCTAssertTrue("\(e)".contains("has 3"), "\(e)")
        }
        // A snapshot of a different architecture is refused, naming the file.
        var other = TokenizerConfig.tiny
        other.stages[0].channels = 12
        try TokenizerCheckpoint.saveSnapshot(try HierarchicalTokenizer(config: other, seed: 1), run: run, step: 1000)
        XCTAssertThrowsError(try TokenizerCheckpoint.averagingSnapshots(run: run, last: 2)) { e in
            XCTAssertTrue("\(e)".contains("step-00001000"), "\(e)")
        }
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
