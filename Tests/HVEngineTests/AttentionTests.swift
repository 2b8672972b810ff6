import CKernels
import HVCore
import XCTest
@testable import HVEngine

final class AttentionTests: XCTestCase {
    func run(_ L: AttentionLayout, blockSize: Int, seed: UInt64) -> (opt: [[Float]], naive: [[Float]]) {
        let nq = L.batch * L.qBatchStride, nk = L.batch * L.kBatchStride
        let q = Tensor(seq: [nq], SeqGradCheck.randoms(nq, seed: seed)), k = Tensor(seq: [nk], SeqGradCheck.randoms(nk, seed: seed + 1))
        let v = Tensor(seq: [nk], SeqGradCheck.randoms(nk, seed: seed + 2)), dO = Tensor(seq: [nq], SeqGradCheck.randoms(nq, seed: seed + 3))
        let ws = AttentionWorkspace(blockSize: blockSize)
        let o = Tensor(shape: [nq]), lse = Tensor(shape: [L.batch * L.heads * L.queries])
        let dq = Tensor(shape: [nq]), dk = Tensor(shape: [nk]), dv = Tensor(shape: [nk])
        dk.fill(7); dv.fill(7)   // backward must overwrite
        attentionForward(L, q: q.data, k: k.data, v: v.data, o: o.data, lse: lse.data, workspace: ws)
        attentionBackward(L, q: q.data, k: k.data, v: v.data, o: o.data, lse: lse.data, dO: dO.data, dq: dq.data, dk: dk.data, dv: dv.data, workspace: ws)
        let o2 = Tensor(shape: [nq]), dq2 = Tensor(shape: [nq]), dk2 = Tensor(shape: [nk]), dv2 = Tensor(shape: [nk])
        attentionForwardNaive(L, q: q.data, k: k.data, v: v.data, o: o2.data)
        attentionBackwardNaive(L, q: q.data, k: k.data, v: v.data, dO: dO.data, dq: dq2.data, dk: dk2.data, dv: dv2.data)
        return ([o.array, dq.array, dk.array, dv.array], [o2.array, dq2.array, dk2.array, dv2.array])
    }

    /// Blocked kernel vs naive loops, several block sizes (including ones that do not divide S) and a
    /// decoding geometry (fewer queries than keys). Tolerance 1e-5 relative to max magnitude.
    func testBlockedKernelMatchesNaive() {
        for (S, blocks) in [(1, [1, 4]), (13, [1, 4, 5, 64]), (37, [8, 16])] {
            for bs in blocks {
                let L = AttentionLayout(batch: 2, queries: S, heads: 3, headDim: 8)
                let r = run(L, blockSize: bs, seed: UInt64(S * 100 + bs))
                for (name, (a, b)) in zip(["o", "dq", "dk", "dv"], zip(r.opt, r.naive)) {
                    XCTAssertLessThan(SeqGolden.maxRelativeError(a, b), 1e-5, "S=\(S) block=\(bs) \(name)")
                }
            }
        }
        // One query (the decoding step's own kernel), head widths with and without a 16-float tail; the
        // backward checks its log-sum-exp.
        for (keys, D) in [(1, 8), (37, 20), (5, 64)] {
            let L = AttentionLayout(batch: 2, queries: 1, keys: keys, heads: 3, headDim: D)
            let r = run(L, blockSize: 4, seed: UInt64(keys * 10 + D))
            for (name, (a, b)) in zip(["o", "dq", "dk", "dv"], zip(r.opt, r.naive)) {
                XCTAssertLessThan(SeqGolden.maxRelativeError(a, b), 1e-5, "one query, keys \(keys) D \(D): \(name)")
            }
        }
        let dec = AttentionLayout(batch: 1, queries: 4, keys: 11, heads: 2, headDim: 6)
        XCTAssertEqual(dec.causalOffset, 7)
        let r = run(dec, blockSize: 3, seed: 5)
        for (a, b) in zip(r.opt, r.naive) { XCTAssertLessThan(SeqGolden.maxRelativeError(a, b), 1e-5) }
    }

