// The per-frame plot of a comparison as a standalone SVG (opens in any browser): two stacked panels —
// PSNR in dB, and SSIM / MS-SSIM — against the frame index, with axes, "nice" 1-2-5 ticks, grid lines,
// axis labels, a legend and the clip means in the title. No dependencies; plain SVG 1.1.
import Foundation

public enum MetricsPlot {
    struct Series { var name: String; var color: String; var points: [(Double, Double)] }

    static let width = 800.0, height = 560.0
    static let left = 70.0, right = 130.0, top = 50.0, panelHeight = 190.0, gap = 60.0

    public static func svg(_ r: ComparisonReport, title: String) -> String {
        let frames = r.perFrame
        let xMax = Double(max((frames.last?.frame ?? 0), 1)), xMin = Double(frames.first?.frame ?? 0)
        var s = """
        <svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(left)" y="22" font-size="15" font-weight="bold">\(escape(title))</text>

        """
        let means = String(format: "mean PSNR %.3f dB (whole clip %.3f dB), SSIM %.4f", r.psnr, r.psnrWholeClip, r.ssim)
            + (r.msssim.map { String(format: ", MS-SSIM %.4f", $0) } ?? "") + (r.luma ? " (luma)" : " (RGB)")
        s += "<text x=\"\(left)\" y=\"40\" fill=\"#444\">\(escape(means))</text>\n"

        let psnr = Series(name: "PSNR", color: "#1f77b4", points: frames.map { (Double($0.frame), $0.psnr) })
        let ssim = Series(name: "SSIM", color: "#d62728", points: frames.map { (Double($0.frame), $0.ssim) })
        let ms = Series(name: "MS-SSIM", color: "#2ca02c", points: frames.compactMap { f in f.msssim.map { (Double(f.frame), $0) } })
        s += panel(top: top, yLabel: "PSNR (dB)", series: [psnr], xRange: (xMin, xMax), clampTop: nil)
        s += panel(top: top + panelHeight + gap, yLabel: r.luma ? "SSIM (luma)" : "SSIM",
                   series: ms.points.isEmpty ? [ssim] : [ssim, ms], xRange: (xMin, xMax), clampTop: 1)
        s += "<text x=\"\(left + (width - left - right) / 2)\" y=\"\(height - 12)\" text-anchor=\"middle\">frame</text>\n"
        return s + "</svg>\n"
    }

    static func panel(top: Double, yLabel: String, series: [Series], xRange: (Double, Double), clampTop: Double?) -> String {
        let plotW = width - left - right
        let values = series.flatMap { $0.points.map { $0.1 } }
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if let c = clampTop { hi = min(max(hi, lo), c) }
        if hi - lo < 1e-9 { lo -= clampTop == nil ? 1 : 0.01; hi += clampTop == nil ? 1 : 0.01 }
        let yTicks = ticks(lo, hi), xTicks = ticks(xRange.0, xRange.1, integer: true)
        lo = min(lo, yTicks.first ?? lo); hi = max(hi, yTicks.last ?? hi)
        func px(_ x: Double) -> Double { left + plotW * (x - xRange.0) / max(xRange.1 - xRange.0, 1) }
        func py(_ y: Double) -> Double { top + panelHeight * (1 - (y - lo) / (hi - lo)) }
        var s = "<g>\n"
        for t in yTicks where t >= lo - 1e-9 && t <= hi + 1e-9 {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>", left, py(t), left + plotW, py(t))
            s += "<text x=\"\(f1(left - 6))\" y=\"\(f1(py(t) + 4))\" text-anchor=\"end\">\(label(t, yTicks))</text>\n"
        }
        for t in xTicks where t >= xRange.0 && t <= xRange.1 {
            s += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>", px(t), top, px(t), top + panelHeight)
            s += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n", px(t), top + panelHeight + 16, Int(t))
        }
        s += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left, top, plotW, panelHeight)
        s += "<text transform=\"translate(18,\(f1(top + panelHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        for (k, se) in series.enumerated() {
            let pts = se.points.map { String(format: "%.1f,%.1f", px($0.0), py(min($0.1, hi))) }
            if pts.count > 1 {
                s += "<polyline fill=\"none\" stroke=\"\(se.color)\" stroke-width=\"1.5\" points=\"\(pts.joined(separator: " "))\"/>\n"
            }
            if se.points.count <= 60 {
                for p in se.points {
                    s += "<circle cx=\"\(f1(px(p.0)))\" cy=\"\(f1(py(min(p.1, hi))))\" r=\"2.5\" fill=\"\(se.color)\"/>"
                }
                s += "\n"
            }
            let ly = top + 14 + Double(k) * 18
            s += "<line x1=\"\(f1(left + plotW + 12))\" y1=\"\(f1(ly - 4))\" x2=\"\(f1(left + plotW + 32))\" y2=\"\(f1(ly - 4))\" stroke=\"\(se.color)\" stroke-width=\"2\"/>"
            s += "<text x=\"\(f1(left + plotW + 38))\" y=\"\(f1(ly))\">\(se.name)</text>\n"
        }
        return s + "</g>\n"
    }

    /// About five ticks at multiples of 1, 2 or 5 × 10^k covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, integer: Bool = false) -> [Double] {
        let span = max(hi - lo, 1e-12)
        let raw = span / 5
        let mag = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        if integer { step = max(1, step.rounded()) }
        let first = floor(lo / step) * step, last = ceil(hi / step) * step
        return stride(from: first, through: last + step / 2, by: step).map { $0 }
    }

    static func label(_ v: Double, _ all: [Double]) -> String {
        let step = all.count > 1 ? all[1] - all[0] : 1
        let digits = max(0, min(6, Int(ceil(-log10(step)))))
        return String(format: "%.\(digits)f", v)
    }

    static func f1(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
