import XCTest
@testable import HVEngine
import CKernels

final class NormActivationTests: XCTestCase {
    func testGroupNormGradients() {
        for stats in [GroupNorm.Statistics.perFrame, .overAllFrames] {
            let gn = GroupNorm(name: "n", channels: 4, groups: 2, statistics: stats)
            var rng = SeededRandom(seed: 1)
            gn.weight.value.randomNormal(std: 1, rng: &rng)
            gn.bias.value.randomNormal(std: 1, rng: &rng)
            let x = randomTensor([3, 2, 3, 4], seed: 2)
            let r = randomTensor(x.shape, seed: 3)
            let numeric = numericGradient(x, eps: 1e-2) { dot(gn.forward(x), r) }
            _ = gn.forward(x); gn.zeroGrad()
            let dx = gn.backward(r)
            XCTAssertLessThan(relativeError(dx.array.map(Double.init), numeric), 5e-3, "\(stats)")
            let ng = numericGradient(gn.weight.value) { dot(gn.forward(x), r) }
            XCTAssertLessThan(relativeError(gn.weight.grad.array.map(Double.init), ng), 5e-3)
            let nb = numericGradient(gn.bias.value) { dot(gn.forward(x), r) }
            XCTAssertLessThan(relativeError(gn.bias.grad.array.map(Double.init), nb), 5e-3)
        }
    }

    func testPerFrameGroupNormNormalisesEachFrame() {
        let gn = GroupNorm(name: "n", channels: 2, groups: 1)
        let x = randomTensor([2, 4, 4, 2], seed: 5)
        for i in 16..<32 { x[i] = x[i] * 10 + 7 }  // frame 0 second half differs
        let y = gn.forward(x)
        for t in 0..<2 {
            let vals = (0..<32).map { Double(y[t * 32 + $0]) }
            let mean = vals.reduce(0, +) / 32
            let v = vals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 32
            XCTAssertEqual(mean, 0, accuracy: 1e-4); XCTAssertEqual(v, 1, accuracy: 1e-3)
        }
    }

    func testActivationGradients() {
        let layers: [ElementwiseLayer] = [SiLU(), Sigmoid(), GELU(approximation: .exact), GELU(approximation: .tanh)]
        for l in layers {
            let x = randomTensor([50], seed: 6, std: 2)
            let r = randomTensor([50], seed: 7)
            let numeric = numericGradient(x, eps: 1e-3) { dot(l.forward(x), r) }
            _ = l.forward(x)
            let dx = l.backward(r)
            XCTAssertLessThan(relativeError(dx.array.map(Double.init), numeric), 2e-3, "\(type(of: l))")
        }
    }

    /// SiLU's 16-lane path (vector exp) against the scalar formula with expf, tails and extremes included.
    func testVectorSiLUMatchesTheScalarFormula() {
        var values = (0..<1000).map { i in Float(i - 500) * 0.05 }   // −25 … 25
        values += [-120, -88, -87.5, 0, 1e-30, 88, 95, 200, -3.3, 7.7, 0.5]   // 1011 = 63·16 + 3: a scalar tail
        let x = Tensor(shape: [values.count], values: values)
        let dy = randomTensor([values.count], seed: 12)
        let silu = SiLU()
        let y = silu.forward(x).clone(), dx = silu.backward(dy)
        for i in 0..<values.count {
            let v = values[i], s = 1 / (1 + expf(-v))
            XCTAssertEqual(y[i], v * s, accuracy: 1e-6 * max(1, abs(v)), "y(\(v))")
            XCTAssertEqual(dx[i], dy[i] * s * (1 + v * (1 - s)), accuracy: 1e-6 * max(1, abs(dy[i] * v)), "dx(\(v))")
        }
    }

    /// The C SiLU kernels (AVX-512, or AVX2 on CPUs without it) against the Swift lanes they replace: bit for bit, forward and backward, the exp
    /// clamp's edges and infinities included; a NaN input gives NaN in both (its sign bit is the instruction's
    /// business: x86 makes new NaNs negative). Only where the CPU runs them.
    func testCSiLUIsBitIdenticalToTheSwiftLanes() throws {
        try XCTSkipUnless(ElementwiseKernels.supported, "neither AVX-512 nor AVX2 on this CPU")
        var values = (0..<4000).map { i in Float(i - 2000) * 0.0137 }
        values += [-120, -88, -87.3, -87.29, 0, -0.0, 1e-30, -1e-30, 88.7, 88.71, 95, 200, .nan, .infinity, -.infinity]
        while values.count % 16 != 0 { values.append(0.3) }
        let n = values.count
        let dy = randomTensor([n], seed: 13).array
        var yc = [Float](repeating: 0, count: n), ys = yc, dxc = yc, dxs = yc
        hv_silu_forward(values, &yc, n)
        hv_silu_backward(values, dy, &dxc, n)
        values.withUnsafeBufferPointer { x in dy.withUnsafeBufferPointer { g in
            ys.withUnsafeMutableBufferPointer { SiLU.forward(x.baseAddress!, $0.baseAddress!, from: 0, count: n) }
            dxs.withUnsafeMutableBufferPointer { SiLU.backward(x.baseAddress!, g.baseAddress!, $0.baseAddress!, from: 0, count: n) }
        } }
        for i in values.indices {
            if values[i].isNaN || ys[i].isNaN || dxs[i].isNaN {
                XCTAssertTrue(yc[i].isNaN == ys[i].isNaN && dxc[i].isNaN == dxs[i].isNaN, "NaN at \(values[i])")
                continue
            }
            XCTAssertEqual(yc[i].bitPattern, ys[i].bitPattern, "y(\(values[i])): \(yc[i]) against \(ys[i])")
            XCTAssertEqual(dxc[i].bitPattern, dxs[i].bitPattern, "dx(\(values[i])): \(dxc[i]) against \(dxs[i])")
        }
    }

