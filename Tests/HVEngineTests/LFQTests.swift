import XCTest
@testable import HVEngine

final class LFQTests: XCTestCase {
    func testQuantizeSignsAndBitOrder() {
        let x = Tensor(seq: [3, 4], [0.5, -1, 0, 2,   -0.1, -0.2, -0.3, -0.4,   1, 1, 1, 1])
        let lfq = LFQ(bits: 4)
        let q = lfq.forward(x, losses: false)
        XCTAssertEqual(q.array, [1, -1, -1, 1,  -1, -1, -1, -1,  1, 1, 1, 1])   // 0 maps to −1
        XCTAssertEqual(lfq.indices, [0b1001, 0, 15])                          // channel 0 = bit 0
        XCTAssertEqual(lfqLookup(indices: lfq.indices, bits: 4).array, q.array)
    }

    func testLookupOfEveryCodeQuantizesBackToItself() {
        let codes = (0..<256).map { Int32($0) }
        let q = lfqLookup(indices: codes, bits: 8)
        let lfq = LFQ(bits: 8)
        lfq.forward(q, losses: false)
        XCTAssertEqual(lfq.indices, codes)
    }

    func testStraightThroughAndCommitmentGradient() {
        let n = 5, d = 3
        let xs = SeqGradCheck.randoms(n * d, seed: 3)
        let lfq = LFQ(bits: d)
        lfq.forward(Tensor(seq: [n, d], xs))
        let dq = Tensor(seq: [n, d], SeqGradCheck.randoms(n * d, seed: 4))
        let dx = lfq.backward(dq, commitmentWeight: 0, entropyWeight: 0).array
        XCTAssertEqual(dx, dq.array)
        let dxc = lfq.backward(Tensor(shape: [n, d]), commitmentWeight: 0.25, entropyWeight: 0).array
        // Commitment loss with q held fixed (stop-gradient): numeric gradient of mean((x − q)²).
        let q = lfq.output.array
        let num = SeqGradCheck.numeric(xs) { v in
            0.25 * zip(v, q).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(n * d)
        }
        SeqGradCheck.assertClose(dxc, num, atol: 1e-5)
    }

    func testSampleEntropyMatchesBinaryEntropiesAndGradient() {
        let n = 6, d = 4, tau: Float = 0.7
        let xs = SeqGradCheck.randoms(n * d, seed: 5, std: 0.5)
        let h = xs.withUnsafeBufferPointer { lfqSampleEntropy(x: $0.baseAddress!, count: n, bits: d, temperature: tau) }
        var ref = 0.0
        for v in xs { let p = 1 / (1 + exp(-4 * Double(v) / Double(tau))); ref -= p * log(p) + (1 - p) * log(1 - p) }
        XCTAssertEqual(Double(h), ref / Double(n), accuracy: 1e-5)
        var dx = [Float](repeating: 0, count: n * d)
        xs.withUnsafeBufferPointer { xp in dx.withUnsafeMutableBufferPointer {
            lfqSampleEntropyBackward(x: xp.baseAddress!, count: n, bits: d, temperature: tau, scale: 1, dx: $0.baseAddress!) } }
        let num = SeqGradCheck.numeric(xs, eps: 1e-3) { v in
            v.withUnsafeBufferPointer { Double(lfqSampleEntropy(x: $0.baseAddress!, count: n, bits: d, temperature: tau)) } }
        SeqGradCheck.assertClose(dx, num, atol: 1e-4, rtol: 2e-3)
    }

    func testCodebookEntropyIsExactAgainstNaiveSum() {
        // Tolerance: Float SGEMM accumulation vs Double naive, 1e-4 relative.
        for d in 1...10 {
            let n = 37
            let xs = SeqGradCheck.randoms(n * d, seed: UInt64(d), std: 0.4)
            let naive = lfqCodebookEntropyNaive(x: xs, count: n, bits: d, temperature: 1)
            for lo in Set([0, d / 2, d]) {
                let cb = LFQCodebookEntropy(bits: d, lowBits: lo)
                let h = xs.withUnsafeBufferPointer { cb.forward(x: $0.baseAddress!, count: n, temperature: 1) }
                XCTAssertEqual(Double(h), naive, accuracy: 1e-4 * max(1, naive), "d=\(d) lo=\(lo)")
            }
        }
    }

    func testCodebookEntropyGradientByFiniteDifferences() {
        for (d, lo) in [(4, 2), (4, 0), (4, 1), (6, 3), (6, 2), (6, 6), (5, 2)] {
            let n = 7, tau: Float = 0.9
            let xs = SeqGradCheck.randoms(n * d, seed: UInt64(10 * d + lo), std: 0.3)
            let cb = LFQCodebookEntropy(bits: d, lowBits: lo)
            var dx = [Float](repeating: 0, count: n * d)
            xs.withUnsafeBufferPointer { _ = cb.forward(x: $0.baseAddress!, count: n, temperature: tau) }
            dx.withUnsafeMutableBufferPointer { cb.backward(scale: 1, dx: $0.baseAddress!) }
            // Numeric gradient of the exact Double reference.
            let num = SeqGradCheck.numeric(xs, eps: 1e-3) { lfqCodebookEntropyNaive(x: $0, count: n, bits: d, temperature: tau) }
            SeqGradCheck.assertClose(dx, num, atol: 1e-4, rtol: 5e-3, "d=\(d) lo=\(lo)")
        }
    }

