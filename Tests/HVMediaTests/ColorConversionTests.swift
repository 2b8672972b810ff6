import XCTest
@testable import HVMedia

/// The fixed-point conversions against the float reference formulas: every sample within ±1, on random
/// planes (so every code value and clamp occurs), odd sizes, padded strides, mono and both ranges.
final class ColorConversionTests: XCTestCase {
    struct LCG { var s: UInt64; mutating func byte() -> UInt8 { s = s &* 6364136223846793005 &+ 1442695040888963407; return UInt8(truncatingIfNeeded: s >> 33) } }

    func maxDiff(_ a: [UInt8], _ b: [UInt8]) -> Int { zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0 }

    func testYUVToRGBMatchesReference() {
        var rng = LCG(s: 7)
        for (w, h) in [(1, 1), (17, 9), (64, 33)] {
            for subsampled in [false, true] {
                for full in [false, true] {
                    for mono in [false, true] {
                        let cw = subsampled ? (w + 1) / 2 : w, ch = subsampled ? (h + 1) / 2 : h
                        let yStride = w + 5, cStride = cw + 3, oStride = 3 * w + 7
                        let y = (0..<(yStride * h)).map { _ in rng.byte() }
                        let cb = (0..<(cStride * ch)).map { _ in rng.byte() }, cr = (0..<(cStride * ch)).map { _ in rng.byte() }
                        var fast = [UInt8](repeating: 0, count: oStride * h), ref = fast
                        y.withUnsafeBufferPointer { yp in cb.withUnsafeBufferPointer { bp in cr.withUnsafeBufferPointer { rp in
                            let b = mono ? nil : bp.baseAddress, r = mono ? nil : rp.baseAddress
                            fast.withUnsafeMutableBufferPointer { o in
                                ColorConversion.yuvToRGB(y: yp.baseAddress!, cb: b, cr: r, width: w, height: h, chromaWidth: cw,
                                                         subsampled: subsampled, fullRange: full, rgb: o.baseAddress!,
                                                         lumaStride: yStride, chromaStride: cStride, rgbStride: oStride)
                            }
                            ref.withUnsafeMutableBufferPointer { o in
                                ColorConversion.yuvToRGBReference(y: yp.baseAddress!, cb: b, cr: r, width: w, height: h, chromaWidth: cw,
                                                                  subsampled: subsampled, fullRange: full, rgb: o.baseAddress!,
                                                                  lumaStride: yStride, chromaStride: cStride, rgbStride: oStride)
                            }
                        } } }
                        XCTAssertLessThanOrEqual(maxDiff(fast, ref), 1, "\(w)x\(h) subsampled \(subsampled) full \(full) mono \(mono)")
                        XCTAssertNotEqual(ref.max(), 0)
                    }
                }
            }
        }
    }

    func testRGBToYUVMatchesReference() {
        var rng = LCG(s: 11)
        for (w, h) in [(1, 1), (17, 9), (64, 33)] {
            for subsampled in [false, true] {
                for full in [false, true] {
                    let rgb = (0..<(3 * w * h)).map { _ in rng.byte() }
                    let cn = subsampled ? ((w + 1) / 2) * ((h + 1) / 2) : w * h
                    var y1 = [UInt8](repeating: 0, count: w * h), y2 = y1
                    var b1 = [UInt8](repeating: 0, count: cn), b2 = b1, r1 = b1, r2 = b1
                    rgb.withUnsafeBufferPointer { p in
                        ColorConversion.rgbToYUV(rgb: p.baseAddress!, width: w, height: h, subsampled: subsampled, fullRange: full,
                                                 y: &y1, cb: &b1, cr: &r1)
                        ColorConversion.rgbToYUVReference(rgb: p.baseAddress!, width: w, height: h, subsampled: subsampled, fullRange: full,
                                                          y: &y2, cb: &b2, cr: &r2)
                    }
                    let tag = "\(w)x\(h) subsampled \(subsampled) full \(full)"
                    XCTAssertLessThanOrEqual(maxDiff(y1, y2), 1, tag)
                    XCTAssertLessThanOrEqual(maxDiff(b1, b2), 1, tag)
                    XCTAssertLessThanOrEqual(maxDiff(r1, r2), 1, tag)
                }
            }
        }
    }
}
