import XCTest
@testable import HVEngine

final class LFQTests: XCTestCase {
    func testIndicesAndBitOrder() {
        let x = Tensor(shape: [2, 4], values: [0.5, -1, -0.2, 3, -1, -1, -1, 0.1])
        let q = Tensor(shape: [0])
        let idx = LFQ(bits: 4).quantize(x, codes: q)
        XCTAssertEqual(idx, [0b1001, 0b1000])
        XCTAssertEqual(q.array, [1, -1, -1, 1, -1, -1, -1, 1])
        let back = Tensor(shape: [0])
        LFQ.lookup(idx, bits: 4, into: back)
        XCTAssertEqual(back.array, q.array)
    }

    func testExactCodebookEntropyMatchesEnumeration() {
        for bits in [3, 6, 9] {
            let x = randomTensor([7, bits], seed: UInt64(bits), std: 0.4)
            let lfq = LFQ(bits: bits)
            let l = lfq.losses(x, entropyWeight: 1, commitWeight: 0, gradient: Tensor(shape: [0]))
            XCTAssertEqual(Double(l.codebook), LFQ.codebookEntropyNaive(x, bits: bits), accuracy: 1e-4)
        }
    }

    func testEntropyAndCommitmentGradients() {
        for bits in [4, 7] {
            let x = randomTensor([5, bits], seed: 20 + UInt64(bits), std: 0.3)
            let lfq = LFQ(bits: bits)
            let numeric = numericGradient(x, eps: 1e-3) {
                let l = lfq.losses(x, entropyWeight: 0.7, commitWeight: 0.3, gradient: Tensor(shape: [0]))
                return Double(l.entropy) + 0.3 * Double(l.commit)
            }
            let g = Tensor(shape: [0])
            _ = lfq.losses(x, entropyWeight: 0.7, commitWeight: 0.3, gradient: g)
            XCTAssertLessThan(relativeError(g.array.map(Double.init), numeric), 5e-3, "bits \(bits)")
        }
    }
}

final class TokenRMSNormalizeTests: XCTestCase {
    func testGradientAndScale() {
        let n = TokenRMSNormalize()
        let x = randomTensor([5, 7], seed: 31, std: 3)
        let y = n.forward(x)
        for t in 0..<5 {
            let ms = (0..<7).map { Double(y[t * 7 + $0] * y[t * 7 + $0]) }.reduce(0, +) / 7
            XCTAssertEqual(ms, 1, accuracy: 1e-4)
            for i in 0..<7 { XCTAssertEqual(y[t * 7 + i] > 0, x[t * 7 + i] > 0) }
        }
        let r = randomTensor([5, 7], seed: 32)
        let numeric = numericGradient(x, eps: 1e-3) { dot(n.forward(x), r) }
        _ = n.forward(x)
        XCTAssertLessThan(relativeError(n.backward(r).array.map(Double.init), numeric), 2e-3)
    }
}
