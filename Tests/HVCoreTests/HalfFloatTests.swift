import XCTest
@testable import HVCore

/// HalfFloat against Swift's Float16 (in this test process no flush mode is set, so Float16 is the IEEE reference).
final class HalfFloatTests: XCTestCase {
    func testEncodingMatchesFloat16EverywhereIncludingSubnormalsTiesAndOverflow() {
        var values: [Float] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e9, -1e9, .infinity, -.infinity,
                               6.1035156e-5, 6.0e-5, 5.9604645e-8, 2.9802322e-8, 2.98023259e-8, 1e-8, 1e-30, 1e-40]
        // Every binary16 value, and the midpoints and near-midpoints between neighbours (the ties).
        for h in UInt16(0)..<0x7C00 {
            let v = Float(Float16(bitPattern: h)), next = Float(Float16(bitPattern: h + 1))
            let mid = (v + next) / 2
            values += [v, -v, mid, -mid, mid.nextUp, mid.nextDown]
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<100_000 { values.append(Float(bitPattern: UInt32.random(in: 0...UInt32.max, using: &rng))) }
        var mismatches = 0
        for v in values where !v.isNaN {
            if HalfFloat.bits(v) != Float16(v).bitPattern {
                mismatches += 1
                if mismatches < 5 { XCTFail("\(v): \(HalfFloat.bits(v)) against \(Float16(v).bitPattern)") }
            }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertTrue(Float16(bitPattern: HalfFloat.bits(.nan)).isNaN)
    }

    func testDecodingIsExactForEveryBitPattern() {
        for h in UInt16.min...UInt16.max {
            let want = Float(Float16(bitPattern: h)), got = HalfFloat.float(h)
            if want.isNaN { XCTAssertTrue(got.isNaN, "\(h)") } else { XCTAssertEqual(got.bitPattern, want.bitPattern, "\(h)") }
        }
    }
}
