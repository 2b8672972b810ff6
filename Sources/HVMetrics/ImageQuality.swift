// Full-reference image quality of two 8-bit RGB frames: MSE/PSNR, SSIM and MS-SSIM, the fast path.
// PSNR: MSE over every pixel and all three channels, data range 255; identical frames (MSE 0) give +inf,
//   reported as `psnrCap` = 100 dB so that per-frame averages stay finite (the cap is stated in reports).
// SSIM: Wang et al. 2004 exactly as scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
//   use_sample_covariance=False, data_range=255, channel_axis=-1): 11-tap Gaussian (truncate 3.5), K1 0.01,
//   K2 0.03, the SSIM map averaged over the valid region (5 px in from every border, skimage's crop, which
//   also makes its reflect padding irrelevant), then averaged over R, G, B; with `luma`, on BT.601 Y'.
// MS-SSIM: Wang, Simoncelli & Bovik 2003, as pytorch_msssim.ms_ssim: 5 scales, weights 0.0448, 0.2856,
//   0.3001, 0.2363, 0.1333; 2×2 average pooling between scales; mean cs at scales 1–4 and mean SSIM at
//   scale 5, each clamped at 0 (relu) before the power; per channel, then channels averaged. Every scale uses
//   the same valid-region crop, so at 256² the 5th scale is 16² and its valid region 6×6. Frames whose
//   5th scale would be smaller than the 11-tap window (short side < 176) get no MS-SSIM (nil), rather
//   than a number from a silently different definition.
import Foundation
import HVMedia

/// Scores of one frame pair.
public struct PairScores: Equatable, Sendable {
    /// Mean squared error over all pixels and channels (0…65025).
    public var mse: Double
    /// PSNR of `mse`, capped at `ImageQuality.psnrCap`.
    public var psnr: Double
    public var ssim: Double
    /// nil when the frame is too small for five scales (see `ImageQuality.minimumMSSSIMSide`).
    public var msssim: Double?
}

