// The motion numbers of `hv-train diagnose` on series whose answers are known, and its masked column.
import XCTest
import HVFormat
import HVEngine
@testable import HVTokenizer

final class DiagnosticsTests: XCTestCase {
    func testStepEdgeShareSeparatesEvenMotionFromHoldAndJump() {
        let even = [Double](repeating: 2, count: 63)
        XCTAssertEqual(TokenizerDiagnostics.stepEdgeShare(even, step: 8), 7.0 / 63.0, accuracy: 1e-12)
        // Pairs (7,8), (15,16), … are entries 7, 15, …: a render that changes only there.
        let jumps = (0..<63).map { ($0 + 1) % 8 == 0 ? 5.0 : 0.0 }
        XCTAssertEqual(TokenizerDiagnostics.stepEdgeShare(jumps, step: 8), 1, accuracy: 1e-12)
        XCTAssertEqual(TokenizerDiagnostics.stepEdgeShare([Double](repeating: 0, count: 63), step: 8), 0)
    }

    /// A clip that brightens once, between frames 7 and 8: all of its motion is on a step edge.
    func testMotionOfAStepwiseClip() {
        let T = 16, H = 2, W = 2
        let x = Tensor(shape: [T, H, W, 3])
        for t in 0..<T { for i in 0..<(H * W * 3) { x[t * H * W * 3 + i] = t < 8 ? -0.5 : 0.5 } }
        let m = TokenizerDiagnostics.motion(x, frames: T)
        XCTAssertEqual(m.perFrame.count, T - 1)
        XCTAssertEqual(TokenizerDiagnostics.stepEdgeShare(m.perFrame, step: 8), 1, accuracy: 1e-9)
        XCTAssertEqual(m.perFrame[7], 127.5, accuracy: 1e-3)
    }

    /// A static shot has no defined motion correlation (its per-frame motion is constant): the diagnosis leaves it
    /// out rather than count it as 0; a moving clip gets one, and a render without motion against it reads 0.
    func testMotionCorrelationIsUndefinedForAStaticShot() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let still = Tensor(shape: [8, 32, 32, 3])
        for i in 0..<still.count { still[i] = sin(Float(i % 3072) * 0.37) * 0.6 }
        let d = TokenizerDiagnostics.diagnose(m, clip: still, count: 8, name: "still")
        XCTAssertNil(d.motionCorrelation)
        XCTAssertNil(d.boxMotionCorrelation)
        XCTAssertEqual(d.sourceMotion, 0)
        let moving = Tensor(shape: [8, 32, 32, 3])
        for t in 0..<8 { for i in 0..<3072 { moving[t * 3072 + i] = sin(Float(i) * 0.37 + Float(t * t) * 0.2) * 0.6 } }
        let dm = TokenizerDiagnostics.diagnose(m, clip: moving, count: 8, name: "moving")
        XCTAssertNotNil(dm.motionCorrelation)
        XCTAssertFalse(TokenizerDiagnostics.varies([2, 2, 2]))
        XCTAssertTrue(TokenizerDiagnostics.varies([2, 2, 3]))
        XCTAssertEqual(TokenizerDiagnostics.pearson([1, 2, 3], [4, 4, 4]), 0)
        XCTAssertEqual(TokenizerDiagnostics.pearson([1, 2, 3], [2, 4, 6]), 1, accuracy: 1e-12)
    }

    /// With a mask ratio, the masked column is the render of layer 0 masked as hv-encode --mask-ratio masks it (the
    /// mask from the encoder's codes, repeat), refined for that render when refining.
    func testMaskedColumnIsTheMaskedRender() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = Tensor(shape: [8, 32, 32, 3])
        for i in 0..<x.count { x[i] = sin(Float(i % 97) * 0.3 + Float(i / 3072) * 0.5) * 0.6 }
        let idx = m.encode(x)
        var random = MaskRandom(seed: 0)
        let mask = TokenMasking.mask(idx[0], gridT: 2, plane: 16, ratio: 0.85, strategy: .repeatPrevious, rng: &random)
        XCTAssertTrue(mask.contains(true))
        let masks: [[Bool]?] = [mask, nil]
        for rounds in [0, 4] {
            let refinement = rounds > 0 ? CodeRefinement(rounds: rounds) : nil
            let d = TokenizerDiagnostics.diagnose(m, clip: x, count: 8, name: "c", refinement: refinement, maskRatio: 0.85)
            let kept = rounds > 0 ? m.refine(x, indices: idx, count: 8, options: refinement!,
                                             mask: RefinementMask(masked: mask, strategy: .repeatPrevious)).0 : idx
            let expected = VideoTensor.psnr(m.decode(indices: kept.map { Optional($0) }, masks: masks, strategy: .repeatPrevious,
                                                     frames: 8, height: 32, width: 32), x, frames: 8)
            XCTAssertEqual(try XCTUnwrap(d.maskedPSNR), expected, accuracy: 1e-9, "rounds \(rounds)")
            XCTAssertEqual(try XCTUnwrap(d.maskedShare), Double(mask.filter { $0 }.count) / 32, accuracy: 1e-12)
        }
        XCTAssertNil(TokenizerDiagnostics.diagnose(m, clip: x, count: 8, name: "c").maskedPSNR)
    }
}