    func testResamplingGradientsAndInverses() {
        let x = randomTensor([4, 4, 6, 3], seed: 8)
        let s2d = SpaceToDepth(factors: (t: 2, h: 2, w: 3)), d2s = DepthToSpace(factors: (t: 2, h: 2, w: 3))
        let y = s2d.forward(x)
        XCTAssertEqual(y.shape, [2, 2, 2, 36])
        XCTAssertEqual(d2s.forward(y).array, x.array)
        let up = Upsample(factors: (t: 2, h: 2, w: 1)), pool = AvgPool(factors: (t: 2, h: 2, w: 3))
        for (fwd, bwd) in [(up.forward, up.backward), (pool.forward, pool.backward), (s2d.forward, s2d.backward)] {
            let r = randomTensor(fwd(x).shape, seed: 10)
            let numeric = numericGradient(x) { dot(fwd(x), r) }
            _ = fwd(x)
            XCTAssertLessThan(relativeError(bwd(r).array.map(Double.init), numeric), 1e-3)
        }
    }

    /// The 16-lane L1/L2 losses against the scalar definitions: gradients exactly, losses to Float rounding.
    func testVectorReconstructionLossesMatchTheScalarDefinitions() {
        for n in [5, 16, 3000 + 7] {
            let p = randomTensor([n], seed: 31), t = randomTensor([n], seed: 32)
            p[0] = t[0]   // d = 0: zero L1 gradient
            let g1 = Tensor(shape: [0]), g2 = Tensor(shape: [0])
            let l1 = l1Loss(pred: p, target: t, grad: g1), l2 = l2Loss(pred: p, target: t, grad: g2)
            var s1 = 0.0, s2 = 0.0
            for i in 0..<n {
                let d = p[i] - t[i]
                s1 += Double(abs(d)); s2 += Double(d * d)
                XCTAssertEqual(g1[i], d > 0 ? 1 / Float(n) : (d < 0 ? -1 / Float(n) : 0), "L1 gradient \(i) of \(n)")
                XCTAssertEqual(g2[i], d * (2 / Float(n)), "L2 gradient \(i) of \(n)")
            }
            XCTAssertEqual(Double(l1), s1 / Double(n), accuracy: 1e-6 * s1 / Double(n))
            XCTAssertEqual(Double(l2), s2 / Double(n), accuracy: 1e-6 * s2 / Double(n))
        }
    }

    func testLossGradients() {
        let p = randomTensor([30], seed: 11), t = randomTensor([30], seed: 12)
        let g = Tensor(shape: [0])
        for loss in [l1Loss, l2Loss] {
            let numeric = numericGradient(p, eps: 1e-3) { Double(loss(p, t, Tensor(shape: [0]))) }
            _ = loss(p, t, g)
            XCTAssertLessThan(relativeError(g.array.map(Double.init), numeric), 1e-2)
        }
        let real = randomTensor([20], seed: 13), fake = randomTensor([20], seed: 14)
        let gr = Tensor(shape: [0]), gf = Tensor(shape: [0])
        for dl in [hingeDiscriminatorLoss, nonSaturatingDiscriminatorLoss] {
            let nr = numericGradient(real, eps: 1e-3) { Double(dl(real, fake, Tensor(shape: [0]), Tensor(shape: [0]))) }
            let nf = numericGradient(fake, eps: 1e-3) { Double(dl(real, fake, Tensor(shape: [0]), Tensor(shape: [0]))) }
            _ = dl(real, fake, gr, gf)
            XCTAssertLessThan(relativeError(gr.array.map(Double.init), nr), 1e-2)
            XCTAssertLessThan(relativeError(gf.array.map(Double.init), nf), 1e-2)
        }
        for gl in [hingeGeneratorLoss, nonSaturatingGeneratorLoss] {
            let nf = numericGradient(fake, eps: 1e-3) { Double(gl(fake, Tensor(shape: [0]))) }
            _ = gl(fake, gf)
            XCTAssertLessThan(relativeError(gf.array.map(Double.init), nf), 1e-2)
        }
    }
}