public enum ImageQuality {
    /// PSNR reported for identical frames (and the ceiling of every per-frame PSNR).
    public static let psnrCap = 100.0
    public static let k1 = 0.01, k2 = 0.03, dataRange = 255.0
    public static let msssimWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]
    /// The smallest side SSIM accepts: one full window.
    public static let minimumSSIMSide = SSIMWindow.size
    /// The smallest side for MS-SSIM: the 5th scale (side / 16) must still hold a full window.
    public static let minimumMSSSIMSide = SSIMWindow.size << 4

    // MARK: PSNR

    /// Σ (a − b)² over every byte, exact in integers.
    public static func squaredErrorSum(_ a: RGBFrame, _ b: RGBFrame) -> Int {
        var total = 0
        a.pixels.withUnsafeBufferPointer { x in
            b.pixels.withUnsafeBufferPointer { y in
                let n = min(x.count, y.count)
                var start = 0
                // Int32 partial sums vectorise; 16384 × 255² < 2³¹.
                while start < n {
                    let end = min(n, start + 16384)
                    var s: Int32 = 0
                    for i in start..<end {
                        let d = Int32(x[i]) &- Int32(y[i])
                        s &+= d &* d
                    }
                    total += Int(s)
                    start = end
                }
            }
        }
        return total
    }

    public static func mse(_ a: RGBFrame, _ b: RGBFrame) -> Double {
        Double(squaredErrorSum(a, b)) / Double(max(1, a.pixels.count))
    }

    /// 10·log10(255² / mse), capped at `psnrCap` (MSE 0 gives exactly the cap).
    public static func psnr(mse: Double) -> Double {
        mse <= 0 ? psnrCap : min(psnrCap, 10 * log10(dataRange * dataRange / mse))
    }

    public static func psnr(_ a: RGBFrame, _ b: RGBFrame) -> Double { psnr(mse: mse(a, b)) }

    // MARK: SSIM and MS-SSIM

    /// Whether frames of this size get SSIM / MS-SSIM.
    public static func supportsSSIM(width: Int, height: Int) -> Bool { min(width, height) >= minimumSSIMSide }
    public static func supportsMSSSIM(width: Int, height: Int) -> Bool { min(width, height) >= minimumMSSSIMSide }

    /// All scores of a pair in one pass (SSIM and the first MS-SSIM scale share their filtering).
    /// Throws unless both frames have one size, at least 11×11, that fits `workspace` (reused, never reallocated).
    public static func scores(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false, msssim wantMS: Bool = true,
                              workspace ws: SSIMWorkspace) throws -> PairScores {
        try check(a, b, workspace: ws)
        return scoresUnchecked(a, b, luma: luma, msssim: wantMS, workspace: ws)
    }

    static func check(_ a: RGBFrame, _ b: RGBFrame, workspace ws: SSIMWorkspace) throws {
        guard a.width == b.width, a.height == b.height else {
            throw MetricsError.sizeMismatch(ref: "the first frame", refWidth: a.width, refHeight: a.height,
                                            dist: "the second", distWidth: b.width, distHeight: b.height)
        }
        guard supportsSSIM(width: a.width, height: a.height) else { throw MetricsError.frameTooSmall(width: a.width, height: a.height) }
        guard a.width <= ws.capacityWidth, a.height <= ws.capacityHeight else {
            throw MetricsError.workspaceTooSmall(width: a.width, height: a.height,
                                                 capacityWidth: ws.capacityWidth, capacityHeight: ws.capacityHeight)
        }
    }

    /// `scores` after `check` has passed.
    static func scoresUnchecked(_ a: RGBFrame, _ b: RGBFrame, luma: Bool, msssim wantMS: Bool,
                                workspace ws: SSIMWorkspace) -> PairScores {
        let w = a.width, h = a.height, n = w * h
        let m = mse(a, b)
        let doMS = wantMS && supportsMSSSIM(width: w, height: h)
        let channels: [Int?] = luma ? [nil] : [0, 1, 2]
        var ssimSum = 0.0, msSum = 0.0
        a.pixels.withUnsafeBufferPointer { pa in
            b.pixels.withUnsafeBufferPointer { pb in
                for ch in channels {
                    ws.load(pa.baseAddress!, pb.baseAddress!, pixels: n, channel: ch)
                    let first = ws.ssimAndCS(width: w, height: h)
                    ssimSum += first.ssim
                    guard doMS else { continue }
                    var value = pow(max(first.cs, 0), msssimWeights[0])
                    var sw = w, sh = h
                    for j in 1..<msssimWeights.count {
                        ws.pool(width: sw, height: sh)
                        sw /= 2; sh /= 2
                        let s = ws.ssimAndCS(width: sw, height: sh)
                        let last = j == msssimWeights.count - 1
                        value *= pow(max(last ? s.ssim : s.cs, 0), msssimWeights[j])
                    }
                    msSum += value
                }
            }
        }
        let k = Double(channels.count)
        return PairScores(mse: m, psnr: psnr(mse: m), ssim: ssimSum / k, msssim: doMS ? msSum / k : nil)
    }

    /// SSIM of two frames (RGB channels averaged, or luma); nil when smaller than 11×11 or of different sizes.
    public static func ssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double? {
        guard supportsSSIM(width: a.width, height: a.height) else { return nil }
        return try? scores(a, b, luma: luma, msssim: false, workspace: SSIMWorkspace(width: a.width, height: a.height)).ssim
    }

    /// MS-SSIM of two frames (RGB channels averaged, or luma); nil when the short side is below 176 or the
    /// sizes differ.
    public static func msssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double? {
        guard supportsMSSSIM(width: a.width, height: a.height) else { return nil }
        return (try? scores(a, b, luma: luma, workspace: SSIMWorkspace(width: a.width, height: a.height)))?.msssim ?? nil
    }
}
