// HV_THREADS: the most threads a tool's own parallel work may use (the engine's worker chunks, FFmpeg's decoding
// threads); OpenBLAS has its own OPENBLAS_NUM_THREADS. Unset or not a positive integer: no limit beyond the cores.
// The pretokenization pipeline sets both to 1 for each clip's tools (WORKER_ENV), so `make -jN` on N cores runs N
// threads, not N × cores threads taking turns (docs/pretokenize.md, "Parallel jobs on one machine").
import Foundation

public enum Threads {
    /// HV_THREADS when it is a positive integer.
    public static let limit: Int? = parse(ProcessInfo.processInfo.environment["HV_THREADS"])

    static func parse(_ s: String?) -> Int? {
        guard let s, let n = Int(s.trimmingCharacters(in: .whitespaces)), n > 0 else { return nil }
        return n
    }

    /// `cores` capped by HV_THREADS; at least 1.
    public static func capped(_ cores: Int) -> Int { capped(cores, limit: limit) }

    static func capped(_ cores: Int, limit: Int?) -> Int { max(1, min(cores, limit ?? cores)) }
}
