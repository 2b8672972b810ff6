// The fast SSIM kernel: mean SSIM and mean contrast-structure (cs) of two Float planes over the valid
// region, by separable Gaussian filtering (11 taps, σ 1.5, symmetric taps folded: 6 multiplies per output)
// of x, y, x², y², xy. Wang et al. 2004, eq. 13, with the conventions of scikit-image's
// structural_similarity(gaussian_weights=True, sigma=1.5, use_sample_covariance=False) — see ImageQuality.swift.
// The naive reference (direct 11×11 window sums in Double) is ImageQualityReference.ssimPlane.
import Foundation

/// The Gaussian window shared by every SSIM computation: 11 taps, σ = 1.5, normalised to sum 1.
/// Radius ⌊3.5·σ + 0.5⌋ = 5, as scikit-image (truncate = 3.5) and scipy.ndimage.gaussian_filter.
public enum SSIMWindow {
    public static let sigma = 1.5
    public static let radius = 5
    public static let size = 2 * radius + 1
    /// Normalised taps in Double (used by the reference) ...
    public static let tapsDouble: [Double] = {
        let w = (-radius...radius).map { Foundation.exp(-Double($0 * $0) / (2 * sigma * sigma)) }
        let s = w.reduce(0, +)
        return w.map { $0 / s }
    }()
    /// ... and in Float (used by the fast kernel).
    public static let taps: [Float] = tapsDouble.map { Float($0) }
}

/// Reusable buffers for SSIM on planes up to `capacityWidth` × `capacityHeight`. Not thread-safe: one
/// workspace per worker. All buffers are allocated once, so scoring a stream of frames allocates nothing.
public final class SSIMWorkspace {
    public let capacityWidth: Int
    public let capacityHeight: Int
    /// The two planes being compared (values already shifted by −128, see `shift`), pooled in place.
    let x: UnsafeMutablePointer<Float>
    let y: UnsafeMutablePointer<Float>
    /// Horizontal pass output: 5 maps (x, y, x², y², xy) of h × (w − 10).
    let horizontal: UnsafeMutablePointer<Float>
    /// One row of the five products (5 × w) and one row of the five vertical sums (5 × (w − 10)).
    let productRow: UnsafeMutablePointer<Float>
    let verticalRow: UnsafeMutablePointer<Float>

    /// Pixel values are stored minus 128 so that the second moments stay small (better Float precision
    /// in E[x²] − E[x]²). Variances are shift-invariant; the luminance term adds the shift back.
    static let shift: Float = 128

    public init(width: Int, height: Int) {
        capacityWidth = width
        capacityHeight = height
        let n = max(1, width * height)
        let ow = max(1, width - 2 * SSIMWindow.radius)
        x = .allocate(capacity: n); y = .allocate(capacity: n)
        horizontal = .allocate(capacity: 5 * ow * max(1, height))
        productRow = .allocate(capacity: 5 * max(1, width))
        verticalRow = .allocate(capacity: 5 * ow)
    }

    deinit {
        x.deallocate(); y.deallocate(); horizontal.deallocate(); productRow.deallocate(); verticalRow.deallocate()
    }

    /// Loads channel `channel` (0 R, 1 G, 2 B) of two frames' interleaved RGB bytes, or BT.601 luma when
    /// `channel` is nil, into the x and y planes (shifted by −128).
    func load(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, pixels n: Int, channel: Int?) {
        let s = SSIMWorkspace.shift
        if let c = channel {
            for i in 0..<n {
                x[i] = Float(a[3 * i + c]) - s
                y[i] = Float(b[3 * i + c]) - s
            }
        } else {
            // BT.601 luma in Float, unrounded (as the golden script's 0.299 R + 0.587 G + 0.114 B in float64).
            for i in 0..<n {
                x[i] = 0.299 * Float(a[3 * i]) + 0.587 * Float(a[3 * i + 1]) + 0.114 * Float(a[3 * i + 2]) - s
                y[i] = 0.299 * Float(b[3 * i]) + 0.587 * Float(b[3 * i + 1]) + 0.114 * Float(b[3 * i + 2]) - s
            }
        }
    }

