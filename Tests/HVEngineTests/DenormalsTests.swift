import XCTest
@testable import HVEngine
import COpenBLAS

/// The flush of subnormal floats (Denormals.swift) on the calling thread, in `Parallel`'s workers and in
/// OpenBLAS's threads, each checked both ways so that a mode that never took effect fails.
final class DenormalsTests: XCTestCase {
    /// Values the optimiser cannot fold: 1e-20 (normal) and 1e-40 (subnormal).
    @inline(never) func tiny() -> Float { Float("1e-20")! }
    @inline(never) func subnormal() -> Float { Float("1e-40")! }

    func testFlushZeroesSubnormalResultsAndInputs() {
        let a = tiny(), s = subnormal()
        XCTAssertFalse(s.isNormal); XCTAssertNotEqual(s, 0)
        Denormals.with(flushing: false) {
            XCTAssertFalse(Denormals.flushing)
            XCTAssertNotEqual(a * a, 0, "1e-40 is representable as a subnormal")
            XCTAssertNotEqual(s * 1e30, 0)
        }
        Denormals.with(flushing: true) {
            XCTAssertTrue(Denormals.flushing)
            XCTAssertEqual(a * a, 0, "flush-to-zero")
            XCTAssertEqual(s * 1e30, 0, "denormals-are-zero")
        }
    }

    /// binary16's subnormals (below 6.1e-5) are ordinary values for weights and embeddings: F16 storage keeps them
    /// whatever the thread's mode.
    func testFloat16StorageKeepsItsSubnormalsUnderTheFlush() {
        let tinyHalf = Float("1e-6")!
        let (bits, back) = Denormals.with(flushing: true) {
            (Half.floatToF16(tinyHalf), Half.f16ToFloat(Half.floatToF16(tinyHalf)))
        }
        XCTAssertEqual(bits, Float16(tinyHalf).bitPattern)
        XCTAssertNotEqual(bits, 0)
        XCTAssertEqual(back, Float(Float16(tinyHalf)))
    }

    func testParallelWorkersRunInTheCallersMode() {
        let n = 64 * 1024
        let x = [Float](repeating: tiny(), count: n)
        var y = [Float](repeating: -1, count: n)
        for flushing in [true, false, true] {
            Denormals.with(flushing: flushing) {
                x.withUnsafeBufferPointer { xs in
                    y.withUnsafeMutableBufferPointer { ys in
                        let xp = xs.baseAddress!, yp = ys.baseAddress!
                        Parallel.forRanges(n, minChunk: 1024) { r in for i in r { yp[i] = xp[i] * xp[i] } }
                    }
                }
            }
            let zeros = y.filter { $0 == 0 }.count
            XCTAssertEqual(zeros, flushing ? n : 0, "flushing \(flushing), \(Parallel.workers) workers")
        }
    }

    /// After `flushToZero` every element of a product split over OpenBLAS's threads is flushed (threads started
    /// at load time, before the flush, were seen to keep their mode). Ends with the threads restarted in the
    /// test process's mode.
    func testBLASThreadsFlushAfterFlushToZero() {
        let m = 384, n = 384, k = 64   // large enough that OpenBLAS splits it over all its threads
        let a = [Float](repeating: tiny(), count: m * k), b = [Float](repeating: tiny(), count: k * n)
        var c = [Float](repeating: -1, count: m * n)
        func zeros() -> Int {
            BLAS.gemm(m: m, n: n, k: k, a: a, lda: k, b: b, ldb: n, c: &c, ldc: n)
            return c.filter { $0 == 0 }.count
        }
        let saved = hv_get_mxcsr()
        defer { hv_set_mxcsr(saved); Denormals.restartBLASThreads() }
        hv_set_mxcsr(saved & ~Denormals.modeBits); Denormals.restartBLASThreads()
        XCTAssertEqual(zeros(), 0, "no flush anywhere")
        Denormals.flushToZero()
        XCTAssertEqual(zeros(), m * n, "flushed on all \(BLAS.threads) OpenBLAS threads")
    }
}
