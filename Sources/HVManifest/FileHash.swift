// Content hashes of source videos, and the stable string hash behind splits and work shards.
// Content hashes: HVCore's streaming SHA-256 (FIPS 180-4) over a file read in 1 MiB chunks,
// so that multi-gigabyte videos never sit in memory. Foundation on Linux has no CryptoKit.
import Foundation
@_exported import struct HVCore.SHA256

extension SHA256 {
    /// Lower-case hex of a digest (HVCore's `hex(_:)` hashes its argument first).
    public static func hexDigits(_ digest: [UInt8]) -> String { digest.map { String(format: "%02x", $0) }.joined() }

    /// Hex SHA-256 of a byte string.
    public static func hash(_ data: [UInt8]) -> String { var s = SHA256(); s.update(data); return hexDigits(s.finalize()) }

    /// Hex SHA-256 of a file, read in 1 MiB chunks. Also returns the file's size in bytes.
    public static func hashFile(_ path: String) throws -> (hex: String, bytes: Int64) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw ManifestError.fileUnreadable(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var hasher = SHA256()
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var total: Int64 = 0
        while true {
            let n = read(fd, buffer, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw ManifestError.fileUnreadable(path: path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            hasher.update(UnsafeRawBufferPointer(start: buffer, count: n))
            total += Int64(n)
        }
        return (hexDigits(hasher.finalize()), total)
    }
}

/// FNV-1a 64-bit: a stable, platform-independent hash for split and work-shard assignment
/// (Swift's Hasher is seeded per process and cannot be used for anything that must be reproducible).
public func fnv1a64(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
    return h
}

/// FNV-1a 64 followed by the splitmix64 finaliser, so that every bit depends on every input byte
/// (plain FNV-1a's low bits vary too little between keys like "clip#1" and "clip#2" for `mod N`).
public func stableHash(_ s: String) -> UInt64 {
    var x = fnv1a64(s)
    x = (x ^ (x >> 30)) &* 0xBF58_476D_1CE4_E5B9
    x = (x ^ (x >> 27)) &* 0x94D0_49BB_1331_11EB
    return x ^ (x >> 31)
}
