// IEEE 754 binary16 conversions by integer operations only. Swift's Float16(Float) and Float(Float16) go through
// the SSE control register on x86-64 (a soft-float routine that reads it), so with the flush-to-zero and
// denormals-are-zero modes every engine tool sets (HVEngine/Denormals.swift) binary16's subnormals — magnitudes
// below 6.1e-5, ordinary values for an embedding or a weight — would become zero. These never depend on that mode.
public enum HalfFloat {
    /// binary16 bits of `f`, rounded to nearest, ties to even; overflow gives ±infinity, NaN stays a (quiet) NaN.
    public static func bits(_ f: Float) -> UInt16 {
        let x = f.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let exponent = Int((x >> 23) & 0xFF), mantissa = x & 0x7F_FFFF
        if exponent == 0xFF { return sign | 0x7C00 | (mantissa == 0 ? 0 : 0x200 | UInt16(truncatingIfNeeded: mantissa >> 13)) }
        let e = exponent - 112                      // binary16's biased exponent
        if e >= 0x1F { return sign | 0x7C00 }
        // The kept bits q and the dropped ones: for a normal result 13 bits of the mantissa go; for a subnormal one
        // the value is m·2^(exponent−150) and binary16's unit is 2^−24, so m is shifted right by 14 − e.
        let (m, shift): (UInt32, UInt32) = e > 0 ? (UInt32(e) << 23 | mantissa, 13)
                                              : (mantissa | 0x80_0000, UInt32(14 - e))
        if shift > 24 { return sign }               // below half the smallest subnormal
        var q = m >> shift
        let rest = m & ((1 << shift) - 1), half: UInt32 = 1 << (shift - 1)
        if rest > half || (rest == half && q & 1 == 1) { q += 1 }   // a carry may reach the exponent: still right
        return sign | UInt16(truncatingIfNeeded: q)
    }

    /// The value of binary16 bits `h` (exact).
    public static func float(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32((h >> 10) & 0x1F), mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13) }
        if exponent == 0 {
            let v = Float(mantissa) * 0x1p-24       // a normal float32 times a power of two: exact, never flushed
            return sign == 0 ? v : -v
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
}
