// hv-manifest pack (Manifest.packShards): done clips into WebDataset tar shards, recorded in the manifest, with an
// index — members and their bytes checked against the token files, a second pack a no-op, the same bytes from a
// copy of the manifest, a re-tokenized clip moved out of its old shard, and bad token files refused with nothing
// half-written or recorded. formats/shards.md names every field of KEY.json and of index.json.
import Foundation
import GRDB
import XCTest
@testable import HVFormat
@testable import HVManifest

final class ShardPackingTests: ManifestTestCase {
    static let header = HVTHeader(tokenizer: TokenizerIdentity(name: "test-tok", hash: String(repeating: "ab", count: 32)),
                                  fpsNumerator: 8, fpsDenominator: 1, width: 32, height: 32, framesPerClip: 8,
                                  layers: [HVTLayerInfo(name: "L0", gridT: 2, gridH: 4, gridW: 4, bits: 6),
                                           HVTLayerInfo(name: "L1", gridT: 1, gridH: 2, gridW: 2, bits: 12)])
    var hash: String { ShardPackingTests.header.tokenizer.hash }

    /// A token file of `windows` windows with every third L0 token masked; values from `seed`.
    static func tokenFile(windows: Int, seed: UInt32, header: HVTHeader = header) throws -> [UInt8] {
        var out: [UInt8] = []
        var h = header
        h.maskStrategy = .repeatPrevious
        let w = try HVTWriter(header: h) { out += $0 }
        try w.writeHeader()
        for k in 0..<windows {
            let l0 = (0..<32).map { UInt32(($0 * 7 + Int(seed) + k) % 64) }
            let m0 = (0..<32).map { $0 % 3 == 1 }
            let l1 = (0..<4).map { UInt32(($0 * 999 + Int(seed)) % 4096) }
            try w.write(HVTClip(frameCount: k == windows - 1 ? 5 : 8, layers: [l0.enumerated().map { m0[$0.offset] ? 0 : $0.element }, l1],
                                masks: [m0, nil]))
        }
        try w.finish()
        return out
    }

