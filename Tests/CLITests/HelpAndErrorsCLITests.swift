import XCTest

final class HelpAndErrorsCLITests: XCTestCase {
    let tools = ["hv-decode", "hv-encode", "hv-mask", "hv-render", "hv-metrics", "hv-info", "hv-train", "hv-gen",
                 "hv-manifest", "hv-bench"]

    func testHelpOnEveryTool() throws {
        for t in tools {
            let r = try Tools.run(t, ["--help"])
            XCTAssertEqual(r.status, 0, t)
            XCTAssertTrue(r.stdoutText.contains("USAGE:"), "\(t) help: \(r.stdoutText)")
            XCTAssertTrue(r.stderr.isEmpty, "\(t) wrote to stderr on --help")
        }
    }

    func testUnknownOptionIsUsageError() throws {
        for t in tools {
            let r = try Tools.run(t, ["--no-such-option"])
            XCTAssertEqual(r.status, 64, t)
            XCTAssertTrue(r.stderr.hasPrefix("\(t): error: "), "\(t): \(r.stderr)")
        }
    }

    /// Text that cannot be written (a full disk: /dev/full) is an I/O error on every tool, help included.
    func testWritingToAFullDiskExits74() throws {
        for t in tools {
            let r = try Tools.run(t, ["--help"], stdoutFile: "/dev/full")
            XCTAssertEqual(r.status, 74, "\(t): \(r.stderr)")
            XCTAssertEqual(r.stderr, "\(t): error: write to 'stdout' failed: No space left on device\n", t)
        }
    }

    /// One --layers parser for every tool that takes it: a repeated, negative or non-numeric layer is a usage error.
    func testLayerListsAreParsedAlikeEverywhere() throws {
        for bad in ["3,3", "-1", "x", "1,,2"] {
            for (t, args) in [("hv-render", ["a.hvt"]), ("hv-mask", ["a.hvt"]), ("hv-gen", ["a prompt"]), ("hv-train", ["lm", "--clips", "c.tsv", "--out", "o"])] {
                let r = try Tools.run(t, args + ["--layers", bad])
                XCTAssertEqual(r.status, 64, "\(t) --layers \(bad): \(r.stderr)")
                XCTAssertTrue(r.stderr.contains("--layers"), "\(t): \(r.stderr)")
            }
        }
    }

    /// Named choices (crop, pix, strategy, split, preset, storage, config) are the parser's own: a bad name is a
    /// usage error, exit 64, whose one error line names the option and every value it takes.
    func testNamedChoicesAreRefusedByTheParser() throws {
        let cases: [(String, [String], String, String, [String])] = [
            ("hv-decode", ["a.mp4"], "--crop", "middle", ["center", "none"]),
            ("hv-decode", ["a.mp4"], "--pix", "422", ["420", "444"]),
            ("hv-mask", ["a.hvt"], "--strategy", "none", ["repeat", "zero", "learned"]),
            ("hv-manifest", ["list", "m.db"], "--split", "all", ["train", "val"]),
            ("hv-manifest", ["claim", "m.db"], "--split", "test", ["train", "val"]),
            ("hv-manifest", ["export", "m.db"], "--split", "test", ["train", "val", "all"]),
            ("hv-train", ["tokenizer", "--data", "d", "--out", "o"], "--split", "test", ["train", "val", "all"]),
            ("hv-train", ["tokenizer", "--data", "d", "--out", "o"], "--preset", "huge", ["small", "small2", "tiny", "paper"]),
            ("hv-train", ["tokenizer", "--data", "d", "--out", "o"], "--storage", "f16", ["f32", "bf16"]),
            ("hv-train", ["export", "--from", "a", "--to", "b"], "--storage", "f16", ["f32", "bf16"]),
            ("hv-train", ["lm", "--clips", "c.tsv", "--out", "o"], "--config", "huge", ["small", "paper", "tiny"]),
            ("hv-bench", ["gen"], "--config", "huge", ["small", "paper", "tiny"]),
        ]
        for (t, args, option, bad, values) in cases {
            let r = try Tools.run(t, args + [option, bad])
            XCTAssertEqual(r.status, 64, "\(t) \(option) \(bad): \(r.stderr)")
            let errors = r.stderr.split(separator: "\n").filter { $0.contains("error:") }
            XCTAssertEqual(errors.count, 1, r.stderr)
            let line = String(errors.first ?? "")
            XCTAssertTrue(line.hasPrefix("\(t): error: The value '\(bad)' is invalid for '\(option)"), line)
            for v in values { XCTAssertTrue(line.contains("'\(v)'"), "\(t) \(option): \(v) not named in: \(line)") }
        }
    }

    /// One --model (TokenizerModelOption) for every tool that runs the tokenizer: the same help wherever it is.
    func testTokenizerModelOptionReadsAlikeEverywhere() throws {
        var seen: Set<String> = []
        for (t, args) in [("hv-encode", ["--help"]), ("hv-render", ["--help"]), ("hv-metrics", ["--help"]), ("hv-bench", ["all", "--help"])] {
            let r = try Tools.run(t, args)
            let lines = r.stdoutText.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            guard let i = lines.firstIndex(where: { $0.hasPrefix("--model <model>") }) else { XCTFail("\(t) has no --model"); continue }
            seen.insert(lines[i...].prefix(2).joined(separator: " "))
        }
        XCTAssertEqual(seen.count, 1, "\(seen)")
    }

