// Streaming y4m reader: constant memory (one frame buffer), from any file descriptor (pipes included).
// Each frame is "FRAME[ params]\n" followed by the planes; frames are returned as RGB.
import Foundation

public final class Y4MReader {
    public let header: Y4MHeader
    public let name: String
    private let fd: Int32
    private var buffer: [UInt8]
    private var start = 0, end = 0
    private var plane: [UInt8]
    public private(set) var framesRead = 0

    /// Reads and parses the stream header from `fileDescriptor`.
    public init(fileDescriptor: Int32, name: String) throws {
        self.fd = fileDescriptor
        self.name = name
        buffer = [UInt8](repeating: 0, count: 1 << 16)
        plane = []
        guard let line = try Y4MReader.readLine(fd: fileDescriptor, buffer: &buffer, start: &start, end: &end,
                                                 limit: Y4MHeader.maxHeaderBytes, name: name) else {
            throw MediaError.notY4M(name: name)
        }
        header = try Y4MHeader.parse(line, name: name)
        // The frame buffer is made when the first frame is read, so that a caller can refuse a header's size
        // (up to 16384² is legal: 400 MB a frame) before holding any of it.
    }

    private static func fill(fd: Int32, buffer: inout [UInt8], start: inout Int, end: inout Int, name: String) throws -> Bool {
        if start > 0 {
            if start < end { buffer.withUnsafeMutableBufferPointer { b in
                _ = memmove(b.baseAddress!, b.baseAddress! + start, end - start) } }
            end -= start; start = 0
        }
        if end == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
        while true {
            let n = buffer.withUnsafeMutableBufferPointer { b in read(fd, b.baseAddress! + end, b.count - end) }
            if n > 0 { end += n; return true }
            if n == 0 { return false }
            if errno == EINTR { continue }
            throw MediaError.io(name: name, reason: String(cString: strerror(errno)))
        }
    }

    /// A line without its '\n'; nil at clean end of input. Throws if longer than `limit`.
    private static func readLine(fd: Int32, buffer: inout [UInt8], start: inout Int, end: inout Int, limit: Int, name: String) throws -> [UInt8]? {
        var scanned = start
        while true {
            if let nl = buffer[scanned..<end].firstIndex(of: 0x0A) {
                if nl - start > limit { throw MediaError.badY4MHeader(name: name, reason: "a header line is longer than \(limit) bytes") }
                let line = Array(buffer[start..<nl])
                start = nl + 1
                return line
            }
            if end - start > limit { throw MediaError.badY4MHeader(name: name, reason: "a header line is longer than \(limit) bytes") }
            let consumed = scanned - start
            guard try fill(fd: fd, buffer: &buffer, start: &start, end: &end, name: name) else {
                if end > start { throw MediaError.badY4MHeader(name: name, reason: "the stream ends inside a header line") }
                return nil
            }
            scanned = start + consumed
        }
    }

    /// Reads exactly `count` bytes into `plane`; false if the stream ended first.
    private func readExactly(_ count: Int) throws -> Bool {
        var got = 0
        while got < count {
            if start < end {
                let n = min(count - got, end - start)
                plane.withUnsafeMutableBufferPointer { p in
                    buffer.withUnsafeBufferPointer { b in (p.baseAddress! + got).update(from: b.baseAddress! + start, count: n) }
                }
                start += n; got += n
                continue
            }
            start = 0; end = 0
            let n = plane.withUnsafeMutableBufferPointer { p in read(fd, p.baseAddress! + got, count - got) }
            if n > 0 { got += n; continue }
            if n == 0 { return false }
            if errno == EINTR { continue }
            throw MediaError.io(name: name, reason: String(cString: strerror(errno)))
        }
        return true
    }

    /// The next frame's raw planes (Y, then Cb, Cr), or nil at the end of the stream.
    public func nextRawFrame() throws -> [UInt8]? {
        // A frame line that is not FRAME (or no line at all) after a frame means the data is not what the
        // header's size and colour space say, which is what the refusal names.
        let notAFrame = MediaError.badY4MHeader(name: name, reason: "frame \(framesRead) does not start with FRAME: "
            + "the data does not match the header (\(header.width)x\(header.height) C\(header.colorSpace.rawValue), \(header.frameBytes) bytes a frame)")
        let line: [UInt8]
        do {
            guard let l = try Y4MReader.readLine(fd: fd, buffer: &buffer, start: &start, end: &end,
                                                 limit: Y4MHeader.maxHeaderBytes, name: name) else { return nil }
            line = l
        } catch MediaError.badY4MHeader { throw notAFrame }
        guard line.count >= 5, Array(line[0..<5]) == Array("FRAME".utf8) else { throw notAFrame }
        if plane.count != header.frameBytes { plane = [UInt8](repeating: 0, count: header.frameBytes) }
        guard try readExactly(header.frameBytes) else { throw MediaError.truncatedFrame(name: name, frame: framesRead) }
        framesRead += 1
        return plane
    }

    /// The next frame as RGB, or nil at the end of the stream.
    public func nextFrame() throws -> RGBFrame? {
        guard try nextRawFrame() != nil else { return nil }
        let w = header.width, h = header.height, cs = header.colorSpace
        var rgb = [UInt8](repeating: 0, count: w * h * 3)
        plane.withUnsafeBufferPointer { p in
            rgb.withUnsafeMutableBufferPointer { out in
                let y = p.baseAddress!
                switch cs {
                case .mono:
                    ColorConversion.yuvToRGB(y: y, cb: nil, cr: nil, width: w, height: h, chromaWidth: 0, subsampled: false,
                                             fullRange: header.fullRange, rgb: out.baseAddress!)
                case .c444:
                    ColorConversion.yuvToRGB(y: y, cb: y + w * h, cr: y + 2 * w * h, width: w, height: h, chromaWidth: w,
                                             subsampled: false, fullRange: header.fullRange, rgb: out.baseAddress!)
                default:
                    let cw = (w + 1) / 2, ch = (h + 1) / 2
                    ColorConversion.yuvToRGB(y: y, cb: y + w * h, cr: y + w * h + cw * ch, width: w, height: h, chromaWidth: cw,
                                             subsampled: true, fullRange: header.fullRange, rgb: out.baseAddress!)
                }
            }
        }
        return RGBFrame(width: w, height: h, pixels: rgb)
    }
}
