// The metrics against scikit-image (golden values on real frames), the fast kernel against the naive
// direct-window reference, and the edge cases: identical frames, known MSE, frames too small.
import XCTest
import HVMedia
@testable import HVMetrics

final class ImageQualityTests: XCTestCase {
    /// Against scikit-image on real frames: PSNR within 0.01 dB, SSIM (RGB and luma) within 1e-3; MS-SSIM
    /// against the script's Wang 2003 reference (checked there against pytorch_msssim) within 1e-3.
    func testAgreesWithScikitImage() throws {
        let pairs = try Golden.pairs()
        XCTAssertEqual(pairs.count, 6)
        for g in pairs {
            let label = "pair \(g.index) (\(g.distortion))"
            let ws = SSIMWorkspace(width: g.ref.width, height: g.ref.height)
            let rgb = try ImageQuality.scores(g.ref, g.dist, workspace: ws)
            let y = try ImageQuality.scores(g.ref, g.dist, luma: true, workspace: ws)
            XCTAssertEqual(rgb.psnr, g.psnr, accuracy: 0.01, label)
            XCTAssertEqual(rgb.ssim, g.ssim, accuracy: 1e-3, label)
            XCTAssertEqual(y.ssim, g.ssimLuma, accuracy: 1e-3, label)
            if let m = g.msssim {
                XCTAssertEqual(rgb.msssim ?? -1, m, accuracy: 1e-3, label)
                XCTAssertEqual(y.msssim ?? -1, g.msssimLuma ?? -2, accuracy: 1e-3, label)
            } else {
                XCTAssertNil(rgb.msssim, label)
                XCTAssertNil(y.msssim, label)
            }
            // Much tighter in practice: Float filtering loses ~1e-6, not 1e-3.
            XCTAssertEqual(rgb.ssim, g.ssim, accuracy: 2e-5, label)
        }
    }

    func testIdenticalFrames() throws {
        let a = try Golden.pairs()[0].ref
        let s = try ImageQuality.scores(a, a, workspace: SSIMWorkspace(width: a.width, height: a.height))
        XCTAssertEqual(s.mse, 0)
        XCTAssertEqual(s.psnr, ImageQuality.psnrCap)
        XCTAssertEqual(s.ssim, 1, accuracy: 1e-6)
        XCTAssertEqual(s.msssim ?? 0, 1, accuracy: 1e-6)
        XCTAssertEqual(ImageQuality.ssim(a, a, luma: true) ?? 0, 1, accuracy: 1e-6)
    }

    /// Frames differing by exactly 1 in every byte: MSE 1, PSNR 20·log10(255).
    func testKnownPSNR() {
        let a = RGBFrame(width: 20, height: 12, pixels: (0..<720).map { UInt8(($0 * 37) % 255) })
        let b = RGBFrame(width: 20, height: 12, pixels: a.pixels.map { $0 + 1 })
        XCTAssertEqual(ImageQuality.mse(a, b), 1)
        XCTAssertEqual(ImageQuality.psnr(a, b), 20 * log10(255.0), accuracy: 1e-12)
        XCTAssertEqual(ImageQuality.psnr(mse: 0), 100)
        XCTAssertEqual(ImageQuality.psnr(mse: 1e-30), 100)  // capped, not +inf
    }

    /// The separable Float kernel against direct 11×11 window sums in Double, SSIM on RGB and luma, on a
    /// non-square crop with odd sides.
    func testFastSSIMMatchesNaiveReference() throws {
        let g = try Golden.pairs()[2]
        let a = Golden.crop(g.ref, x0: 30, y0: 50, width: 53, height: 37)
        let b = Golden.crop(g.dist, x0: 30, y0: 50, width: 53, height: 37)
        let ws = SSIMWorkspace(width: 53, height: 37)
        for luma in [false, true] {
            let fast = try ImageQuality.scores(a, b, luma: luma, workspace: ws)
            XCTAssertEqual(fast.ssim, ImageQualityReference.ssim(a, b, luma: luma), accuracy: 1e-6, "luma \(luma)")
            XCTAssertNil(fast.msssim)
        }
        XCTAssertEqual(ImageQuality.mse(a, b), ImageQualityReference.mse(a, b))
        // The smallest legal size: a single valid pixel.
        let small = Golden.crop(a, x0: 0, y0: 0, width: 11, height: 11), smallB = Golden.crop(b, x0: 0, y0: 0, width: 11, height: 11)
        XCTAssertEqual(ImageQuality.ssim(small, smallB) ?? -9, ImageQualityReference.ssim(small, smallB), accuracy: 1e-6)
    }