    /// The tools that do no linear algebra do not link OpenBLAS (nor re-execute themselves for its kernels).
    func testToolsWithoutLinearAlgebraDoNotLinkOpenBLAS() throws {
        for t in ["hv-decode", "hv-info", "hv-mask"] {
            let exe = Tools.binDir.appendingPathComponent(t).path
            XCTAssertEqual(try Tools.sh("ldd '\(exe)' | grep -q openblas"), 1, "\(t) links OpenBLAS")
        }
        XCTAssertEqual(try Tools.sh("ldd '\(Tools.binDir.appendingPathComponent("hv-encode").path)' | grep -q openblas"), 0)
    }

    func testMissingFilesExit66() throws {
        for (t, args) in [("hv-info", ["/nonexistent.hvt"]), ("hv-decode", ["/nonexistent.mp4"]), ("hv-mask", ["/nonexistent.hvt"])] {
            let r = try Tools.run(t, args)
            XCTAssertEqual(r.status, 66, "\(t): \(r.stderr)")
            XCTAssertTrue(r.stderr.hasPrefix("\(t): error: "), r.stderr)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "one line: \(r.stderr)")
        }
    }

    func testGarbageInputsExit65WithoutPartialOutput() throws {
        let d = Tools.tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let junk = d + "/junk.mp4"
        try Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }).write(to: URL(fileURLWithPath: junk))
        var r = try Tools.run("hv-info", [junk])
        XCTAssertEqual(r.status, 65); XCTAssertTrue(r.stderr.contains("not an .hvt"), r.stderr)
        r = try Tools.run("hv-decode", [junk, "-o", d + "/out.y4m"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/out.y4m"), "no partial output")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: d), ["junk.mp4"], "no temporary files left")
        // Audio only.
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i sine=duration=1 \(d)/a.wav"), 0)
        r = try Tools.run("hv-decode", [d + "/a.wav", "-o", d + "/out.y4m"])
        XCTAssertEqual(r.status, 65); XCTAssertTrue(r.stderr.contains("no video stream"), r.stderr)
        // Malformed y4m into the encoder.
        r = try Tools.run("hv-encode", ["-"], stdin: Data("YUV4MPEG2 W16 F8:1\n".utf8))
        XCTAssertNotEqual(r.status, 0)
    }

    /// hv-decode reads stdin as `-`, refuses a text file (libavformat's tty demuxer would show it as video) and a
    /// faststart mp4 cut in half (decoding it would give the first half as if it were the whole).
    func testDecodeReadsStdinAndRefusesTextAndCutFiles() throws {
        let d = Tools.tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=64x64:rate=8 -t 4 -pix_fmt yuv420p -c:v libx264 -movflags +faststart \(d)/a.mp4"), 0)
        var r = try Tools.run("hv-decode", ["-", "--size", "32"], stdinFile: d + "/a.mp4")
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutText.components(separatedBy: "FRAME").count - 1, 32)
        let whole = try Data(contentsOf: URL(fileURLWithPath: d + "/a.mp4"))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: d + "/cut.mp4"))
        r = try Tools.run("hv-decode", [d + "/cut.mp4", "-o", d + "/cut.y4m"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("cut short"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: d + "/cut.y4m"))
        try Data(String(repeating: "These are notes, not a video.\n", count: 200).utf8).write(to: URL(fileURLWithPath: d + "/notes.txt"))
        r = try Tools.run("hv-decode", [d + "/notes.txt", "-o", d + "/notes.y4m"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
    }

    /// A temporary file left by a writer killed with SIGKILL (pid gone) is removed by the next run for the same
    /// target; one of a live process is not.
    func testStaleTemporariesOfKilledRunsAreRemoved() throws {
        let d = Tools.tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 1 -pix_fmt yuv420p \(d)/a.mp4"), 0)
        let dead = d + "/.out.y4m.tmp.4194303", live = d + "/.out.y4m.tmp.1"
        for f in [dead, live] { _ = FileManager.default.createFile(atPath: f, contents: Data("partial".utf8)) }
        let r = try Tools.run("hv-decode", [d + "/a.mp4", "--size", "32", "-o", d + "/out.y4m"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dead))
        XCTAssertTrue(FileManager.default.fileExists(atPath: live), "pid 1 is alive: its file is not ours to remove")
    }

    func testExistingOutputSurvivesAFailedRun() throws {
        let d = Tools.tempDir()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let keep = d + "/keep.y4m"
        try Data("precious".utf8).write(to: URL(fileURLWithPath: keep))
        let r = try Tools.run("hv-decode", ["/nonexistent.mp4", "-o", keep])
        XCTAssertEqual(r.status, 66)
        XCTAssertEqual(try String(contentsOfFile: keep, encoding: .utf8), "precious")
    }
}