    /// 2×2 average pooling of both planes in place (w × h → ⌊w/2⌋ × ⌊h/2⌋, an odd last row/column is
    /// dropped). In place is safe: output index i·w2 + j never exceeds the first input index it reads.
    func pool(width w: Int, height h: Int) {
        let w2 = w / 2, h2 = h / 2
        for p in [x, y] {
            for r in 0..<h2 {
                let top = p + 2 * r * w, bottom = top + w, out = p + r * w2
                for c in 0..<w2 {
                    out[c] = 0.25 * ((top[2 * c] + top[2 * c + 1]) + (bottom[2 * c] + bottom[2 * c + 1]))
                }
            }
        }
    }

    /// Mean SSIM and mean cs of the loaded planes (w × h, both ≥ 11) over the valid region
    /// [5, h−5) × [5, w−5), which is scikit-image's crop of (win_size − 1) / 2 at every border.
    func ssimAndCS(width w: Int, height h: Int) -> (ssim: Double, cs: Double) {
        let r = SSIMWindow.radius
        let ow = w - 2 * r, oh = h - 2 * r
        let t = SSIMWindow.taps
        let t0 = t[0], t1 = t[1], t2 = t[2], t3 = t[3], t4 = t[4], t5 = t[5]
        let plane = ow * h
        // Horizontal pass: every row, the five products, filtered to the valid columns.
        for row in 0..<h {
            let xr = x + row * w, yr = y + row * w
            let p0 = productRow, p1 = p0 + w, p2 = p1 + w, p3 = p2 + w, p4 = p3 + w
            for c in 0..<w {
                let a = xr[c], b = yr[c]
                p0[c] = a; p1[c] = b; p2[c] = a * a; p3[c] = b * b; p4[c] = a * b
            }
            for m in 0..<5 {
                let p = productRow + m * w
                let o = horizontal + m * plane + row * ow
                for c in 0..<ow {
                    var s = t5 * p[c + 5]
                    s += t0 * (p[c] + p[c + 10])
                    s += t1 * (p[c + 1] + p[c + 9])
                    s += t2 * (p[c + 2] + p[c + 8])
                    s += t3 * (p[c + 3] + p[c + 7])
                    s += t4 * (p[c + 4] + p[c + 6])
                    o[c] = s
                }
            }
        }
        // Vertical pass on each valid row, then the SSIM and cs maps, summed.
        let c1 = Float((ImageQuality.k1 * ImageQuality.dataRange) * (ImageQuality.k1 * ImageQuality.dataRange))
        let c2 = Float((ImageQuality.k2 * ImageQuality.dataRange) * (ImageQuality.k2 * ImageQuality.dataRange))
        let shift = SSIMWorkspace.shift
        var sumS = 0.0, sumCS = 0.0
        for row in 0..<oh {
            for m in 0..<5 {
                let base = horizontal + m * plane + row * ow
                let v = verticalRow + m * ow
                let r0 = base, r1 = base + ow, r2 = base + 2 * ow, r3 = base + 3 * ow, r4 = base + 4 * ow
                let r5 = base + 5 * ow, r6 = base + 6 * ow, r7 = base + 7 * ow, r8 = base + 8 * ow
                let r9 = base + 9 * ow, r10 = base + 10 * ow
                for c in 0..<ow {
                    var s = t5 * r5[c]
                    s += t0 * (r0[c] + r10[c])
                    s += t1 * (r1[c] + r9[c])
                    s += t2 * (r2[c] + r8[c])
                    s += t3 * (r3[c] + r7[c])
                    s += t4 * (r4[c] + r6[c])
                    v[c] = s
                }
            }
            let mx = verticalRow, my = mx + ow, mxx = my + ow, myy = mxx + ow, mxy = myy + ow
            var rowS: Float = 0, rowCS: Float = 0
            for c in 0..<ow {
                let dx = mx[c], dy = my[c]
                let vx = mxx[c] - dx * dx, vy = myy[c] - dy * dy, vxy = mxy[c] - dx * dy
                let ux = dx + shift, uy = dy + shift
                let cs = (2 * vxy + c2) / (vx + vy + c2)
                let l = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
                rowS += l * cs
                rowCS += cs
            }
            sumS += Double(rowS); sumCS += Double(rowCS)
        }
        let n = Double(ow * oh)
        return (sumS / n, sumCS / n)
    }
}
