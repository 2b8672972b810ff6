// Work splitting for element-wise and gather/scatter loops. BLAS calls use OpenBLAS's own threads;
// these loops use `concurrentPerform` with one chunk per core and never run inside a BLAS call. OpenBLAS's
// idle threads do spin (sched_yield) for a while after a call, and every split waits for its slower half,
// so a core shared with another job makes two threads slower than one (docs/speed-training-step.md). Each chunk
// runs in the caller's floating-point mode (Denormals.swift): pool threads keep whatever mode they had.
import CKernels
import COpenBLAS
import Dispatch
import Foundation
import HVCore

public enum Parallel {
    /// Number of worker chunks: the cores this process may run on, at most HV_THREADS (`Threads.limit`).
    /// `activeProcessorCount` counts the machine's cores, also under `taskset -c 0`, which would split every loop
    /// in two chunks that then take turns on the one allowed core; the affinity mask says how many can really run
    /// at once. HV_THREADS=1 is what `make -jN pretokenize` gives each clip's tools: N processes on N cores.
    /// Inside `independent`'s jobs it is 1.
    public static var workers: Int {
        let cap = Int(hv_thread_worker_cap())
        return cap > 0 ? min(cap, cores) : cores
    }

    /// The cores this process may run on, at most HV_THREADS, whatever thread asks.
    public static let cores: Int = Threads.capped(allowedCores())

    static func allowedCores() -> Int {
        let online = max(1, ProcessInfo.processInfo.activeProcessorCount)
        // Glibc declares sched_getaffinity only under _GNU_SOURCE, which the Swift Glibc module does not define.
        typealias GetAffinity = @convention(c) (Int32, Int, UnsafeMutableRawPointer) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sched_getaffinity") else { return online }
        var mask = [UInt64](repeating: 0, count: 16)   // 1024 CPUs, glibc's cpu_set_t
        let rc = mask.withUnsafeMutableBytes { unsafeBitCast(sym, to: GetAffinity.self)(0, $0.count, $0.baseAddress!) }
        guard rc == 0 else { return online }
        let allowed = mask.reduce(0) { $0 + $1.nonzeroBitCount }
        return max(1, min(online, allowed))
    }

    /// Calls `body(range)` over disjoint chunks of `0..<n`, in parallel when `n` is worth it.
    @inline(__always)
    public static func forRanges(_ n: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Void) {
        if n <= 0 { return }
        let chunks = min(workers, max(1, n / minChunk))
        if chunks == 1 { body(0..<n); return }
        let per = (n + chunks - 1) / chunks
        perform(chunks) { c in
            let lo = c * per, hi = min(n, lo + per)
            if lo < hi { body(lo..<hi) }
        }
    }

    /// `DispatchQueue.concurrentPerform` with every iteration in the caller's floating-point mode.
    @inline(__always)
    public static func perform(_ iterations: Int, _ body: (Int) -> Void) {
        let mode = Denormals.currentMode
        DispatchQueue.concurrentPerform(iterations: iterations) { i in
            Denormals.adopt(mode)
            body(i)
        }
    }

    /// Runs `body(0)` … `body(n − 1)` at once, each on its own thread with every engine loop and BLAS call inside it
    /// kept on that thread: for independent jobs of the same size (a step's crops, each on its own copy of a model),
    /// which run side by side on one core each with no waits between them, where splitting every layer of each job
    /// over the cores makes both wait at every layer for the slower half. `n` should not exceed `cores`.
    /// OpenBLAS runs single-threaded meanwhile (its thread count is process-wide: no other thread should call BLAS).
    public static func independent(_ n: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 { body(0); return }
        BLAS.singleThreaded {
            perform(n) { i in
                let saved = hv_thread_worker_cap()
                hv_set_thread_worker_cap(1)
                defer { hv_set_thread_worker_cap(saved) }
                body(i)
            }
        }
    }

    /// Calls `body(i)` for each of `0..<n` items, spread over the cores (for coarse items like rows or frames).
    @inline(__always)
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 0 { return }
        if n == 1 || workers == 1 { for i in 0..<n { body(i) }; return }
        forRanges(n, minChunk: 1) { r in for i in r { body(i) } }
    }

    /// Σ over disjoint chunks of `0..<n` of `body(range)`, the chunks in parallel when `n` is worth it. The
    /// partial sums are added in chunk order, so the result does not depend on scheduling.
    public static func sum(_ n: Int, minChunk: Int = 4096, _ body: (Range<Int>) -> Double) -> Double {
        if n <= 0 { return 0 }
        let chunks = min(workers, max(1, n / minChunk))
        if chunks == 1 { return body(0..<n) }
        let per = (n + chunks - 1) / chunks
        var partial = [Double](repeating: 0, count: chunks)
        partial.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            perform(chunks) { c in
                let lo = c * per, hi = min(n, lo + per)
                o[c] = lo < hi ? body(lo..<hi) : 0
            }
        }
        return partial.reduce(0, +)
    }
}

extension SIMD16 where Scalar == Float {
    /// 16 floats from `p` (any alignment).
    @inline(__always) public static func load(_ p: UnsafePointer<Float>) -> Self {
        UnsafeRawPointer(p).loadUnaligned(as: Self.self)
    }
    @inline(__always) public static func load(_ p: UnsafeMutablePointer<Float>) -> Self { load(UnsafePointer(p)) }
    /// Stores the 16 lanes at `p` (any alignment).
    @inline(__always) public func store(_ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self)
    }
}
