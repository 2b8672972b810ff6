// BT.601 conversion between 8-bit RGB and Y'CbCr, full range (JPEG) or limited range (16–235 luma,
// 16–240 chroma, as video). 4:2:0 chroma is the mean of each 2×2 block (odd edges replicate); on the
// way back chroma is replicated to 2×2 (nearest), which is what ffmpeg does by default for yuv4mpegpipe.
//
// `yuvToRGB` and `rgbToYUV` are the fast versions (16.16 fixed point, no per-pixel float rounding calls; they
// were a fifth of hv-decode's time). `rgbToYUV` looks each coefficient × sample product up in a table rather
// than multiplying (the default x86-64 target has no packed 32-bit multiply, so those multiplies did not
// vectorise; the lookups made it 1.6× faster, `hv-bench --only color`). The same lookups in `yuvToRGB` made
// hv-decode slower end to end (its input there is 4:4:4), so that one multiplies. `yuvToRGBReference` and
// `rgbToYUVReference` are the plain float formulas both are tested against (within ±1 per sample, from
// rounding the coefficients).
public enum ColorConversion {
    @inline(__always) static func clamp8(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }
    @inline(__always) static func clamp8(fixed v: Int32) -> UInt8 {
        return UInt8(truncatingIfNeeded: min(max((v &+ 32768) >> 16, 0), 255))
    }
    @inline(__always) static func fixed(_ v: Float) -> Int32 { Int32((v * 65536).rounded()) }

    /// Fixed-point `yuvToRGBReference` (same arguments and layout).
    public static func yuvToRGB(y: UnsafePointer<UInt8>, cb: UnsafePointer<UInt8>?, cr: UnsafePointer<UInt8>?,
                                width: Int, height: Int, chromaWidth: Int, subsampled: Bool, fullRange: Bool,
                                rgb: UnsafeMutablePointer<UInt8>,
                                lumaStride: Int? = nil, chromaStride: Int? = nil, rgbStride: Int? = nil) {
        let ys: Float = fullRange ? 1 : 255.0 / 219.0, yo: Int32 = fullRange ? 0 : 16
        let cs: Float = fullRange ? 1 : 255.0 / 224.0
        let ky = fixed(ys), krv = fixed(1.402 * cs), kgu = fixed(0.344136 * cs), kgv = fixed(0.714136 * cs), kbu = fixed(1.772 * cs)
        let yStride = lumaStride ?? width, cStride = chromaStride ?? chromaWidth, oStride = rgbStride ?? 3 * width
        for row in 0..<height {
            let crow = subsampled ? row / 2 : row
            let yRow = y + row * yStride, out = rgb + row * oStride
            guard let cb, let cr else {
                for col in 0..<width {
                    let v = clamp8(fixed: (Int32(yRow[col]) - yo) &* ky)
                    out[3 * col] = v; out[3 * col + 1] = v; out[3 * col + 2] = v
                }
                continue
            }
            let cbRow = cb + crow * cStride, crRow = cr + crow * cStride
            for col in 0..<width {
                let ccol = subsampled ? col >> 1 : col
                let Y = (Int32(yRow[col]) - yo) &* ky
                let u = Int32(cbRow[ccol]) - 128, v = Int32(crRow[ccol]) - 128
                out[3 * col] = clamp8(fixed: Y &+ krv &* v)
                out[3 * col + 1] = clamp8(fixed: Y &- kgu &* u &- kgv &* v)
                out[3 * col + 2] = clamp8(fixed: Y &+ kbu &* u)
            }
        }
    }