    func testStridedFusedQKVLayout() {
        // q, k, v interleaved in one [B, S, 3, H, D] buffer, as a fused projection writes them.
        let B = 2, S = 9, H = 2, D = 4, row = 3 * H * D
        var L = AttentionLayout(batch: B, queries: S, heads: H, headDim: D)
        L.qRowStride = row; L.kRowStride = row; L.vRowStride = row
        L.qBatchStride = S * row; L.kBatchStride = S * row; L.vBatchStride = S * row
        let qkv = Tensor(seq: [B * S * row], SeqGradCheck.randoms(B * S * row, seed: 3))
        let o = Tensor(shape: [B * S * H * D]), o2 = Tensor(shape: [B * S * H * D]), lse = Tensor(shape: [B * H * S])
        let ws = AttentionWorkspace(blockSize: 4)
        attentionForward(L, q: qkv.data, k: qkv.data + H * D, v: qkv.data + 2 * H * D, o: o.data, lse: lse.data, workspace: ws)
        attentionForwardNaive(L, q: qkv.data, k: qkv.data + H * D, v: qkv.data + 2 * H * D, o: o2.data)
        XCTAssertLessThan(SeqGolden.maxRelativeError(o.array, o2.array), 1e-5)
        let dO = Tensor(seq: [B * S * H * D], SeqGradCheck.randoms(B * S * H * D, seed: 4))
        let dqkv = Tensor(shape: [B * S * row]), dqkv2 = Tensor(shape: [B * S * row])
        attentionBackward(L, q: qkv.data, k: qkv.data + H * D, v: qkv.data + 2 * H * D, o: o.data, lse: lse.data, dO: dO.data,
                          dq: dqkv.data, dk: dqkv.data + H * D, dv: dqkv.data + 2 * H * D, workspace: ws)
        attentionBackwardNaive(L, q: qkv.data, k: qkv.data + H * D, v: qkv.data + 2 * H * D, dO: dO.data,
                               dq: dqkv2.data, dk: dqkv2.data + H * D, dv: dqkv2.data + 2 * H * D)
        XCTAssertLessThan(SeqGolden.maxRelativeError(dqkv.array, dqkv2.array), 1e-5)
    }

