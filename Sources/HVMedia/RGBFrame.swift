// RGBFrame: one decoded picture as interleaved 8-bit RGB (R, G, B per pixel, rows top to bottom,
// no padding). It is the currency between the media readers (y4m, libavformat), the tokenizer and
// the metrics.

public struct RGBFrame: Equatable, Sendable {
    public let width: Int
    public let height: Int
    /// width * height * 3 bytes, row-major, RGB interleaved.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3, "RGBFrame: \(pixels.count) bytes for \(width)x\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A black frame.
    public init(width: Int, height: Int) {
        self.init(width: width, height: height, pixels: [UInt8](repeating: 0, count: width * height * 3))
    }
}

/// A frame rate as an exact fraction (frames per second = numerator / denominator).
public struct FrameRate: Equatable, Sendable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    public init(_ numerator: Int, _ denominator: Int = 1) {
        self.numerator = numerator
        self.denominator = denominator
    }

    public var framesPerSecond: Double { Double(numerator) / Double(denominator) }
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }
}

/// One picture as limited-range BT.601 Y'CbCr planes, 4:4:4 or 4:2:0 (chroma ⌈w/2⌉ × ⌈h/2⌉, centred between its
/// four luma samples as in y4m's 420jpeg), rows top to bottom, no padding: what `VideoDecoder.nextYCbCrFrame`
/// gives and `Y4MWriter` stores without a trip through RGB.
public struct YCbCrFrame: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public let chromaWidth: Int
    public let chromaHeight: Int
    public var y: [UInt8], cb: [UInt8], cr: [UInt8]

    /// A black frame (16, 128, 128).
    public init(width: Int, height: Int, subsampled: Bool = false) {
        self.width = width
        self.height = height
        chromaWidth = subsampled ? (width + 1) / 2 : width
        chromaHeight = subsampled ? (height + 1) / 2 : height
        y = [UInt8](repeating: 16, count: width * height)
        cb = [UInt8](repeating: 128, count: chromaWidth * chromaHeight)
        cr = cb
    }

    public var isSubsampled: Bool { chromaWidth != width || chromaHeight != height }

    /// The 4:2:0 frame of a 4:4:4 one: each chroma sample the mean of its 2×2 block, rounded (odd edges
    /// replicate), as `Y4MWriter.write(RGBFrame)` subsamples.
    public func subsampled() -> YCbCrFrame {
        if isSubsampled { return self }
        var out = YCbCrFrame(width: width, height: height, subsampled: true)
        out.y = y
        let w = width, h = height, cw = out.chromaWidth
        for (src, k) in [(cb, 0), (cr, 1)] {
            var dst = [UInt8](repeating: 0, count: cw * out.chromaHeight)
            for row in 0..<out.chromaHeight {
                let top = 2 * row * w, bottom = min(2 * row + 1, h - 1) * w
                for c in 0..<cw {
                    let x0 = 2 * c, x1 = min(2 * c + 1, w - 1)
                    let sum = Int(src[top + x0]) + Int(src[top + x1]) + Int(src[bottom + x0]) + Int(src[bottom + x1])
                    dst[row * cw + c] = UInt8((sum + 2) >> 2)
                }
            }
            if k == 0 { out.cb = dst } else { out.cr = dst }
        }
        return out
    }
}