    func testFactorisedApproximationBeyondEighteenBits() {
        let d = 20, n = 4, tau: Float = 1
        let xs = SeqGradCheck.randoms(n * d, seed: 77, std: 0.5)
        let cb = LFQCodebookEntropy(bits: d)
        XCTAssertFalse(cb.isExact)
        let h = xs.withUnsafeBufferPointer { cb.forward(x: $0.baseAddress!, count: n, temperature: tau) }
        func approx(_ v: [Float]) -> Double {
            var s = 0.0
            for i in 0..<d {
                var m = 0.0
                for t in 0..<n { m += 1 / (1 + exp(-4 * Double(v[t * d + i]) / Double(tau))) }
                m /= Double(n)
                s -= m * log(m) + (1 - m) * log(1 - m)
            }
            return s
        }
        XCTAssertEqual(Double(h), approx(xs), accuracy: 1e-4)
        var dx = [Float](repeating: 0, count: n * d)
        dx.withUnsafeMutableBufferPointer { cb.backward(scale: 1, dx: $0.baseAddress!) }
        SeqGradCheck.assertClose(dx, SeqGradCheck.numeric(xs, approx), atol: 1e-4, rtol: 5e-3)
    }

    func testLayerBackwardCombinesAllTerms() {
        let n = 5, d = 6, tau: Float = 0.8
        let xs = SeqGradCheck.randoms(n * d, seed: 21, std: 0.4)
        let lfq = LFQ(bits: d, temperature: tau)
        lfq.forward(Tensor(seq: [n, d], xs))
        let q = lfq.output.array
        let dx = lfq.backward(Tensor(shape: [n, d]), commitmentWeight: 0.3, entropyWeight: 0.1, diversityWeight: 1.5).array
        let num = SeqGradCheck.numeric(xs) { v in
            let commit = zip(v, q).reduce(0.0) { $0 + Double(($1.0 - $1.1) * ($1.0 - $1.1)) } / Double(n * d)
            let hs = v.withUnsafeBufferPointer { Double(lfqSampleEntropy(x: $0.baseAddress!, count: n, bits: d, temperature: tau)) }
            let hc = lfqCodebookEntropyNaive(x: v, count: n, bits: d, temperature: tau)
            return 0.3 * commit + 0.1 * (hs - 1.5 * hc)
        }
        SeqGradCheck.assertClose(dx, num, atol: 1e-4, rtol: 5e-3)
        XCTAssertEqual(Double(lfq.codebookEntropy), lfqCodebookEntropyNaive(x: xs, count: n, bits: d, temperature: tau), accuracy: 1e-4)
    }

    func testEighteenBitsRunsWithOneGemmTable() {
        let d = 18, n = 64
        let xs = SeqGradCheck.randoms(n * d, seed: 9)
        let lfq = LFQ(bits: d)
        lfq.forward(Tensor(seq: [n, d], xs))
        XCTAssertTrue(lfq.codebook.isExact)
        XCTAssertEqual(lfq.codebook.meanDistribution.shape, [512, 512])
        let total = lfq.codebook.meanDistribution.array.reduce(0.0) { $0 + Double($1) }
        XCTAssertEqual(total, 1, accuracy: 1e-3)
        // With n ≪ 2^18, the entropy cannot exceed ln(n) + the per-sample entropy.
        XCTAssertLessThanOrEqual(Double(lfq.codebookEntropy), log(Double(n)) + Double(lfq.sampleEntropy) + 1e-3)
        let dx = lfq.backward(Tensor(shape: [n, d]), commitmentWeight: 0, entropyWeight: 1)
        XCTAssertTrue(dx.array.allSatisfy { $0.isFinite })
    }
}

final class LFQGoldenTests: XCTestCase {
    /// PyTorch reference with the explicit 2^d softmax over codes (validates the factorisation too).
    /// Tolerance: 1e-4 relative (Float32 vs float64).
    func testLFQForwardBackwardMatchesTorch() throws {
        let f = try SeqGolden.file("seq_lfq.safetensors")
        let params = try f.tensor("params").array
        let x = try f.tensor("x")
        let lfq = LFQ(bits: x.shape[1], temperature: params[0])
        let q = lfq.forward(x)
        XCTAssertEqual(q.array, try f.tensor("q").array)
        XCTAssertEqual(lfq.indices.map { Float($0) }, try f.tensor("indices").array)
        XCTAssertEqual(lfq.commitmentLoss, try f.tensor("commit")[0], accuracy: 1e-5)
        XCTAssertEqual(lfq.sampleEntropy, try f.tensor("sample_entropy")[0], accuracy: 1e-4)
        XCTAssertEqual(lfq.codebookEntropy, try f.tensor("codebook_entropy")[0], accuracy: 1e-4)
        let dx = lfq.backward(try f.tensor("dq"), commitmentWeight: params[1], entropyWeight: params[2], diversityWeight: params[3])
        XCTAssertLessThan(SeqGolden.maxRelativeError(dx.array, try f.tensor("dx").array), 1e-4)
    }
}
