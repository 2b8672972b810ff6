// `hv-train lm --shards` as a built binary: the generator trained on WebDataset token shards (hv-manifest
// init/add/split → hv-encode → done → pack) takes the same batches as on a caption list of the same token files
// (identical weights after a few tiny steps), reads the caption states from its cache on a second run, and
// refuses bad shard paths and option mixes with one line and a sysexits code. Needs models/text-encoder.
import XCTest
import HVTokenizer

final class LMShardsCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func textEncoder() throws -> String {
        let t = LMShardsCLITests.root.appendingPathComponent("models/text-encoder").path
        guard FileManager.default.fileExists(atPath: t + "/model.safetensors") else {
            throw XCTSkip("models/text-encoder is missing ('make text-encoder')")
        }
        return t
    }

    /// Two captioned 1 s videos → tiny-tokenizer token files recorded in a manifest → one packed shard.
    /// Returns the shard folder and a caption list of the same token files in clip-id order. `masked`: the token
    /// files go through `hv-mask` (make pretokenize's default MASK_FLAGS) first.
    /// `phrasing`: video a has a second caption (a second metadata row), listed twice in the caption list too.
    func makeShards(masked: Bool = false, phrasing: String? = nil) throws -> (shards: String, clips: String) {
        let tok = dir + "/tok"
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: .tiny, seed: 1), to: tok)
        for (name, source) in [("a", "testsrc2"), ("b", "smptebars")] {
            XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i \(source)=size=32x32:rate=8 -t 1 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/\(name).y4m"), 0)
        }
        let captions = ["a colourful test pattern, with \"moving\" shapes", "colour bars"]
        try ("path,caption\na.y4m,\"\(captions[0].replacingOccurrences(of: "\"", with: "\"\""))\"\nb.y4m,\(captions[1])\n"
             + (phrasing.map { "a.y4m,\($0)\n" } ?? ""))
            .write(toFile: dir + "/videos.csv", atomically: true, encoding: .utf8)
        let db = dir + "/data.db"
        for args in [["init", db], ["add", db, "--metadata", dir + "/videos.csv"], ["split", db, "--val-fraction", "0", "--seed", "0"]] {
            let r = try Tools.run("hv-manifest", args)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
        }
        let identity = try Tools.run("hv-encode", ["--model", tok, "--print-identity"]).stdoutText.trimmingCharacters(in: .whitespacesAndNewlines)
        let hash = String(identity.split(separator: "@").last ?? "")
        let pending = try Tools.run("hv-manifest", ["list", db, "--pending"]).stdoutText.split(separator: "\n")
        XCTAssertEqual(pending.count, 2)
        var list = ""
        for (line, caption) in zip(pending, captions) {
            let f = line.split(separator: "\t").map(String.init)
            let hvt = dir + "/clip-\(f[0]).hvt"
            var r = try Tools.run("hv-encode", ["--model", tok, f[1], "-o", hvt])
            XCTAssertEqual(r.status, 0, r.stderr)
            if masked {
                r = try Tools.run("hv-mask", ["--ratio", "0.85", hvt, "-o", hvt + ".m"])
                XCTAssertEqual(r.status, 0, r.stderr)
                XCTAssertEqual(rename(hvt + ".m", hvt), 0)
            }
            r = try Tools.run("hv-manifest", ["done", db, f[0], "--token-file", hvt, "--tokenizer-hash", hash])
            XCTAssertEqual(r.status, 0, r.stderr)
            list += "\(hvt)\t\(caption)\n"
            if let phrasing, caption == captions[0] { list += "\(hvt)\t\(phrasing)\n" }
        }
        try list.write(toFile: dir + "/clips.tsv", atomically: true, encoding: .utf8)
        let r = try Tools.run("hv-manifest", ["pack", db, "--out", dir + "/shards"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (dir + "/shards", dir + "/clips.tsv")
    }

    func train(_ source: [String], out: String, encoder: String, extra: [String] = []) throws -> ToolResult {
        try Tools.run("hv-train", ["lm"] + source + ["--config", "tiny", "--steps", "3", "--log-every", "1", "--out", out,
                                                     "--text-encoder", encoder] + extra)
    }

    /// The checkpoint's weights, byte for byte.
    func weights(_ out: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
    }

    /// Two runs took the same batches: the same losses at every step and the same weights at the end.
    func assertTrainedAlike(_ a: String, _ b: String, _ why: String, line: UInt = #line) throws {
        XCTAssertEqual(try losses(a), try losses(b), "\(why): same losses", line: line)
        XCTAssertEqual(try weights(a), try weights(b), "\(why): same weights", line: line)
    }

    /// The CSV log without its wall-clock column.
    func losses(_ out: String) throws -> [String] {
        try String(contentsOfFile: out + "/train-lm.csv", encoding: .utf8).split(separator: "\n").map {
            var c = $0.split(separator: ",", omittingEmptySubsequences: false); c.remove(at: 1); return c.joined(separator: ",")
        }
    }

    func testShardsTrainLikeTheSameCaptionListAndCacheCaptionStates() throws {
        let encoder = try textEncoder()
        let (shards, clips) = try makeShards()
        var r = try train(["--shards", shards], out: dir + "/g1", encoder: encoder)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 samples of \(shards)/train/index.json"), r.stderr)
        XCTAssertTrue(r.stderr.contains("caption states: 0 from \(shards)/text-states, 2 encoded"), r.stderr)
        r = try train(["--clips", clips], out: dir + "/g2", encoder: encoder)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try losses(dir + "/g1").count, 4)
        try assertTrainedAlike(dir + "/g1", dir + "/g2", "shards and caption list")

        // Second run: every caption's states come from the cache, and give the same model. The split folder and
        // its index name the same shards.
        let cached = try FileManager.default.contentsOfDirectory(atPath: shards + "/text-states").sorted()
        XCTAssertEqual(cached.count, 2)
        r = try train(["--shards", shards + "/train/index.json"], out: dir + "/g3", encoder: encoder)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("caption states: 2 from \(shards)/text-states, 0 encoded"), r.stderr)
        XCTAssertEqual(try weights(dir + "/g3"), try weights(dir + "/g1"))
        // A damaged cache file is encoded again (with a warning), not trusted.
        try Data("junk".utf8).write(to: URL(fileURLWithPath: shards + "/text-states/" + cached[0]))
        r = try train(["--shards", shards + "/train"], out: dir + "/g4", encoder: encoder)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("1 from \(shards)/text-states, 1 encoded") && r.stderr.contains("hv-train: warning: "), r.stderr)
        XCTAssertEqual(try weights(dir + "/g4"), try weights(dir + "/g1"))
        // Balanced draws: the shards' video keys and the list's file names give the same sources, so the same
        // batches.
        let balanced = ["--balance-sources", "--steps", "6"]
        r = try train(["--shards", shards], out: dir + "/g5", encoder: encoder, extra: balanced)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 clips, 2 sources drawn equally"), r.stderr)
        r = try train(["--clips", clips], out: dir + "/g6", encoder: encoder, extra: balanced)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try losses(dir + "/g5"), try losses(dir + "/g6"), "same sources, same batches")
    }

    /// A video with two captions trains on both: the shards carry both (KEY.json `captions`), train exactly as a
    /// caption list naming the token file twice, and the second phrasing changes the model.
    func testEveryCaptionOfAClipIsTrainedOn() throws {
        let encoder = try textEncoder()
        let (shards, clips) = try makeShards(phrasing: "a test pattern of moving shapes")
        let steps = ["--steps", "8"]
        var r = try train(["--shards", shards], out: dir + "/g1", encoder: encoder, extra: steps)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("2 clips (3 captions of 2 token files)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("caption states: 0 from \(shards)/text-states, 3 encoded"), r.stderr)
        r = try train(["--clips", clips], out: dir + "/g2", encoder: encoder, extra: steps)
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertTrainedAlike(dir + "/g1", dir + "/g2", "shards and caption list")
        // Without the second phrasing (each file once): another model.
        let single = try String(contentsOfFile: clips, encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasSuffix("moving shapes") }.joined(separator: "\n") + "\n"
        XCTAssertEqual(single.split(separator: "\n").count, 2)
        try single.write(toFile: dir + "/single.tsv", atomically: true, encoding: .utf8)
        r = try train(["--clips", dir + "/single.tsv"], out: dir + "/g3", encoder: encoder, extra: steps)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("captions of"), r.stderr)
        XCTAssertNotEqual(try weights(dir + "/g3"), try weights(dir + "/g1"), "the second phrasing was trained on")
        // make train-lm's recipe (balanced sources, word dropout, the phrasings near a held-out prompt left out)
        // varies each caption list alike from either source: the shipped generator, trained on lm-data's caption
        // list, is what the shards train.
        try "b\tcolourful test pattern shapes\n".write(toFile: dir + "/holdout.tsv", atomically: true, encoding: .utf8)
        let recipe = steps + ["--balance-sources", "--word-dropout", "0.3", "--holdout-prompts", dir + "/holdout.tsv"]
        r = try train(["--shards", shards], out: dir + "/g4", encoder: encoder, extra: recipe)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("shortened phrasings left out"), r.stderr)
        XCTAssertFalse(r.stderr.contains("(3 captions of 2 token files)"), "phrasings were added: \(r.stderr)")
        r = try train(["--clips", clips], out: dir + "/g5", encoder: encoder, extra: recipe)
        XCTAssertEqual(r.status, 0, r.stderr)
        try assertTrainedAlike(dir + "/g4", dir + "/g5", "the same phrasings")
    }

    /// `hv-train lm-bits`: a row of bits/token per layer for each token file and their mean, under the null text or
    /// a caption (which changes them); refusals are one line.
    func testLMBitsScoresTokenFiles() throws {
        let encoder = try textEncoder()
        let (shards, _) = try makeShards()
        XCTAssertEqual(try train(["--shards", shards], out: dir + "/g", encoder: encoder).status, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".hvt") }.sorted().map { dir + "/" + $0 }
        XCTAssertEqual(files.count, 2)
        func table(_ extra: [String]) throws -> [[String]] {
            let r = try Tools.run("hv-train", ["lm-bits", "--model", dir + "/g", "--text-encoder", encoder] + extra + files)
            XCTAssertEqual(r.status, 0, r.stderr)
            return r.stdoutText.split(separator: "\n").dropFirst(2).map { $0.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) } }
        }
        let null = try table([]), captioned = try table(["--caption", "colour bars"])
        XCTAssertEqual(null.map(\.first), files.map { $0 } + ["mean"])
        for row in null + captioned {
            let bits = row.dropFirst(2).map { Double($0) }
            XCTAssertFalse(bits.isEmpty)
            XCTAssertTrue(bits.allSatisfy { ($0 ?? -1) > 0 && $0!.isFinite }, "\(row)")
        }
        XCTAssertNotEqual(null.map { $0.dropFirst(2) }, captioned.map { $0.dropFirst(2) }, "the caption changes the bits")
        let mean = (0..<(null[0].count - 2)).map { m in (Double(null[0][m + 2])! + Double(null[1][m + 2])!) / 2 }
        for (m, v) in mean.enumerated() { XCTAssertEqual(Double(null[2][m + 2])!, v, accuracy: 0.002) }
        var r = try Tools.run("hv-train", ["lm-bits", "--model", dir + "/g"])
        XCTAssertEqual(r.status, 64)
        r = try Tools.run("hv-train", ["lm-bits", "--model", dir + "/g", dir + "/nope.hvt"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("hv-train: error: ") && r.stderr.split(separator: "\n").count == 1, r.stderr)
    }

    func testBadShardPathsAndOptionMixesAreRefused() throws {
        let encoder = try textEncoder()
        func refused(_ args: [String], _ code: Int32, _ words: String) throws {
            let r = try train(args, out: dir + "/g", encoder: encoder)
            XCTAssertEqual(r.status, code, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("hv-train: error: ") && r.stderr.contains(words), r.stderr)
            XCTAssertTrue(r.stdout.isEmpty)
        }
        let help = try Tools.run("hv-train", ["lm", "--help"])
        XCTAssertEqual(help.status, 0, help.stderr)
        XCTAssertTrue(help.stdoutText.contains("--shards") && help.stdoutText.contains("--text-cache"), help.stdoutText)
        try refused(["--shards", dir + "/nope"], 66, "no token shards at")
        XCTAssertEqual(try train(["--shards", dir + "/nope"], out: dir + "/g", encoder: encoder).stderr.split(separator: "\n").count, 1)
        try refused([], 64, "exactly one of --clips")
        try refused(["--clips", dir + "/c.tsv", "--shards", dir], 64, "exactly one of --clips")
        // An index whose shard is missing, and a shard that is not a tar file.
        try FileManager.default.createDirectory(atPath: dir + "/s/train", withIntermediateDirectories: true)
        let index = """
            {"__kind__": "wids-shard-index-v1", "wids_version": 1, "name": "train", "tokenizer_hash": "\(String(repeating: "0", count: 64))",
             "nsamples": 1, "shardlist": [{"url": "shard-000000.tar", "nsamples": 1, "filesize": 1024}]}
            """
        try index.write(toFile: dir + "/s/train/index.json", atomically: true, encoding: .utf8)
        try refused(["--shards", dir + "/s"], 65, "missing")
        try Data(repeating: 7, count: 1024).write(to: URL(fileURLWithPath: dir + "/s/train/shard-000000.tar"))
        try refused(["--shards", dir + "/s"], 65, "not a readable tar shard")
        // Masked tokens (pretokenize's default) are refused before any caption is encoded.
        let (masked, _) = try makeShards(masked: true)
        try refused(["--shards", masked], 65, "MASK_FLAGS='--ratio 0'")
        XCTAssertFalse(FileManager.default.fileExists(atPath: masked + "/text-states"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/g"), "nothing written")
    }
}
