// IEEE 754 binary16 (F16) and bfloat16 (BF16) conversions, done on bit patterns so they behave the same
// on every platform. Float32 -> F16/BF16 rounds to nearest, ties to even (what PyTorch's `.half()` and
// `.bfloat16()` do); NaN stays NaN (quiet), overflow goes to ±inf, tiny values become subnormals or ±0.
// F16 algorithm after F. Giesen, "float_to_half_fast3_rtne" (public domain).

public enum HalfFloat {
    /// Float32 -> IEEE half bits, round to nearest even.
    @inline(__always)
    public static func halfBits(from value: Float) -> UInt16 {
        var f = value.bitPattern
        let sign = f & 0x8000_0000
        f ^= sign
        var o: UInt32
        let f32Infinity: UInt32 = 255 << 23
        let f16Max: UInt32 = (127 + 16) << 23           // 65536: from here on the result is ±inf
        let denormMagic: UInt32 = ((127 - 15) + (23 - 10) + 1) << 23
        if f >= f16Max {
            o = f > f32Infinity ? 0x7E00 : 0x7C00       // NaN -> quiet NaN, else inf
        } else if f < (113 << 23) {
            // Result is subnormal or zero: let the FPU round by adding a magic number.
            let sum = Float(bitPattern: f) + Float(bitPattern: denormMagic)
            o = sum.bitPattern &- denormMagic
        } else {
            let mantOdd = (f >> 13) & 1
            f = f &+ UInt32(bitPattern: Int32((15 - 127) << 23)) &+ 0xFFF   // re-bias exponent, round
            f = f &+ mantOdd
            o = f >> 13
        }
        return UInt16(truncatingIfNeeded: o | (sign >> 16))
    }

    /// IEEE half bits -> Float32 (exact).
    @inline(__always)
    public static func float(fromHalfBits h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let mant = UInt32(h & 0x3FF)
        if exp == 0 {
            let magnitude = Float(mant) * (1.0 / 16_777_216.0)   // mant · 2^-24
            return Float(bitPattern: sign | magnitude.bitPattern)
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    /// Float32 -> bfloat16 bits, round to nearest even; NaN stays a quiet NaN.
    @inline(__always)
    public static func bfloat16Bits(from value: Float) -> UInt16 {
        let b = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: (b >> 16) | 0x0040) }
        let rounded = b &+ 0x7FFF &+ ((b >> 16) & 1)
        return UInt16(truncatingIfNeeded: rounded >> 16)
    }

    /// bfloat16 bits -> Float32 (exact).
    @inline(__always)
    public static func float(fromBFloat16Bits b: UInt16) -> Float {
        Float(bitPattern: UInt32(b) << 16)
    }
}
