// LSB-first bit packing of token indices at a fixed width (1–20 bits): token j occupies bits
// j·b … j·b+b−1 of the byte string (formats/hvt.md). The fast path moves 64-bit words; the naive
// bit-by-bit versions are the reference the tests compare against.

public enum BitPacking {
    public static func packedByteCount(count: Int, bits: Int) -> Int { (count * bits + 7) / 8 }

    /// Packs `values` (each < 2^bits) into bytes.
    public static func pack(_ values: [UInt32], bits: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: packedByteCount(count: values.count, bits: bits))
        var acc: UInt64 = 0
        var filled = 0
        var o = 0
        let mask: UInt64 = (1 << UInt64(bits)) - 1
        for v in values {
            acc |= (UInt64(v) & mask) << UInt64(filled)
            filled += bits
            while filled >= 8 {
                out[o] = UInt8(truncatingIfNeeded: acc)
                acc >>= 8; filled -= 8; o += 1
            }
        }
        if filled > 0 { out[o] = UInt8(truncatingIfNeeded: acc) }
        return out
    }

    /// Unpacks `count` values of `bits` each; returns nil if `bytes` is too short.
    public static func unpack(_ bytes: UnsafeRawBufferPointer, count: Int, bits: Int) -> [UInt32]? {
        guard bytes.count >= packedByteCount(count: count, bits: bits) else { return nil }
        var out = [UInt32](repeating: 0, count: count)
        var acc: UInt64 = 0
        var filled = 0
        var i = 0
        let mask: UInt64 = (1 << UInt64(bits)) - 1
        for j in 0..<count {
            while filled < bits { acc |= UInt64(bytes[i]) << UInt64(filled); filled += 8; i += 1 }
            out[j] = UInt32(acc & mask)
            acc >>= UInt64(bits); filled -= bits
        }
        return out
    }

    public static func packNaive(_ values: [UInt32], bits: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: packedByteCount(count: values.count, bits: bits))
        for (j, v) in values.enumerated() {
            for k in 0..<bits where (v >> UInt32(k)) & 1 == 1 {
                let bit = j * bits + k
                out[bit / 8] |= 1 << UInt8(bit % 8)
            }
        }
        return out
    }

    public static func unpackNaive(_ bytes: [UInt8], count: Int, bits: Int) -> [UInt32] {
        (0..<count).map { j in
            var v: UInt32 = 0
            for k in 0..<bits {
                let bit = j * bits + k
                if (bytes[bit / 8] >> UInt8(bit % 8)) & 1 == 1 { v |= 1 << UInt32(k) }
            }
            return v
        }
    }
}
