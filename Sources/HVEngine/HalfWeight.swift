// A half-precision copy of a Linear layer's weight, for the one- and two-row products of decoding
// (hv_gemv_f16). A snapshot: made from the float32 weight when asked for, never updated, so it belongs to a
// decoding run, not to a model that is still training.
import CKernels

public final class HalfWeight {
    public let outFeatures: Int, inFeatures: Int
    public let bits: UnsafeMutablePointer<UInt16>

    /// Whether this CPU has the kernel (AVX2 with FMA and F16C).
    public static let available = hv_gemv_f16_available() != 0 && hv_kv_half_available() != 0

    /// The weight of `linear` rounded to half precision; nil where the kernel cannot take it (CPU, or `in` not a
    /// multiple of 8), and the caller keeps to float32.
    public init?(_ linear: Linear) {
        guard HalfWeight.accepts(linear) else { return nil }
        outFeatures = linear.outFeatures; inFeatures = linear.inFeatures
        let n = outFeatures * inFeatures
        bits = .allocate(capacity: n)
        hv_f32_to_f16(linear.weight.value.data, bits, n)
    }

    /// Whether `init` makes a copy of `linear` on this CPU: the kernel is there and `in` is a multiple of 8.
    public static func accepts(_ linear: Linear) -> Bool {
        available && linear.inFeatures > 0 && linear.inFeatures % 8 == 0
    }

    deinit { bits.deallocate() }

    /// y[n, out] = x[n, in] · wᵀ (+ bias). Output rows are split across the workers where a product is large
    /// enough to pay for waking them.
    public func forward(x: UnsafePointer<Float>, rows n: Int, bias: UnsafePointer<Float>?, y: UnsafeMutablePointer<Float>) {
        let out = outFeatures, k = inFeatures
        Parallel.forRanges(out, minChunk: Swift.max(64, HalfWeight.macsPerChunk / (k * Swift.max(n, 1)))) { r in
            hv_gemv_f16(x, Int32(n), bits, out, k, y, r.lowerBound, r.upperBound)
        }
        if let bias { for i in 0..<n { let row = y + i * out; for j in 0..<out { row[j] += bias[j] } } }
    }

    /// The most rows a product takes from the half copy: past a few rows the float32 SGEMM reuses each weight
    /// across rows from cache and is faster than converting it again.
    public static let maxRows = 4

    /// Multiply-adds below which a product stays on the calling thread. A product converts about eight weights a
    /// cycle (`hv-bench gen`), so the `small` model's largest, 350 000 multiply-adds, takes ~15 µs: less than
    /// waking a second worker and waiting for it costs (two threads decoded 1.6–2× slower per token at the
    /// start of a clip when every product was split).
    static let macsPerChunk = 1 << 20
}
