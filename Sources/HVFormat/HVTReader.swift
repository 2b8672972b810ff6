// Streaming .hvt reader: validates magic, version and every record's CRC-32C; yields clips one at a
// time; after the last clip checks HEND's totals. A stream that stops early is reported with the byte
// offset where it ends. Unknown ancillary records are skipped; unknown critical ones are refused.
import CZstd
import Foundation

public final class HVTReader {
    public private(set) var header: HVTHeader!
    /// The file's version (major is always HVTLayout.versionMajor).
    public private(set) var versionMinor = 0
    public let name: String
    private let source: (UnsafeMutableRawPointer, Int) throws -> Int
    /// Bytes consumed so far (the offset of the next record).
    public private(set) var offset = 0
    private var ended = false
    public private(set) var clipsRead = 0
    private var totalTokens: UInt64 = 0, storedTokens: UInt64 = 0
    /// Compressed bytes of each present layer of the last clip read.
    public private(set) var lastSectionBytes: [Int] = []
    /// Size of the last CLIP record, framing included.
    public private(set) var lastRecordBytes = 0

    /// `source(buffer, capacity)` returns bytes read (0 at end of input), like read(2).
    public init(name: String, source: @escaping (UnsafeMutableRawPointer, Int) throws -> Int) throws {
        self.name = name
        self.source = source
        let head = try readExactly(12, what: "magic and version")
        guard Array(head[0..<8]) == HVTLayout.magic else { throw HVTError.notHVT(name: name) }
        let major = UInt16(head[8]) | UInt16(head[9]) << 8, minor = UInt16(head[10]) | UInt16(head[11]) << 8
        guard major == HVTLayout.versionMajor else { throw HVTError.unsupportedVersion(major: Int(major), minor: Int(minor)) }
        versionMinor = Int(minor)
        guard let (type, payload) = try nextRecord() else {
            throw HVTError.truncated(offset: offset, detail: "the header record (HVTH) is missing")
        }
        guard type == HVTLayout.headerType else { throw HVTError.corrupt(detail: "the first record is \(type), not HVTH") }
        header = try HVTHeader.decode(payload)
    }

    /// Reads from a file descriptor.
    public convenience init(fileDescriptor fd: Int32, name: String) throws {
        try self.init(name: name) { buf, n in
            while true {
                let r = read(fd, buf, n)
                if r >= 0 { return r }
                if errno != EINTR { throw HVTError.io(name: name, reason: String(cString: strerror(errno))) }
            }
        }
    }

