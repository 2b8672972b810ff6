// Append-only key/value cache for incremental (autoregressive) decoding: keys and values of every
// position decoded so far, [B, capacity, heads, headDim], filled in order. New queries attend to all
// cached keys with the causal offset (see MultiHeadAttention.forward(q:cache:)).

public final class KVCache {
    public let batch: Int, capacity: Int, heads: Int, headDim: Int
    /// [B, capacity, heads, headDim]; rows 0..<count are valid.
    public let keys: Tensor, values: Tensor
    public private(set) var count = 0

    public init(batch: Int = 1, capacity: Int, heads: Int, headDim: Int) {
        self.batch = batch; self.capacity = capacity; self.heads = heads; self.headDim = headDim
        keys = Tensor(shape: [batch, capacity, heads, headDim])
        values = Tensor(shape: [batch, capacity, heads, headDim])
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
            (keys.data + (b * capacity + count) * row).update(from: k.data + b * n * row, count: n * row)
            (values.data + (b * capacity + count) * row).update(from: v.data + b * n * row, count: n * row)
        }
        count += n
    }

    /// Forgets every cached row (storage is kept).
    public func reset() { count = 0 }
}
