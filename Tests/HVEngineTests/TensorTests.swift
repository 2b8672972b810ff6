import XCTest
@testable import HVEngine

final class TensorTests: XCTestCase {
    func testResizeKeepsStorageWhenLargeEnough() {
        let t = Tensor(shape: [4, 4])
        let p = t.data
        t.resize([2, 8])
        XCTAssertEqual(t.data, p)
        t.resize([10, 10])
        XCTAssertEqual(t.count, 100)
    }

    func testGemmMatchesNaive() {
        var rng = SeededRandom(seed: 1)
        let m = 7, n = 5, k = 9
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [n, k]), c = Tensor(shape: [m, n])
        a.randomNormal(std: 1, rng: &rng); b.randomNormal(std: 1, rng: &rng)
        BLAS.gemm(transB: true, m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: k, c: c.data, ldc: n)
        for i in 0..<m { for j in 0..<n {
            var s: Double = 0
            for p in 0..<k { s += Double(a[i * k + p]) * Double(b[j * k + p]) }
            XCTAssertEqual(Double(c[i * n + j]), s, accuracy: 1e-4)
        } }
    }

    /// Every transpose combination and beta against Double loops, including one-row products (sgemv) with
    /// strided operands.
    func testGemmMatchesNaiveForEveryTransposeAndOneRow() {
        for (m, n, k) in [(1, 37, 19), (1, 1, 5), (4, 6, 3), (1, 200, 64)] {
            for transA in [false, true] { for transB in [false, true] { for beta: Float in [0, 0.5] {
                let lda = (transA ? m : k) + 3, ldb = (transB ? k : n) + 2, ldc = n + 1
                let a = randomTensor([(transA ? k : m) * lda], seed: 31), b = randomTensor([(transB ? n : k) * ldb], seed: 32)
                let c = randomTensor([m * ldc], seed: 33)
                if beta == 0 { for i in 0..<c.count { c[i] = .nan } }   // beta 0 overwrites, whatever C held
                var want = [Double](repeating: 0, count: m * n)
                for i in 0..<m { for j in 0..<n {
                    var s = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                    for p in 0..<k {
                        s += 0.75 * Double(transA ? a[p * lda + i] : a[i * lda + p]) * Double(transB ? b[j * ldb + p] : b[p * ldb + j])
                    }
                    want[i * n + j] = s
                } }
                BLAS.gemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: 0.75, a: a.data, lda: lda, b: b.data, ldb: ldb,
                          beta: beta, c: c.data, ldc: ldc)
                let got = (0..<m).flatMap { i in (0..<n).map { Double(c[i * ldc + $0]) } }
                XCTAssertLessThan(relativeError(got, want), 1e-5, "m \(m) n \(n) k \(k) transA \(transA) transB \(transB) beta \(beta)")
            } } }
        }
    }

    func testSingleThreadedSmallGemmGivesTheSameProductAndRestoresTheThreadCount() {
        let (m, n, k) = (67, 45, 129)
        let a = randomTensor([m, k], seed: 21), b = randomTensor([k, n], seed: 22)
        let c1 = Tensor(shape: [m, n]), c2 = Tensor(shape: [m, n])
        let threads = BLAS.threads
        BLAS.gemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c1.data, ldc: n)
        BLAS.singleThreadBelowMACs = m * n * k + 1
        defer { BLAS.singleThreadBelowMACs = 0 }
        BLAS.gemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c2.data, ldc: n)
        XCTAssertEqual(BLAS.threads, threads)
        XCTAssertLessThan(relativeError(c2.array.map(Double.init), c1.array.map(Double.init)), 1e-6)
    }

    func testSeededRandomIsReproducible() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        for _ in 0..<10 { XCTAssertEqual(a.next(), b.next()) }
    }
}
