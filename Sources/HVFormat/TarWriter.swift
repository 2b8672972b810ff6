// POSIX ustar archives (IEEE Std 1003.1-2001, pax "ustar" interchange format), written member by member: the
// container of the WebDataset token shards (formats/shards.md). Only what shards need: regular files, names of
// at most 100 bytes, sizes below 8 GiB (11 octal digits). Every header field is fixed (mode 0644, uid/gid 0,
// mtime 0, empty user names), so the same members give the same bytes on every machine and every run.

/// Writes a tar archive to `sink` (a file, or memory): `append` one regular file at a time, then `finish` for the
/// end-of-archive marker. Bytes: each member is a 512-byte header followed by its data padded with zeros to a
/// multiple of 512; the archive ends with two 512-byte blocks of zeros. No padding to a 10240-byte record: that
/// blocking is for tape drives, and tar, Python's tarfile and webdataset read archives without it.
public final class TarWriter {
    public static let blockSize = 512
    /// ustar's name field is 100 bytes; the prefix field is not used (shard member names are short).
    public static let maxNameBytes = 100
    /// 11 octal digits in the size field.
    public static let maxMemberBytes = (1 << 33) - 1

    /// Bytes written so far.
    public private(set) var count = 0
    private let sink: ([UInt8]) throws -> Void
    private var finished = false

    public init(sink: @escaping ([UInt8]) throws -> Void) { self.sink = sink }

    /// Appends a regular file `name` holding `data`.
    public func append(name: String, data: [UInt8]) throws {
        precondition(!finished, "TarWriter.append after finish")
        let nameBytes = Array(name.utf8)
        guard !nameBytes.isEmpty, nameBytes.count <= TarWriter.maxNameBytes, !nameBytes.contains(0) else {
            throw TarError.badName(name: name)
        }
        guard data.count <= TarWriter.maxMemberBytes else { throw TarError.tooLarge(name: name, bytes: data.count) }
        let pad = (TarWriter.blockSize - data.count % TarWriter.blockSize) % TarWriter.blockSize
        try emit(TarWriter.header(name: nameBytes, size: data.count))
        try emit(data)
        try emit([UInt8](repeating: 0, count: pad))
    }

    /// Appends the end-of-archive marker (two zero blocks).
    public func finish() throws {
        guard !finished else { return }
        finished = true
        try emit([UInt8](repeating: 0, count: 2 * TarWriter.blockSize))
    }

    private func emit(_ b: [UInt8]) throws {
        guard !b.isEmpty else { return }
        try sink(b)
        count += b.count
    }

    /// A whole archive in memory (tests, small archives).
    public static func archive(_ members: [(name: String, data: [UInt8])]) throws -> [UInt8] {
        var out: [UInt8] = []
        let w = TarWriter { out += $0 }
        for m in members { try w.append(name: m.name, data: m.data) }
        try w.finish()
        return out
    }

    /// The 512-byte ustar header of a regular file. Field offsets and widths: POSIX pax, "ustar Interchange Format".
    static func header(name: [UInt8], size: Int) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: blockSize)
        func put(_ field: [UInt8], at offset: Int) { for (i, b) in field.enumerated() { h[offset + i] = b } }
        // Numeric fields: zero-padded octal digits followed by a NUL, filling the field.
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: width - 1 - digits.count) + digits).utf8) + [0]
        }
        put(name, at: 0)                              // name[100]
        put(octal(0o644, width: 8), at: 100)          // mode[8]
        put(octal(0, width: 8), at: 108)              // uid[8]
        put(octal(0, width: 8), at: 116)              // gid[8]
        put(octal(size, width: 12), at: 124)          // size[12]
        put(octal(0, width: 12), at: 136)             // mtime[12]
        put([UInt8](repeating: 0x20, count: 8), at: 148)  // chksum[8]: spaces while summing
        h[156] = UInt8(ascii: "0")                    // typeflag: regular file
        put(Array("ustar".utf8) + [0], at: 257)       // magic[6]
        put(Array("00".utf8), at: 263)                // version[2]
        // uname[32], gname[32], devmajor[8], devminor[8], prefix[155]: left empty.
        let sum = h.reduce(0) { $0 + Int($1) }
        put(Array((String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8)).utf8) + [0, 0x20], at: 148)
        return h
    }
}

public enum TarError: Error, CustomStringConvertible, Equatable {
    case badName(name: String)
    case tooLarge(name: String, bytes: Int)
    /// TarReader: `archive` is not a tar file as TarWriter writes it, at byte `offset`.
    case malformed(archive: String, offset: Int, reason: String)

    public var description: String {
        switch self {
        case let .badName(name): return "tar member name '\(name)' is empty, has a NUL or is longer than \(TarWriter.maxNameBytes) bytes"
        case let .tooLarge(name, bytes): return "tar member '\(name)' has \(bytes) bytes, more than a ustar size field holds"
        case let .malformed(archive, offset, reason): return "'\(archive)' is not a readable tar shard at byte \(offset): \(reason)"
        }
    }
}
