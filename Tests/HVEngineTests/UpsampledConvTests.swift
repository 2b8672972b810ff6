import XCTest
@testable import HVEngine

/// The fused up-sampling conv (UpsampledConv3d) against Upsample followed by Conv3d, and the even-kernel
/// geometries its phases use against the naive reference.
final class UpsampledConvTests: XCTestCase {
    func err(_ a: Tensor, _ b: Tensor) -> Double { relativeError(a.array.map(Double.init), b.array.map(Double.init)) }

    func testEvenKernelsWithExplicitPaddingMatchNaive() {
        for (i, (k, pad)) in [((2, 2, 2), (1, 0)), ((2, 2, 2), (0, 1)), ((2, 2, 3), (1, 1)), ((3, 2, 2), (0, 0))].enumerated() {
            var g = Conv3dGeometry(kernel: (t: k.0, h: k.1, w: k.2), stride: (1, 1, 1), inChannels: 17, outChannels: 6,
                                   temporalPadding: i % 2 == 0 ? .replicate : .zero)
            g.spatialPadding = (h: pad.0, w: pad.1)
            let x = randomTensor([4, 5, 6, 17], seed: 10 + UInt64(i))
            let w = randomTensor([k.0, k.1, k.2, 17, 6], seed: 20 + UInt64(i))
            let b = randomTensor([6], seed: 30 + UInt64(i))
            let y = Tensor(shape: [0]), col = Tensor(shape: [0])
            conv3dForward(x: x, weight: w, bias: b, geometry: g, y: y, col: col)
            XCTAssertLessThan(err(y, conv3dForwardNaive(x: x, weight: w, bias: b, geometry: g)), 1e-5, "forward k \(k) pad \(pad)")
            let dy = randomTensor(y.shape, seed: 40 + UInt64(i))
            let dx = Tensor(shape: [0]), dw = Tensor(shape: w.shape), db = Tensor(shape: [6])
            conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dx, dWeight: dw, dBias: db, col: col)
            let (rdx, rdw, rdb) = conv3dBackwardNaive(x: x, weight: w, geometry: g, dy: dy)
            XCTAssertLessThan(err(dx, rdx), 1e-5, "dx k \(k) pad \(pad)")
            XCTAssertLessThan(err(dw, rdw), 1e-5, "dW k \(k) pad \(pad)")
            XCTAssertLessThan(err(db, rdb), 1e-5, "db k \(k) pad \(pad)")
        }
    }

    func testMatchesUpsampleThenConv() {
        let saved = (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows)
        defer { (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows) = saved }
        let cases: [((Int, Int, Int), (Int, Int, Int), TemporalPadding, Int)] = [
            ((2, 2, 2), (3, 3, 3), .replicate, 3), ((2, 2, 2), (3, 3, 3), .zero, 19), ((1, 2, 2), (3, 3, 3), .replicate, 5),
            ((2, 1, 1), (3, 3, 3), .replicate, 4), ((2, 2, 1), (1, 3, 3), .zero, 3), ((1, 1, 1), (3, 3, 3), .replicate, 3),
            ((2, 2, 2), (3, 1, 1), .replicate, 16), ((2, 2, 2), (1, 1, 1), .replicate, 3),
        ]
        for (i, (f, k, pad, cin)) in cases.enumerated() {
            for budget in [1 << 24, 1] {
                (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows) = (budget, 1)
                var rng = SeededRandom(seed: UInt64(i))
                let conv = Conv3d(name: "c", inChannels: cin, outChannels: 5, kernel: (t: k.0, h: k.1, w: k.2),
                                  temporalPadding: pad, rng: &rng)
                conv.bias!.value.randomNormal(std: 0.5, rng: &rng)
                let fused = UpsampledConv3d(conv: conv, factors: (t: f.0, h: f.1, w: f.2))
                let up = Upsample(factors: (t: f.0, h: f.1, w: f.2))
                let what = "factors \(f) kernel \(k) \(pad) Cin \(cin) column floats \(budget)"
                let x = randomTensor([3, 4, 5, cin], seed: 100 + UInt64(i))
                let ref = conv.forward(up.forward(x)).clone()
                let y = fused.forward(x).clone()
                XCTAssertEqual(y.shape, ref.shape, what)
                XCTAssertLessThan(err(y, ref), 1e-5, "forward, \(what)")
                let dy = randomTensor(y.shape, seed: 200 + UInt64(i))
                conv.zeroGrad()
                _ = conv.forward(up.forward(x))
                let rdx = up.backward(conv.backward(dy)).clone()
                let rdw = conv.weight.grad.clone(), rdb = conv.bias!.grad.clone()
                conv.zeroGrad()
                _ = fused.forward(x)
                let dx = fused.backward(dy)
                XCTAssertLessThan(err(dx, rdx), 1e-5, "dx, \(what)")
                XCTAssertLessThan(err(conv.weight.grad, rdw), 1e-5, "dW, \(what)")
                XCTAssertLessThan(err(conv.bias!.grad, rdb), 1e-5, "db, \(what)")
            }
        }
    }

    /// Eight taps instead of 27 for the doubled 3×3×3 conv: the phase weights hold 8 taps each.
    func testPhaseTapsOfTheDoubledConv() {
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -2, factor: 2, phase: 0).index, [0, 0, 1])
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -2, factor: 2, phase: 1).index, [0, 1, 1])
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -1, factor: 2, phase: 0).first, -1)
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -1, factor: 2, phase: 1).first, 0)
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -1, factor: 2, phase: 1).index, [0, 0, 1])
        XCTAssertEqual(UpsampledConv3d.axisPhase(kernel: 3, first: -1, factor: 1, phase: 0).index, [0, 1, 2])
    }

    func testBackwardMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 7)
        let conv = Conv3d(name: "c", inChannels: 2, outChannels: 3, kernel: (t: 3, h: 3, w: 3), rng: &rng)
        let fused = UpsampledConv3d(conv: conv, factors: (t: 2, h: 2, w: 2))
        let x = randomTensor([3, 3, 2, 2], seed: 8)
        let r = randomTensor([6, 6, 4, 3], seed: 9)
        let numeric = numericGradient(x) { dot(fused.forward(x), r) }
        _ = fused.forward(x)
        conv.zeroGrad()
        let dx = fused.backward(r)
        XCTAssertLessThan(relativeError(dx.array.map(Double.init), numeric), 2e-3)
        let numericW = numericGradient(conv.weight.value) { dot(fused.forward(x), r) }
        XCTAssertLessThan(relativeError(conv.weight.grad.array.map(Double.init), numericW), 2e-3)
        let numericB = numericGradient(conv.bias!.value) { dot(fused.forward(x), r) }
        XCTAssertLessThan(relativeError(conv.bias!.grad.array.map(Double.init), numericB), 2e-3)
        // Parameter gradients off: the same dx, no gradient accumulated.
        let full = dx.clone()
        _ = fused.forward(x)
        conv.zeroGrad()
        conv.accumulatesParameterGradients = false
        XCTAssertEqual(fused.backward(r).array, full.array)
        XCTAssertTrue(conv.parameters.allSatisfy { $0.grad.array.allSatisfy { $0 == 0 } })
    }
}
