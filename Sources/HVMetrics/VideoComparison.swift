// Frame-by-frame comparison of two videos: per-frame PSNR/SSIM/MS-SSIM, their means, and the
// whole-clip PSNR (from the MSE over every frame), plus CSV and SVG renderings of the per-frame curves.
import Foundation
import HVMedia

public struct FrameScores: Codable, Sendable {
    public var frame: Int
    public var psnr: Double
    public var ssim: Double
    public var msssim: Double
    public var mse: Double
}

public struct ComparisonReport: Codable, Sendable {
    public var frames: Int
    public var width: Int
    public var height: Int
    /// Mean of per-frame PSNR (each capped at 100 dB).
    public var psnr: Double
    /// PSNR of the MSE pooled over the whole clip.
    public var psnrWholeClip: Double
    public var ssim: Double
    public var msssim: Double
    public var luma: Bool
    public var perFrame: [FrameScores]
}

public enum VideoComparison {
    public static func compare(_ ref: [RGBFrame], _ dist: [RGBFrame], luma: Bool) -> ComparisonReport {
        var scores = [FrameScores](repeating: FrameScores(frame: 0, psnr: 0, ssim: 0, msssim: 0, mse: 0), count: ref.count)
        for i in 0..<ref.count {
            let mse = ImageQuality.mse(ref[i], dist[i])
            scores[i] = FrameScores(frame: i, psnr: ImageQuality.psnr(mse: mse), ssim: ImageQuality.ssim(ref[i], dist[i], luma: luma),
                                    msssim: ImageQuality.msssim(ref[i], dist[i], luma: luma), mse: mse)
        }
        let n = Double(max(ref.count, 1))
        return ComparisonReport(frames: ref.count, width: ref.first?.width ?? 0, height: ref.first?.height ?? 0,
                                psnr: scores.map { $0.psnr }.reduce(0, +) / n,
                                psnrWholeClip: ImageQuality.psnr(mse: scores.map { $0.mse }.reduce(0, +) / n),
                                ssim: scores.map { $0.ssim }.reduce(0, +) / n,
                                msssim: scores.map { $0.msssim }.reduce(0, +) / n, luma: luma, perFrame: scores)
    }

    public static func csv(_ r: ComparisonReport) -> String {
        "frame,psnr,ssim,msssim,mse\n" + r.perFrame.map { "\($0.frame),\($0.psnr),\($0.ssim),\($0.msssim),\($0.mse)" }.joined(separator: "\n") + "\n"
    }

    /// An SVG with two panels: PSNR (dB) and SSIM/MS-SSIM per frame.
    public static func svg(_ r: ComparisonReport, title: String) -> String {
        let W = 720.0, H = 480.0, left = 60.0, right = 20.0, panel = 180.0
        let n = max(r.frames - 1, 1)
        func x(_ i: Int) -> Double { left + (W - left - right) * Double(i) / Double(n) }
        let pMin = floor((r.perFrame.map { $0.psnr }.min() ?? 0) - 1), pMax = ceil((r.perFrame.map { $0.psnr }.max() ?? 1) + 1)
        let sMin = floor(((r.perFrame.map { min($0.ssim, $0.msssim) }.min() ?? 0) - 0.02) * 10) / 10
        func yP(_ v: Double) -> Double { 50 + panel * (1 - (v - pMin) / max(pMax - pMin, 1e-9)) }
        func yS(_ v: Double) -> Double { 280 + panel * (1 - (v - sMin) / max(1 - sMin, 1e-9)) }
        func path(_ pts: [(Double, Double)], _ color: String) -> String {
            "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.5\" points=\"" + pts.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ") + "\"/>"
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(W))\" height=\"\(Int(H))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(left)\" y=\"20\" font-size=\"14\">\(title.replacingOccurrences(of: "<", with: "&lt;"))</text>\n"
        for (top, label, lo, hi) in [(50.0, "PSNR (dB)", pMin, pMax), (280.0, "SSIM / MS-SSIM", sMin, 1.0)] {
            s += "<rect x=\"\(left)\" y=\"\(top)\" width=\"\(W - left - right)\" height=\"\(panel)\" fill=\"none\" stroke=\"#888\"/>\n"
            s += "<text x=\"5\" y=\"\(top - 6)\">\(label)</text>\n"
            s += String(format: "<text x=\"5\" y=\"%.0f\">%.2f</text><text x=\"5\" y=\"%.0f\">%.2f</text>\n", top + 12, hi, top + panel, lo)
        }
        s += "<text x=\"\(left)\" y=\"\(H - 10)\">frame 0</text><text x=\"\(W - right - 60)\" y=\"\(H - 10)\">frame \(n)</text>\n"
        s += path(r.perFrame.map { (x($0.frame), yP($0.psnr)) }, "#1f77b4") + "\n"
        s += path(r.perFrame.map { (x($0.frame), yS($0.ssim)) }, "#d62728") + "\n"
        s += path(r.perFrame.map { (x($0.frame), yS($0.msssim)) }, "#2ca02c") + "\n"
        s += "<text x=\"\(W - 200)\" y=\"275\" fill=\"#d62728\">SSIM</text><text x=\"\(W - 140)\" y=\"275\" fill=\"#2ca02c\">MS-SSIM</text>\n"
        return s + "</svg>\n"
    }
}
