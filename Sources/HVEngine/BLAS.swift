// OpenBLAS access: row-major SGEMM and the runtime core-type check.
// OpenBLAS 0.3.21 does not recognise recent Intel CPUs and falls back to its SSE3 "Prescott" kernels
// (4x slower). The core type is read when the library loads, so `ensureFastKernels` re-executes the
// process once with OPENBLAS_CORETYPE set when the CPU has AVX-512/AVX2 but a generic core was chosen.
import COpenBLAS
import Foundation

public enum BLAS {
    /// C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C, all row-major.
    @inline(__always)
    public static func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        if k == 0 {
            if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
            else if beta != 1 { for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } } }
            return
        }
        let call = {
            if m == 1 {
                // One row of C is a matrix-vector product. OpenBLAS's sgemm would pack all of B for it, which
                // for a decoding step (one token against a weight matrix or a KV cache) reads B twice and writes
                // a copy; sgemv reads it once. A's row is contiguous, or strided by lda when stored transposed.
                cblas_sgemv(CblasRowMajor, transB ? CblasNoTrans : CblasTrans, Int32(transB ? n : k), Int32(transB ? k : n),
                            alpha, b, Int32(ldb), a, Int32(transA ? lda : 1), beta, c, 1)
            } else {
                cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
            }
        }
        if m * n * k < singleThreadBelowMACs { singleThreaded(call) } else { call() }
    }

    /// Runs `body` with OpenBLAS on one thread, restoring its thread count after. OpenBLAS's count is process-wide,
    /// so this is for callers that run their own workers (one BLAS stream per core) or whose products are too small
    /// to split; no other thread should start a BLAS call meanwhile expecting the configured count.
    @inline(__always)
    public static func singleThreaded<T>(_ body: () throws -> T) rethrows -> T {
        let saved = openblas_get_num_threads()
        if saved <= 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        return try body()
    }

    /// GEMMs with fewer multiply-adds than this run on one OpenBLAS thread even when more are configured (0: never):
    /// for a small product, waking, feeding and joining the second thread can cost more than it saves.
    /// `hv-bench train --gemm-threshold-ab` measures a value against 0 in one process.
    public static var singleThreadBelowMACs = 0

    /// The kernel set OpenBLAS is using ("SkylakeX", "Haswell", "Prescott", ...).
    public static var coreName: String { String(cString: openblas_get_corename()) }
    /// OpenBLAS's build configuration string.
    public static var config: String { String(cString: openblas_get_config()) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Core types OpenBLAS picks when it does not know the CPU.
    static let genericCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "northwood", "barcelona"]

    /// The best OpenBLAS core type this CPU supports, from /proc/cpuinfo flags.
    public static func preferredCoreType() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = info.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// Re-executes the current process with OPENBLAS_CORETYPE set when OpenBLAS fell back to generic
    /// kernels on a CPU that has faster ones. Does nothing when the variable is already set (the user's
    /// choice wins) or when the detected core is already specific. Returns only if no re-exec happened.
    public static func ensureFastKernels() {
        if getenv("OPENBLAS_CORETYPE") != nil { return }
        guard genericCores.contains(coreName.lowercased()), let want = preferredCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", want, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // execv only returns on failure: carry on with the slow kernels.
    }
}