    /// A manifest of 3 videos × 2 clips, split, every clip done with a token file; video 0's caption embedded; the
    /// first video has a second caption, its second clip one of its own.
    func setUpDataset(_ dir: URL) throws -> (Manifest, [ClipWork]) {
        let m = try Fixtures.syntheticManifest(at: dir.appendingPathComponent("m.db").path, videos: 3, clipsPerVideo: 2)
        try m.queue.write { db in
            try db.execute(sql: "UPDATE clip SET split = CASE WHEN video_id = 2 THEN 'val' ELSE 'train' END")
            try db.execute(sql: "INSERT INTO caption (video_id, clip_id, text, source) SELECT video_id, id, 'own caption of clip ' || id, 'test' FROM clip WHERE id = 2")
            try db.execute(sql: "INSERT INTO caption (video_id, clip_id, text, source) VALUES (1, NULL, 'another phrasing of video 1', 'test')")
        }
        try m.storeEmbeddings(encoder: "enc", [(captionID: 1, vector: (0..<8).map { Float($0) / 10 })])
        let clips = try m.clips()
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("clips"), withIntermediateDirectories: true)
        for c in clips { try markDone(m, c.clipID, dir: dir, bytes: try ShardPackingTests.tokenFile(windows: 2, seed: UInt32(c.clipID))) }
        return (m, clips)
    }

    func markDone(_ m: Manifest, _ id: Int64, dir: URL, bytes: [UInt8]) throws {
        let path = dir.appendingPathComponent("clips/\(id).hvt").path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try m.markDone(clipID: id, worker: nil, tokenFile: TokenFileRecord(path: path, tokenizerHash: hash, bytes: Int64(bytes.count), bits: 1, maskedFraction: 0.25))
    }

    static func untar(_ path: String) throws -> [(name: String, data: [UInt8])] {
        let a = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var out: [(String, [UInt8])] = [], pos = 0
        while pos + 512 <= a.count, a[pos] != 0 {
            let name = String(decoding: a[pos..<(pos + 100)].prefix { $0 != 0 }, as: UTF8.self)
            let size = Int(String(decoding: a[(pos + 124)..<(pos + 135)], as: UTF8.self), radix: 8)!
            out.append((name, Array(a[(pos + 512)..<(pos + 512 + size)])))
            pos += 512 + (size + 511) / 512 * 512
        }
        return out
    }

    /// The int32 values of an npy array and its shape string.
    static func npyInt32(_ b: [UInt8]) -> (shape: String, values: [Int32]) {
        let n = Int(b[8]) | Int(b[9]) << 8
        let dict = String(decoding: b[10..<(10 + n)], as: UTF8.self)
        let shape = String(dict[dict.range(of: "'shape': ")!.upperBound...].prefix { $0 != ")" }) + ")"
        let data = Array(b[(10 + n)...])
        return (shape, stride(from: 0, to: data.count, by: 4).map { Int32(bitPattern: UInt32(data[$0]) | UInt32(data[$0 + 1]) << 8 | UInt32(data[$0 + 2]) << 16 | UInt32(data[$0 + 3]) << 24) })
    }

    func shardOf(_ m: Manifest) throws -> [Int64: String] {
        Dictionary(uniqueKeysWithValues: try m.queue.read { db in
            try Row.fetchAll(db, sql: "SELECT t.clip_id, s.path FROM token_file t JOIN shard s ON s.id = t.shard_id").map { ($0[0] as Int64, $0[1] as String) }
        })
    }

    func testPackWritesRecordsAndIndexesEveryDoneClipOnce() throws {
        let dir = try Fixtures.tempDir()
        let (m, clips) = try setUpDataset(dir)
        let out = dir.appendingPathComponent("shards").path
        let r = try m.packShards(PackOptions(directory: out, clipsPerShard: 3, encoder: "enc"))
        // train (videos 0 and 2): clips 1, 2, 5, 6 → 3 + 1; val (video 1): clips 3, 4.
        XCTAssertEqual(r.written.map { ($0.path as NSString).lastPathComponent }, ["shard-000000.tar", "shard-000001.tar", "shard-000000.tar"])
        XCTAssertEqual(r.written.map(\.clips), [3, 1, 2])
        XCTAssertEqual(r.written.map(\.split), ["train", "train", "val"])
        XCTAssertTrue(r.written[0].path.hasSuffix("/shards/train/shard-000000.tar"))
        XCTAssertEqual(try shardOf(m).count, clips.count)

        var seen: [Int64] = []
        for shard in r.written {
            XCTAssertEqual(Int64(try FileManager.default.attributesOfItem(atPath: shard.path)[.size] as! Int), shard.bytes)
            let members = try ShardPackingTests.untar(shard.path)
            var i = 0
            while i < members.count {
                let key = String(members[i].name.prefix { $0 != "." })
                XCTAssertFalse(key.contains("."))
                let names = members[i...].prefix { $0.name.hasPrefix(key + ".") }.map { String($0.name.dropFirst(key.count + 1)) }
                let info = try JSONDecoder().decode(ShardSampleInfo.self, from: Data(members[i].data))
                seen.append(info.clipID)
                XCTAssertEqual(key, String(format: "%09d", info.clipID))
                XCTAssertEqual(try shardOf(m)[info.clipID], shard.path)
                // Only video 0's caption has an embedding; clip 2 has its own caption, without one.
                let expected = info.clipID == 1 ? ["json", "hvt", "l0.npy", "l1.npy", "txtemb.npy"] : ["json", "hvt", "l0.npy", "l1.npy"]
                XCTAssertEqual(names, expected, "members of clip \(info.clipID)")
                let c = clips.first { $0.clipID == info.clipID }!
                XCTAssertEqual(info.video, c.videoKey); XCTAssertEqual(info.split, c.split); XCTAssertEqual(info.frames, c.frameCount)
                XCTAssertEqual(info.tokenizer, "test-tok@" + hash)
                XCTAssertEqual(info.windows, [8, 5])
                XCTAssertEqual(info.caption, info.clipID == 2 ? "own caption of clip 2" : "caption of video \(c.videoKey.dropFirst(5))")
                XCTAssertEqual(info.txtemb, info.clipID == 1 ? "enc" : nil)
                // Every phrasing travels, the packed caption first; a clip with a caption of its own lists only its own.
                XCTAssertEqual(info.captions, info.clipID == 2 ? ["own caption of clip 2"]
                               : info.clipID == 1 ? [info.caption!, "another phrasing of video 1"] : [info.caption!])
                // The .hvt member is the token file; lN.npy its tokens, -1 where masked.
                let hvt = members[i + 1].data
                XCTAssertEqual(hvt, [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir.appendingPathComponent("clips/\(info.clipID).hvt").path))))
                let reader = try HVTReader(bytes: hvt)
                var want0: [Int32] = [], want1: [Int32] = []
                while let w = try reader.nextClip() {
                    want0 += zip(w.layers[0]!, w.masks[0]!).map { $1 ? -1 : Int32($0) }
                    want1 += w.layers[1]!.map { Int32($0) }
                }
                XCTAssertEqual(ShardPackingTests.npyInt32(members[i + 2].data).shape, "(2, 2, 4, 4)")
                XCTAssertEqual(ShardPackingTests.npyInt32(members[i + 2].data).values, want0)
                XCTAssertTrue(want0.contains(-1))
                XCTAssertEqual(ShardPackingTests.npyInt32(members[i + 3].data).shape, "(2, 1, 2, 2)")
                XCTAssertEqual(ShardPackingTests.npyInt32(members[i + 3].data).values, want1)
                i += names.count
            }
        }
        XCTAssertEqual(seen.sorted(), clips.map(\.clipID), "every clip once")
        // The embedding member: 8 float16 values.
        let first = try ShardPackingTests.untar(r.written[0].path)
        let emb = first.first { $0.name == "000000001.txtemb.npy" }!.data
        let n = Int(emb[8]) | Int(emb[9]) << 8
        XCTAssertEqual(emb.count, 10 + n + 16)

        // index.json per split folder: wids' shard list with counts.
        let index = try JSONDecoder().decode(ShardIndexFile.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/train/index.json")))
        XCTAssertEqual(index.kind, "wids-shard-index-v1")
        XCTAssertEqual(index.shardlist.map(\.url), ["shard-000000.tar", "shard-000001.tar"])
        XCTAssertEqual(index.shardlist.map(\.nsamples), [3, 1])
        XCTAssertEqual(index.nsamples, 4)
        XCTAssertEqual(index.shardlist[0].filesize, r.written[0].bytes)

        // Again: nothing to pack, nothing touched.
        let before = try FileManager.default.attributesOfItem(atPath: out + "/train/index.json")[.modificationDate] as! Date
        XCTAssertEqual(try m.packShards(PackOptions(directory: out, clipsPerShard: 3, encoder: "enc")), PackResult())
        XCTAssertEqual(try FileManager.default.attributesOfItem(atPath: out + "/train/index.json")[.modificationDate] as! Date, before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: out + "/train").sorted(), ["index.json", "shard-000000.tar", "shard-000001.tar"])
    }

    func testSameManifestSameBytesAndReTokenizedClipsMoveOnce() throws {
        let dir = try Fixtures.tempDir()
        let (m, clips) = try setUpDataset(dir)
        try m.queue.writeWithoutTransaction { try $0.execute(sql: "VACUUM INTO ?", arguments: [dir.appendingPathComponent("copy.db").path]) }
        let a = dir.appendingPathComponent("a").path, b = dir.appendingPathComponent("b").path
        let ra = try m.packShards(PackOptions(directory: a, clipsPerShard: 3, encoder: "enc"))
        _ = try Manifest(path: dir.appendingPathComponent("copy.db").path).packShards(PackOptions(directory: b, clipsPerShard: 3, encoder: "enc"))
        for s in ra.written {
            XCTAssertEqual(FileManager.default.contents(atPath: s.path), FileManager.default.contents(atPath: s.path.replacingOccurrences(of: a, with: b)))
        }

        // The pipeline re-recording an unchanged token file keeps it in its shard.
        let c1 = clips[0].clipID
        try markDone(m, c1, dir: dir, bytes: try ShardPackingTests.tokenFile(windows: 2, seed: UInt32(c1)))
        XCTAssertEqual(try shardOf(m)[c1], ra.written[0].path)
        XCTAssertEqual(try m.packShards(PackOptions(directory: a, clipsPerShard: 3, encoder: "enc")).written, [])

        // A clip tokenized again into a different file: its old shard is dropped, its other clips packed again.
        try markDone(m, c1, dir: dir, bytes: try ShardPackingTests.tokenFile(windows: 3, seed: 77))
        XCTAssertNil(try shardOf(m)[c1])
        let r = try m.packShards(PackOptions(directory: a, clipsPerShard: 3, encoder: "enc"))
        XCTAssertEqual(r.dropped, [ra.written[0].path])
        XCTAssertEqual(r.written.map { ($0.path as NSString).lastPathComponent }, ["shard-000002.tar"])
        XCTAssertEqual(r.written[0].clips, 3, "clip 1 (new file) and the two other clips of the dropped shard")
        XCTAssertFalse(FileManager.default.fileExists(atPath: ra.written[0].path))
        let where_ = try shardOf(m)
        XCTAssertEqual(where_.count, clips.count)
        XCTAssertEqual(try m.queue.read { try Int.fetchOne($0, sql: "SELECT sum(clip_count) FROM shard") }, clips.count)
        let index = try JSONDecoder().decode(ShardIndexFile.self, from: Data(contentsOf: URL(fileURLWithPath: a + "/train/index.json")))
        XCTAssertEqual(index.shardlist.map(\.url), ["shard-000001.tar", "shard-000002.tar"])
        XCTAssertEqual(index.nsamples, 4)

        // Clip 6 (alone in shard-000001) re-done into a corrupt file: the run stops at it, and still the index lists
        // only the recorded shards and the dropped shard's file is gone.
        var corrupt = try ShardPackingTests.tokenFile(windows: 1, seed: 5)
        corrupt[30] ^= 0x55
        try markDone(m, clips[5].clipID, dir: dir, bytes: corrupt)
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: a, clipsPerShard: 3, encoder: "enc"))) { e in
            guard case .badTokenFile? = e as? ManifestError else { return XCTFail("\(e)") }
        }
        let after = try JSONDecoder().decode(ShardIndexFile.self, from: Data(contentsOf: URL(fileURLWithPath: a + "/train/index.json")))
        XCTAssertEqual(after.shardlist.map(\.url), ["shard-000002.tar"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: a + "/train").sorted(), ["index.json", "shard-000002.tar"])
    }

    func testBadTokenFilesAreRefusedWithNothingWrittenOrRecorded() throws {
        let dir = try Fixtures.tempDir()
        let (m, clips) = try setUpDataset(dir)
        let out = dir.appendingPathComponent("shards").path
        func assertNothingPacked() throws {
            XCTAssertEqual(try m.queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM shard") }, 0)
            let left = (FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".tar") || $0.contains(".tmp.") }
            XCTAssertEqual(left, [])
        }
        // One flipped byte: a CRC mismatch, exit 65, naming the clip.
        let bad = clips[0].clipID
        let p3 = dir.appendingPathComponent("clips/\(bad).hvt").path
        var bytes = [UInt8](FileManager.default.contents(atPath: p3)!)
        bytes[40] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: p3))
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: out, clipsPerShard: 10, encoder: "enc"))) { e in
            guard case .badTokenFile(let clip, _, _)? = e as? ManifestError else { return XCTFail("\(e)") }
            XCTAssertEqual(clip, bad)
            XCTAssertEqual((e as! ManifestError).exitCode, 65)
        }
        try assertNothingPacked()
        // A missing one: exit 66.
        try FileManager.default.removeItem(atPath: p3)
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: out, clipsPerShard: 10, encoder: "enc"))) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 66, "\(e)")
        }
        try assertNothingPacked()
        // Another tokenizer's file where the manifest names this one.
        var other = ShardPackingTests.header
        other.tokenizer = TokenizerIdentity(name: "other", hash: String(repeating: "cd", count: 32))
        let wrong = try ShardPackingTests.tokenFile(windows: 1, seed: 1, header: other)
        try Data(wrong).write(to: URL(fileURLWithPath: p3))
        try m.queue.write { try $0.execute(sql: "UPDATE token_file SET bytes = ? WHERE clip_id = ?", arguments: [wrong.count, bad]) }
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: out, clipsPerShard: 10, encoder: "enc"))) { e in
            XCTAssertTrue("\(e)".contains("made by tokenizer cdcdcdcdcdcd"), "\(e)")
        }
        try assertNothingPacked()
        // Done clips of two tokenizers: the packer asks which.
        try m.queue.write { try $0.execute(sql: "UPDATE token_file SET tokenizer_hash = ? WHERE clip_id = ?", arguments: [other.tokenizer.hash, bad]) }
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: out, encoder: "enc"))) { e in
            XCTAssertEqual((e as? ManifestError)?.exitCode, 64, "\(e)")
        }
        // Choosing one packs its clips; the other tokenizer then may not share the folder.
        XCTAssertEqual(try m.packShards(PackOptions(directory: out, tokenizerHash: hash, encoder: "enc")).clips, clips.count - 1)
        XCTAssertThrowsError(try m.packShards(PackOptions(directory: out, tokenizerHash: other.tokenizer.hash, encoder: "enc"))) { e in
            guard case .mixedTokenizers? = e as? ManifestError else { return XCTFail("\(e)") }
        }
    }

    /// The tool: shard paths on stdout, one line per shard; refusals as one `hv-manifest: error:` line and a sysexits code.
    func testToolPrintsShardsAndRefusesBadInput() throws {
        let tool = try Fixtures.tool("hv-manifest")
        let dir = try Fixtures.tempDir()
        let (_, clips) = try setUpDataset(dir)
        let db = dir.appendingPathComponent("m.db").path, out = dir.appendingPathComponent("shards").path
        for (args, code, text) in [(["pack", dir.appendingPathComponent("none.db").path, "--out", out], Int32(66), "does not exist"),
                                   (["pack", db, "--out", out, "--clips-per-shard", "0"], 64, "--clips-per-shard must be positive"),
                                   (["pack", db, "--out", out, "--tokenizer-hash", "abc"], 64, "64 lowercase hex digits"),
                                   (["pack", db, "--out", out, "--shards", "5-2/10"], 64, "bad shard selection"),
                                   (["pack", db], 64, "--out")] {
            let r = try Fixtures.run(tool, args)
            XCTAssertEqual(r.status, code, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("hv-manifest: error: ") && r.stderr.contains(text), "\(args): \(r.stderr)")
            XCTAssertEqual(r.stdout, "")
        }
        // A truncated token file: exit 65, one line naming the clip, nothing recorded.
        let p = dir.appendingPathComponent("clips/\(clips[1].clipID).hvt").path
        let whole = FileManager.default.contents(atPath: p)!
        try whole.prefix(whole.count - 3).write(to: URL(fileURLWithPath: p))
        let bad = try Fixtures.run(tool, ["pack", db, "--out", out])
        XCTAssertEqual(bad.status, 65, bad.stderr)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("hv-manifest: error: token file '\(p)' of clip \(clips[1].clipID)"), bad.stderr)
        try whole.write(to: URL(fileURLWithPath: p))
        let ok = try Fixtures.run(tool, ["pack", db, "--out", out, "--clips-per-shard", "4", "--encoder-id", "enc"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout.split(separator: "\n").map { String($0).replacingOccurrences(of: URL(fileURLWithPath: out).resolvingSymlinksInPath().path, with: "OUT") },
                       ["OUT/train/shard-000000.tar", "OUT/val/shard-000000.tar"])
        let again = try Fixtures.run(tool, ["pack", db, "--out", out])
        XCTAssertEqual(again.status, 0)
        XCTAssertEqual(again.stdout, "")
        XCTAssertTrue(again.stderr.contains("nothing to pack"), again.stderr)
    }

    /// formats/shards.md names every key of KEY.json and of index.json.
    func testFormatDocNamesEveryField() throws {
        let doc = try String(contentsOf: Fixtures.packageRoot.appendingPathComponent("formats/shards.md"), encoding: .utf8)
        let info = ShardSampleInfo(clipID: 1, video: "v", clipIndex: 0, start: 0, duration: 8, frames: 64, split: nil, caption: nil,
                                   captionID: nil, captions: [], tokenizer: "t@h", txtemb: nil, maskStrategy: "none", windows: [64],
                                   layers: [.init(name: "L0", grid: [1, 1, 1], bits: 1, member: "l0.npy")])
        let sample = try JSONSerialization.jsonObject(with: Data(ShardSample.json(info))) as! [String: Any]
        let layer = (sample["layers"] as! [[String: Any]])[0]
        let index = try JSONSerialization.jsonObject(with: JSONEncoder().encode(ShardIndexFile(name: "train", tokenizerHash: "h", nsamples: 0,
                                                                                                shardlist: [.init(url: "u", nsamples: 0, filesize: 0)]))) as! [String: Any]
        let entry = (index["shardlist"] as! [[String: Any]])[0]
        for key in Array(sample.keys) + Array(layer.keys) + Array(index.keys) + Array(entry.keys) {
            XCTAssertTrue(doc.contains("`\(key)`"), "formats/shards.md does not name `\(key)`")
        }
    }
}
