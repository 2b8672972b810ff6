// TokenMasking (paper §4.1, dynamic video encoding) against the rule written out by hand on small grids:
// Hamming distances to the previous latent frame, below-mean-or-zero candidates, the first frame never masked,
// the ratio cap with a seeded choice, and reproducibility.
import XCTest
@testable import HVFormat

final class TokenMaskingTests: XCTestCase {
    /// 3 latent frames of 2 tokens: frame 1 repeats frame 0 at token 0 and flips 3 bits at token 1; frame 2 flips
    /// 1 bit at token 0 and 4 bits at token 1. Distances 0, 3, 1, 4 (mean 2): tokens 2 (0) and 4 (1) are redundant.
    func testCandidatesAreBelowTheMeanDistanceOrZeroAndNeverInTheFirstFrame() {
        let codes: [UInt32] = [0b0000, 0b1111, 0b0000, 0b1000, 0b0001, 0b0111]
        XCTAssertEqual(TokenMasking.scores(codes, gridT: 3, plane: 2), [-1, -1, 0, 3, 1, 4])
        var rng = MaskRandom(seed: 1)
        XCTAssertEqual(TokenMasking.mask(codes, gridT: 3, plane: 2, ratio: 1, rng: &rng),
                       [false, false, true, false, true, false])
        // A still clip: every later token is at distance 0 and masked; the first frame stays.
        let still = [UInt32](repeating: 5, count: 8)
        XCTAssertEqual(TokenMasking.mask(still, gridT: 4, plane: 2, ratio: 1, rng: &rng), [false, false] + Array(repeating: true, count: 6))
        // One latent frame: nothing to compare with, nothing masked.
        XCTAssertEqual(TokenMasking.mask([1, 2, 3], gridT: 1, plane: 3, ratio: 1, rng: &rng), [false, false, false])
    }

    /// Over the cap, exactly ⌊ratio·N⌋ candidates stay masked, chosen by the seed: the same seed the same mask,
    /// another seed (almost surely) another, never a first-frame token.
    func testTheCapKeepsExactlyRatioTimesNAndTheSeedDecidesWhich() {
        let still = [UInt32](repeating: 9, count: 64)   // 8 frames of 8: 56 candidates
        var a = MaskRandom(seed: 7), b = MaskRandom(seed: 7), c = MaskRandom(seed: 8)
        let m1 = TokenMasking.mask(still, gridT: 8, plane: 8, ratio: 0.5, rng: &a)
        let m2 = TokenMasking.mask(still, gridT: 8, plane: 8, ratio: 0.5, rng: &b)
        let m3 = TokenMasking.mask(still, gridT: 8, plane: 8, ratio: 0.5, rng: &c)
        XCTAssertEqual(m1.filter { $0 }.count, 32)
        XCTAssertEqual(m1, m2)
        XCTAssertNotEqual(m1, m3)
        XCTAssertFalse(m1.prefix(8).contains(true))
        XCTAssertEqual(TokenMasking.mask(still, gridT: 8, plane: 8, ratio: 0, rng: &a).filter { $0 }.count, 0)
    }

    /// The byte-sized kernel makes the choice the rule written over `scores` makes (the naive reference below),
    /// on random codes with few flipped bits (many candidates, so the cap and the seed matter).
    func testMaskMatchesTheNaiveRuleOverScores() {
        func naive(_ codes: [UInt32], gridT: Int, plane: Int, ratio: Double, rng: inout MaskRandom) -> [Bool] {
            let s = TokenMasking.scores(codes, gridT: gridT, plane: plane)
            let later = s.filter { $0 >= 0 }
            guard !later.isEmpty else { return [Bool](repeating: false, count: codes.count) }
            let mean = Double(later.reduce(0, +)) / Double(later.count)
            var candidates = s.indices.filter { s[$0] >= 0 && (Double(s[$0]) < mean || s[$0] == 0) }
            let cap = Int((ratio * Double(codes.count)).rounded(.down))
            if candidates.count > cap {
                for i in 0..<cap { candidates.swapAt(i, i + Int(rng.next() % UInt64(candidates.count - i))) }
                candidates = Array(candidates[0..<cap])
            }
            var m = [Bool](repeating: false, count: codes.count)
            for i in candidates { m[i] = true }
            return m
        }
        var g = MaskRandom(seed: 3)
        for (gridT, plane, ratio) in [(8, 256, 0.85), (4, 64, 0.3), (2, 16, 1.0), (1, 16, 0.85), (16, 4, 0.0)] {
            var codes = (0..<plane).map { _ in UInt32(truncatingIfNeeded: g.next()) & 0x3FFFF }
            for i in plane..<(gridT * plane) {
                let flips = Int(g.next() % 4)
                var c = codes[i - plane]
                for _ in 0..<flips { c ^= 1 << UInt32(g.next() % 18) }
                codes.append(c)
            }
            var a = MaskRandom(seed: 11), b = MaskRandom(seed: 11)
            XCTAssertEqual(TokenMasking.mask(codes, gridT: gridT, plane: plane, ratio: ratio, rng: &a),
                           naive(codes, gridT: gridT, plane: plane, ratio: ratio, rng: &b), "\(gridT)x\(plane) at \(ratio)")
        }
    }