    /// The naive backward itself against finite differences (Double reference forward).
    func testNaiveBackwardByFiniteDifferences() {
        let L = AttentionLayout(batch: 1, queries: 4, heads: 2, headDim: 3)
        let n = 4 * 2 * 3
        let qs = SeqGradCheck.randoms(n, seed: 1), ks = SeqGradCheck.randoms(n, seed: 2), vs = SeqGradCheck.randoms(n, seed: 3)
        let r = SeqGradCheck.randoms(n, seed: 4)
        func loss(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            var o = [Float](repeating: 0, count: n)
            o.withUnsafeMutableBufferPointer { attentionForwardNaive(L, q: q, k: k, v: v, o: $0.baseAddress!) }
            return zip(o, r).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var dq = [Float](repeating: 0, count: n), dk = dq, dv = dq
        dq.withUnsafeMutableBufferPointer { a in dk.withUnsafeMutableBufferPointer { b in dv.withUnsafeMutableBufferPointer { c in
            attentionBackwardNaive(L, q: qs, k: ks, v: vs, dO: r, dq: a.baseAddress!, dk: b.baseAddress!, dv: c.baseAddress!) } } }
        SeqGradCheck.assertClose(dq, SeqGradCheck.numeric(qs) { loss($0, ks, vs) }, atol: 1e-3, rtol: 1e-3)
        SeqGradCheck.assertClose(dk, SeqGradCheck.numeric(ks) { loss(qs, $0, vs) }, atol: 1e-3, rtol: 1e-3)
        SeqGradCheck.assertClose(dv, SeqGradCheck.numeric(vs) { loss(qs, ks, $0) }, atol: 1e-3, rtol: 1e-3)
    }

    /// Decoding one position at a time with the KV cache equals attention over the full sequence
    /// (tolerance 1e-5 relative; only summation order differs).
    func testIncrementalDecodingWithCacheEqualsFullRecomputation() throws {
        let B = 2, S = 11, H = 2, D = 8, row = H * D
        let q = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 21))
        let k = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 22))
        let v = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 23))
        let full = MultiHeadAttention(heads: H, headDim: D, blockSize: 4).forward(q: q, k: k, v: v).array
        let attn = MultiHeadAttention(heads: H, headDim: D)
        let cache = KVCache(batch: B, capacity: 16, heads: H, headDim: D)
        var decoded = [Float](repeating: 0, count: B * S * row)
        // A prompt of 3 positions at once, then one position at a time.
        var start = 0
        for n in [3] + Array(repeating: 1, count: S - 3) {
            func slice(_ t: Tensor) -> Tensor {
                let s = Tensor(shape: [B, n, H, D])
                for b in 0..<B { (s.data + b * n * row).update(from: t.data + (b * S + start) * row, count: n * row) }
                return s
            }
            try cache.append(keys: slice(k), values: slice(v))
            let o = attn.forward(q: slice(q), cache: cache)
            for b in 0..<B { for i in 0..<(n * row) { decoded[(b * S + start) * row + i] = o.data[b * n * row + i] } }
            start += n
        }
        XCTAssertEqual(cache.count, S)
        XCTAssertLessThan(SeqGolden.maxRelativeError(decoded, full), 1e-5)
        XCTAssertThrowsError(try cache.append(keys: Tensor(shape: [B, 6, H, D]), values: Tensor(shape: [B, 6, H, D]))) {
            XCTAssertEqual($0 as? EngineError, .kvCacheFull(capacity: 16, requested: 17)) }
        cache.reset()
        XCTAssertEqual(cache.count, 0)
    }

    /// One-query attention over the half-precision cache copies (CKernels' scores and weighted-sum passes) against
    /// the float32 path run on the same rows rounded to half (the reference: 1e-5 relative; only summation order
    /// differs), and against the float32 rows themselves (the cost of the rounding, a few 1e-4).
    func testOneQueryAttentionOverHalfCacheMatchesFloat() throws {
        // 32 and 128: under and at the AVX-512 values kernel's 128-wide register block.
        for D in [32, 128] { try checkHalfCacheAttention(headDim: D) }
    }

    /// The kernels' float ↔ half conversions against HVCore's integer-only reference, on a length that leaves a tail
    /// after the vector loop.
    func testHalfConversionsMatchTheReference() throws {
        try XCTSkipUnless(KVCache.halfAvailable(headDim: 16), "no half-precision KV kernels on this CPU (AVX-512, or AVX2 with F16C)")
        let x: [Float] = SeqGradCheck.randoms(45, seed: 7).enumerated().map { $0.element * Float(1 << ($0.offset % 12)) } + [0, -0.0, 65504, 1e-6]
        var h = [UInt16](repeating: 0, count: x.count)
        hv_f32_to_f16(x, &h, x.count)
        XCTAssertEqual(h, x.map(HalfFloat.bits))
        var back = [Float](repeating: 0, count: x.count)
        hv_f16_to_f32(h, &back, x.count)
        XCTAssertEqual(back, h.map(HalfFloat.float))
    }

    /// One-query attention over the 8-bit cache copies (CKernels' quantiser and two passes) against the float32 path
    /// run on the rows the codes stand for and on the query the scores pass multiplies (rounded to 16 bits), both
    /// dequantised by a Swift reference of the quantiser (1e-5 relative: only summation order differs), and against the float32 rows
    /// themselves (the cost of 8 bits, about 1e-2). S = 37 leaves tails after the eight-row scores and two-row values
    /// loops; D = 16 is one vpmaddwd a head row, 128 two 64-wide integer chunks.
    func testOneQueryAttentionOverInt8CacheMatchesFloat() throws {
        for D in [16, 64, 128] { try checkInt8CacheAttention(headDim: D) }
    }

    /// The kernel's codes and scales against the reference on rows with an all-zero head and exact halves.
    func testInt8QuantiserMatchesTheReference() throws {
        try XCTSkipUnless(KVCache.available(.int8, headDim: 16), "no 8-bit KV kernels on this CPU (AVX2 with FMA)")
        let x: [Float] = SeqGradCheck.randoms(24, seed: 5) + [Float](repeating: 0, count: 8) + [127, -63.5, 0.5, -0.5, 1.5, 2.5, 0, 1]
        var codes = [Int8](repeating: 0, count: x.count), scales = [Float](repeating: -1, count: x.count / 8)
        hv_quantize_i8(x, &codes, &scales, x.count / 8, 8)
        let (refCodes, refScales) = Self.quantiseReference(x, group: 8)
        XCTAssertEqual(codes, refCodes)
        XCTAssertEqual(scales, refScales)
        XCTAssertEqual(scales[3], 0, "an all-zero group")
        XCTAssertEqual(Array(codes[32..<40]), [127, -64, 0, 0, 2, 2, 0, 1], "round to nearest even")
    }

    /// scale = max |x| / levels per group, code = x · (levels / max |x|) rounded to nearest even: the cache's 8-bit
    /// codes (127 levels) and the scores pass's 16-bit query (32767).
    static func quantiseReference(_ x: [Float], group: Int, levels: Float = 127) -> (codes: [Int8], scales: [Float]) {
        let (codes, scales) = quantiseReferenceWide(x, group: group, levels: levels)
        return (codes.map { Int8($0) }, scales)
    }

    static func quantiseReferenceWide(_ x: [Float], group: Int, levels: Float) -> (codes: [Int32], scales: [Float]) {
        var codes: [Int32] = [], scales: [Float] = []
        for g in stride(from: 0, to: x.count, by: group) {
            let m = x[g..<(g + group)].map(abs).max()!
            let inv: Float = m > 0 ? levels / m : 0
            scales.append(m / levels)
            codes += x[g..<(g + group)].map { Int32(($0 * inv).rounded(.toNearestOrEven)) }
        }
        return (codes, scales)
    }

    func checkInt8CacheAttention(headDim D: Int) throws {
        let B = 2, S = 37, H = 3, row = H * D
        try XCTSkipUnless(KVCache.available(.int8, headDim: D), "no 8-bit KV kernels on this CPU (AVX2 with FMA)")
        let q = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 41))
        let k = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 42))
        let v = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 43))
        func dequantised(_ t: Tensor, levels: Float = 127) -> Tensor {
            let (codes, scales) = Self.quantiseReferenceWide(t.array, group: D, levels: levels)
            return Tensor(seq: t.shape, codes.indices.map { Float(codes[$0]) * scales[$0 / D] })
        }
        let (kr, vr, qr) = (dequantised(k), dequantised(v), dequantised(q, levels: 32767))
        XCTAssertGreaterThan(SeqGolden.maxRelativeError(kr.array, k.array), 0, "the codes must change the keys")
        let (worstReference, worstExact) = try oneQueryErrors(.int8, q: q, k: k, v: v, referenceQuery: qr, referenceKeys: kr,
                                                              referenceValues: vr)
        XCTAssertLessThan(worstReference, 1e-5)
        XCTAssertLessThan(worstExact, 3e-2)
        XCTAssertGreaterThan(worstExact, 0)
    }

    func checkHalfCacheAttention(headDim D: Int) throws {
        let B = 2, S = 37, H = 3, row = H * D
        try XCTSkipUnless(KVCache.halfAvailable(headDim: D), "no half-precision KV kernels on this CPU (AVX-512, or AVX2 with F16C)")
        let q = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 31))
        let k = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 32))
        let v = Tensor(seq: [B, S, H, D], SeqGradCheck.randoms(B * S * row, seed: 33))
        func rounded(_ t: Tensor) -> Tensor {
            let h = [UInt16](unsafeUninitializedCapacity: t.count) { b, n in hv_f32_to_f16(t.data, b.baseAddress!, t.count); n = t.count }
            let r = Tensor(shape: t.shape)
            hv_f16_to_f32(h, r.data, t.count)
            return r
        }
        let (kr, vr) = (rounded(k), rounded(v))
        XCTAssertGreaterThan(SeqGolden.maxRelativeError(kr.array, k.array), 0, "the rounding must change the keys")
        let (worstReference, worstExact) = try oneQueryErrors(.half, q: q, k: k, v: v, referenceQuery: q, referenceKeys: kr,
                                                              referenceValues: vr)
        XCTAssertLessThan(worstReference, 1e-5)
        XCTAssertLessThan(worstExact, 3e-3)
        XCTAssertGreaterThan(worstExact, 0)
    }

    /// Decodes the [B, S, H, D] rows one position at a time through a cache of `precision` and, beside it, through
    /// float32 caches of the exact rows and of the reference rows (what the copies stand for; `referenceQuery`: the
    /// query the kernels multiply). Returns the largest relative differences from the reference and from the exact.
    func oneQueryErrors(_ precision: KVCache.Precision, q: Tensor, k: Tensor, v: Tensor, referenceQuery qr: Tensor,
                        referenceKeys kr: Tensor, referenceValues vr: Tensor) throws -> (reference: Float, exact: Float) {
        let B = q.shape[0], S = q.shape[1], H = q.shape[2], D = q.shape[3], row = H * D
        let copy = KVCache(batch: B, capacity: S, heads: H, headDim: D, precision: precision)
        let exact = KVCache(batch: B, capacity: S, heads: H, headDim: D)
        let reference = KVCache(batch: B, capacity: S, heads: H, headDim: D)
        XCTAssertEqual(copy.precision, precision)
        XCTAssertEqual(copy.halfKeys != nil, precision == .half)
        XCTAssertEqual(copy.int8Keys != nil, precision == .int8)
        XCTAssertNil(exact.halfKeys)
        XCTAssertNil(exact.int8Keys)
        let attn = MultiHeadAttention(heads: H, headDim: D)
        var worstReference: Float = 0, worstExact: Float = 0
        for t in 0..<S {
            func at(_ x: Tensor) -> Tensor {
                let s = Tensor(shape: [B, 1, H, D])
                for b in 0..<B { (s.data + b * row).update(from: x.data + (b * S + t) * row, count: row) }
                return s
            }
            try copy.append(keys: at(k), values: at(v))
            try exact.append(keys: at(k), values: at(v))
            try reference.append(keys: at(kr), values: at(vr))
            let o = attn.forward(q: at(q), cache: copy).array
            worstReference = max(worstReference, SeqGolden.maxRelativeError(o, attn.forward(q: at(qr), cache: reference).array))
            worstExact = max(worstExact, SeqGolden.maxRelativeError(o, attn.forward(q: at(q), cache: exact).array))
        }
        return (worstReference, worstExact)
    }
}
