// Streaming .hvt writer: magic + version + HVTH on the first write, then one CLIP record per clip
// (each present layer bit-packed and zstd-compressed on its own), and HEND with the totals on finish().
import CZstd
import Foundation

public final class HVTWriter {
    public let header: HVTHeader
    public let compressionLevel: Int32
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private var started = false
    private var finished = false
    public private(set) var clipCount = 0
    public private(set) var totalTokens: UInt64 = 0
    public private(set) var storedTokens: UInt64 = 0
    /// Compressed bytes of each layer section of the last clip written (for statistics).
    public private(set) var lastSectionBytes: [Int] = []

    /// `sink` receives the bytes in order. zstd level 19 by default: clips are kilobytes, so it is cheap.
    public init(header: HVTHeader, compressionLevel: Int32 = 19, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        try header.validate()
        self.header = header
        self.compressionLevel = compressionLevel
        self.sink = sink
    }

    private func emit(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try sink($0) } }

    private func record(_ type: String, _ payload: [UInt8]) throws {
        guard payload.count <= HVTLayout.maxPayload else {
            throw HVTError.limitExceeded(detail: "\(type) payload of \(payload.count) bytes")
        }
        var frame = ByteWriter()
        frame.raw(Array(type.utf8)); frame.u32(UInt32(payload.count)); frame.raw(payload)
        let crc = CRC32C.checksum(frame.bytes)
        frame.u32(crc)
        try emit(frame.bytes)
    }

    private func start() throws {
        guard !started else { return }
        started = true
        var w = ByteWriter()
        w.raw(HVTLayout.magic); w.u16(HVTLayout.versionMajor); w.u16(header.maskRecord == nil ? 0 : HVTLayout.versionMinor)
        try emit(w.bytes)
        try record(HVTLayout.headerType, try header.encode())
    }

    /// Writes the header now (so that a stream with zero clips is still a valid file once finished).
    public func writeHeader() throws { try start() }

    public func write(_ clip: HVTClip) throws {
        guard !finished else { throw HVTError.invalidClip(detail: "write after finish") }
        guard (1...header.framesPerClip).contains(clip.frameCount) else {
            throw HVTError.invalidClip(detail: "frame count \(clip.frameCount) outside 1...\(header.framesPerClip)")
        }
        guard clip.layers.count == header.layers.count, clip.masks.count == header.layers.count else {
            throw HVTError.invalidClip(detail: "clip has \(clip.layers.count) layers, the header \(header.layers.count)")
        }
        guard header.maskStrategy != .none || clip.masks.allSatisfy({ $0 == nil }) else {
            throw HVTError.invalidClip(detail: "a masked clip in a file whose header records no mask strategy")
        }
        try start()
        var w = ByteWriter()
        w.u32(UInt32(clipCount)); w.u16(UInt16(clip.frameCount)); w.u8(UInt8(header.presentLayers.count))
        lastSectionBytes = []
        for (m, info) in header.layers.enumerated() {
            guard info.present else {
                guard clip.layers[m] == nil else { throw HVTError.invalidClip(detail: "layer \(info.name) is not present in the header") }
                continue
            }
            guard let idx = clip.layers[m], idx.count == info.tokenCount else {
                throw HVTError.invalidClip(detail: "layer \(info.name) needs \(info.tokenCount) indices")
            }
            let limit = UInt32(1) << UInt32(info.bits)
            if let bad = idx.first(where: { $0 >= limit }) {
                throw HVTError.invalidClip(detail: "index \(bad) does not fit layer \(info.name)'s \(info.bits) bits")
            }
            var section: [UInt8] = []
            var stored = idx
            let mask = clip.masks[m]
            if let mask {
                guard mask.count == idx.count else { throw HVTError.invalidClip(detail: "mask of layer \(info.name) has the wrong length") }
                var bitmap = [UInt8](repeating: 0, count: (mask.count + 7) / 8)
                for (i, b) in mask.enumerated() where b { bitmap[i / 8] |= 1 << UInt8(i % 8) }
                section += bitmap
                // A plain loop: zip/filter/map would build a 2^24-element array of pairs (128 MiB) on the way.
                stored = []
                stored.reserveCapacity(idx.count)
                for i in idx.indices where !mask[i] { stored.append(idx[i]) }
            }
            if section.isEmpty { section = BitPacking.pack(stored, bits: info.bits) }   // no copy without a bitmap
            else { section += BitPacking.pack(stored, bits: info.bits) }
            let compressed = try HVTWriter.compress(section, level: compressionLevel)
            w.u8(mask == nil ? 0 : 1); w.u32(UInt32(stored.count)); w.u32(UInt32(compressed.count)); w.raw(compressed)
            lastSectionBytes.append(compressed.count)
            totalTokens += UInt64(idx.count); storedTokens += UInt64(stored.count)
        }
        try record(HVTLayout.clipType, w.bytes)
        clipCount += 1
    }

    /// Writes HEND. The stream is incomplete (and readers say so) until this is called.
    public func finish() throws {
        guard !finished else { return }
        try start()
        var w = ByteWriter()
        w.u32(UInt32(clipCount)); w.u64(totalTokens); w.u64(storedTokens)
        try record(HVTLayout.endType, w.bytes)
        finished = true
    }

    static func compress(_ bytes: [UInt8], level: Int32) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: ZSTD_compressBound(bytes.count))
        let n = bytes.withUnsafeBytes { src in
            out.withUnsafeMutableBytes { dst in
                ZSTD_compress(dst.baseAddress, dst.count, src.baseAddress, src.count, level)
            }
        }
        if ZSTD_isError(n) != 0 { throw HVTError.corrupt(detail: "zstd: \(String(cString: ZSTD_getErrorName(n)))") }
        return Array(out[0..<n])
    }
}
