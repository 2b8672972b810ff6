// Finite-difference checks of the tokenizer's hand-written loss terms: the multi-scale image-gradient L1 and
// the temporal-difference L1. Both are piecewise linear: at random values and a small step no difference crosses
// a kink (the fixed seeds make sure), so central differences equal the analytic gradient there.
import XCTest
import HVEngine
@testable import HVTokenizer

final class LossGradientTests: XCTestCase {
    private func randomClip(_ shape: [Int], seed: UInt64) -> Tensor {
        var rng = SeededRandom(seed: seed)
        let t = Tensor(shape: shape)
        for i in 0..<t.count { t[i] = rng.uniform() * 2 - 1 }
        return t
    }

    /// Central differences of `loss` at every element of `pred` against the gradient it accumulates. The terms
    /// return their unweighted value and accumulate `weight` times its gradient, so the gradient is divided by it.
    private func check(_ name: String, shape: [Int], weight: Float, loss: (Tensor, Tensor, Tensor) -> Float) {
        let pred = randomClip(shape, seed: 11), target = randomClip(shape, seed: 12)
        let grad = Tensor(shape: shape)
        let base = loss(pred, target, grad)
        XCTAssertGreaterThan(base, 0, name)
        let scratch = Tensor(shape: shape)
        let h: Float = 1e-3
        var worst: Float = 0, largest: Float = 0
        for i in 0..<pred.count {
            let v = pred[i]
            pred[i] = v + h; let up = loss(pred, target, scratch)
            pred[i] = v - h; let down = loss(pred, target, scratch)
            pred[i] = v
            let fd = (up - down) / (2 * h)
            worst = max(worst, abs(fd - grad[i] / weight))
            largest = max(largest, abs(grad[i] / weight))
        }
        XCTAssertGreaterThan(largest, 0, "\(name): the gradient is all zero")
        XCTAssertLessThan(worst, 0.01 * largest, "\(name): analytic and finite-difference gradients differ")
    }

    func testImageGradientLossMatchesFiniteDifferences() {
        check("gradient", shape: [2, 4, 4, 1], weight: 0.7) { p, t, g in
            GradientLoss.compute(pred: p, target: t, weight: 0.7, grad: g)
        }
    }

    /// The row-vectorised, frame-parallel image-gradient term against its element-by-element reference: the same
    /// gradient bit for bit (accumulated onto a non-zero one), the same loss to rounding, on shapes whose rows
    /// are shorter than, equal to and longer than a vector, with one row or one column, and enough frames to split.
    func testImageGradientTermMatchesItsReference() {
        for (n, shape) in [[5, 7, 37, 3], [2, 4, 4, 1], [3, 1, 40, 3], [3, 9, 1, 3], [4, 6, 16, 1], [9, 8, 8, 3]].enumerated() {
            let pred = randomClip(shape, seed: 20 + UInt64(n)), target = randomClip(shape, seed: 40 + UInt64(n))
            let start = randomClip(shape, seed: 60 + UInt64(n))
            let fast = Tensor(shape: shape), reference = Tensor(shape: shape)
            fast.copy(from: start); reference.copy(from: start)
            let (T, H, W, C) = (shape[0], shape[1], shape[2], shape[3])
            let a = GradientLoss.fullScale(pred.data, target.data, T: T, H: H, W: W, C: C, weight: 0.7, grad: fast.data)
            let b = GradientLoss.fullScaleReference(pred.data, target.data, T: T, H: H, W: W, C: C, weight: 0.7,
                                                    grad: reference.data)
            XCTAssertEqual(fast.array, reference.array, "gradient, shape \(shape)")
            XCTAssertEqual(a, b, accuracy: 1e-5 * abs(b), "loss, shape \(shape)")
            XCTAssertGreaterThan(b, 0, "shape \(shape)")
        }
    }

    func testColourLossMatchesFiniteDifferences() {
        check("colour", shape: [3, 4, 5, 3], weight: 0.6) { p, t, g in
            ColourLoss.compute(pred: p, target: t, weight: 0.6, grad: g)
        }
    }

    /// The colour term charges a render whose channel means are off, by the offset, and not one whose pixels are
    /// wrong in ways that cancel over the crop.
    func testColourLossChargesAnOffsetNotDetail() {
        let shape = [4, 8, 8, 3]
        let source = randomClip(shape, seed: 5), offset = Tensor(shape: shape), swapped = Tensor(shape: shape)
        offset.copy(from: source); swapped.copy(from: source)
        for i in stride(from: 1, to: offset.count, by: 3) { offset[i] += 0.04 }   // the green channel
        // Detail moved, means kept: each pair of neighbouring pixels swaps its values.
        for i in stride(from: 0, to: swapped.count - 3, by: 6) { for k in 0..<3 {
            swapped[i + k] = source[i + 3 + k]; swapped[i + 3 + k] = source[i + k]
        } }
        let g = Tensor(shape: shape)
        XCTAssertEqual(ColourLoss.compute(pred: offset, target: source, weight: 1, grad: g), 0.04, accuracy: 1e-5)
        XCTAssertGreaterThan(g[1], 0)
        XCTAssertEqual(g[0], 0)
        g.zero()
        XCTAssertEqual(ColourLoss.compute(pred: swapped, target: source, weight: 1, grad: g), 0, accuracy: 1e-6)
    }

    func testTemporalLossMatchesFiniteDifferences() {
        check("temporal", shape: [3, 4, 4, 1], weight: 1.3) { p, t, g in
            GradientLoss.temporal(pred: p, target: t, weight: 1.3, grad: g)
        }
    }

    /// Four scales on 8² frames (8², 4², 2², 1²): the coarse scales' gradients go back through every average.
    func testCoarseTemporalScalesMatchFiniteDifferences() {
        check("temporal, 4 scales", shape: [3, 8, 8, 1], weight: 0.7) { p, t, g in
            GradientLoss.temporal(pred: p, target: t, weight: 0.7, grad: g, scales: 4)
        }
    }

    /// The temporal term is what per-frame losses are not: it is 0 for a render that moves as the source does
    /// (even with a constant offset), and it charges one that holds still and then jumps.
    func testTemporalLossChargesAJumpNotAnOffset() {
        let T = 8, H = 4, W = 4
        let source = Tensor(shape: [T, H, W, 3]), shifted = Tensor(shape: [T, H, W, 3]), held = Tensor(shape: [T, H, W, 3])
        for t in 0..<T { for i in 0..<(H * W * 3) {
            source[t * H * W * 3 + i] = Float(t) * 0.1
            shifted[t * H * W * 3 + i] = Float(t) * 0.1 + 0.3
            held[t * H * W * 3 + i] = t < T / 2 ? 0 : 0.7
        } }
        let scratch = Tensor(shape: source.shape)
        XCTAssertEqual(GradientLoss.temporal(pred: shifted, target: source, weight: 1, grad: scratch), 0, accuracy: 1e-6)
        XCTAssertGreaterThan(GradientLoss.temporal(pred: held, target: source, weight: 1, grad: scratch), 0.1)
    }
}
