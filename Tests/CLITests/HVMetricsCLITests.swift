// hv-metrics on the built binary: help, a good pair (table, JSON, CSV, SVG, stdin, a non-y4m input),
// and the error contract (mismatched sizes or lengths → 65 naming both, missing file → 66, usage → 64).
import Foundation
import HVTokenizer
import XCTest

final class HVMetricsCLITests: XCTestCase {
    var dir: String!

    override func setUpWithError() throws {
        dir = Tools.tempDir()
        // A 256² reference of 6 frames and a noisy copy; a 128² clip; a 4-frame clip; an mp4 of the reference.
        let src = "-f lavfi -i testsrc2=size=256x256:rate=8 -frames:v 6 -pix_fmt yuv420p"
        for cmd in ["ffmpeg -v error -y \(src) -f yuv4mpegpipe \(dir!)/ref.y4m",
                    "ffmpeg -v error -y \(src) -vf noise=alls=24:allf=t+u -f yuv4mpegpipe \(dir!)/dist.y4m",
                    "ffmpeg -v error -y -f lavfi -i testsrc2=size=128x128:rate=8 -frames:v 6 -pix_fmt yuv420p -f yuv4mpegpipe \(dir!)/small.y4m",
                    "ffmpeg -v error -y \(src) -frames:v 4 -f yuv4mpegpipe \(dir!)/short.y4m",
                    "ffmpeg -v error -y \(src) -c:v libx264 -crf 30 \(dir!)/ref.mp4"] {
            XCTAssertEqual(try Tools.sh(cmd), 0, cmd)
        }
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func testHelp() throws {
        let r = try Tools.run("hv-metrics", ["--help"])
        XCTAssertEqual(r.status, 0)
        for word in ["USAGE:", "--json", "--per-frame", "--plot", "--luma", "--frames", "scikit-image"] {
            XCTAssertTrue(r.stdoutText.contains(word), word)
        }
        XCTAssertEqual(r.stderr, "")
    }

    func testGoodPairJSONCSVAndPlot() throws {
        let r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/dist.y4m", "--json",
                                             "--per-frame", dir + "/f.csv", "--plot", dir + "/p.svg"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stderr, "")
        let m = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(m["frames"] as? Int, 6)
        XCTAssertEqual(m["width"] as? Int, 256)
        let psnr = try XCTUnwrap(m["psnr"] as? Double), ssim = try XCTUnwrap(m["ssim"] as? Double)
        let msssim = try XCTUnwrap(m["msssim"] as? Double)
        XCTAssertTrue((15...45).contains(psnr), "\(psnr)")
        XCTAssertTrue(ssim > 0.1 && ssim < 0.99, "\(ssim)")
        XCTAssertTrue(msssim > ssim && msssim < 1, "\(msssim)")
        XCTAssertLessThanOrEqual(m["psnrWholeClip"] as? Double ?? 99, psnr + 1e-9)  // Jensen: pooled MSE ≤ mean PSNR
        XCTAssertEqual((m["perFrame"] as? [Any])?.count, 6)
        XCTAssertEqual(m["reference"] as? String, dir + "/ref.y4m")
        let csv = try String(contentsOfFile: dir + "/f.csv", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(csv.count, 7)
        XCTAssertEqual(csv.first, "frame,mse,psnr,ssim,msssim")
        let svg = try String(contentsOfFile: dir + "/p.svg", encoding: .utf8)
        XCTAssertTrue(svg.hasPrefix("<svg") && svg.contains("PSNR (dB)"))
        // Luma SSIM differs from RGB SSIM on this colour noise.
        let y = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/dist.y4m", "--json", "--luma"])
        let my = try XCTUnwrap(JSONSerialization.jsonObject(with: y.stdout) as? [String: Any])
        XCTAssertEqual(my["luma"] as? Bool, true)
        XCTAssertNotEqual(my["ssim"] as? Double ?? 0, ssim, accuracy: 1e-4)
    }

    func testTableAndStdin() throws {
        let r = try Tools.run("hv-metrics", ["-", dir + "/dist.y4m"], stdinFile: dir + "/ref.y4m")
        XCTAssertEqual(r.status, 0, r.stderr)
        let lines = r.stdoutText.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.map { $0.split(separator: " ").first.map(String.init) ?? "" },
                       ["reference", "distorted", "frames", "PSNR", "PSNR", "SSIM", "MS-SSIM"])
        XCTAssertTrue(lines[0].contains("stdin"))
        // Values start in one column: after the longest key ("reference", 9 characters) and two spaces.
        for l in lines.map(Array.init) {
            XCTAssertTrue(l.count > 11 && l[9] == " " && l[10] == " " && l[11] != " ", String(l))
        }
    }

