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

    /// Writes Y'CbCr planes as they are (limited range): a 4:2:0 frame into a 420 stream, a 4:4:4 frame into
    /// any stream (4:2:0 by `subsampled()`, mono keeps the luma). A full-range stream takes RGB frames.
    public func write(_ frame: YCbCrFrame) throws {
        guard frame.width == header.width, frame.height == header.height else {
            throw MediaError.encodeFailed(name: "y4m", reason: "frame is \(frame.width)x\(frame.height), the stream is \(header.width)x\(header.height)")
        }
        guard !header.fullRange else {
            throw MediaError.encodeFailed(name: "y4m", reason: "a full-range stream takes RGB frames, not limited-range Y'CbCr")
        }
        let w = header.width, h = header.height
        let chroma: YCbCrFrame?
        switch header.colorSpace {
        case .mono: chroma = nil
        case .c444:
            guard !frame.isSubsampled else { throw MediaError.encodeFailed(name: "y4m", reason: "a 4:4:4 stream takes 4:4:4 frames") }
            chroma = frame
        default: chroma = frame.subsampled()
        }
        planes.withUnsafeMutableBufferPointer { p in
            let y = p.baseAddress!
            y.update(from: frame.y, count: w * h)
            if let chroma {
                let n = chroma.chromaWidth * chroma.chromaHeight
                (y + w * h).update(from: chroma.cb, count: n)
                (y + w * h + n).update(from: chroma.cr, count: n)
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