    /// Against the fill: one place drifts a bit a frame (distance 1 to its predecessor every time), the other jumps
    /// (distance 3): mean 2. Compared with the previous frame, every drifting token is redundant; compared with the
    /// code a repeat render would put there, the drift reaches 2 after two frames, so every other one is kept.
    func testAgainstFillComparesWithTheLastKeptCode() {
        let codes: [UInt32] = [0b0000, 0b000000,
                               0b0001, 0b000111,
                               0b0011, 0b111111,
                               0b0111, 0b111000,
                               0b1111, 0b000000]
        var a = MaskRandom(seed: 1), b = MaskRandom(seed: 1)
        XCTAssertEqual(TokenMasking.mask(codes, gridT: 5, plane: 2, ratio: 1, rng: &a),
                       [false, false, true, false, true, false, true, false, true, false])
        XCTAssertEqual(TokenMasking.maskAgainstFill(codes, gridT: 5, plane: 2, ratio: 1, rng: &b),
                       [false, false, true, false, false, false, true, false, false, false])
    }

    /// On random drifting codes: the mask is a subset of `mask`'s (so the cap holds and the first frame stays);
    /// every masked token is within the threshold of the code a repeat render fills in, and every token of `mask`'s
    /// that was dropped is not.
    func testAgainstFillKeepsEveryMaskedTokenNearItsFill() {
        var g = MaskRandom(seed: 5)
        for (gridT, plane, ratio) in [(8, 256, 0.85), (8, 64, 0.3), (4, 16, 1.0), (1, 16, 0.85)] {
            var codes = (0..<plane).map { _ in UInt32(truncatingIfNeeded: g.next()) & 0x3FFFF }
            for i in plane..<(gridT * plane) {
                var c = codes[i - plane]
                for _ in 0..<Int(g.next() % 5) { c ^= 1 << UInt32(g.next() % 18) }
                codes.append(c)
            }
            let s = TokenMasking.scores(codes, gridT: gridT, plane: plane).filter { $0 >= 0 }
            let mean = s.isEmpty ? 0 : Double(s.reduce(0, +)) / Double(s.count)
            var a = MaskRandom(seed: 2), b = MaskRandom(seed: 2)
            let open = TokenMasking.mask(codes, gridT: gridT, plane: plane, ratio: ratio, rng: &a)
            let m = TokenMasking.maskAgainstFill(codes, gridT: gridT, plane: plane, ratio: ratio, rng: &b)
            XCTAssertEqual(a.next(), b.next(), "the same random numbers consumed")
            var fill = Array(codes.prefix(plane))
            var dropped = 0
            for i in codes.indices {
                XCTAssertFalse(m[i] && !open[i], "token \(i) masked outside mask's choice")
                guard i >= plane else { continue }
                let d = (codes[i] ^ fill[i % plane]).nonzeroBitCount
                let near = Double(d) < mean || d == 0
                if m[i] { XCTAssertTrue(near, "token \(i) masked \(d) bits from its fill (mean \(mean))") } else {
                    if open[i] { XCTAssertFalse(near, "token \(i) dropped \(d) bits from its fill"); dropped += 1 }
                    fill[i % plane] = codes[i]
                }
            }
            if gridT == 8 && plane == 256 { XCTAssertGreaterThan(dropped, 0, "drifting codes drop some candidates") }
        }
    }
}