    /// Reads from memory.
    public convenience init(bytes: [UInt8], name: String = "buffer") throws {
        var pos = 0
        try self.init(name: name) { buf, n in
            let k = min(n, bytes.count - pos)
            if k > 0 { bytes.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress! + pos, byteCount: k) } }
            pos += k
            return k
        }
    }

    private func readExactly(_ n: Int, what: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: n)
        var got = 0
        while got < n {
            let r = try out.withUnsafeMutableBytes { try source($0.baseAddress! + got, n - got) }
            if r == 0 { throw HVTError.truncated(offset: offset + got, detail: "in \(what)") }
            got += r
        }
        offset += n
        return out
    }

    /// Reads one record; nil only if the stream ends cleanly where a record would start (not allowed
    /// before HEND: the caller reports truncation).
    private func nextRecord() throws -> (String, [UInt8])? {
        let start = offset
        var first = [UInt8](repeating: 0, count: 1)
        let r = try first.withUnsafeMutableBytes { try source($0.baseAddress!, 1) }
        if r == 0 { return nil }
        offset += 1
        let rest = try readExactly(7, what: "a record header")
        let head = first + rest
        guard head[0..<4].allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
            throw HVTError.corrupt(detail: "bad record type at byte \(start)")
        }
        let type = String(decoding: head[0..<4], as: UTF8.self)
        let length = Int(UInt32(head[4]) | UInt32(head[5]) << 8 | UInt32(head[6]) << 16 | UInt32(head[7]) << 24)
        guard length <= HVTLayout.maxPayload else { throw HVTError.limitExceeded(detail: "\(type) record at byte \(start) claims \(length) bytes") }
        let payload = try readExactly(length, what: "the \(type) record at byte \(start)")
        let crcBytes = try readExactly(4, what: "the checksum of the \(type) record at byte \(start)")
        let stored = UInt32(crcBytes[0]) | UInt32(crcBytes[1]) << 8 | UInt32(crcBytes[2]) << 16 | UInt32(crcBytes[3]) << 24
        var crc = head.withUnsafeBytes { CRC32C.update(0, $0) }
        crc = payload.withUnsafeBytes { CRC32C.update(crc, $0) }
        guard crc == stored else { throw HVTError.checksumMismatch(record: type, offset: start) }
        lastRecordBytes = offset - start
        return (type, payload)
    }

    /// The next clip, or nil after the last one (HEND validated).
    public func nextClip() throws -> HVTClip? {
        guard !ended else { return nil }
        while true {
            let start = offset
            guard let (type, payload) = try nextRecord() else {
                throw HVTError.truncated(offset: offset, detail: "the end record (HEND) is missing after \(clipsRead) clips")
            }
            switch type {
            case HVTLayout.clipType:
                return try decodeClip(payload, at: start)
            case HVTLayout.endType:
                var r = ByteReader(payload, context: "HEND")
                let clips = Int(try r.u32("clip_count")), total = try r.u64("total_tokens"), stored = try r.u64("stored_tokens_total")
                guard clips == clipsRead, total == totalTokens, stored == storedTokens else {
                    throw HVTError.corrupt(detail: "HEND says \(clips) clips/\(total) tokens, the stream had \(clipsRead)/\(totalTokens)")
                }
                ended = true
                // HEND is last (formats/hvt.md): bytes after it are another stream glued on, or garbage.
                let endOffset = offset
                var probe = [UInt8](repeating: 0, count: 1)
                if try probe.withUnsafeMutableBytes({ try source($0.baseAddress!, 1) }) > 0 {
                    throw HVTError.corrupt(detail: "there is data after the end record (HEND ends at byte \(endOffset)); one .hvt stream per file")
                }
                return nil
            case HVTLayout.headerType:
                throw HVTError.corrupt(detail: "a second HVTH record at byte \(start)")
            default:
                if type.first!.isUppercase { throw HVTError.unknownCriticalRecord(type: type, offset: start) }
                continue  // ancillary: skip
            }
        }
    }

    private func decodeClip(_ payload: [UInt8], at start: Int) throws -> HVTClip {
        var r = ByteReader(payload, context: "CLIP at byte \(start)")
        let index = Int(try r.u32("clip_index"))
        guard index == clipsRead else { throw HVTError.corrupt(detail: "clip \(index) where clip \(clipsRead) was expected (byte \(start))") }
        let frames = Int(try r.u16("frame_count"))
        guard (1...header.framesPerClip).contains(frames) else { throw HVTError.corrupt(detail: "clip \(index) has \(frames) frames") }
        let sections = Int(try r.u8("layer_sections"))
        let present = header.presentLayers
        guard sections == present.count else { throw HVTError.corrupt(detail: "clip \(index) has \(sections) layer sections, the header \(present.count)") }
        var layers = [[UInt32]?](repeating: nil, count: header.layers.count)
        var masks = [[Bool]?](repeating: nil, count: header.layers.count)
        lastSectionBytes = []
        for m in present {
            let info = header.layers[m]
            let flags = try r.u8("layer_flags")
            guard flags <= 1 else { throw HVTError.corrupt(detail: "clip \(index) layer \(info.name): unknown flags \(flags)") }
            let stored = Int(try r.u32("stored_tokens"))
            let clen = Int(try r.u32("compressed_length"))
            let n = info.tokenCount
            guard stored <= n else { throw HVTError.corrupt(detail: "clip \(index) layer \(info.name) stores \(stored) of \(n) tokens") }
            let compressed = Array(try r.take(clen, "layer_data"))
            lastSectionBytes.append(clen)
            let bitmapBytes = flags == 1 ? (n + 7) / 8 : 0
            let expected = bitmapBytes + BitPacking.packedByteCount(count: stored, bits: info.bits)
            let raw = try HVTReader.decompress(compressed, expected: expected, context: "clip \(index) layer \(info.name)")
            var mask: [Bool]? = nil
            if flags == 1 && header.maskStrategy == .none {
                throw HVTError.corrupt(detail: "clip \(index) layer \(info.name) is masked but the header records no mask strategy")
            }
            if flags == 1, let rec = header.maskRecord, !rec.layers.contains(m) {
                throw HVTError.corrupt(detail: "clip \(index) layer \(info.name) is masked but the header's masked_layers are \(rec.layers)")
            }
            if flags == 1 {
                let mk = (0..<n).map { (raw[$0 / 8] >> UInt8($0 % 8)) & 1 == 1 }
                guard mk.filter({ !$0 }).count == stored else {
                    throw HVTError.corrupt(detail: "clip \(index) layer \(info.name): mask and stored_tokens disagree")
                }
                mask = mk
            } else if stored != n {
                throw HVTError.corrupt(detail: "clip \(index) layer \(info.name) stores \(stored) of \(n) tokens without a mask")
            }
            guard let values = raw.withUnsafeBytes({ BitPacking.unpack(UnsafeRawBufferPointer(rebasing: $0[bitmapBytes...]), count: stored, bits: info.bits) }) else {
                throw HVTError.corrupt(detail: "clip \(index) layer \(info.name): packed data too short")
            }
            var idx: [UInt32]
            if let mask {
                idx = [UInt32](repeating: 0, count: n)
                var k = 0
                for i in 0..<n where !mask[i] { idx[i] = values[k]; k += 1 }
            } else {
                idx = values   // no second array of n indices (64 MiB at the limit)
            }
            layers[m] = idx; masks[m] = mask
            totalTokens += UInt64(n); storedTokens += UInt64(stored)
        }
        clipsRead += 1
        return HVTClip(frameCount: frames, layers: layers, masks: masks)
    }

    static func decompress(_ bytes: [UInt8], expected: Int, context: String) throws -> [UInt8] {
        guard expected <= HVTLayout.maxSection else { throw HVTError.limitExceeded(detail: "\(context): \(expected) bytes") }
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, $0.count) }
        guard size == UInt64(expected) else {
            let holds = size == ZSTD_CONTENTSIZE_ERROR ? "is not a valid zstd frame"
                : size == ZSTD_CONTENTSIZE_UNKNOWN ? "is a zstd frame that does not state its size (the format requires it)"
                : "is a zstd frame of \(size) bytes"
            throw HVTError.corrupt(detail: "\(context) \(holds), \(expected) expected")
        }
        var out = [UInt8](repeating: 0, count: max(expected, 1))
        let n = bytes.withUnsafeBytes { src in out.withUnsafeMutableBytes { dst in ZSTD_decompress(dst.baseAddress, expected, src.baseAddress, src.count) } }
        guard ZSTD_isError(n) == 0, n == expected else { throw HVTError.corrupt(detail: "\(context): zstd data is corrupt") }
        if expected == 0 { return [] }
        return out
    }
}
