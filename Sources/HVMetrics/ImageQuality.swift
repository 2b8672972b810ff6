// Full-reference image quality of 8-bit RGB frames.
// PSNR: MSE over all pixels and the three channels, data range 255 (per frame; identical frames give
//   +inf, reported as 100 dB so that averages stay finite — the cap is stated in reports).
// SSIM: Wang et al. 2004 exactly as scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
//   use_sample_covariance=False, data_range=255): an 11-tap Gaussian window (truncate 3.5), K1 = 0.01,
//   K2 = 0.03, the map averaged over the region at least 5 pixels from every border (skimage's crop, which
//   also makes the border mode irrelevant), channels averaged; `luma` uses BT.601 Y' instead.
// MS-SSIM: Wang et al. 2003, 5 scales, weights 0.0448, 0.2856, 0.3001, 0.2363, 0.1333; between scales a
//   2×2 average pool; contrast-structure at scales 1–4 and full SSIM at scale 5, each clamped at 0 before
//   the power (as pytorch-msssim does). At 256² the 5th scale is 16², whose cropped region is 6×6.
import Dispatch
import Foundation
import HVMedia

public enum ImageQuality {
    public static let psnrCap = 100.0
    static let k1 = 0.01, k2 = 0.03, range = 255.0
    public static let msssimWeights: [Double] = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]

    /// The 11 normalised Gaussian taps for σ = 1.5 (radius ⌊3.5σ + 0.5⌋ = 5, as scipy).
    static let taps: [Float] = {
        let sigma = 1.5, r = 5
        let w = (-r...r).map { exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let s = w.reduce(0, +)
        return w.map { Float($0 / s) }
    }()

    public static func mse(_ a: RGBFrame, _ b: RGBFrame) -> Double {
        var s: Double = 0
        a.pixels.withUnsafeBufferPointer { x in b.pixels.withUnsafeBufferPointer { y in
            for i in 0..<x.count { let d = Double(Int(x[i]) - Int(y[i])); s += d * d }
        } }
        return s / Double(a.pixels.count)
    }

    public static func psnr(mse: Double) -> Double { mse == 0 ? psnrCap : min(psnrCap, 10 * log10(range * range / mse)) }
    public static func psnr(_ a: RGBFrame, _ b: RGBFrame) -> Double { psnr(mse: mse(a, b)) }

    /// Planes of a frame as Float: three channels, or one BT.601 luma plane.
    static func planes(_ f: RGBFrame, luma: Bool) -> [[Float]] {
        let n = f.width * f.height
        if luma {
            var y = [Float](repeating: 0, count: n)
            for i in 0..<n { y[i] = 0.299 * Float(f.pixels[3 * i]) + 0.587 * Float(f.pixels[3 * i + 1]) + 0.114 * Float(f.pixels[3 * i + 2]) }
            return [y]
        }
        return (0..<3).map { c in (0..<n).map { Float(f.pixels[3 * $0 + c]) } }
    }

    /// Mean SSIM and mean contrast-structure of two planes (w × h) over the cropped region.
    static func ssimPlane(_ x: [Float], _ y: [Float], w: Int, h: Int) -> (ssim: Double, cs: Double) {
        let r = 5
        guard w > 2 * r, h > 2 * r else { return (1, 1) }
        // Separable filtering of x, y, x², y², xy: horizontal pass on all rows, vertical only where needed.
        let c1 = Float((k1 * range) * (k1 * range)), c2 = Float((k2 * range) * (k2 * range))
        let ow = w - 2 * r
        var hx = [[Float]](repeating: [Float](repeating: 0, count: ow * h), count: 5)
        for row in 0..<h {
            for col in 0..<ow {
                var s0: Float = 0, s1: Float = 0, s2: Float = 0, s3: Float = 0, s4: Float = 0
                for k in 0...(2 * r) {
                    let i = row * w + col + k
                    let a = x[i], b = y[i], t = taps[k]
                    s0 += t * a; s1 += t * b; s2 += t * a * a; s3 += t * b * b; s4 += t * a * b
                }
                let o = row * ow + col
                hx[0][o] = s0; hx[1][o] = s1; hx[2][o] = s2; hx[3][o] = s3; hx[4][o] = s4
            }
        }
        var sumS: Double = 0, sumCS: Double = 0
        var acc = [[Float]](repeating: [Float](repeating: 0, count: ow), count: 5)
        for row in r..<(h - r) {
            for q in 0..<5 {
                acc[q].withUnsafeMutableBufferPointer { dst in
                    hx[q].withUnsafeBufferPointer { src in
                        for c in 0..<ow { dst[c] = 0 }
                        for k in 0...(2 * r) {
                            let t = taps[k], base = (row - r + k) * ow
                            for c in 0..<ow { dst[c] += t * src[base + c] }
                        }
                    }
                }
            }
            for col in 0..<ow {
                let ux = acc[0][col], uy = acc[1][col]
                let vx = acc[2][col] - ux * ux, vy = acc[3][col] - uy * uy, vxy = acc[4][col] - ux * uy
                let cs = (2 * vxy + c2) / (vx + vy + c2)
                let l = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
                sumS += Double(l * cs); sumCS += Double(cs)
            }
        }
        let n = Double((h - 2 * r) * ow)
        return (sumS / n, sumCS / n)
    }

    /// SSIM of two frames (RGB channels averaged, or luma).
    public static func ssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double {
        let pa = planes(a, luma: luma), pb = planes(b, luma: luma)
        var out = [Double](repeating: 0, count: pa.count)
        out.withUnsafeMutableBufferPointer { o in
            DispatchQueue.concurrentPerform(iterations: pa.count) { c in
                o[c] = ssimPlane(pa[c], pb[c], w: a.width, h: a.height).ssim
            }
        }
        return out.reduce(0, +) / Double(out.count)
    }

    static func pool2(_ p: [Float], w: Int, h: Int) -> [Float] {
        let w2 = w / 2, h2 = h / 2
        var o = [Float](repeating: 0, count: w2 * h2)
        for y in 0..<h2 { for x in 0..<w2 {
            o[y * w2 + x] = 0.25 * (p[2 * y * w + 2 * x] + p[2 * y * w + 2 * x + 1] + p[(2 * y + 1) * w + 2 * x] + p[(2 * y + 1) * w + 2 * x + 1])
        } }
        return o
    }

    /// MS-SSIM of two frames (RGB channels averaged, or luma).
    public static func msssim(_ a: RGBFrame, _ b: RGBFrame, luma: Bool = false) -> Double {
        let pa = planes(a, luma: luma), pb = planes(b, luma: luma)
        var out = [Double](repeating: 0, count: pa.count)
        out.withUnsafeMutableBufferPointer { o in
            DispatchQueue.concurrentPerform(iterations: pa.count) { c in
                var x = pa[c], y = pb[c], w = a.width, h = a.height
                var value = 1.0
                for (j, wt) in msssimWeights.enumerated() {
                    let (s, cs) = ssimPlane(x, y, w: w, h: h)
                    value *= pow(max(j == msssimWeights.count - 1 ? s : cs, 0), wt)
                    if j < msssimWeights.count - 1 { x = pool2(x, w: w, h: h); y = pool2(y, w: w, h: h); w /= 2; h /= 2 }
                }
                o[c] = value
            }
        }
        return out.reduce(0, +) / Double(out.count)
    }
}
