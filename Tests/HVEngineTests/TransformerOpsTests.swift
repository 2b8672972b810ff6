import XCTest
@testable import HVEngine
import HVCore

/// Finite-difference checks of every transformer op's backward (loss = Σ y·r with a fixed random r,
/// so dy = r), in Double via the numeric helper; tolerances stated per check.
final class TransformerOpsTests: XCTestCase {
    func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }

    func testLinearGradients() {
        var rng = SeededRandom(seed: 1)
        let lin = Linear(name: "fc", inFeatures: 5, outFeatures: 4, rng: &rng)
        XCTAssertEqual(lin.parameters.map(\.name), ["fc.weight", "fc.bias"])
        XCTAssertEqual(lin.weight.value.shape, [4, 5])
        let xs = SeqGradCheck.randoms(2 * 3 * 5, seed: 2), r = SeqGradCheck.randoms(2 * 3 * 4, seed: 3)
        let x = Tensor(seq: [2, 3, 5], xs)
        let y = lin.forward(x)
        XCTAssertEqual(y.shape, [2, 3, 4])
        // naive check of the forward
        for i in 0..<6 { for o in 0..<4 {
            var s = Double(lin.bias!.value[o])
            for k in 0..<5 { s += Double(xs[i * 5 + k]) * Double(lin.weight.value[o * 5 + k]) }
            XCTAssertEqual(Double(y[i * 4 + o]), s, accuracy: 1e-5)
        } }
        lin.zeroGrad()
        let dx = lin.backward(Tensor(seq: [2, 3, 4], r)).array
        let w0 = lin.weight.value.array, b0 = lin.bias!.value.array
        func loss(_ xv: [Float], _ wv: [Float], _ bv: [Float]) -> Double {
            let l = Linear(name: "t", inFeatures: 5, outFeatures: 4, rng: &rng)
            l.weight.value.copy(from: Tensor(seq: [4, 5], wv)); l.bias!.value.copy(from: Tensor(seq: [4], bv))
            return dot(l.forward(Tensor(seq: [6, 5], xv)).array, r)
        }
        SeqGradCheck.assertClose(dx, SeqGradCheck.numeric(xs) { loss($0, w0, b0) }, atol: 1e-3, rtol: 1e-3)
        SeqGradCheck.assertClose(lin.weight.grad.array, SeqGradCheck.numeric(w0) { loss(xs, $0, b0) }, atol: 1e-3, rtol: 1e-3)
        SeqGradCheck.assertClose(lin.bias!.grad.array, SeqGradCheck.numeric(b0) { loss(xs, w0, $0) }, atol: 1e-3, rtol: 1e-3)
        // Accumulation: a second backward doubles the parameter gradients.
        let g1 = lin.weight.grad.array
        _ = lin.backward(Tensor(seq: [2, 3, 4], r))
        for (a, b) in zip(lin.weight.grad.array, g1) { XCTAssertEqual(a, 2 * b, accuracy: 1e-5) }
    }

    /// The half-precision product of decoding against a naive double-precision one over the same rounded weights:
    /// one to three rows (the kernel pairs rows, so an odd count takes its single-row path too), output counts that
    /// leave a tail after the four-row blocks, and the split of output rows over the workers (a product past
    /// `macsPerChunk`, split inside a four-row block).
    func testHalfWeightProductMatchesNaiveReference() throws {
        try XCTSkipUnless(HalfWeight.available, "no half-precision product on this CPU (AVX2 with FMA and F16C)")
        var rng = SeededRandom(seed: 11)
        for (inF, outF) in [(8, 5), (24, 13), (688, 7), (64, 33_001)] {
            let lin = Linear(name: "fc", inFeatures: inF, outFeatures: outF, rng: &rng)
            let half = try XCTUnwrap(HalfWeight(lin))
            let rounded = lin.weight.value.array.map { HalfFloat.float(HalfFloat.bits($0)) }
            XCTAssertNotEqual(rounded, lin.weight.value.array, "the rounding must change the weight")
            if inF * outF >= 2 * HalfWeight.macsPerChunk {
                XCTAssertGreaterThan(Parallel.workers, 1, "the split needs two workers to be exercised")
            }
            for rows in 1...3 {
                let xs = SeqGradCheck.randoms(rows * inF, seed: UInt64(rows + inF))
                let y = lin.forward(Tensor(seq: [rows, inF], xs), half: half).array
                for i in 0..<rows { for o in 0..<outF {
                    var s = Double(lin.bias!.value[o])
                    for k in 0..<inF { s += Double(xs[i * inF + k]) * Double(rounded[o * inF + k]) }
                    XCTAssertEqual(Double(y[i * outF + o]), s, accuracy: 1e-5 * (1 + abs(s)), "in \(inF) out \(outF) row \(i).\(o)")
                } }
            }
        }
        // Up to nine rows (a batch of drafts: four-row blocks, then pairs, then one): each row's outputs are bit for
        // bit those of the row alone, and so of the reference above.
        for (inF, outF) in [(24, 13), (64, 33_001)] {
            let lin = Linear(name: "fc", inFeatures: inF, outFeatures: outF, rng: &rng)
            let half = try XCTUnwrap(HalfWeight(lin))
            for rows in 4...9 {
                let xs = SeqGradCheck.randoms(rows * inF, seed: UInt64(rows * 7 + inF))
                let y = lin.forward(Tensor(seq: [rows, inF], xs), half: half, maxRows: rows).array
                for i in 0..<rows {
                    let alone = lin.forward(Tensor(seq: [1, inF], Array(xs[(i * inF)..<((i + 1) * inF)])), half: half).array
                    XCTAssertEqual(Array(y[(i * outF)..<((i + 1) * outF)]), alone, "in \(inF) out \(outF): row \(i) of \(rows)")
                }
            }
        }
        // Past HalfWeight.maxRows, and for a weight it cannot take, the float32 product runs.
        let lin = Linear(name: "fc", inFeatures: 16, outFeatures: 3, rng: &rng)
        let x = Tensor(seq: [HalfWeight.maxRows + 1, 16], SeqGradCheck.randoms((HalfWeight.maxRows + 1) * 16, seed: 5))
        let exact = lin.forward(x).array
        XCTAssertEqual(lin.forward(x, half: HalfWeight(lin)).array, exact)
        XCTAssertNil(HalfWeight(Linear(name: "odd", inFeatures: 12, outFeatures: 3, rng: &rng)))
    }

    func testLayerNormAndRMSNormGradients() {
        let n = 4, c = 7
        let xs = SeqGradCheck.randoms(n * c, seed: 4), r = SeqGradCheck.randoms(n * c, seed: 5)
        let ws = SeqGradCheck.randoms(c, seed: 6).map { 1 + 0.3 * $0 }, bs = SeqGradCheck.randoms(c, seed: 7).map { 0.1 * $0 }
        func ln(_ xv: [Float], _ wv: [Float], _ bv: [Float]) -> LayerNorm {
            let l = LayerNorm(name: "ln", dim: c, eps: 1e-5)
            l.weight.value.copy(from: Tensor(seq: [c], wv)); l.bias.value.copy(from: Tensor(seq: [c], bv))
            _ = l.forward(Tensor(seq: [n, c], xv)); return l
        }
        let l = ln(xs, ws, bs)
        let dx = l.backward(Tensor(seq: [n, c], r)).array
        // 1e-2 steps on Float32 forward: tolerance 2e-3 absolute.
        SeqGradCheck.assertClose(dx, SeqGradCheck.numeric(xs, eps: 1e-2) { self.dot(ln($0, ws, bs).output.array, r) }, atol: 2e-3, rtol: 2e-3)
        SeqGradCheck.assertClose(l.weight.grad.array, SeqGradCheck.numeric(ws, eps: 1e-2) { self.dot(ln(xs, $0, bs).output.array, r) }, atol: 2e-3, rtol: 2e-3)
        SeqGradCheck.assertClose(l.bias.grad.array, SeqGradCheck.numeric(bs, eps: 1e-2) { self.dot(ln(xs, ws, $0).output.array, r) }, atol: 2e-3, rtol: 2e-3)

        func rms(_ xv: [Float], _ wv: [Float]) -> RMSNorm {
            let l = RMSNorm(name: "rms", dim: c, eps: 1e-6)
            l.weight.value.copy(from: Tensor(seq: [c], wv))
            _ = l.forward(Tensor(seq: [n, c], xv)); return l
        }
        let m = rms(xs, ws)
        let dxr = m.backward(Tensor(seq: [n, c], r)).array
        SeqGradCheck.assertClose(dxr, SeqGradCheck.numeric(xs, eps: 1e-2) { self.dot(rms($0, ws).output.array, r) }, atol: 2e-3, rtol: 2e-3)
        SeqGradCheck.assertClose(m.weight.grad.array, SeqGradCheck.numeric(ws, eps: 1e-2) { self.dot(rms(xs, $0).output.array, r) }, atol: 2e-3, rtol: 2e-3)
    }

    func testEmbeddingLookupAndScatterAdd() throws {
        var rng = SeededRandom(seed: 8)
        let e = Embedding(name: "tok", vocab: 6, dim: 3, rng: &rng)
        let y = try e.forward([2, 5, 2])
        XCTAssertEqual(Array(y.array[0..<3]), Array(e.weight.value.array[6..<9]))
        XCTAssertEqual(Array(y.array[3..<6]), Array(e.weight.value.array[15..<18]))
        e.backward(Tensor(seq: [3, 3], [1, 2, 3, 4, 5, 6, 10, 20, 30]))
        XCTAssertEqual(Array(e.weight.grad.array[6..<9]), [11, 22, 33])
        XCTAssertEqual(Array(e.weight.grad.array[15..<18]), [4, 5, 6])
        XCTAssertEqual(e.weight.grad.array.filter { $0 != 0 }.count, 6)
        XCTAssertThrowsError(try e.forward([0, 6])) {
            XCTAssertEqual($0 as? EngineError, .indexOutOfRange(what: "token id", index: 6, limit: 6)) }
    }

    func testRoPEIsARotationAndBackwardIsItsTranspose() {
        for (axes, d) in [(1, 8), (3, 12), (3, 16)] {
            let s = 5, h = 2
            let rope = RoPE(headDim: d, axes: axes)
            XCTAssertEqual(rope.sections.reduce(0, +), d)
            var coords: [Int] = []
            var rng = SeededRandom(seed: UInt64(d))
            for _ in 0..<(s * axes) { coords.append(Int(rng.next() % 9)) }
            rope.setPositions(coords, count: s)
            let xs = SeqGradCheck.randoms(s * h * d, seed: 9), r = SeqGradCheck.randoms(s * h * d, seed: 10)
            let x = Tensor(seq: [s, h, d], xs)
            rope.forward(x)
            // Norm-preserving per head row.
            for row in 0..<(s * h) {
                let a = xs[row * d..<(row + 1) * d].reduce(0) { $0 + $1 * $1 }
                let b = x.array[row * d..<(row + 1) * d].reduce(0) { $0 + $1 * $1 }
                XCTAssertEqual(a, b, accuracy: 1e-4)
            }
            let g = Tensor(seq: [s, h, d], r)
            rope.backward(g)
            let num = SeqGradCheck.numeric(xs) { v in let t = Tensor(seq: [s, h, d], v); rope.forward(t); return self.dot(t.array, r) }
            SeqGradCheck.assertClose(g.array, num, atol: 1e-3, rtol: 1e-3, "axes \(axes) d \(d)")
            rope.backward(x)   // inverse undoes forward
            for (a, b) in zip(x.array, xs) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        }
        XCTAssertEqual(RoPE.defaultSections(headDim: 64, axes: 3), [24, 20, 20])
    }

    func testCrossEntropyWithIgnoreAndWeights() throws {
        let n = 6, v = 5
        let ls = SeqGradCheck.randoms(n * v, seed: 11, std: 2)
        let targets: [Int32] = [1, -100, 4, 0, 2, -100]
        let w: [Float] = [1, 5, 0.5, 2, 1.5, 1]
        var d = [Float](repeating: 9, count: n * v)
        let loss = try ls.withUnsafeBufferPointer { lp in try d.withUnsafeMutableBufferPointer {
            try softmaxCrossEntropy(logits: lp.baseAddress!, targets: targets, weights: w, vocab: v, dlogits: $0.baseAddress!) } }
        func ref(_ l: [Float]) -> Double {
            var s = 0.0, ws = 0.0
            for i in 0..<n where targets[i] != -100 {
                let row = l[i * v..<(i + 1) * v].map(Double.init)
                let m = row.max()!
                let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                s += Double(w[i]) * (lse - row[Int(targets[i])]); ws += Double(w[i])
            }
            return s / ws
        }
        XCTAssertEqual(Double(loss), ref(ls), accuracy: 1e-5)
        SeqGradCheck.assertClose(d, SeqGradCheck.numeric(ls, ref), atol: 1e-4, rtol: 1e-3)
        XCTAssertEqual(Array(d[5..<10]), [0, 0, 0, 0, 0], "ignored rows get zero gradient")
        XCTAssertThrowsError(try ls.withUnsafeBufferPointer {
            try softmaxCrossEntropy(logits: $0.baseAddress!, targets: [7, 0, 0, 0, 0, 0], vocab: v, dlogits: nil) })
        let none = try ls.withUnsafeBufferPointer {
            try softmaxCrossEntropy(logits: $0.baseAddress!, targets: [Int32](repeating: -100, count: n), vocab: v, dlogits: nil) }
        XCTAssertEqual(none, 0)
    }

    func testSwiGLUGradient() {
        let n = 3, f = 4
        let xs = SeqGradCheck.randoms(n * 2 * f, seed: 12), r = SeqGradCheck.randoms(n * f, seed: 13)
        let g = SwiGLU()
        let y = g.forward(Tensor(seq: [n, 2 * f], xs))
        XCTAssertEqual(y.shape, [n, f])
        let a = xs[0], b = xs[f]
        XCTAssertEqual(y[0], a / (1 + exp(-a)) * b, accuracy: 1e-6)
        let dx = g.backward(Tensor(seq: [n, f], r)).array
        SeqGradCheck.assertClose(dx, SeqGradCheck.numeric(xs) { v in self.dot(SwiGLU().forward(Tensor(seq: [n, 2 * f], v)).array, r) }, atol: 1e-3, rtol: 1e-3)
    }

    func testExpKernelAccuracy() {
        var xs: [Float] = []
        var x: Float = -87
        while x < 88 { xs.append(x); x += 0.0371 }
        var out = [Float](repeating: 0, count: xs.count)
        _ = xs.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer {
            ExpKernel.expSum(s.baseAddress!, $0.baseAddress!, count: xs.count, scale: 1, shift: 0) } }
        var worst: Double = 0
        for (a, v) in zip(out, xs) { worst = max(worst, abs(Double(a) - exp(Double(v))) / exp(Double(v))) }
        XCTAssertLessThan(worst, 1e-6)
    }
}
