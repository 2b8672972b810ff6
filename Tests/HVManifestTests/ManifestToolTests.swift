// hv-manifest as users run it: --help, init/add/split/status/list/export on a fixture dataset made with
// ffmpeg (CSV and JSONL metadata, --dir with a sidecar caption), and error exits (sysexits codes).
import Foundation
import GRDB
import XCTest
@testable import HVManifest

final class ManifestToolTests: ManifestTestCase {
    func testHelpListsSubcommands() throws {
        let r = try Fixtures.run(try Fixtures.tool("hv-manifest"), ["--help"])
        XCTAssertEqual(r.status, 0)
        for sub in ["init", "add", "split", "embed", "status", "list", "claim", "done", "fail", "reset", "merge", "pack", "search", "export"] {
            XCTAssertTrue(r.stdout.contains(sub), "help lacks \(sub)")
        }
        XCTAssertEqual(r.stderr, "")
        let add = try Fixtures.run(try Fixtures.tool("hv-manifest"), ["add", "--help"])
        XCTAssertEqual(add.status, 0)
        XCTAssertTrue(add.stdout.contains("--clip-seconds"))
    }

    func testAddSplitStatusListExportOnFixtureDataset() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let data = try Fixtures.dataset()
        let db = data.appendingPathComponent("m.db").path
        XCTAssertEqual(try Fixtures.run(tool, ["init", db]).status, 0)
        let add = try Fixtures.run(tool, ["add", db, "--metadata", data.appendingPathComponent("meta.csv").path])
        XCTAssertEqual(add.status, 0, add.stderr)
        XCTAssertEqual(add.stdout, "")
        XCTAssertTrue(add.stderr.contains("added 3 videos, 4 clips, 3 captions"), add.stderr)
        XCTAssertTrue(add.stderr.contains("shorter than --min-seconds"), add.stderr)
        let m = try Manifest(path: db)
        // a.mp4 (17.5 s) → 8, 8, 1.5 s; b.mp4 (8 s) → one clip; c.mp4 (0.5 s) → none.
        let clips = try m.clips()
        XCTAssertEqual(clips.map(\.videoKey), ["a", "a", "a", "b"])
        XCTAssertEqual(clips.map(\.frameCount), [64, 64, 12, 64])
        let video = try m.queue.read { try Row.fetchOne($0, sql: "SELECT * FROM video WHERE key = 'a'") }!
        XCTAssertEqual(video["width"] as Int, 64); XCTAssertEqual(video["height"] as Int, 48)
        XCTAssertEqual(video["fps"] as Double, 10, accuracy: 1e-6)
        XCTAssertEqual(video["duration"] as Double, 17.5, accuracy: 0.15)
        XCTAssertEqual((video["sha256"] as String), try SHA256.hashFile(data.appendingPathComponent("videos/a.mp4").path).hex)
        XCTAssertEqual(try m.queue.read { try String.fetchAll($0, sql: "SELECT text FROM caption ORDER BY id") },
                       ["a colourful test pattern, with a moving \"clock\"", "test pattern scrolling", "a very short clip"])

        // Re-adding is a no-op; JSONL adds the new caption to the known video.
        let again = try Fixtures.run(tool, ["add", db, "--metadata", data.appendingPathComponent("meta.jsonl").path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stderr.contains("added 0 videos, 0 clips, 1 captions; 2 videos already present"), again.stderr)

        XCTAssertEqual(try Fixtures.run(tool, ["split", db, "--val-fraction", "0.5", "--seed", "3"]).status, 0)
        let splitOnce = try m.clips().map(\.split)
        XCTAssertEqual(try Fixtures.run(tool, ["split", db, "--val-fraction", "0.5", "--seed", "3"]).status, 0)
        XCTAssertEqual(try m.clips().map(\.split), splitOnce)
        XCTAssertFalse(splitOnce.contains(nil))

        let status = try Fixtures.run(tool, ["status", db])
        XCTAssertEqual(status.status, 0)
        XCTAssertTrue(status.stdout.contains("videos        3"), status.stdout)
        XCTAssertTrue(status.stdout.contains("clips         4"), status.stdout)
        XCTAssertTrue(status.stdout.contains("captions      4"), status.stdout)
        let json = try Fixtures.run(tool, ["status", db, "--json"])
        let obj = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(obj["clips"] as? Int, 4)
        XCTAssertEqual(obj["schema_version"] as? String, ManifestSchema.latestVersion)

        let list = try Fixtures.run(tool, ["list", db, "--pending"])
        let lines = list.stdout.split(separator: "\n").map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[2], ["3", data.appendingPathComponent("videos/a.mp4").standardizedFileURL.path, "16", "1.5"])
        // Shards 0-1 of 2 together are the whole list.
        let s0 = try Fixtures.run(tool, ["list", db, "--pending", "--shard", "0/2"]).stdout
        let s1 = try Fixtures.run(tool, ["list", db, "--pending", "--shards", "1-1/2"]).stdout
        XCTAssertEqual(Set((s0 + s1).split(separator: "\n")), Set(list.stdout.split(separator: "\n")))

