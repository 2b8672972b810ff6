// Clip windows, work-shard selection, the deterministic split, SHA-256 vectors and metadata parsing.
import Foundation
import XCTest
@testable import HVManifest

final class PlanningTests: ManifestTestCase {
    func testClipWindows() {
        let plan = ClipPlan()
        XCTAssertEqual(plan.windows(duration: 16).map(\.frameCount), [64, 64])
        XCTAssertEqual(plan.windows(duration: 15.9999999).count, 2, "container rounding is absorbed")
        let w = plan.windows(duration: 17.5)
        XCTAssertEqual(w.map(\.frameCount), [64, 64, 12])
        XCTAssertEqual(w.map(\.startSeconds), [0, 8, 16])
        XCTAssertEqual(w.map(\.startFrame), [0, 64, 128])
        XCTAssertEqual(w[2].durationSeconds, 1.5, accuracy: 1e-9)
        XCTAssertEqual(plan.windows(duration: 16.5).count, 2, "a 0.5 s remainder is dropped")
        XCTAssertEqual(plan.windows(duration: 17).count, 3, "exactly 1 s is kept")
        XCTAssertEqual(plan.windows(duration: 0.5).count, 0)
        XCTAssertEqual(ClipPlan(clipSeconds: 4, sampleFps: 16, minSeconds: 0).windows(duration: 5).map(\.frameCount), [64, 16])
    }

    func testShardSelectorParsing() throws {
        XCTAssertEqual(try ShardSelector(parsing: "3/8"), ShardSelector(first: 3, last: 3, count: 8))
        XCTAssertEqual(try ShardSelector(parsing: "0-9"), ShardSelector(first: 0, last: 9, count: 100))
        XCTAssertEqual(try ShardSelector(parsing: "10-19/20"), ShardSelector(first: 10, last: 19, count: 20))
        for bad in ["8/8", "x", "3-1/8", "-1/4", "1/0", "1/2/3", ""] {
            XCTAssertThrowsError(try ShardSelector(parsing: bad), bad)
        }
    }

    func testShardsPartitionTheClips() throws {
        let dir = try Fixtures.tempDir()
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 20, clipsPerVideo: 3)
        let all = Set(try m.clips().map(\.clipID))
        XCTAssertEqual(all.count, 60)
        var union = Set<Int64>(), total = 0
        for k in 0..<4 {
            let part = try m.clips(shards: ShardSelector(first: k, last: k, count: 4)).map(\.clipID)
            XCTAssertFalse(part.isEmpty, "shard \(k) of 4 is empty; the hash spreads badly")
            total += part.count
            union.formUnion(part)
        }
        XCTAssertEqual(total, 60); XCTAssertEqual(union, all)
        // Shard keys are stable functions of (video key, clip index).
        XCTAssertEqual(StableKeys.shardKey(videoKey: "video0", clipIndex: 1), StableKeys.shardKey(videoKey: "video0", clipIndex: 1))
        XCTAssertNotEqual(StableKeys.shardKey(videoKey: "video0", clipIndex: 1), StableKeys.shardKey(videoKey: "video0", clipIndex: 2))
    }

    func testSplitIsDeterministicAndByVideo() throws {
        let dir = try Fixtures.tempDir()
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 200, clipsPerVideo: 2)
        let r1 = try m.assignSplits(valFraction: 0.1, seed: 7)
        let first = try m.clips().map { "\($0.clipID):\($0.split!)" }
        let r2 = try m.assignSplits(valFraction: 0.1, seed: 7)
        XCTAssertEqual(r1.trainVideos, r2.trainVideos)
        XCTAssertEqual(try m.clips().map { "\($0.clipID):\($0.split!)" }, first)
        XCTAssertTrue((8...35).contains(r1.valVideos), "\(r1.valVideos) of 200 in val for fraction 0.1")
        // Both clips of a video share its split.
        for (_, clips) in Dictionary(grouping: try m.clips(), by: \.videoKey) { XCTAssertEqual(Set(clips.map(\.split)).count, 1) }
        let r3 = try m.assignSplits(valFraction: 0.1, seed: 8)
        XCTAssertNotEqual(try m.clips().map { "\($0.clipID):\($0.split!)" }, first, "another seed gives another split")
        _ = r3
        XCTAssertEqual(try m.assignSplits(valFraction: 0, seed: 1).valVideos, 0)
        XCTAssertEqual(try m.assignSplits(valFraction: 1, seed: 1).trainVideos, 0)
    }

    func testSHA256Vectors() throws {
        XCTAssertEqual(SHA256.hash([]), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hash(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        // Streaming in odd chunk sizes gives the same digest as one update.
        let data = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        var s = SHA256()
        var i = 0
        for n in [1, 63, 64, 65, 127, 1000, 3680] { s.update(Array(data[i..<i + n])); i += n }
        XCTAssertEqual(SHA256.hexDigits(s.finalize()), SHA256.hash(data))
        let dir = try Fixtures.tempDir()
        let f = dir.appendingPathComponent("f.bin")
        try Data(data).write(to: f)
        let h = try SHA256.hashFile(f.path)
        XCTAssertEqual(h.hex, SHA256.hash(data)); XCTAssertEqual(h.bytes, 5000)
    }

    func testEmbeddingBlobIsLittleEndianFloat32() {
        let v: [Float] = [1, -2.5, 0.125]
        let blob = Manifest.blob(v)
        XCTAssertEqual([UInt8](blob), [0, 0, 0x80, 0x3F, 0, 0, 0x20, 0xC0, 0, 0, 0, 0x3E])
        XCTAssertEqual(Manifest.floats(blob), v)
    }

    func testCSVAndJSONLMetadata() throws {
        let dir = try Fixtures.tempDir()
        let csv = dir.appendingPathComponent("m.csv")
        try "\u{FEFF}videoid,contentUrl,name,duration\r\n7,clips/7.mp4,\"a, b \"\"c\"\"\nline two\",3\r\n8,/abs/8.mp4,plain,4\r\n"
            .write(to: csv, atomically: true, encoding: .utf8)
        // contentUrl is not a known path column: without --path-column a row means <id>.mp4 beside the file.
        XCTAssertEqual(try MetadataFile.read(csv.path).map(\.path), [dir.appendingPathComponent("7.mp4").path, dir.appendingPathComponent("8.mp4").path])
        let rows = try MetadataFile.read(csv.path, columns: MetadataColumns(path: "contentUrl"))
        XCTAssertEqual(rows.map(\.key), ["7", "8"])
        XCTAssertEqual(rows[0].path, dir.appendingPathComponent("clips/7.mp4").path)
        XCTAssertEqual(rows[0].caption, "a, b \"c\"\nline two")
        XCTAssertEqual(rows[1].path, "/abs/8.mp4")
        let jsonl = dir.appendingPathComponent("m.jsonl")
        try "{\"id\": 12, \"caption\": \"x\"}\n\n{\"id\": \"13\", \"caption\": \"y\", \"path\": \"v/13.mov\"}\n".write(to: jsonl, atomically: true, encoding: .utf8)
        let j = try MetadataFile.read(jsonl.path, videoDir: "/videos")
        XCTAssertEqual(j.map(\.path), ["/videos/12.mp4", "/videos/v/13.mov"])
        XCTAssertEqual(j.map(\.caption), ["x", "y"])
        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"id\": 1}\nnot json\n".write(to: bad, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try MetadataFile.read(bad.path)) { e in XCTAssertTrue("\(e)".contains("line 2"), "\(e)") }
        XCTAssertThrowsError(try MetadataFile.read(dir.appendingPathComponent("x.txt").path)) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 66)
        }
    }
}
