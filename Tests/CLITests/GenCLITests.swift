// hv-gen and `hv-train lm` as built binaries: prompt errors (before any model is loaded), a missing model, and
// the pipeline tiny tokenizer → hv-encode → hv-train lm → hv-gen → hv-info / hv-render (needs the text
// encoder in models/text-encoder; skipped without it).
import XCTest
import HVFormat
import HVTokenizer

final class GenCLITests: XCTestCase {
    var dir: String!
    override func setUp() { dir = Tools.tempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testHelpListsTheOptions() throws {
        let r = try Tools.run("hv-gen", ["--help"])
        XCTAssertEqual(r.status, 0)
        for opt in ["--cfg", "--temperature", "--top-k", "--top-p", "--seed", "--samples", "--layers", "--model", "--tokenizer"] {
            XCTAssertTrue(r.stdoutText.contains(opt), opt)
        }
        let t = try Tools.run("hv-train", ["lm", "--help"])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdoutText.contains("--clips"))
    }

    /// Bad prompts fail with one line and a sysexits code before the (here missing) model is looked at.
    func testBadPromptsAreRefused() throws {
        let missing = dir + "/no-model"
        for (prompt, code, words) in [("", Int32(64), "empty"), ("  \n ", 64, "empty"),
                                      (String(repeating: "waves ", count: 400), 64, "limit")] {
            let r = try Tools.run("hv-gen", [prompt, "--model", missing])
            XCTAssertEqual(r.status, code, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("hv-gen: error: ") && r.stderr.contains(words), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(r.stdout.isEmpty)
        }
        // Invalid UTF-8 cannot go through Process' String arguments; use the shell.
        let bin = Tools.binDir.appendingPathComponent("hv-gen").path
        let status = try Tools.sh("'\(bin)' \"$(printf 'ocean \\377\\376 waves')\" --model '\(missing)' 2>'\(dir!)/err'")
        XCTAssertEqual(status, 65)
        let err = try String(contentsOfFile: dir + "/err", encoding: .utf8)
        XCTAssertTrue(err.contains("not valid UTF-8"), err)
    }

    func testMissingModelExits66() throws {
        let r = try Tools.run("hv-gen", ["calm ocean waves", "--model", dir + "/no-model"])
        XCTAssertEqual(r.status, 66, r.stderr)
        XCTAssertTrue(r.stderr.contains("hv-train lm"), r.stderr)
    }

    func testBadOptionsExit64() throws {
        for args in [["--top-k", "0"], ["--top-p", "2"], ["--temperature", "-1"], ["--temperature", "0,x"], ["--temperature", "0,,1"], ["--temperature", "nan"], ["--rerank", "0"], ["--cfg", "7.5,x"], ["--cfg", "-1"], ["--rerank-layers", "0"], ["--rerank-first", "0"], ["--rerank-first", "1001"], ["--samples", "0"], ["--layers", "x"]] {
            let r = try Tools.run("hv-gen", ["waves"] + args)
            XCTAssertEqual(r.status, 64, "\(args): \(r.stderr)")
        }
    }

    /// --contrast's file is checked before any model is loaded: missing 66, without captions 65, and it needs
    /// --rerank 2 or more (64); so does --rerank-likelihood, which is another score than --contrast's (64).
    func testBadContrastFilesAreRefused() throws {
        let missing = dir + "/no-model"
        try "# only a comment\n\n".write(toFile: dir + "/empty.tsv", atomically: true, encoding: .utf8)
        let cases: [([String], Int32, String)] = [
            (["--rerank", "4", "--contrast", dir + "/none.tsv"], 66, "none.tsv"),
            (["--rerank", "4", "--contrast", dir + "/empty.tsv"], 65, "no caption"),
            (["--contrast", dir + "/empty.tsv"], 64, "--rerank"),
            (["--rerank-likelihood"], 64, "--rerank 2"),
            (["--rerank", "3", "--rerank-likelihood", "--contrast", dir + "/empty.tsv"], 64, "give one")]
        for (args, code, words) in cases {
            let r = try Tools.run("hv-gen", ["waves", "--model", missing] + args)
            XCTAssertEqual(r.status, code, r.stderr)
            XCTAssertTrue(r.stderr.hasPrefix("hv-gen: error: ") && r.stderr.contains(words), r.stderr)
            XCTAssertTrue(r.stdout.isEmpty)
        }
    }

    /// Trains a tiny generator on tiny-tokenizer tokens for a few steps, then generates, reads and renders.
    func testTrainGenerateRenderPipeline() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let textEncoder = root.appendingPathComponent("models/text-encoder").path
        guard FileManager.default.fileExists(atPath: textEncoder + "/model.safetensors") else {
            throw XCTSkip("models/text-encoder is missing ('make text-encoder')")
        }
        let tok = dir + "/tok"
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: .tiny, seed: 1), to: tok)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/in.y4m"), 0)
        var r = try Tools.run("hv-encode", ["--model", tok, dir + "/in.y4m", "-o", dir + "/a.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        try "# tiny\na.hvt\ta colourful test pattern with moving shapes\n".write(toFile: dir + "/clips.tsv", atomically: true, encoding: .utf8)
        let gen = dir + "/gen"
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "4", "--log-every", "1",
                                       "--out", gen, "--text-encoder", textEncoder])
        XCTAssertEqual(r.status, 0, r.stderr)
        for f in ["config.json", "model.safetensors", "train-state.safetensors", "train-lm.csv"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: gen + "/" + f), f)
        }
        let csv = try String(contentsOfFile: gen + "/train-lm.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 5)
        XCTAssertTrue(csv[0].hasPrefix("step,seconds,lr,loss") && csv[0].hasSuffix("bits_L1,bits_L0"), String(csv[0]))
        // Resume continues to step 6 and appends two rows; a dropout rate given with it is the resumed run's (a
        // training setting, recorded in config.json), not silently the first run's.
        func tokenDropout() throws -> Double? {
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: gen + "/config.json")))
            return (json as? [String: Any])?["token_dropout"] as? Double
        }
        XCTAssertEqual(try tokenDropout(), 0)
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "6", "--log-every", "1",
                                       "--out", gen, "--text-encoder", textEncoder, "--resume", "--token-dropout", "0.25"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("resuming at step 4"), r.stderr)
        XCTAssertEqual(try String(contentsOfFile: gen + "/train-lm.csv", encoding: .utf8).split(separator: "\n").count, 7)
        XCTAssertEqual(try tokenDropout(), 0.25)
        for bad in [["--token-dropout", "1"], ["--caption-dropout", "-0.1"]] {
            r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "6", "--out", gen,
                                           "--text-encoder", textEncoder, "--resume"] + bad)
            XCTAssertEqual(r.status, 64, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.contains(bad[0]), r.stderr)
        }

        // lm-rank: the one source ranks first under any prompt; a prompt for a source without clips is refused.
        try "a\ta pattern of coloured bars\n".write(toFile: dir + "/prompts.tsv", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-train", ["lm-rank", "--model", gen, "--clips", dir + "/clips.tsv", "--prompts", dir + "/prompts.tsv",
                                       "--text-encoder", textEncoder])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutText.contains("| a | a pattern of coloured bars | 1 (1) |"), r.stdoutText)
        XCTAssertTrue(r.stdoutText.contains("1 sources (chance: rank 1 for 1 in 1"), r.stdoutText)
        try "b\tsomething else\n".write(toFile: dir + "/prompts.tsv", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-train", ["lm-rank", "--model", gen, "--clips", dir + "/clips.tsv", "--prompts", dir + "/prompts.tsv",
                                       "--text-encoder", textEncoder])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("source 'b' has no training clip"), r.stderr)

        let args = ["a colourful test pattern", "--model", gen, "--tokenizer", tok, "--text-encoder", textEncoder, "--seed", "5"]
        r = try Tools.run("hv-gen", args + ["--samples", "2"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let reader = try HVTReader(bytes: [UInt8](r.stdout))
        XCTAssertEqual(reader.header.tokenizer.name, "hitvideo-tiny")
        var clips: [HVTClip] = []
        while let c = try reader.nextClip() { clips.append(c) }
        XCTAssertEqual(clips.count, 2)
        XCTAssertEqual(clips[0].layers[0]?.count, 32)
        XCTAssertEqual(clips[0].layers[1]?.count, 4)
        // Same seed, same bytes; the output renders.
        let again = try Tools.run("hv-gen", args + ["--samples", "2"])
        XCTAssertEqual(again.stdout, r.stdout)
        // Run from another folder without --text-encoder: the shipped one is found beside the executable, as
        // hv-encode finds models/tokenizer.
        let elsewhere = try Tools.run("hv-gen", ["a colourful test pattern", "--model", gen, "--tokenizer", tok, "--seed", "5",
                                                 "--samples", "2"], cwd: NSTemporaryDirectory())
        XCTAssertEqual(elsewhere.status, 0, elsewhere.stderr)
        XCTAssertEqual(elsewhere.stdout, r.stdout)
        try r.stdout.write(to: URL(fileURLWithPath: dir + "/g.hvt"))
        r = try Tools.run("hv-render", ["--model", tok, dir + "/g.hvt", "-o", dir + "/g.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // Drafts of the coarse layer weighed against captions (NAME<TAB>CAPTION, the first of each NAME used).
        try "# captions\na\ta pattern of coloured bars\na\tanother phrasing\nb\ta dark forest at night\n"
            .write(toFile: dir + "/contrast.tsv", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-gen", args + ["--rerank", "3", "--rerank-layers", "1", "--contrast", dir + "/contrast.tsv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertNotNil(try HVTReader(bytes: [UInt8](r.stdout)).nextClip())
        // Coarse layer only: layer 0 is absent from the header and the clip.
        r = try Tools.run("hv-gen", args + ["--layers", "1", "-o", dir + "/c.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let coarse = try HVTReader(bytes: [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/c.hvt"))))
        XCTAssertEqual(coarse.header.presentLayers, [1])
        XCTAssertNil(try coarse.nextClip()?.layers[0])
        r = try Tools.run("hv-render", ["--model", tok, dir + "/c.hvt", "--layers", "1", "-o", dir + "/c.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        // The dense layer alone cannot be generated (it comes last in the sequence).
        r = try Tools.run("hv-gen", args + ["--layers", "0"])
        XCTAssertEqual(r.status, 64, r.stderr)

        // sampling.json: its settings are hv-gen's defaults for this generator, the command line overrides them,
        // and a bad one is a one-line error (65). Greedy everywhere is one draw whatever the seed.
        let greedy = try Tools.run("hv-gen", args + ["--temperature", "0", "--cfg", "2"])
        XCTAssertEqual(greedy.status, 0, greedy.stderr)
        let sampled = try Tools.run("hv-gen", args)
        XCTAssertNotEqual(sampled.stdout, greedy.stdout, "temperature 1 drew the greedy codes: the test cannot tell")
        try #"{"cfg": [2], "temperature": [0], "note": "test"}"#.write(toFile: gen + "/sampling.json", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-gen", args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, greedy.stdout, "sampling.json was not used")
        r = try Tools.run("hv-gen", args + ["--temperature", "1", "--cfg", "2.5"])
        XCTAssertEqual(r.stdout, sampled.stdout, "the command line must override sampling.json")
        // Its coarse drafts too, unless the command line names drafts of its own (--rerank 1: none).
        let drafted = try Tools.run("hv-gen", args + ["--temperature", "1", "--cfg", "2", "--rerank", "3", "--rerank-likelihood"])
        XCTAssertEqual(drafted.status, 0, drafted.stderr)
        let undrafted = try Tools.run("hv-gen", args + ["--temperature", "1", "--cfg", "2", "--rerank", "1"])
        XCTAssertNotEqual(drafted.stdout, undrafted.stdout, "three drafts kept the first: the test cannot tell")
        try #"{"cfg": [2], "temperature": [1], "rerank": 3, "rerank_likelihood": true}"#.write(toFile: gen + "/sampling.json", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-gen", args)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, drafted.stdout, "sampling.json's drafts were not used")
        r = try Tools.run("hv-gen", args + ["--rerank", "1"])
        XCTAssertEqual(r.stdout, undrafted.stdout, "--rerank 1 must override sampling.json's drafts")
        // The two-stage search too (drafts of the coarse layer alone first).
        let staged = try Tools.run("hv-gen", args + ["--temperature", "1", "--cfg", "2", "--rerank", "3", "--rerank-likelihood",
                                                     "--rerank-first", "4", "--rerank-layers", "2"])
        XCTAssertEqual(staged.status, 0, staged.stderr)
        XCTAssertNotEqual(staged.stdout, drafted.stdout, "the first stage changed nothing: the test cannot tell")
        try #"{"cfg": [2], "temperature": [1], "rerank": 3, "rerank_likelihood": true, "rerank_first": 4, "rerank_layers": 2}"#
            .write(toFile: gen + "/sampling.json", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-gen", args)
        XCTAssertEqual(r.stdout, staged.stdout, "sampling.json's first stage was not used")
        r = try Tools.run("hv-gen", args + ["--rerank-first", "1"])
        XCTAssertEqual(r.stdout, undrafted.stdout, "naming --rerank-first must set every draft setting from the command line")
        for bad in [#"{"temperature": [-1]}"#, #"{"cfg": []}"#, #"{"cfg": [1, 1, 1]}"#, "not json", #"{"rerank": 0}"#,
                    #"{"rerank_likelihood": true}"#, #"{"rerank_first": 0}"#, #"{"rerank_layers": 3}"#] {
            try bad.write(toFile: gen + "/sampling.json", atomically: true, encoding: .utf8)
            r = try Tools.run("hv-gen", args)
            XCTAssertEqual(r.status, 65, "\(bad): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("hv-gen: error: ") && r.stderr.contains("sampling.json"), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        }
        try FileManager.default.removeItem(atPath: gen + "/sampling.json")

        // Word dropout: shortened phrasings join the captions (the note counts them) and a held-out prompt list
        // keeps the ones near its prompts out (each of several lists: the near prompt is in the second); a rate outside
        // [0, 1) is a usage error, and so is a prompt list without it.
        try "a\ta colourful test pattern with shapes\n".write(toFile: dir + "/held.tsv", atomically: true, encoding: .utf8)
        try "b\ta dog running on a sandy beach\n".write(toFile: dir + "/other.tsv", atomically: true, encoding: .utf8)
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "1", "--out", dir + "/gen-wd",
                                       "--text-encoder", textEncoder, "--word-dropout", "0.3", "--word-variants", "4",
                                       "--holdout-prompts", dir + "/other.tsv", "--holdout-prompts", dir + "/held.tsv"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("shortened phrasings left out for coming near a held-out prompt"), r.stderr)
        let leftOut = r.stderr.split(separator: "\n").first { $0.contains("left out for coming near") }
            .flatMap { Int($0.split(separator: " ")[2]) }
        XCTAssertGreaterThan(leftOut ?? 0, 0, "the second list's prompt is the caption itself: its phrasings stay out")
        XCTAssertTrue(r.stderr.contains("captions of 1 token files"), r.stderr)
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--out", dir + "/gen-wd", "--word-dropout", "1"])
        XCTAssertEqual(r.status, 64, r.stderr)
        // A prompt list with nothing to filter would be silently ignored: refused instead.
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--out", dir + "/gen-wd",
                                       "--holdout-prompts", dir + "/held.tsv"])
        XCTAssertEqual(r.status, 64, r.stderr)
        XCTAssertTrue(r.stderr.contains("--word-dropout"), r.stderr)

        // Conditioned on the sentence embedding: a one-row prefix, recorded in config.json and used by hv-gen.
        let sentence = dir + "/gen-sentence"
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "2",
                                       "--text-condition", "sentence", "--out", sentence, "--text-encoder", textEncoder])
        XCTAssertEqual(r.status, 0, r.stderr)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: sentence + "/config.json"))) as! [String: Any]
        XCTAssertEqual(config["text_condition"] as? String, "sentence")
        XCTAssertEqual(config["text_length"] as? Int, 1)
        r = try Tools.run("hv-gen", ["a test pattern", "--model", sentence, "--tokenizer", tok, "--text-encoder", textEncoder, "-o", dir + "/s.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--text-condition", "words", "--out", sentence])
        XCTAssertEqual(r.status, 64, r.stderr)

        // A head whose groups are wider than the preset's: recorded in config.json and sampled by hv-gen.
        let wide = dir + "/gen-wide"
        r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--steps", "2",
                                       "--group-bits", "12", "--out", wide, "--text-encoder", textEncoder])
        XCTAssertEqual(r.status, 0, r.stderr)
        let wideConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: wide + "/config.json"))) as! [String: Any]
        XCTAssertEqual(wideConfig["group_bits"] as? Int, 12)
        r = try Tools.run("hv-gen", ["a test pattern", "--model", wide, "--tokenizer", tok, "--text-encoder", textEncoder, "-o", dir + "/w.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        for bad in ["0", "13"] {
            r = try Tools.run("hv-train", ["lm", "--clips", dir + "/clips.tsv", "--config", "tiny", "--group-bits", bad, "--out", wide])
            XCTAssertEqual(r.status, 64, r.stderr)
            XCTAssertTrue(r.stderr.contains("--group-bits"), r.stderr)
        }
    }
}
