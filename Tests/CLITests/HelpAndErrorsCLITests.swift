import XCTest

final class HelpAndErrorsCLITests: XCTestCase {
    let tools = ["hv-decode", "hv-encode", "hv-mask", "hv-render", "hv-metrics", "hv-info", "hv-train"]

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