    /// The fixed-point products of `rgbToYUV`: nine tables (Y′ from R, G, B; Cb from R, G, B; Cr from R, G, B)
    /// back to back, entry s of each being its coefficient × s for s up to 4 × 255 (the chroma of a 2×2 block
    /// sums four samples). A lookup replaces each multiply; the sums are the same integers, so the output is
    /// bit-identical to multiplying. Allocated once per range and never freed.
    static let tableLength = 1021
    static func products(fullRange: Bool) -> UnsafePointer<Int32> {
        let ys: Float = fullRange ? 1 : 219.0 / 255.0, cs: Float = fullRange ? 1 : 224.0 / 255.0
        let coefficients = [0.299 * ys, 0.587 * ys, 0.114 * ys, -0.168736 * cs, -0.331264 * cs, 0.5 * cs,
                            0.5 * cs, -0.418688 * cs, -0.081312 * cs]
        let p = UnsafeMutablePointer<Int32>.allocate(capacity: coefficients.count * tableLength)
        for (k, c) in coefficients.enumerated() {
            let f = fixed(c)
            for s in 0..<tableLength { p[k * tableLength + s] = f &* Int32(s) }
        }
        return UnsafePointer(p)
    }
    nonisolated(unsafe) static let limitedRangeProducts = products(fullRange: false)
    nonisolated(unsafe) static let fullRangeProducts = products(fullRange: true)

    /// Fixed-point `rgbToYUVReference` (same arguments and layout).
    public static func rgbToYUV(rgb: UnsafePointer<UInt8>, width: Int, height: Int, subsampled: Bool, fullRange: Bool,
                                y: UnsafeMutablePointer<UInt8>, cb: UnsafeMutablePointer<UInt8>?, cr: UnsafeMutablePointer<UInt8>?) {
        let n = tableLength
        let yr = fullRange ? fullRangeProducts : limitedRangeProducts, yg = yr + n, yb = yr + 2 * n
        let ur = yr + 3 * n, ug = yr + 4 * n, ub = yr + 5 * n, vr = yr + 6 * n, vg = yr + 7 * n, vb = yr + 8 * n
        let yo: Int32 = fullRange ? 0 : 16 << 16, c128: Int32 = 128 << 16
        for i in 0..<(width * height) {
            y[i] = clamp8(fixed: yr[Int(rgb[3 * i])] &+ yg[Int(rgb[3 * i + 1])] &+ yb[Int(rgb[3 * i + 2])] &+ yo)
        }
        guard let cb, let cr else { return }
        if !subsampled {
            for i in 0..<(width * height) {
                let r = Int(rgb[3 * i]), g = Int(rgb[3 * i + 1]), b = Int(rgb[3 * i + 2])
                cb[i] = clamp8(fixed: ur[r] &+ ug[g] &+ ub[b] &+ c128)
                cr[i] = clamp8(fixed: vr[r] &+ vg[g] &+ vb[b] &+ c128)
            }
            return
        }
        let cw = (width + 1) / 2, ch = (height + 1) / 2
        for row in 0..<ch {
            let y0 = 2 * row, y1 = min(2 * row + 1, height - 1)
            let top = rgb + y0 * width * 3, bottom = rgb + y1 * width * 3
            for c in 0..<cw {
                let x0 = 2 * c, x1 = min(2 * c + 1, width - 1)
                // Sum of the 2×2 block (odd edges replicate), then the coefficients once: the mean is /4.
                let a = x0 * 3, b1 = x1 * 3
                let r = Int(top[a]) &+ Int(top[b1]) &+ Int(bottom[a]) &+ Int(bottom[b1])
                let g = Int(top[a + 1]) &+ Int(top[b1 + 1]) &+ Int(bottom[a + 1]) &+ Int(bottom[b1 + 1])
                let b = Int(top[a + 2]) &+ Int(top[b1 + 2]) &+ Int(bottom[a + 2]) &+ Int(bottom[b1 + 2])
                cb[row * cw + c] = clamp8(fixed: (ur[r] &+ ug[g] &+ ub[b]) >> 2 &+ c128)
                cr[row * cw + c] = clamp8(fixed: (vr[r] &+ vg[g] &+ vb[b]) >> 2 &+ c128)
            }
        }
    }