        // A worker round: claim, done; export lists the done clip with its caption.
        let claim = try Fixtures.run(tool, ["claim", db, "--worker", "t"])
        let id = try XCTUnwrap(claim.stdout.split(separator: "\t").first.map(String.init))
        let tok = data.appendingPathComponent("\(id).hvt")
        try Data(repeating: 7, count: 100).write(to: tok)
        let done = try Fixtures.run(tool, ["done", db, id, "--token-file", tok.path, "--tokenizer-hash", "abc", "--masked-fraction", "0.25"])
        XCTAssertEqual(done.status, 0, done.stderr)
        let export = try Fixtures.run(tool, ["export", db, "--split", "all"])
        XCTAssertEqual(export.status, 0, export.stderr)
        let items = try export.stdout.split(separator: "\n").map { try JSONDecoder().decode(TrainingItem.self, from: Data($0.utf8)) }
        XCTAssertEqual(items.count, 1)
        XCTAssertEqual(items[0].clip, Int64(id)); XCTAssertEqual(items[0].tokenFile, tok.path)
        XCTAssertEqual(items[0].caption, "a colourful test pattern, with a moving \"clock\"")
        let tf = try m.queue.read { try Row.fetchOne($0, sql: "SELECT bytes, bits, masked_fraction FROM token_file") }!
        XCTAssertEqual(tf["bytes"] as Int, 100); XCTAssertEqual(tf["bits"] as Int, 800); XCTAssertEqual(tf["masked_fraction"] as Double, 0.25)
        let all = try Fixtures.run(tool, ["export", db, "--split", "all", "--all-clips", "-o", data.appendingPathComponent("list.jsonl").path])
        XCTAssertEqual(all.stdout, "")
        XCTAssertEqual(try String(contentsOf: data.appendingPathComponent("list.jsonl"), encoding: .utf8).split(separator: "\n").count, 4)
    }

    func testAddDirectoryWithSidecarCaption() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("v/sub"), withIntermediateDirectories: true)
        try Fixtures.makeVideo(dir.appendingPathComponent("v/sub/x.mp4"), seconds: 9)
        try "a sidecar caption\n".write(to: dir.appendingPathComponent("v/sub/x.txt"), atomically: true, encoding: .utf8)
        try "not a video".write(to: dir.appendingPathComponent("v/readme.md"), atomically: true, encoding: .utf8)
        let db = dir.appendingPathComponent("m.db").path
        XCTAssertEqual(try Fixtures.run(tool, ["init", db]).status, 0)
        let r = try Fixtures.run(tool, ["add", db, "--dir", dir.appendingPathComponent("v").path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try Manifest(path: db)
        XCTAssertEqual(try m.clips().map(\.videoKey), ["sub/x.mp4", "sub/x.mp4"])   // 8 s + 1 s
        XCTAssertEqual(try m.queue.read { try String.fetchAll($0, sql: "SELECT text FROM caption") }, ["a sidecar caption"])
    }

    func testErrorsAreOneLineWithSysexitsCodes() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        let missing = try Fixtures.run(tool, ["status", dir.appendingPathComponent("nope.db").path])
        XCTAssertEqual(missing.status, 66)
        XCTAssertEqual(missing.stdout, "")
        XCTAssertTrue(missing.stderr.hasPrefix("hv-manifest: error: manifest"), missing.stderr)
        XCTAssertEqual(missing.stderr.split(separator: "\n").count, 1)

        let text = dir.appendingPathComponent("t.txt")
        try String(repeating: "not sqlite ", count: 20).write(to: text, atomically: true, encoding: .utf8)
        let foreign = try Fixtures.run(tool, ["status", text.path])
        XCTAssertEqual(foreign.status, 65, foreign.stderr)

        // Reading subcommands never write: a 0-byte file stays 0 bytes, a manifest stays byte for byte.
        let empty = dir.appendingPathComponent("empty.db").path
        FileManager.default.createFile(atPath: empty, contents: Data())
        XCTAssertEqual(try Fixtures.run(tool, ["status", empty]).status, 65)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: empty)).count, 0)

        let db = dir.appendingPathComponent("m.db").path
        XCTAssertEqual(try Fixtures.run(tool, ["init", db]).status, 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: db))
        for sub in [["status", db], ["list", db], ["export", db, "-o", dir.appendingPathComponent("x.tsv").path]] {
            XCTAssertEqual(try Fixtures.run(tool, sub).status, 0, "\(sub)")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: db)), before, "a reading subcommand changed the file")

        // A damaged manifest is not "up to date".
        let broken = dir.appendingPathComponent("broken.db").path
        XCTAssertEqual(try Fixtures.run(tool, ["init", broken]).status, 0)
        do {
            let q = try DatabaseQueue(path: broken)
            try q.write { db in
                try db.execute(sql: "CREATE TABLE filler (t TEXT)")
                for i in 0..<400 { try db.execute(sql: "INSERT INTO filler VALUES (?)", arguments: [String(repeating: "x\(i)", count: 40)]) }
            }
        }
        var bytes = try Data(contentsOf: URL(fileURLWithPath: broken))
        for i in (bytes.count / 2)..<(bytes.count / 2 + 3000) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try bytes.write(to: URL(fileURLWithPath: broken))
        let damaged = try Fixtures.run(tool, ["init", broken])
        XCTAssertNotEqual(damaged.status, 0, damaged.stderr)
        XCTAssertFalse(damaged.stderr.contains("up to date"), damaged.stderr)
        XCTAssertEqual(damaged.stderr.split(separator: "\n").count, 1, damaged.stderr)

        let badVideo = dir.appendingPathComponent("bad.mp4")
        try "garbage".write(to: badVideo, atomically: true, encoding: .utf8)
        try "path,caption\nbad.mp4,x\n".write(to: dir.appendingPathComponent("m.csv"), atomically: true, encoding: .utf8)
        let probe = try Fixtures.run(tool, ["add", db, "--metadata", dir.appendingPathComponent("m.csv").path])
        XCTAssertEqual(probe.status, 65, probe.stderr)
        XCTAssertTrue(probe.stderr.hasPrefix("hv-manifest: error: ffprobe cannot read"), probe.stderr)

        try "path,caption\ngone.mp4,x\n".write(to: dir.appendingPathComponent("g.csv"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Fixtures.run(tool, ["add", db, "--metadata", dir.appendingPathComponent("g.csv").path]).status, 66)
        let skip = try Fixtures.run(tool, ["add", db, "--metadata", dir.appendingPathComponent("g.csv").path, "--skip-missing"])
        XCTAssertEqual(skip.status, 0); XCTAssertTrue(skip.stderr.contains("warning: skipping missing video"))

        XCTAssertEqual(try Fixtures.run(tool, ["add", db]).status, 64)                          // neither --dir nor --metadata
        XCTAssertEqual(try Fixtures.run(tool, ["list", db, "--shard", "9/4"]).status, 64)       // bad shard
        XCTAssertEqual(try Fixtures.run(tool, ["split", db, "--val-fraction", "2"]).status, 64)
        XCTAssertEqual(try Fixtures.run(tool, ["add", db, "--metadata", dir.appendingPathComponent("m.txt").path]).status, 66)
        XCTAssertEqual(try Fixtures.run(tool, ["done", db, "42", "--token-file", "x", "--tokenizer-hash", "t", "--bytes", "1"]).status, 65)
        XCTAssertEqual(try Fixtures.run(tool, ["embed", db, "--model", dir.path]).status, 0, "nothing to embed is not an error")
    }

    func testEmbedStoresUnitVectorsOnce() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let model = Fixtures.packageRoot.appendingPathComponent("models/text-encoder")
        guard FileManager.default.fileExists(atPath: model.appendingPathComponent("model.safetensors").path) else {
            let msg = "SKIPPED: text encoder not fetched at \(model.path); run 'make text-encoder'"
            FileHandle.standardError.write(Data((msg + "\n").utf8))
            throw XCTSkip(msg)
        }
        let dir = try Fixtures.tempDir()
        let db = dir.appendingPathComponent("m.db").path
        _ = try Fixtures.syntheticManifest(at: db, videos: 3, clipsPerVideo: 1)
        let r = try Fixtures.run(tool, ["embed", db, "--model", model.path, "--batch", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("stored 3 embeddings"), r.stderr)
        let m = try Manifest(path: db)
        for id in Int64(1)...3 {
            let v = try XCTUnwrap(m.embedding(captionID: id, encoder: "sentence-transformers/all-MiniLM-L6-v2"))
            XCTAssertEqual(v.count, 384)
            XCTAssertEqual(v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot(), 1, accuracy: 1e-5)
        }
        let again = try Fixtures.run(tool, ["embed", db, "--model", model.path])
        XCTAssertEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already has"), again.stderr)
        let badModel = try Fixtures.run(tool, ["embed", db, "--model", dir.path, "--encoder-id", "other"])
        XCTAssertEqual(badModel.status, 66, badModel.stderr)
        XCTAssertTrue(badModel.stderr.contains("make text-encoder"), badModel.stderr)
    }
}
