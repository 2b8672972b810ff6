// Streaming y4m writer: RGB frames → 8-bit 420jpeg (default) or 444 planes, BT.601, limited range
// unless full range is asked for; the range is tagged (XCOLORRANGE) so readers need not guess.

public final class Y4MWriter {
    public let header: Y4MHeader
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private var planes: [UInt8]
    private var wroteHeader = false

    /// `sink` receives every byte in order (e.g. OutputFile.write).
    public init(width: Int, height: Int, frameRate: FrameRate, colorSpace: Y4MColorSpace = .c420jpeg,
                fullRange: Bool = false, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        header = Y4MHeader(width: width, height: height, frameRate: frameRate, colorSpace: colorSpace, fullRange: fullRange)
        self.sink = sink
        planes = [UInt8](repeating: 0, count: header.frameBytes)
    }

    public func write(_ frame: RGBFrame) throws {
        guard frame.width == header.width, frame.height == header.height else {
            throw MediaError.encodeFailed(name: "y4m", reason: "frame is \(frame.width)x\(frame.height), the stream is \(header.width)x\(header.height)")
        }
        let w = header.width, h = header.height
        frame.pixels.withUnsafeBufferPointer { rgb in
            planes.withUnsafeMutableBufferPointer { p in
                let y = p.baseAddress!
                switch header.colorSpace {
                case .mono:
                    ColorConversion.rgbToYUV(rgb: rgb.baseAddress!, width: w, height: h, subsampled: false, fullRange: header.fullRange, y: y, cb: nil, cr: nil)
                case .c444:
                    ColorConversion.rgbToYUV(rgb: rgb.baseAddress!, width: w, height: h, subsampled: false, fullRange: header.fullRange,
                                             y: y, cb: y + w * h, cr: y + 2 * w * h)
                default:
                    let cw = (w + 1) / 2, ch = (h + 1) / 2
                    ColorConversion.rgbToYUV(rgb: rgb.baseAddress!, width: w, height: h, subsampled: true, fullRange: header.fullRange,
                                             y: y, cb: y + w * h, cr: y + w * h + cw * ch)
                }
            }
        }
        try emit()
    }

    /// Writes Y'CbCr planes as they are (limited range; 4:2:0 chroma is the mean of each 2×2 block, rounded,
    /// odd edges replicated, as `write(RGBFrame)` subsamples): no conversion through RGB. A full-range stream
    /// takes RGB frames.
    public func write(_ frame: YCbCrFrame) throws {
        guard frame.width == header.width, frame.height == header.height else {
            throw MediaError.encodeFailed(name: "y4m", reason: "frame is \(frame.width)x\(frame.height), the stream is \(header.width)x\(header.height)")
        }
        guard !header.fullRange else {
            throw MediaError.encodeFailed(name: "y4m", reason: "a full-range stream takes RGB frames, not limited-range Y'CbCr")
        }
        let w = header.width, h = header.height
        planes.withUnsafeMutableBufferPointer { p in
            let y = p.baseAddress!
            y.update(from: frame.y, count: w * h)
            switch header.colorSpace {
            case .mono:
                break
            case .c444:
                (y + w * h).update(from: frame.cb, count: w * h)
                (y + 2 * w * h).update(from: frame.cr, count: w * h)
            default:
                let cw = (w + 1) / 2, ch = (h + 1) / 2
                for (k, plane) in [frame.cb, frame.cr].enumerated() {
                    let dst = y + w * h + k * cw * ch
                    plane.withUnsafeBufferPointer { src in
                        for row in 0..<ch {
                            let top = src.baseAddress! + 2 * row * w, bottom = src.baseAddress! + min(2 * row + 1, h - 1) * w
                            for c in 0..<cw {
                                let x0 = 2 * c, x1 = min(2 * c + 1, w - 1)
                                let sum = Int(top[x0]) + Int(top[x1]) + Int(bottom[x0]) + Int(bottom[x1])
                                dst[row * cw + c] = UInt8((sum + 2) >> 2)
                            }
                        }
                    }
                }
            }
        }
        try emit()
    }

    private func emit() throws {
        if !wroteHeader {
            try header.serialized().withUnsafeBytes { try sink($0) }
            wroteHeader = true
        }
        try Array("FRAME\n".utf8).withUnsafeBytes { try sink($0) }
        try planes.withUnsafeBytes { try sink($0) }
    }
}