    /// MS-SSIM fast vs naive on the smallest frame that has five scales (176², odd pooling avoided) and on
    /// 181×177, where every pooling drops an odd last row or column.
    func testFastMSSSIMMatchesNaiveReference() throws {
        let g = try Golden.pairs()[0]
        for (w, h) in [(176, 176), (181, 177)] {
            let a = Golden.crop(g.ref, x0: 40, y0: 30, width: w, height: h)
            let b = Golden.crop(g.dist, x0: 40, y0: 30, width: w, height: h)
            let fast = try ImageQuality.scores(a, b, luma: true, workspace: SSIMWorkspace(width: w, height: h))
            XCTAssertEqual(fast.msssim ?? -1, ImageQualityReference.msssim(a, b, luma: true), accuracy: 1e-6, "\(w)x\(h)")
        }
        let a = Golden.crop(g.ref, x0: 0, y0: 0, width: 175, height: 200), b = Golden.crop(g.dist, x0: 0, y0: 0, width: 175, height: 200)
        XCTAssertNil(ImageQuality.msssim(a, b), "a short side below 176 has no 5th scale of 11 pixels")
    }

    func testPoolingMatchesReference() {
        let w = 9, h = 7
        let ws = SSIMWorkspace(width: w, height: h)
        let values = (0..<(w * h)).map { Double(($0 * 53) % 97) }
        for i in 0..<(w * h) { ws.x[i] = Float(values[i]); ws.y[i] = 0 }
        ws.pool(width: w, height: h)
        let ref = ImageQualityReference.pool(values, width: w, height: h)
        XCTAssertEqual(ref.count, 4 * 3)
        for i in 0..<ref.count { XCTAssertEqual(Double(ws.x[i]), ref[i], accuracy: 1e-5) }
    }

    func testTooSmallMismatchedOrOversizedFramesAreRefused() {
        let a = RGBFrame(width: 10, height: 40)
        XCTAssertNil(ImageQuality.ssim(a, a))
        let b = RGBFrame(width: 40, height: 40), c = RGBFrame(width: 40, height: 41)
        XCTAssertNil(ImageQuality.ssim(b, c))
        XCTAssertThrowsError(try ImageQuality.scores(b, c, workspace: SSIMWorkspace(width: 64, height: 64)))
        XCTAssertThrowsError(try ImageQuality.scores(c, c, workspace: SSIMWorkspace(width: 40, height: 40))) { e in
            XCTAssertTrue("\(e)".contains("do not fit"), "\(e)")
        }
        XCTAssertThrowsError(try FrameScorer(width: 40, height: 40, luma: false).score([b, c], [b, c]))
        XCTAssertThrowsError(try FrameScorer(width: 10, height: 40, luma: false)) { e in
            XCTAssertEqual((e as? MetricsError)?.exitCode, 65)
        }
    }

    func testGaussianWindow() {
        XCTAssertEqual(SSIMWindow.taps.count, 11)
        XCTAssertEqual(SSIMWindow.tapsDouble.reduce(0, +), 1, accuracy: 1e-15)
        // scipy.ndimage._gaussian_kernel1d(1.5, 0, 5)[5] (centre tap)
        XCTAssertEqual(SSIMWindow.tapsDouble[5], 0.26601172, accuracy: 1e-7)
    }
}
