// Clip-level comparison: the parallel scorer against frame-by-frame scoring, the two PSNR means,
// checks that refuse mismatched inputs, and the CSV / SVG renderings.
import XCTest
import HVMedia
@testable import HVMetrics
#if canImport(FoundationXML)
import FoundationXML
#endif

final class VideoComparisonTests: XCTestCase {
    func clips() throws -> ([RGBFrame], [RGBFrame]) {
        let p = try Golden.pairs().filter { $0.ref.width == 256 }
        return (p.map { $0.ref }, p.map { $0.dist })
    }

    func testParallelScorerMatchesSequential() throws {
        let (ref, dist) = try clips()
        let parallel = try FrameScorer(width: 256, height: 256, luma: false, workers: 2).score(ref, dist, firstIndex: 10)
        let ws = SSIMWorkspace(width: 256, height: 256)
        XCTAssertEqual(parallel.map { $0.frame }, Array(10..<(10 + ref.count)))
        for i in 0..<ref.count {
            XCTAssertEqual(parallel[i], FrameScores(frame: 10 + i, try ImageQuality.scores(ref[i], dist[i], workspace: ws)))
        }
    }

    func testReportMeans() throws {
        let (ref, dist) = try clips()
        let r = try VideoComparison.compare(ref + [ref[0]], dist + [ref[0]], luma: false)
        XCTAssertEqual(r.frames, ref.count + 1)
        XCTAssertEqual(r.perFrame.last?.psnr, 100)  // identical last frame, capped
        let psnrs = r.perFrame.map { $0.psnr }, mses = r.perFrame.map { $0.mse }
        XCTAssertEqual(r.psnr, psnrs.reduce(0, +) / Double(psnrs.count), accuracy: 1e-12)
        let pooled = mses.reduce(0, +) / Double(mses.count)
        XCTAssertEqual(r.psnrWholeClip, 10 * log10(255 * 255 / pooled), accuracy: 1e-12)
        XCTAssertLessThan(r.psnrWholeClip, r.psnr, "the capped identical frame lifts only the per-frame mean")
        XCTAssertNotNil(r.msssim)
    }

    func testMismatchedInputsAreRefused() throws {
        let (ref, dist) = try clips()
        let small = RGBFrame(width: 128, height: 96)
        XCTAssertThrowsError(try VideoComparison.compare(ref, [small], luma: false, names: ("a.y4m", "b.y4m"))) { e in
            XCTAssertEqual((e as? MetricsError)?.exitCode, 65)
            XCTAssertTrue("\(e)".contains("a.y4m is 256x256 but b.y4m is 128x96"), "\(e)")
        }
        XCTAssertThrowsError(try VideoComparison.compare(ref, Array(dist.prefix(2)), luma: false, names: ("a", "b"))) { e in
            XCTAssertTrue("\(e)".contains("a has 5 frames but b has 2"), "\(e)")
        }
        XCTAssertThrowsError(try VideoComparison.compare([], dist, luma: false, names: ("a", "b"))) { e in
            XCTAssertTrue("\(e)".contains("a contains no frames"), "\(e)")
        }
    }

    func testSmallFramesHaveNullMSSSIMInJSON() throws {
        let g = try Golden.pairs()[5]
        let r = try VideoComparison.compare([g.ref], [g.dist], luma: false)
        XCTAssertNil(r.msssim)
        let json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(r)) as! [String: Any]
        XCTAssertTrue(json["msssim"] is NSNull, "\(json)")
        XCTAssertEqual(json["ssim"] as? Double ?? 0, g.ssim, accuracy: 1e-3)
        XCTAssertEqual(VideoComparison.csv(r).split(separator: "\n").last.map(String.init)?.hasSuffix(","), true)
    }

    func testCSVAndSVG() throws {
        let (ref, dist) = try clips()
        let r = try VideoComparison.compare(ref, dist, luma: true)
        let lines = VideoComparison.csv(r).split(separator: "\n")
        XCTAssertEqual(lines.first, "frame,mse,psnr,ssim,msssim")
        XCTAssertEqual(lines.count, ref.count + 1)
        XCTAssertEqual(lines[1].split(separator: ",").count, 5)
        let svg = MetricsPlot.svg(r, title: "b <dist> vs a & ref")
        XCTAssertTrue(svg.contains("<svg"))
        XCTAssertTrue(svg.contains("PSNR (dB)") && svg.contains("MS-SSIM") && svg.contains(">frame<"))
        XCTAssertTrue(svg.contains("&lt;dist&gt;"))
        // Well-formed XML: a browser will open it.
        let parser = XMLParser(data: Data(svg.utf8))
        XCTAssertTrue(parser.parse(), "\(String(describing: parser.parserError))")
        // One frame: no polyline, but a marker per series.
        let one = try VideoComparison.compare([ref[0]], [dist[0]], luma: false)
        let svg1 = MetricsPlot.svg(one, title: "one")
        XCTAssertTrue(XMLParser(data: Data(svg1.utf8)).parse())
        XCTAssertTrue(svg1.contains("<circle"))
    }

    func testNiceTicks() {
        XCTAssertEqual(MetricsPlot.ticks(23.4, 31.9), [22, 24, 26, 28, 30, 32])
        XCTAssertEqual(MetricsPlot.ticks(0, 7, integer: true), [0, 2, 4, 6, 8])
    }
}