    func testIdenticalAndDecodedInput() throws {
        var r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/ref.y4m", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        var m = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(m["psnr"] as? Double, 100)
        XCTAssertEqual(m["ssim"] as? Double ?? 0, 1, accuracy: 1e-6)
        XCTAssertEqual(m["msssim"] as? Double ?? 0, 1, accuracy: 1e-6)
        // An mp4 is decoded to the y4m's size and rate.
        r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/ref.mp4", "--json", "--frames", "5"])
        XCTAssertEqual(r.status, 0, r.stderr)
        m = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(m["frames"] as? Int, 5)
        XCTAssertGreaterThan(m["psnr"] as? Double ?? 0, 25)
    }

    func testSmallFramesReportNoMSSSIM() throws {
        let r = try Tools.run("hv-metrics", [dir + "/small.y4m", dir + "/small.y4m", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertTrue(m["msssim"] is NSNull)
        let t = try Tools.run("hv-metrics", [dir + "/small.y4m", dir + "/small.y4m"])
        XCTAssertTrue(t.stdoutText.contains("n/a"), t.stdoutText)
    }

    func testMismatchedSizesExit65() throws {
        let r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/small.y4m", "--per-frame", dir + "/x.csv"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.hasPrefix("hv-metrics: error: frame sizes differ"), r.stderr)
        XCTAssertTrue(r.stderr.contains("256x256") && r.stderr.contains("128x128"), r.stderr)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1)
        XCTAssertEqual(r.stdoutText, "")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/x.csv"))
    }

    /// The same frames tagged with another rate are not the same video: frame i is another moment.
    func testMismatchedFrameRatesExit65() throws {
        let ref = try Data(contentsOf: URL(fileURLWithPath: dir + "/ref.y4m"))
        func retagged(_ rate: String) throws -> Data {
            var d = ref
            let r = try XCTUnwrap(d.range(of: Data(" F8:1 ".utf8)))
            d.replaceSubrange(r, with: Data(" F\(rate) ".utf8))
            return d
        }
        try retagged("24:1").write(to: URL(fileURLWithPath: dir + "/fast.y4m"))
        let r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/fast.y4m"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("hv-metrics: error: frame rates differ"), r.stderr)
        try retagged("16:2").write(to: URL(fileURLWithPath: dir + "/same.y4m"))
        XCTAssertEqual(try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/same.y4m"]).status, 0, "8/1 and 16/2 are one rate")
    }

    /// Frames over 4096² are refused before anything is allocated for them (scoring holds ~36 bytes a pixel).
    func testFramesOverTheLimitExit65() throws {
        var y4m = Data("YUV4MPEG2 W16384 H16384 F8:1 C420jpeg\nFRAME\n".utf8)
        y4m.append(Data(count: 16))   // the refusal comes before any frame is read
        try y4m.write(to: URL(fileURLWithPath: dir + "/huge.y4m"))
        let r = try Tools.run("hv-metrics", [dir + "/huge.y4m", dir + "/huge.y4m"])
        XCTAssertEqual(r.status, 65, r.stderr)
        XCTAssertTrue(r.stderr.contains("over hv-metrics' limit"), r.stderr)
    }

    func testMismatchedLengthsExit65UnlessLimited() throws {
        var r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/short.y4m"])
        XCTAssertEqual(r.status, 65)
        XCTAssertTrue(r.stderr.contains("has 6 frames") && r.stderr.contains("has 4"), r.stderr)
        r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/short.y4m", "--frames", "4", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    func testMissingFileExit66AndUsage64() throws {
        var r = try Tools.run("hv-metrics", [dir + "/nope.y4m", dir + "/ref.y4m"])
        XCTAssertEqual(r.status, 66)
        XCTAssertTrue(r.stderr.hasPrefix("hv-metrics: error: ") && r.stderr.contains("nope.y4m"), r.stderr)
        r = try Tools.run("hv-metrics", [dir + "/ref.y4m"])
        XCTAssertEqual(r.status, 64)
        r = try Tools.run("hv-metrics", ["-", "-"])
        XCTAssertEqual(r.status, 64)
        r = try Tools.run("hv-metrics", [dir + "/ref.y4m", dir + "/dist.y4m", "--plot", dir + "/p.png"])
        XCTAssertEqual(r.status, 64)
    }
}

/// hv-metrics --tokens on a tiny (untrained) model's .hvt: bits per pixel three ways, codebook usage, and,
/// with the reference, the reconstruction metrics in the same JSON.
final class HVMetricsTokensCLITests: XCTestCase {
    func testTokensReport() throws {
        let dir = Tools.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = dir + "/tiny"
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: .tiny, seed: 3), to: model)
        XCTAssertEqual(try Tools.sh("ffmpeg -v error -y -f lavfi -i testsrc2=size=32x32:rate=8 -t 2 -pix_fmt yuv420p -f yuv4mpegpipe \(dir)/in.y4m"), 0)
        var r = try Tools.run("hv-encode", ["--model", model, dir + "/in.y4m", "-o", dir + "/a.hvt"])
        XCTAssertEqual(r.status, 0, r.stderr)
        r = try Tools.run("hv-metrics", ["--tokens", dir + "/a.hvt", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let t = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        let raw = try XCTUnwrap(t["bppRawTokens"] as? Double), file = try XCTUnwrap(t["bppFile"] as? Double)
        XCTAssertEqual(t["bppStored"] as? Double, raw, "nothing is masked")
        XCTAssertGreaterThan(raw, 0)
        let size = try FileManager.default.attributesOfItem(atPath: dir + "/a.hvt")[.size] as! Int
        XCTAssertEqual(file, Double(size * 8) / Double(16 * 32 * 32), accuracy: 1e-9)
        XCTAssertFalse((t["layers"] as? [Any] ?? []).isEmpty)
        // With the reference: the tokens rendered by the model and scored against it, in the same report.
        // (Not compared with hv-render's y4m, which goes through 4:2:0 chroma.)
        r = try Tools.run("hv-metrics", ["--tokens", dir + "/a.hvt", "--model", model, dir + "/in.y4m", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let m = try XCTUnwrap(JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])
        XCTAssertEqual(m["frames"] as? Int, 16)
        XCTAssertEqual(m["width"] as? Int, 32)
        let psnr = try XCTUnwrap(m["psnr"] as? Double)
        XCTAssertTrue(psnr > 3 && psnr < 100, "\(psnr)")
        XCTAssertTrue(m["msssim"] is NSNull, "32x32 frames have no MS-SSIM")
        XCTAssertEqual(m["bppFile"] as? Double, file)
        // Against x265 at the same bits: its stream's bits within 5 % of the .hvt's, or its lowest rate, flagged;
        // nothing left in the working folder.
        r = try Tools.run("hv-metrics", ["--tokens", dir + "/a.hvt", "--model", model, dir + "/in.y4m", "--json", "--vs-hevc"], cwd: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        let hv = try XCTUnwrap((JSONSerialization.jsonObject(with: r.stdout) as? [String: Any])?["hevc"] as? [String: Any])
        let hb = try XCTUnwrap(hv["bpp"] as? Double), target = try XCTUnwrap(hv["targetBpp"] as? Double)
        XCTAssertEqual(target, file)
        switch hv["outcome"] as? String {
        case "reached":
            XCTAssertEqual(hv["reachedTarget"] as? Bool, true)
            XCTAssertLessThanOrEqual(abs(hb - target), 0.05 * target, "HEVC \(hb) bpp for a target of \(target)")
        case "lowestRateAboveTarget":
            XCTAssertEqual(hv["crf"] as? Double, 51)
            XCTAssertGreaterThan(hb, target)
        case let other:
            XCTFail("outcome \(other as Any) at \(hb) bpp for a target of \(target)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("x265") }, [])
    }
}
