// The calling core's multiply-add peak for float32 FMA and for the AVX512-BF16 dot product (CKernels'
// hv_fma_rate): whether BF16 arithmetic could speed the convolutions up on this CPU is a question of these two
// numbers before it is one of kernels.
import CKernels

public enum CorePeak {
    /// FLOP/s of one thread: float32 FMA (`bf16` false) or vdpbf16ps (`bf16` true); nil when the CPU lacks it.
    public static func rate(bf16: Bool, iterations: Int = 20_000_000) -> Double? {
        let r = hv_fma_rate(bf16 ? 1 : 0, iterations)
        return r > 0 ? r : nil
    }

    /// FLOP/s of one thread on AMX bfloat16 tiles (TDPBF16PS into four 16×16 accumulators); nil without AMX.
    public static func amxRate(iterations: Int = 2_000_000) -> Double? {
        let r = hv_amx_rate(iterations)
        return r > 0 ? r : nil
    }
}
