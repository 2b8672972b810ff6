// NumPy's .npy format, version 1.0 (numpy/lib/format.py, NEP 1): the arrays inside WebDataset token shards
// (formats/shards.md), which numpy.load and webdataset's default decoder read with no code of ours.
// Bytes: magic "\x93NUMPY", version 1 0, a little-endian u16 header length, an ASCII Python dict literal
// {'descr': ..., 'fortran_order': False, 'shape': (...), } padded with spaces and ended by "\n" so that the data
// starts at a multiple of 64 bytes, then the data in C (row-major) order, little-endian.

import HVCore

public enum NumpyArray {
    public static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)

    /// int32 array (descr '<i4') of `shape`; `values.count` must be the product of the shape.
    public static func int32(_ values: [Int32], shape: [Int]) -> [UInt8] {
        var out = header(descr: "<i4", shape: shape, count: values.count)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        return out
    }

    /// float16 array (descr '<f2', IEEE 754 binary16, rounded to nearest even) of `shape`.
    public static func float16(_ values: [Float], shape: [Int]) -> [UInt8] {
        var out = header(descr: "<f2", shape: shape, count: values.count)
        out.reserveCapacity(out.count + 2 * values.count)
        for v in values { withUnsafeBytes(of: HalfFloat.bits(v).littleEndian) { out += $0 } }
        return out
    }

    /// Magic, version 1.0, header length and the padded header dict.
    static func header(descr: String, shape: [Int], count: Int) -> [UInt8] {
        precondition(shape.reduce(1, *) == count, "npy shape \(shape) does not hold \(count) values")
        // A 1-tuple needs its trailing comma: (384,).
        let dims = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        var dict = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(dims), }"
        let unpadded = magic.count + 2 + 2 + dict.utf8.count + 1
        dict += String(repeating: " ", count: (64 - unpadded % 64) % 64) + "\n"
        let n = UInt16(dict.utf8.count)
        return magic + [1, 0, UInt8(n & 0xFF), UInt8(n >> 8)] + Array(dict.utf8)
    }
}
