// BT.601 conversion between 8-bit RGB and Y'CbCr, full range (JPEG) or limited range (16–235 luma,
// 16–240 chroma, as video). 4:2:0 chroma is the mean of each 2×2 block (odd edges replicate); on the
// way back chroma is replicated to 2×2 (nearest), which is what ffmpeg does by default for yuv4mpegpipe.

public enum ColorConversion {
    @inline(__always) static func clamp8(_ v: Float) -> UInt8 { UInt8(max(0, min(255, v.rounded()))) }

    /// Planes (y, cb, cr at full chroma resolution is not required) → RGB.
    public static func yuvToRGB(y: UnsafePointer<UInt8>, cb: UnsafePointer<UInt8>?, cr: UnsafePointer<UInt8>?,
                                width: Int, height: Int, chromaWidth: Int, subsampled: Bool, fullRange: Bool,
                                rgb: UnsafeMutablePointer<UInt8>) {
        let ys: Float = fullRange ? 1 : 255.0 / 219.0, yo: Float = fullRange ? 0 : 16
        let cs: Float = fullRange ? 1 : 255.0 / 224.0
        for row in 0..<height {
            let crow = subsampled ? row / 2 : row
            for col in 0..<width {
                let ccol = subsampled ? col / 2 : col
                let Y = (Float(y[row * width + col]) - yo) * ys
                var r = Y, g = Y, b = Y
                if let cb, let cr {
                    let u = (Float(cb[crow * chromaWidth + ccol]) - 128) * cs
                    let v = (Float(cr[crow * chromaWidth + ccol]) - 128) * cs
                    r = Y + 1.402 * v
                    g = Y - 0.344136 * u - 0.714136 * v
                    b = Y + 1.772 * u
                }
                let o = (row * width + col) * 3
                rgb[o] = clamp8(r); rgb[o + 1] = clamp8(g); rgb[o + 2] = clamp8(b)
            }
        }
    }

    /// RGB → planes; chroma is averaged over 2×2 blocks when `subsampled`; cb/cr nil for mono.
    public static func rgbToYUV(rgb: UnsafePointer<UInt8>, width: Int, height: Int, subsampled: Bool, fullRange: Bool,
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