    /// Planes (y, cb, cr at full chroma resolution is not required) → RGB. Rows of the planes are
    /// `lumaStride` and `chromaStride` bytes apart (default: packed, `width` and `chromaWidth`), rows of
    /// `rgb` are `rgbStride` bytes apart (default `3 * width`).
    public static func yuvToRGBReference(y: UnsafePointer<UInt8>, cb: UnsafePointer<UInt8>?, cr: UnsafePointer<UInt8>?,
                                width: Int, height: Int, chromaWidth: Int, subsampled: Bool, fullRange: Bool,
                                rgb: UnsafeMutablePointer<UInt8>,
                                lumaStride: Int? = nil, chromaStride: Int? = nil, rgbStride: Int? = nil) {
        let ys: Float = fullRange ? 1 : 255.0 / 219.0, yo: Float = fullRange ? 0 : 16
        let cs: Float = fullRange ? 1 : 255.0 / 224.0
        let yStride = lumaStride ?? width, cStride = chromaStride ?? chromaWidth, oStride = rgbStride ?? 3 * width
        for row in 0..<height {
            let crow = subsampled ? row / 2 : row
            for col in 0..<width {
                let ccol = subsampled ? col / 2 : col
                let Y = (Float(y[row * yStride + col]) - yo) * ys
                var r = Y, g = Y, b = Y
                if let cb, let cr {
                    let u = (Float(cb[crow * cStride + ccol]) - 128) * cs
                    let v = (Float(cr[crow * cStride + ccol]) - 128) * cs
                    r = Y + 1.402 * v
                    g = Y - 0.344136 * u - 0.714136 * v
                    b = Y + 1.772 * u
                }
                let o = row * oStride + col * 3
                rgb[o] = clamp8(r); rgb[o + 1] = clamp8(g); rgb[o + 2] = clamp8(b)
            }
        }
    }

    /// RGB → planes; chroma is averaged over 2×2 blocks when `subsampled`; cb/cr nil for mono.
    public static func rgbToYUVReference(rgb: UnsafePointer<UInt8>, width: Int, height: Int, subsampled: Bool, fullRange: Bool,
                                y: UnsafeMutablePointer<UInt8>, cb: UnsafeMutablePointer<UInt8>?, cr: UnsafeMutablePointer<UInt8>?) {
        let ys: Float = fullRange ? 1 : 219.0 / 255.0, yo: Float = fullRange ? 0 : 16
        let cs: Float = fullRange ? 1 : 224.0 / 255.0
        @inline(__always) func luma(_ o: Int) -> Float { 0.299 * Float(rgb[o]) + 0.587 * Float(rgb[o + 1]) + 0.114 * Float(rgb[o + 2]) }
        @inline(__always) func chroma(_ o: Int) -> (Float, Float) {
            let r = Float(rgb[o]), g = Float(rgb[o + 1]), b = Float(rgb[o + 2])
            return (-0.168736 * r - 0.331264 * g + 0.5 * b, 0.5 * r - 0.418688 * g - 0.081312 * b)
        }
        for i in 0..<(width * height) { y[i] = clamp8(luma(i * 3) * ys + yo) }
        guard let cb, let cr else { return }
        if !subsampled {
            for i in 0..<(width * height) {
                let (u, v) = chroma(i * 3)
                cb[i] = clamp8(u * cs + 128); cr[i] = clamp8(v * cs + 128)
            }
            return
        }
        let cw = (width + 1) / 2, ch = (height + 1) / 2
        for r in 0..<ch {
            for c in 0..<cw {
                var su: Float = 0, sv: Float = 0
                for dy in 0..<2 { for dx in 0..<2 {
                    let yy = min(2 * r + dy, height - 1), xx = min(2 * c + dx, width - 1)
                    let (u, v) = chroma((yy * width + xx) * 3)
                    su += u; sv += v
                } }
                cb[r * cw + c] = clamp8(su / 4 * cs + 128); cr[r * cw + c] = clamp8(sv / 4 * cs + 128)
            }
        }
    }
}
