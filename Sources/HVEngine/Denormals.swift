// Subnormal floats (below 1.2e-38) make an x86 multiply take a microcode assist of ~100 cycles. Attention
// produces them by the million: softmax weights of far-off keys are tiny but normal, and their products with
// values and gradients inside SGEMM fall below the normal range. Training the single-layer generator ran 6× slower
// a step for it (6.0 against 1.0 s, the same losses to 7 digits). So every tool flushes them to zero, as GPUs do
// by default: flush-to-zero for results, denormals-are-zero for inputs. The mode is per thread and new threads
// start in their creator's: `Parallel` hands the caller's mode to its pool's workers on every call, and OpenBLAS,
// whose threads start when the library loads (before main) and never take the caller's mode (DenormalsTests), has
// its thread pool restarted once the main thread flushes.
import COpenBLAS
import Foundation

public enum Denormals {
    static let modeBits: UInt32 = 0x8040   // MXCSR FTZ (bit 15) | DAZ (bit 6)

    /// Flushes subnormal results and inputs to zero on the calling thread (and on the threads it starts later),
    /// then restarts OpenBLAS's threads so that they start in this mode too. Call it from the main thread
    /// before any other thread computes.
    public static func flushToZero() {
        hv_set_mxcsr(hv_get_mxcsr() | modeBits)
        restartBLASThreads()
    }

    /// OpenBLAS's pthread build exports the pair its fork handler uses; a build without them keeps its threads.
    static func restartBLASThreads() {
        typealias Call = @convention(c) () -> Void
        guard let shutdown = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_shutdown_"),
              let start = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "blas_thread_init") else { return }
        unsafeBitCast(shutdown, to: Call.self)()
        unsafeBitCast(start, to: Call.self)()
    }

    /// Whether the calling thread flushes (always false where there is no MXCSR).
    public static var flushing: Bool { hv_get_mxcsr() & modeBits == modeBits }

    /// The calling thread's floating-point mode, to hand to a worker thread with `adopt`.
    @inline(__always) static var currentMode: UInt32 { hv_get_mxcsr() }
    @inline(__always) static func adopt(_ mode: UInt32) { if hv_get_mxcsr() != mode { hv_set_mxcsr(mode) } }

    /// Runs `body` with the calling thread's mode set as given, then restores it (for tests and benchmarks).
    public static func with<R>(flushing on: Bool, _ body: () throws -> R) rethrows -> R {
        let saved = hv_get_mxcsr()
        hv_set_mxcsr(on ? saved | modeBits : saved & ~modeBits)
        defer { hv_set_mxcsr(saved) }
        return try body()
    }
}

/// What every tool does before it parses its arguments: OpenBLAS's fast kernels (which may re-execute the
/// process), then the flush of subnormals.
public func prepareEngineProcess() {
    BLAS.ensureFastKernels()
    Denormals.flushToZero()
}
