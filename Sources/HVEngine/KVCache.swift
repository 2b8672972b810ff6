// Append-only key/value cache for incremental (autoregressive) decoding: keys and values of every
// position decoded so far, [B, capacity, heads, headDim], filled in order. New queries attend to all
// cached keys with the causal offset (see MultiHeadAttention.forward(q:cache:)).
import CKernels

public final class KVCache {
    /// What one-query attention (every decoding step after the prompt) reads. Late in a clip each token reads the
    /// whole cache, so fewer bytes a number is most of a proportionally shorter step; queries, scores and sums stay
    /// float32 in every case.
    public enum Precision: String, CaseIterable, Sendable {
        /// The float32 rows themselves.
        case float32
        /// IEEE half copies (AVX-512, or AVX2 with F16C; headDim a multiple of 16): 10 mantissa bits.
        case half
        /// 8-bit copies with one float scale per position and head (AVX2 with FMA; headDim a multiple of 16): about
        /// 0.4 % of a head row's largest entry at worst (round to nearest), 68 bytes a 64-number head row.
        case int8
    }

    public let batch: Int, capacity: Int, heads: Int, headDim: Int
    /// [B, capacity, heads, headDim]; rows 0..<count are valid. Multi-query attention (the prompt) reads these.
    public let keys: Tensor, values: Tensor
    /// What one-query attention reads: `precision` where this CPU and head size allow it, else float32.
    public let precision: Precision
    /// The half copies of `keys` and `values` (same layout), with `precision` half.
    public let halfKeys: UnsafeMutablePointer<UInt16>?, halfValues: UnsafeMutablePointer<UInt16>?
    /// The 8-bit copies (same layout) and their scales [B, capacity, heads] (x ≈ scale · code), with `precision` int8.
    public let int8Keys: UnsafeMutablePointer<Int8>?, int8Values: UnsafeMutablePointer<Int8>?
    public let keyScales: UnsafeMutablePointer<Float>?, valueScales: UnsafeMutablePointer<Float>?
    public private(set) var count = 0

    /// Whether a cache asking for `precision` with this head size gets it on this CPU.
    public static func available(_ precision: Precision, headDim: Int) -> Bool {
        switch precision {
        case .float32: return true
        case .half: return halfKernels && headDim % 16 == 0
        case .int8: return int8Kernels && headDim % 16 == 0
        }
    }
    public static func halfAvailable(headDim: Int) -> Bool { available(.half, headDim: headDim) }
    private static let halfKernels = hv_kv_half_available() != 0
    private static let int8Kernels = hv_kv_int8_available() != 0

    /// What the generator's decoder asks for; tests compare the precisions, benchmarks time them.
    public static var defaultPrecision = Precision.int8

    public init(batch: Int = 1, capacity: Int, heads: Int, headDim: Int, precision: Precision = .float32) {
        self.batch = batch; self.capacity = capacity; self.heads = heads; self.headDim = headDim
        keys = Tensor(shape: [batch, capacity, heads, headDim])
        values = Tensor(shape: [batch, capacity, heads, headDim])
        self.precision = KVCache.available(precision, headDim: headDim) ? precision : .float32
        let n = batch * capacity * heads * headDim
        (halfKeys, halfValues) = self.precision == .half ? (.allocate(capacity: n), .allocate(capacity: n)) : (nil, nil)
        (int8Keys, int8Values) = self.precision == .int8 ? (.allocate(capacity: n), .allocate(capacity: n)) : (nil, nil)
        let s = batch * capacity * heads
        (keyScales, valueScales) = self.precision == .int8 ? (.allocate(capacity: s), .allocate(capacity: s)) : (nil, nil)
    }

    deinit {
        halfKeys?.deallocate(); halfValues?.deallocate()
        int8Keys?.deallocate(); int8Values?.deallocate(); keyScales?.deallocate(); valueScales?.deallocate()
    }

    /// `times` copies of `source`'s batch items side by side — item d·B + i holds source item i's rows, in every
    /// precision the source keeps — with room for `capacity` positions (at least the source's count): one prompt
    /// prefilled once and continued as several drafts.
    public convenience init(repeating source: KVCache, times: Int, capacity: Int? = nil) {
        self.init(batch: source.batch * times, capacity: Swift.max(capacity ?? source.capacity, source.count),
                  heads: source.heads, headDim: source.headDim, precision: source.precision)
        let row = heads * headDim, n = source.count
        for d in 0..<times {
            for i in 0..<source.batch {
                let to = (d * source.batch + i) * self.capacity, from = i * source.capacity
                (keys.data + to * row).update(from: source.keys.data + from * row, count: n * row)
                (values.data + to * row).update(from: source.values.data + from * row, count: n * row)
                if let hk = halfKeys, let hv = halfValues, let sk = source.halfKeys, let sv = source.halfValues {
                    (hk + to * row).update(from: sk + from * row, count: n * row)
                    (hv + to * row).update(from: sv + from * row, count: n * row)
                }
                if let qk = int8Keys, let qv = int8Values, let sk = source.int8Keys, let sv = source.int8Values,
                   let ks = keyScales, let vs = valueScales, let sks = source.keyScales, let svs = source.valueScales {
                    (qk + to * row).update(from: sk + from * row, count: n * row)
                    (qv + to * row).update(from: sv + from * row, count: n * row)
                    (ks + to * heads).update(from: sks + from * heads, count: n * heads)
                    (vs + to * heads).update(from: svs + from * heads, count: n * heads)
                }
            }
        }
        count = n
    }

    /// Appends n rows: k, v are [B, n, heads, headDim]. Throws when the capacity would be exceeded.
    public func append(keys k: Tensor, values v: Tensor) throws {
        let row = heads * headDim
        let n = k.count / (batch * row)
        guard k.count == batch * n * row, v.count == k.count else {
            throw EngineError.kvCacheShape(expected: [batch, n, heads, headDim], found: k.shape)
        }
        guard count + n <= capacity else { throw EngineError.kvCacheFull(capacity: capacity, requested: count + n) }
        for b in 0..<batch {
            let at = (b * capacity + count) * row, from = b * n * row
            (keys.data + at).update(from: k.data + from, count: n * row)
            (values.data + at).update(from: v.data + from, count: n * row)
            if let hk = halfKeys, let hv = halfValues {
                hv_f32_to_f16(k.data + from, hk + at, n * row)
                hv_f32_to_f16(v.data + from, hv + at, n * row)
            }
            if let qk = int8Keys, let qv = int8Values, let sk = keyScales, let sv = valueScales {
                let scalesAt = (b * capacity + count) * heads
                hv_quantize_i8(k.data + from, qk + at, sk + scalesAt, n * heads, Int32(headDim))
                hv_quantize_i8(v.data + from, qv + at, sv + scalesAt, n * heads, Int32(headDim))
            }
        }
        count += n
    }

    /// Forgets every cached row (storage is kept).
    public func reset() { count = 0 }
}
