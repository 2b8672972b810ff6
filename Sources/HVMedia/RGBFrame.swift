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

/// One picture as limited-range BT.601 Y'CbCr 4:4:4 planes (width × height bytes each, rows top to bottom): what
/// `VideoDecoder.nextYCbCrFrame` gives and `Y4MWriter` stores without a trip through RGB.
public struct YCbCrFrame: Equatable, Sendable {
    public let width: Int
    public let height: Int
    public var y: [UInt8], cb: [UInt8], cr: [UInt8]

    /// A black frame (16, 128, 128).
    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        y = [UInt8](repeating: 16, count: width * height)
        cb = [UInt8](repeating: 128, count: width * height)
        cr = cb
    }
}
