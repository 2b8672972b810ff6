// Work splitting for element-wise and gather/scatter loops. BLAS calls use OpenBLAS's own threads;
// these loops use `concurrentPerform` with one chunk per core and never run inside a BLAS call,
// so the two never oversubscribe the cores.
import Dispatch
import Foundation

public enum Parallel {
    /// Number of worker chunks (the number of active cores).
    public static let workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    /// Calls `body(range)` over disjoint chunks of `0..<n`, in parallel when `n` is worth it.
    @inline(__always)
    public static func forRanges(_ n: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunks = min(workers, max(1, n / minChunk))
        if chunks == 1 { body(0..<n); return }
        let per = (n + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * per, hi = min(n, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// Calls `body(i)` for each of `0..<n` items, spread over the cores (for coarse items like rows or frames).
    @inline(__always)
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || workers == 1 { for i in 0..<n { body(i) }; return }
        forRanges(n, minChunk: 1) { r in for i in r { body(i) } }
    }
}
