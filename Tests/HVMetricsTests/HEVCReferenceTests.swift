// hv-metrics --vs-hevc's fairness rules: the CRF search lands within 5 % of the target or says which limit of
// x265's range stopped it (tested on model rate curves, no encoder needed), and a real encode of a tiny clip
// spends the bits it reports and leaves nothing behind, in its work folder or the working directory.
import Foundation
import XCTest
import HVMedia
@testable import HVMetrics

final class HEVCReferenceTests: XCTestCase {
    /// A rate curve like x265's: bits halve every 6 CRF.
    func curve(_ crf: Double) -> Double { 2 * pow(0.5, crf / 6) }

    func testSearchReachesTheTargetWithinFivePercent() {
        for target in [1.5, 0.3, 0.05, 0.01, curve(51) * 1.04] {
            var calls = 0
            let r = HEVCReference.searchCRF(target: target) { calls += 1; return curve($0) }
            XCTAssertEqual(r.outcome, .reached, "\(target)")
            XCTAssertLessThanOrEqual(abs(r.bpp - target), 0.05 * target, "\(target)")
            XCTAssertEqual(r.bpp, curve(r.crf))
            XCTAssertLessThanOrEqual(calls, 16)
        }
    }

    func testTargetsOutsideX265sRangeAreFlagged() {
        var r = HEVCReference.searchCRF(target: curve(51) / 2) { curve($0) }
        XCTAssertEqual(r.outcome, .lowestRateAboveTarget); XCTAssertEqual(r.crf, 51); XCTAssertEqual(r.bpp, curve(51))
        r = HEVCReference.searchCRF(target: curve(0) * 2) { curve($0) }
        XCTAssertEqual(r.outcome, .highestRateBelowTarget); XCTAssertEqual(r.crf, 0); XCTAssertEqual(r.bpp, curve(0))
    }

    func testARateThatJumpsOverTheTargetGivesTheClosest() {
        // Two rates only, 1 and 0.1: no CRF spends 0.3 within 5 %, and 0.1 is the closer.
        let r = HEVCReference.searchCRF(target: 0.3) { $0 < 20 ? 1 : 0.1 }
        XCTAssertEqual(r.outcome, .closest); XCTAssertEqual(r.bpp, 0.1)
    }

    func testATinyClipLeavesNoFilesBehind() throws {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/bin/sh")
        probe.arguments = ["-c", "ffmpeg -hide_banner -encoders 2>/dev/null | grep -q libx265"]
        try probe.run(); probe.waitUntilExit()
        guard probe.terminationStatus == 0 else { throw XCTSkip("ffmpeg with libx265 is required (make deps installs it)") }
        let work = NSTemporaryDirectory() + "hevc-test-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let before = try FileManager.default.contentsOfDirectory(atPath: FileManager.default.currentDirectoryPath)
        var g = SystemRandomNumberGenerator()
        let frames = (0..<8).map { t in
            RGBFrame(width: 64, height: 64, pixels: (0..<(64 * 64 * 3)).map { i in UInt8(truncatingIfNeeded: (i / 3) % 64 * 3 + t * 5 + Int(g.next() % 24)) })
        }
        let r = try HEVCReference.encode(frames, bitsPerPixel: 0.5, fps: FrameRate(8), workFolder: work)
        XCTAssertEqual(r.frames.count, 8)
        if r.outcome == .reached { XCTAssertLessThanOrEqual(abs(r.bitsPerPixel - 0.5), 0.025) }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: work), [], "the encode's folder is removed")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: FileManager.default.currentDirectoryPath), before,
                       "nothing written to the working directory (x265_2pass.log and the like)")
    }
}
