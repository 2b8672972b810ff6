import XCTest
import HVMedia
@testable import HVMetrics

final class ImageQualityTests: XCTestCase {
    func golden() throws -> [[String: Any]] {
        let url = Bundle.module.url(forResource: "golden", withExtension: "json", subdirectory: "Golden")!
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [[String: Any]]
    }

    func frame(_ name: String) throws -> RGBFrame {
        let url = Bundle.module.url(forResource: name, withExtension: "rgb", subdirectory: "Golden")!
        return RGBFrame(width: 256, height: 256, pixels: [UInt8](try Data(contentsOf: url)))
    }

    /// Against scikit-image on real frames: PSNR within 0.01 dB, SSIM within 1e-3.
    func testAgreesWithScikitImage() throws {
        for g in try golden() {
            let k = g["pair"] as! Int
            let a = try frame("pair_\(k)_ref"), b = try frame("pair_\(k)_dist")
            XCTAssertEqual(ImageQuality.psnr(a, b), g["psnr"] as! Double, accuracy: 0.01, "pair \(k)")
            XCTAssertEqual(ImageQuality.ssim(a, b), g["ssim"] as! Double, accuracy: 1e-3, "pair \(k)")
            XCTAssertEqual(ImageQuality.ssim(a, b, luma: true), g["ssim_luma"] as! Double, accuracy: 1e-3, "pair \(k)")
            XCTAssertEqual(ImageQuality.msssim(a, b), g["msssim"] as! Double, accuracy: 1e-3, "pair \(k)")
        }
    }

    func testIdenticalFrames() throws {
        let a = try frame("pair_0_ref")
        XCTAssertEqual(ImageQuality.psnr(a, a), ImageQuality.psnrCap)
        XCTAssertEqual(ImageQuality.ssim(a, a), 1, accuracy: 1e-6)
        XCTAssertEqual(ImageQuality.msssim(a, a), 1, accuracy: 1e-6)
    }

    /// The separable fast SSIM against a direct 11×11 window sum.
    func testSeparableSSIMMatchesDirectWindow() throws {
        let a = try frame("pair_2_ref"), b = try frame("pair_2_dist")
        let w = 40, h = 30
        func crop(_ f: RGBFrame) -> [Float] { (0..<(w * h)).map { Float(f.pixels[3 * (($0 / w) * 256 + $0 % w)]) } }
        let x = crop(a), y = crop(b)
        let fast = ImageQuality.ssimPlane(x, y, w: w, h: h).ssim
        var sum = 0.0
        let t = ImageQuality.taps.map(Double.init)
        for row in 5..<(h - 5) { for col in 5..<(w - 5) {
            var m = [Double](repeating: 0, count: 5)
            for dy in -5...5 { for dx in -5...5 {
                let wt = t[dy + 5] * t[dx + 5], i = (row + dy) * w + col + dx
                let p = Double(x[i]), q = Double(y[i])
                m[0] += wt * p; m[1] += wt * q; m[2] += wt * p * p; m[3] += wt * q * q; m[4] += wt * p * q
            } }
            let c1 = 6.5025, c2 = 58.5225
            let vx = m[2] - m[0] * m[0], vy = m[3] - m[1] * m[1], vxy = m[4] - m[0] * m[1]
            sum += (2 * m[0] * m[1] + c1) * (2 * vxy + c2) / ((m[0] * m[0] + m[1] * m[1] + c1) * (vx + vy + c2))
        } }
        XCTAssertEqual(fast, sum / Double((h - 10) * (w - 10)), accuracy: 1e-5)
    }
}
