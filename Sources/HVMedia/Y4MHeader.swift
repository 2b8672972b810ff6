// The YUV4MPEG2 stream header (formats/y4m.md): "YUV4MPEG2" then space-separated tags W H F I A C X,
// ending in '\n'. We read 8-bit progressive 4:2:0 (420jpeg, 420mpeg2, 420paldv, 420), 4:4:4 and mono;
// everything else is refused with a reason.

public enum Y4MColorSpace: String, Sendable {
    case c420jpeg = "420jpeg", c420mpeg2 = "420mpeg2", c420paldv = "420paldv", c420 = "420"
    case c444 = "444", mono = "mono"

    /// Chroma subsampling: true for the 4:2:0 variants.
    public var is420: Bool { ![.c444, .mono].contains(self) }

    /// Bytes of one frame of width × height.
    public func frameBytes(width: Int, height: Int) -> Int {
        switch self {
        case .c444: return width * height * 3
        case .mono: return width * height
        default: return width * height + 2 * ((width + 1) / 2) * ((height + 1) / 2)
        }
    }
}

public struct Y4MHeader: Equatable, Sendable {
    public var width: Int
    public var height: Int
    public var frameRate: FrameRate
    public var colorSpace: Y4MColorSpace
    /// Pixel aspect ratio (A tag); 0:0 means unknown.
    public var aspect: (Int, Int) = (1, 1)
    /// Full-range samples (XCOLORRANGE=FULL); otherwise limited (16–235) as BT.601 video.
    public var fullRange: Bool

    /// Longest header line we accept; real headers are under 100 bytes.
    public static let maxHeaderBytes = 1024
    /// Largest frame side we accept (guards allocations on corrupt input).
    public static let maxDimension = 16384

    public init(width: Int, height: Int, frameRate: FrameRate, colorSpace: Y4MColorSpace = .c420jpeg, fullRange: Bool = false) {
        self.width = width; self.height = height; self.frameRate = frameRate; self.colorSpace = colorSpace; self.fullRange = fullRange
    }

    public static func == (a: Y4MHeader, b: Y4MHeader) -> Bool {
        a.width == b.width && a.height == b.height && a.frameRate == b.frameRate && a.colorSpace == b.colorSpace
            && a.aspect == b.aspect && a.fullRange == b.fullRange
    }

    public var frameBytes: Int { colorSpace.frameBytes(width: width, height: height) }

    /// Parses the header line (without its '\n').
    public static func parse(_ line: [UInt8], name: String) throws -> Y4MHeader {
        guard line.count >= 9, Array(line[0..<9]) == Array("YUV4MPEG2".utf8) else { throw MediaError.notY4M(name: name) }
        // A header saved with a CRLF line end keeps its last tag (XCOLORRANGE) and prints no stray CR.
        let text = String(decoding: line.last == 0x0D ? line.dropLast() : line[...], as: UTF8.self)
        var w: Int?, h: Int?, rate: FrameRate?, cs = Y4MColorSpace.c420jpeg, full = false, aspect = (1, 1)
        for token in text.split(separator: " ").dropFirst() {
            let tag = token.first!, value = String(token.dropFirst())
            switch tag {
            case "W": w = Int(value)
            case "H": h = Int(value)
            case "F":
                let p = value.split(separator: ":")
                guard p.count == 2, let n = Int(p[0]), let d = Int(p[1]), n > 0, d > 0 else {
                    throw MediaError.badY4MHeader(name: name, reason: "frame rate '\(value)' is not N:D with N, D > 0")
                }
                rate = FrameRate(n, d)
            case "I":
                guard value == "p" || value == "?" else {
                    throw MediaError.unsupportedY4M(name: name, reason: "interlaced video (I\(value)); deinterlace first, e.g. ffmpeg -vf yadif")
                }
            case "A":
                let p = value.split(separator: ":")
                if p.count == 2, let n = Int(p[0]), let d = Int(p[1]) { aspect = (n, d) }
            case "C":
                guard let c = Y4MColorSpace(rawValue: value) else {
                    throw MediaError.unsupportedY4M(name: name, reason: "colour space C\(value); we read 8-bit 420jpeg, 420mpeg2, 420paldv, 444 and mono (convert with ffmpeg -pix_fmt yuv420p)")
                }
                cs = c
            case "X":
                if value.hasPrefix("COLORRANGE=") {
                    switch value.dropFirst("COLORRANGE=".count) {
                    case "FULL": full = true
                    case "LIMITED": full = false
                    default: throw MediaError.badY4MHeader(name: name, reason: "X\(value) is neither FULL nor LIMITED")
                    }
                }
            default:
                throw MediaError.badY4MHeader(name: name, reason: "unknown tag '\(tag)'")
            }
        }
        guard let w, let h else { throw MediaError.badY4MHeader(name: name, reason: "the W (width) or H (height) tag is missing") }
        guard w > 0, h > 0, w <= maxDimension, h <= maxDimension else {
            throw MediaError.badY4MHeader(name: name, reason: "size \(w)x\(h) is outside 1...\(maxDimension)")
        }
        guard let rate else { throw MediaError.badY4MHeader(name: name, reason: "the F (frame rate) tag is missing") }
        var header = Y4MHeader(width: w, height: h, frameRate: rate, colorSpace: cs, fullRange: full)
        header.aspect = aspect
        return header
    }

    /// The header line including its '\n'.
    public func serialized() -> [UInt8] {
        var s = "YUV4MPEG2 W\(width) H\(height) F\(frameRate.numerator):\(frameRate.denominator) Ip A\(aspect.0):\(aspect.1) C\(colorSpace.rawValue)"
        s += fullRange ? " XCOLORRANGE=FULL" : " XCOLORRANGE=LIMITED"
        return Array((s + "\n").utf8)
    }
}
