// Naive reference for the metrics: direct 11×11 Gaussian window sums in Double at every valid pixel,
// straight from the definitions (Wang et al. 2004 eq. 13; Wang et al. 2003 for MS-SSIM). Slow (121 taps
// per output instead of 2 × 6) and allocation-happy on purpose: it is what the fast kernel is tested against.
import Foundation
import HVMedia

public enum ImageQualityReference {
    /// A frame as Double planes: three channels, or one BT.601 luma plane.
    public static func planes(_ f: RGBFrame, luma: Bool) -> [[Double]] {
        let n = f.width * f.height
        if luma {
            var y = [Double](repeating: 0, count: n)
            for i in 0..<n {
                let r = Double(f.pixels[3 * i]), g = Double(f.pixels[3 * i + 1]), b = Double(f.pixels[3 * i + 2])
                y[i] = 0.299 * r + 0.587 * g + 0.114 * b
            }
            return [y]
        }
        return (0..<3).map { c in (0..<n).map { Double(f.pixels[3 * $0 + c]) } }
    }

    /// Mean SSIM and mean cs of two planes (w × h ≥ 11 × 11) over [5, h−5) × [5, w−5).
    public static func ssimPlane(_ x: [Double], _ y: [Double], width w: Int, height h: Int) -> (ssim: Double, cs: Double) {
        let r = SSIMWindow.radius, t = SSIMWindow.tapsDouble
        let c1 = pow(ImageQuality.k1 * ImageQuality.dataRange, 2), c2 = pow(ImageQuality.k2 * ImageQuality.dataRange, 2)
        var sumS = 0.0, sumCS = 0.0
        for row in r..<(h - r) {
            for col in r..<(w - r) {
                var mx = 0.0, my = 0.0, mxx = 0.0, myy = 0.0, mxy = 0.0
                for dy in -r...r {
                    for dx in -r...r {
                        let wt = t[dy + r] * t[dx + r], i = (row + dy) * w + col + dx
                        let a = x[i], b = y[i]
                        mx += wt * a; my += wt * b; mxx += wt * a * a; myy += wt * b * b; mxy += wt * a * b
                    }
                }
                let vx = mxx - mx * mx, vy = myy - my * my, vxy = mxy - mx * my
                let cs = (2 * vxy + c2) / (vx + vy + c2)
                sumS += (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
                sumCS += cs
            }
        }
        let n = Double((w - 2 * r) * (h - 2 * r))
        return (sumS / n, sumCS / n)
    }

    /// 2×2 average pooling, odd last row/column dropped.
    public static func pool(_ p: [Double], width w: Int, height h: Int) -> [Double] {
        let w2 = w / 2, h2 = h / 2
        var o = [Double](repeating: 0, count: w2 * h2)
        for r in 0..<h2 {
            for c in 0..<w2 {
                let i = 2 * r * w + 2 * c
                let top: Double = p[i] + p[i + 1], bottom: Double = p[i + w] + p[i + w + 1]
                o[r * w2 + c] = (top + bottom) / 4
            }
        }
        return o
    }

    public static func mse(_ a: RGBFrame, _ b: RGBFrame) -> Double {
        var s = 0.0
        for i in 0..<a.pixels.count { let d = Double(a.pixels[i]) - Double(b.pixels[i]); s += d * d }
        return s / Double(a.pixels.count)
    }

    public static func ssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double {
        let pa = planes(a, luma: luma), pb = planes(b, luma: luma)
        let v = zip(pa, pb).map { ssimPlane($0, $1, width: a.width, height: a.height).ssim }
        return v.reduce(0, +) / Double(v.count)
    }

    public static func msssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double {
        let pa = planes(a, luma: luma), pb = planes(b, luma: luma)
        var total = 0.0
        for (var x, var y) in zip(pa, pb) {
            var w = a.width, h = a.height, value = 1.0
            for (j, weight) in ImageQuality.msssimWeights.enumerated() {
                if j > 0 { x = pool(x, width: w, height: h); y = pool(y, width: w, height: h); w /= 2; h /= 2 }
                let s = ssimPlane(x, y, width: w, height: h)
                value *= pow(max(j == ImageQuality.msssimWeights.count - 1 ? s.ssim : s.cs, 0), weight)
            }
            total += value
        }
        return total / Double(pa.count)
    }
}
