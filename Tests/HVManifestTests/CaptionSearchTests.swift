// hv-manifest search (CaptionMatrix, captionHits): brute-force cosine ranking against a naive reference (full sort
// of Double cosines), ties and k beyond the count, a caption's clips; the tool's refusals; and, with the text
// encoder fetched, a search that finds the caption it was given.
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class CaptionSearchTests: ManifestTestCase {
    struct LCG { var s: UInt64; mutating func next() -> Float { s = s &* 6364136223846793005 &+ 1442695040888963407; return Float(Int64(bitPattern: s >> 11) % 2001 - 1000) / 1000 } }

    func testNearestMatchesAFullSortOfCosines() {
        var g = LCG(s: 7)
        let n = 500, d = 24
        let ids = (0..<n).map { Int64($0 * 3 + 1) }
        let raw = (0..<(n * d)).map { _ in g.next() }
        let m = CaptionMatrix(ids: ids, dim: d, vectors: raw)
        for _ in 0..<5 {
            let q = (0..<d).map { _ in g.next() * 5 }
            func cos(_ i: Int) -> Double {
                var ab = 0.0, aa = 0.0, bb = 0.0
                for j in 0..<d { let a = Double(raw[i * d + j]), b = Double(q[j]); ab += a * b; aa += a * a; bb += b * b }
                return ab / (aa.squareRoot() * bb.squareRoot())
            }
            let want = (0..<n).sorted { cos($0) > cos($1) }.prefix(7)
            let got = m.nearest(q, k: 7)
            XCTAssertEqual(got.map(\.id), want.map { ids[$0] })
            for (h, i) in zip(got, want) { XCTAssertEqual(Double(h.score), cos(i), accuracy: 1e-5) }
        }
    }

    func testTiesByIdAndKBeyondTheCount() {
        // Rows 10 and 20 point the same way (different lengths): equal cosine, the smaller id first.
        let m = CaptionMatrix(ids: [20, 10, 30], dim: 2, vectors: [2, 0, 1, 0, 0, 1])
        let r = m.nearest([1, 0], k: 10)
        XCTAssertEqual(r.map(\.id), [10, 20, 30])
        XCTAssertEqual(r.map(\.score), [1, 1, 0])
        XCTAssertEqual(m.nearest([0, 3], k: 1).map(\.id), [30])
    }

    func testStoredEmbeddingsRankAndNameTheirClips() throws {
        let dir = try Fixtures.tempDir()
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 3, clipsPerVideo: 2)
        XCTAssertThrowsError(try m.captionMatrix(encoder: "enc")) { XCTAssertEqual(($0 as? ManifestError)?.exitCode, 66) }
        try m.queue.write { try $0.execute(sql: "INSERT INTO caption (video_id, clip_id, text, source) VALUES (3, 6, 'the last clip', 'test')") }
        // Captions 1-3: videos 0-2; caption 4: clip 6 of video 2.
        try m.storeEmbeddings(encoder: "enc", [(captionID: 1, vector: [1, 0, 0]), (captionID: 2, vector: [0, 1, 0]),
                                               (captionID: 3, vector: [0, 0, 1]), (captionID: 4, vector: [0.1, 0, 0.9])])
        try m.storeEmbeddings(encoder: "other", [(captionID: 1, vector: [1, 0])])
        let matrix = try m.captionMatrix(encoder: "enc")
        XCTAssertEqual(matrix.ids, [1, 2, 3, 4])
        let hits = try m.captionHits(matrix.nearest([0, 0.1, 1], k: 2))
        XCTAssertEqual(hits.map(\.captionID), [3, 4])
        XCTAssertEqual(hits[0].video, "video2")
        XCTAssertEqual(hits[0].clipIDs, [5, 6], "a video caption describes every clip of its video")
        XCTAssertEqual(hits[1].clipIDs, [6])
        XCTAssertEqual(hits[1].text, "the last clip")

        // A caption deleted by hand with foreign keys off (sqlite3's default) leaves its embedding: skipped.
        try m.queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: "DELETE FROM caption WHERE id = 3")
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        XCTAssertEqual(try m.captionMatrix(encoder: "enc").ids, [1, 2, 4])
        XCTAssertEqual(try m.captionHits(m.captionMatrix(encoder: "enc").nearest([0, 0.1, 1], k: 1)).map(\.captionID), [4])
    }

    func testToolRefusesBadInput() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        let db = dir.appendingPathComponent("m.db").path
        _ = try Fixtures.syntheticManifest(at: db, videos: 1, clipsPerVideo: 1)
        for (args, code, text) in [(["search", dir.appendingPathComponent("none.db").path, "x"], Int32(66), "does not exist"),
                                   (["search", db, "x", "-k", "0"], 64, "-k must be positive"),
                                   (["search", db, "  "], 64, "empty"),
                                   (["search", db, "a dog"], 66, "no caption has a sentence-transformers/all-MiniLM-L6-v2 embedding")] {
            let r = try Fixtures.run(tool, args)
            XCTAssertEqual(r.status, code, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("hv-manifest: error: ") && r.stderr.contains(text), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
        }
    }

    /// With the real encoder: each caption is its own nearest neighbour, and a paraphrase finds the right one.
    func testSearchWithTheTextEncoder() throws {
        let model = Fixtures.packageRoot.appendingPathComponent("models/text-encoder").path
        guard FileManager.default.fileExists(atPath: model + "/model.safetensors") else {
            let msg = "SKIPPED: text encoder not fetched at \(model); run 'make text-encoder'"
            FileHandle.standardError.write(Data((msg + "\n").utf8))
            throw XCTSkip(msg)
        }
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        let db = dir.appendingPathComponent("m.db").path
        let m = try Fixtures.syntheticManifest(at: db, videos: 3, clipsPerVideo: 2)
        try m.queue.write { db in
            for (id, text) in [(1, "a dog runs along a sandy beach"), (2, "traffic on a city street at night"), (3, "a bowl of soup on a kitchen table")] {
                try db.execute(sql: "UPDATE caption SET text = ? WHERE id = ?", arguments: [text, id])
            }
        }
        let embed = try Fixtures.run(tool, ["embed", db, "--model", model])
        XCTAssertEqual(embed.status, 0, embed.stderr)
        let r = try Fixtures.run(tool, ["search", db, "cars driving through town after dark", "-k", "2", "--model", model])
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdout.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0][0], "1"); XCTAssertEqual(lines[0][2], "2"); XCTAssertEqual(lines[0][3], "video1")
        XCTAssertEqual(lines[0][4], "3-4"); XCTAssertEqual(lines[0][5], "traffic on a city street at night")
        XCTAssertGreaterThan(Double(lines[0][1])!, Double(lines[1][1])!)
        let json = try Fixtures.run(tool, ["search", db, "a puppy at the seaside", "-k", "1", "--model", model, "--json"])
        let obj = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(obj["caption_id"] as? Int, 1)
        XCTAssertEqual(obj["clips"] as? [Int], [1, 2])
    }
}
