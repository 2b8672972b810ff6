// Little-endian serialisation helpers for .hvt payloads.
import Foundation

struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8)] }
    mutating func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> UInt32(8 * k))) } }
    mutating func u64(_ v: UInt64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> UInt64(8 * k))) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func str16(_ s: String) { let b = Array(s.utf8); u16(UInt16(b.count)); bytes += b }
    mutating func raw(_ b: [UInt8]) { bytes += b }
}

/// Reads a payload; every read is bounds-checked and throws `HVTError.corrupt` with the field name.
struct ByteReader {
    let bytes: [UInt8]
    var pos = 0
    let context: String
    init(_ bytes: [UInt8], context: String) { self.bytes = bytes; self.context = context }

    var remaining: Int { bytes.count - pos }

    /// Called with each field name as it is read (tests compare the decoder's fields with formats/hvt.md).
    nonisolated(unsafe) static var fieldTrace: ((String) -> Void)?

    mutating func take(_ n: Int, _ field: String) throws -> ArraySlice<UInt8> {
        ByteReader.fieldTrace?(field)
        guard n >= 0, remaining >= n else { throw HVTError.corrupt(detail: "\(context): field \(field) runs past the end of the record") }
        defer { pos += n }
        return bytes[pos..<(pos + n)]
    }
    mutating func u8(_ f: String) throws -> UInt8 { try take(1, f).first! }
    mutating func u16(_ f: String) throws -> UInt16 { let s = try take(2, f); return UInt16(s[s.startIndex]) | UInt16(s[s.startIndex + 1]) << 8 }
    mutating func u32(_ f: String) throws -> UInt32 {
        let s = try take(4, f); var v: UInt32 = 0
        for (k, b) in s.enumerated() { v |= UInt32(b) << UInt32(8 * k) }
        return v
    }
    mutating func u64(_ f: String) throws -> UInt64 {
        let s = try take(8, f); var v: UInt64 = 0
        for (k, b) in s.enumerated() { v |= UInt64(b) << UInt64(8 * k) }
        return v
    }
    mutating func f32(_ f: String) throws -> Float { Float(bitPattern: try u32(f)) }
    mutating func str16(_ f: String, limit: Int) throws -> String {
        let n = Int(try u16(f))
        guard n <= limit else { throw HVTError.limitExceeded(detail: "\(f) is \(n) bytes (limit \(limit))") }
        guard let s = String(bytes: try take(n, f), encoding: .utf8) else { throw HVTError.corrupt(detail: "\(context): \(f) is not UTF-8") }
        return s
    }
}
