// The motion numbers of `hv-train diagnose` on series whose answers are known.
import XCTest
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
}
