// Append-only key/value cache for incremental (autoregressive) decoding: keys and values of every
// position decoded so far, [B, capacity, heads, headDim], filled in order. New queries attend to all
// cached keys with the causal offset (see MultiHeadAttention.forward(q:cache:)).
import CKernels

public final class KVCache {
    public let batch: Int, capacity: Int, heads: Int, headDim: Int
    /// [B, capacity, heads, headDim]; rows 0..<count are valid.
    public let keys: Tensor, values: Tensor
    /// IEEE half-precision copies of `keys` and `values` (same layout), kept when the cache was made with `half`
    /// on a CPU with the half kernels (AVX-512, or AVX2 with F16C) and headDim a multiple of 16. One-query attention — every decoding step
    /// after the prompt — reads these instead: late in a clip each token reads the whole cache, and half the
    /// bytes is most of half the time. Queries, scores and sums stay float32.
    public let halfKeys: UnsafeMutablePointer<UInt16>?, halfValues: UnsafeMutablePointer<UInt16>?
    public private(set) var count = 0

    /// Whether a cache made with `half: true` and this head size keeps half-precision copies on this CPU.
    public static func halfAvailable(headDim: Int) -> Bool { kernels && headDim % 16 == 0 }
    private static let kernels = hv_kv_half_available() != 0

    /// What the generator's decoder asks for (`half`); off, it decodes from the float32 rows alone (tests compare
    /// the two, benchmarks time both).
    public static var halfByDefault = true

    public init(batch: Int = 1, capacity: Int, heads: Int, headDim: Int, half: Bool = false) {
        self.batch = batch; self.capacity = capacity; self.heads = heads; self.headDim = headDim
        keys = Tensor(shape: [batch, capacity, heads, headDim])
        values = Tensor(shape: [batch, capacity, heads, headDim])
        let n = batch * capacity * heads * headDim
        if half && KVCache.halfAvailable(headDim: headDim) {
            halfKeys = .allocate(capacity: n); halfValues = .allocate(capacity: n)
        } else {
            halfKeys = nil; halfValues = nil
        }
    }

    deinit { halfKeys?.deallocate(); halfValues?.deallocate() }

    /// Appends n rows: k, v are [B, n, heads, headDim]. Throws when the capacity would be exceeded.
    public func append(keys k: Tensor, values v: Tensor) throws {
        let row = heads * headDim
        let n = k.count / (batch * row)
        guard k.count == batch * n * row, v.count == k.count else {
            throw EngineError.kvCacheShape(expected: [batch, n, heads, headDim], found: k.shape)
        }
        guard count + n <= capacity else { throw EngineError.kvCacheFull(capacity: capacity, requested: count + n) }
        for b in 0..<batch {
            let at = (b * capacity + count) * row
            (keys.data + at).update(from: k.data + b * n * row, count: n * row)
            (values.data + at).update(from: v.data + b * n * row, count: n * row)
            if let hk = halfKeys, let hv = halfValues {
                hv_f32_to_f16(k.data + b * n * row, hk + at, n * row)
                hv_f32_to_f16(v.data + b * n * row, hv + at, n * row)
            }
        }
        count += n
    }

    /// Forgets every cached row (storage is kept).
    public func reset() { count = 0 }
}
