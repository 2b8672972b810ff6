// Multi-head causal scaled-dot-product attention (Vaswani et al. 2017), forward and backward, on
// q/k/v laid out [B, S, heads, headDim] (any row stride, so a fused QKV projection buffer works directly).
// Optimised kernel: per (batch, head) and per block of `blockSize` queries, scores = Q·Kᵀ and O = P·V are
// SGEMMs over only the keys the block can see (causal), softmax uses the vectorised ExpKernel, and only the
// log-sum-exp per query is kept for backward (P is recomputed blockwise, flash-attention style), so memory
// stays O(blockSize·S) at S = 2448. `attentionForwardNaive`/`attentionBackwardNaive` are the loop references.
import CKernels
import COpenBLAS
import Dispatch
import Foundation

/// Geometry of one attention call. Query i (0-based within the call) sits at key position
/// `causalOffset + i` and sees keys 0...causalOffset+i (training: offset 0; decoding: cached − new).
public struct AttentionLayout: Equatable {
    public var batch: Int
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var headDim: Int
    public var causalOffset: Int
    /// Floats between consecutive positions of q (and dq, o, dO share `oRowStride`), k/dk, v/dv.
    public var qRowStride: Int, kRowStride: Int, vRowStride: Int, oRowStride: Int
    /// Floats between consecutive batch items of q, k, v, o.
    public var qBatchStride: Int, kBatchStride: Int, vBatchStride: Int, oBatchStride: Int
    /// Softmax scale, 1/√headDim by default.
    public var scale: Float

    /// Dense [B, S, H, D] tensors; `keys` defaults to `queries` (self-attention).
    public init(batch: Int, queries: Int, keys: Int? = nil, heads: Int, headDim: Int, causalOffset: Int? = nil) {
        let nk = keys ?? queries
        self.batch = batch; self.queries = queries; self.keys = nk; self.heads = heads; self.headDim = headDim
        self.causalOffset = causalOffset ?? (nk - queries)
        let row = heads * headDim
        qRowStride = row; kRowStride = row; vRowStride = row; oRowStride = row
        qBatchStride = queries * row; kBatchStride = nk * row; vBatchStride = nk * row; oBatchStride = queries * row
        scale = 1 / Float(headDim).squareRoot()
    }

    /// Keys visible to query i.
    @inline(__always) func visible(_ i: Int) -> Int { Swift.min(keys, causalOffset + i + 1) }
}

/// Scratch buffers of the blocked kernel (one set per worker), reused across calls.
public final class AttentionWorkspace {
    public let blockSize: Int
    var scores: [Tensor] = [], dScores: [Tensor] = [], rowScale: [Tensor] = []
    public init(blockSize: Int = 128) { self.blockSize = Swift.max(1, blockSize) }
    /// Room for a block of up to `blockSize` of `queries` rows against `keys` keys per worker (`backward`: the
    /// dScores blocks too). Buffers grow at least twofold: decoding asks for one more key every call, and
    /// reallocating (and zeroing) blockSize·keys floats per call was most of the cost of a late token.
    func reserve(queries: Int, keys: Int, workers: Int, backward: Bool) {
        while scores.count < workers {
            scores.append(Tensor(shape: [0])); dScores.append(Tensor(shape: [0])); rowScale.append(Tensor(shape: [blockSize]))
        }
        let need = Swift.min(blockSize, Swift.max(queries, 1)) * keys
        for w in 0..<workers {
            for t in backward ? [scores[w], dScores[w]] : [scores[w]] where t.count < need {
                t.resize([Swift.max(need, 2 * t.count)])
            }
        }
    }
}

/// Runs `body(item, worker)` for the batch·heads items: spread over the cores with OpenBLAS single-threaded
/// inside (one SGEMM stream per core, no OpenBLAS spin-waiting against our workers), or serially with
/// OpenBLAS's own threads when there are fewer items than cores.
func forEachHead(_ items: Int, _ body: (Int, Int) -> Void) {
    let workers = Swift.min(Parallel.workers, items)
    if workers <= 1 { for i in 0..<items { body(i, 0) }; return }
    let per = (items + workers - 1) / workers
    BLAS.singleThreaded {
        Parallel.perform(workers) { w in
            for i in (w * per)..<Swift.min(items, (w + 1) * per) { body(i, w) }
        }
    }
}

/// o = softmax(q·kᵀ·scale + causal mask)·v; lse (optional, [B, H, queries]) receives each row's log-sum-exp.
public func attentionForward(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                             o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?, workspace ws: AttentionWorkspace) {
    if L.queries == 1 && L.heads <= ws.blockSize { attentionForwardOneQuery(L, q: q, k: k, v: v, o: o, lse: lse, workspace: ws); return }
    let items = L.batch * L.heads
    ws.reserve(queries: L.queries, keys: L.keys, workers: Swift.min(Parallel.workers, Swift.max(items, 1)), backward: false)
    let D = L.headDim, Bq = ws.blockSize, scale = L.scale
    let scratch = ws.scores.map { $0.data }, invSums = ws.rowScale.map { $0.data }
    forEachHead(items) { item, worker in
        let b = item / L.heads, h = item % L.heads
        let S = scratch[worker]
        let qh = q + b * L.qBatchStride + h * D, kh = k + b * L.kBatchStride + h * D
        let vh = v + b * L.vBatchStride + h * D, oh = o + b * L.oBatchStride + h * D
        let lseH = lse.map { $0 + item * L.queries }
        var i0 = 0
        while i0 < L.queries {
            let nq = Swift.min(Bq, L.queries - i0)
            let nk = L.visible(i0 + nq - 1)              // keys the last query of the block sees
            if nk <= 0 {                                 // no visible key (only with a negative offset)
                for i in 0..<nq { (oh + (i0 + i) * L.oRowStride).update(repeating: 0, count: D); lseH?[i0 + i] = -.infinity }
                i0 += nq; continue
            }
            BLAS.gemm(transB: true, m: nq, n: nk, k: D, a: qh + i0 * L.qRowStride, lda: L.qRowStride,
                      b: kh, ldb: L.kRowStride, c: S, ldc: nk)
            // Unnormalised P = exp(s·scale − max); the 1/Σ goes onto the D-wide output rows after P·V.
            let inv = invSums[worker]
            for i in 0..<nq {
                let row = S + i * nk, n = L.visible(i0 + i)
                if n <= 0 { row.update(repeating: 0, count: nk); lseH?[i0 + i] = -.infinity; inv[i] = 0; continue }
                let m = ExpKernel.max(row, count: n) * scale
                let sum = ExpKernel.expSum(row, row, count: n, scale: scale, shift: m)
                inv[i] = 1 / sum
                if n < nk { (row + n).update(repeating: 0, count: nk - n) }
                lseH?[i0 + i] = m + logf(sum)
            }
            let oBlock = oh + i0 * L.oRowStride
            BLAS.gemm(m: nq, n: D, k: nk, a: S, lda: nk, b: vh, ldb: L.vRowStride, c: oBlock, ldc: L.oRowStride)
            for i in 0..<nq { let r = oBlock + i * L.oRowStride, f = inv[i]; for d in 0..<D { r[d] *= f } }
            i0 += nq
        }
    }
}

/// One query per batch item, the decoding step: every head at once, walking the keys and values in position
/// order, so each cached row (all heads side by side) is read once, front to back. Two GEMVs per head would read
/// the same rows once per head with a stride, and late in a clip, when the cache no longer fits the caches, that
/// is what a token costs.
func attentionForwardOneQuery(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              o: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>?, workspace ws: AttentionWorkspace) {
    let H = L.heads, D = L.headDim, n = L.visible(0)
    ws.reserve(queries: H, keys: Swift.max(n, 1), workers: Swift.min(Parallel.workers, Swift.max(L.batch, 1)), backward: false)
    let scratch = ws.scores.map { $0.data }, invSums = ws.rowScale.map { $0.data }
    let V = 16, whole = D / V * V
    forEachHead(L.batch) { b, worker in
        let qb = q + b * L.qBatchStride, ob = o + b * L.oBatchStride
        if n <= 0 {
            ob.update(repeating: 0, count: H * D)
            for h in 0..<H { lse?[b * H + h] = -.infinity }
            return
        }
        let S = scratch[worker], inv = invSums[worker]   // S: [H, n] scores, then probabilities
        for j in 0..<n {
            let row = k + b * L.kBatchStride + j * L.kRowStride
            for h in 0..<H {
                let kh = row + h * D, qh = qb + h * D
                var acc = SIMD16<Float>()
                var d = 0
                while d < whole {
                    acc += UnsafeRawPointer(qh + d).loadUnaligned(as: SIMD16<Float>.self) * UnsafeRawPointer(kh + d).loadUnaligned(as: SIMD16<Float>.self)
                    d += V
                }
                var dot = acc.sum()
                while d < D { dot += qh[d] * kh[d]; d += 1 }
                S[h * n + j] = dot
            }
        }
        for h in 0..<H {
            let row = S + h * n
            let m = ExpKernel.max(row, count: n) * L.scale
            let sum = ExpKernel.expSum(row, row, count: n, scale: L.scale, shift: m)
            inv[h] = 1 / sum
            lse?[b * H + h] = m + logf(sum)
        }
        ob.update(repeating: 0, count: H * D)
        for j in 0..<n {
            let row = v + b * L.vBatchStride + j * L.vRowStride
            for h in 0..<H {
                let p = S[h * n + j], vh = row + h * D, oh = ob + h * D
                var d = 0
                while d < whole {
                    let acc = UnsafeRawPointer(oh + d).loadUnaligned(as: SIMD16<Float>.self) + p * UnsafeRawPointer(vh + d).loadUnaligned(as: SIMD16<Float>.self)
                    UnsafeMutableRawPointer(oh + d).storeBytes(of: acc, as: SIMD16<Float>.self)
                    d += V
                }
                while d < D { oh[d] += p * vh[d]; d += 1 }
            }
        }
        for h in 0..<H { let oh = ob + h * D, f = inv[h]; for d in 0..<D { oh[d] *= f } }
    }
}

/// `attentionForwardOneQuery` over a cache copy read by CKernels' two passes: `scores(b, S)` writes batch item b's
/// S[h·n + j] = q_h·k_j over the n visible positions, `values(b, S, o)` writes o_h = Σ_j S[h·n + j]·v_j; the softmax
/// between them stays in float32 as above.
private func attentionForwardOneQueryPasses(_ L: AttentionLayout, o: UnsafeMutablePointer<Float>, workspace ws: AttentionWorkspace,
                                            scores: (Int, UnsafeMutablePointer<Float>) -> Void,
                                            values: (Int, UnsafePointer<Float>, UnsafeMutablePointer<Float>) -> Void) {
    let H = L.heads, D = L.headDim, n = L.visible(0)
    ws.reserve(queries: H, keys: Swift.max(n, 1), workers: Swift.min(Parallel.workers, Swift.max(L.batch, 1)), backward: false)
    let scratch = ws.scores.map { $0.data }, invSums = ws.rowScale.map { $0.data }
    forEachHead(L.batch) { b, worker in
        let ob = o + b * L.oBatchStride
        guard n > 0 else { ob.update(repeating: 0, count: H * D); return }
        let S = scratch[worker], inv = invSums[worker]
        scores(b, S)
        for h in 0..<H {
            let row = S + h * n
            let m = ExpKernel.max(row, count: n) * L.scale
            inv[h] = 1 / ExpKernel.expSum(row, row, count: n, scale: L.scale, shift: m)
        }
        values(b, S, ob)
        for h in 0..<H { let oh = ob + h * D, f = inv[h]; for d in 0..<D { oh[d] *= f } }
    }
}

/// Over half-precision keys and values (KVCache.halfKeys). headDim must be a multiple of 16; the row strides are the
/// layout's.
func attentionForwardOneQueryHalf(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<UInt16>,
                                  v: UnsafePointer<UInt16>, o: UnsafeMutablePointer<Float>, workspace ws: AttentionWorkspace) {
    let H = Int32(L.heads), D = Int32(L.headDim), n = Int32(L.visible(0))
    attentionForwardOneQueryPasses(L, o: o, workspace: ws,
        scores: { b, S in hv_attend_scores_f16(q + b * L.qBatchStride, k + b * L.kBatchStride, n, H, D, L.kRowStride, S) },
        values: { b, S, ob in hv_attend_values_f16(S, v + b * L.vBatchStride, n, H, D, L.vRowStride, ob) })
}

/// Over 8-bit keys and values (KVCache.int8Keys) with their per-position, per-head scales ([B, capacity, heads]:
/// `scaleBatchStride` apart). headDim must be a multiple of 16.
func attentionForwardOneQueryInt8(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Int8>, kScales: UnsafePointer<Float>,
                                  v: UnsafePointer<Int8>, vScales: UnsafePointer<Float>, scaleBatchStride: Int,
                                  o: UnsafeMutablePointer<Float>, workspace ws: AttentionWorkspace) {
    let H = Int32(L.heads), D = Int32(L.headDim), n = Int32(L.visible(0))
    attentionForwardOneQueryPasses(L, o: o, workspace: ws,
        scores: { b, S in
            hv_attend_scores_i8(q + b * L.qBatchStride, k + b * L.kBatchStride, kScales + b * scaleBatchStride, n, H, D,
                                L.kRowStride, S)
        },
        values: { b, S, ob in
            hv_attend_values_i8(S, v + b * L.vBatchStride, vScales + b * scaleBatchStride, n, H, D, L.vRowStride, ob)
        })
}

/// Backward of `attentionForward` given its output `o` and `lse`. Overwrites dq, dk, dv (strides as q, k, v).
public func attentionBackward(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                              o: UnsafePointer<Float>, lse: UnsafePointer<Float>, dO: UnsafePointer<Float>,
                              dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                              workspace ws: AttentionWorkspace) {
    let items = L.batch * L.heads
    ws.reserve(queries: L.queries, keys: L.keys, workers: Swift.min(Parallel.workers, Swift.max(items, 1)), backward: true)
    let D = L.headDim, Bq = ws.blockSize, scale = L.scale
    let scratchP = ws.scores.map { $0.data }, scratchD = ws.dScores.map { $0.data }
    forEachHead(items) { item, worker in
        let b = item / L.heads, h = item % L.heads
        let P = scratchP[worker], dS = scratchD[worker]
        let qh = q + b * L.qBatchStride + h * D, kh = k + b * L.kBatchStride + h * D
        let vh = v + b * L.vBatchStride + h * D, oh = o + b * L.oBatchStride + h * D
        let dOh = dO + b * L.oBatchStride + h * D
        let dqh = dq + b * L.qBatchStride + h * D, dkh = dk + b * L.kBatchStride + h * D
        let dvh = dv + b * L.vBatchStride + h * D
        for j in 0..<L.keys {
            (dkh + j * L.kRowStride).update(repeating: 0, count: D)
            (dvh + j * L.vRowStride).update(repeating: 0, count: D)
        }
        let lseH = lse + item * L.queries
        var i0 = 0
        while i0 < L.queries {
            let nq = Swift.min(Bq, L.queries - i0)
            let nk = L.visible(i0 + nq - 1)
            if nk <= 0 {
                for i in 0..<nq { (dqh + (i0 + i) * L.qRowStride).update(repeating: 0, count: D) }
                i0 += nq; continue
            }
            // P = exp(Q·Kᵀ·scale − lse) on visible keys (recomputed); dP = dO·Vᵀ.
            BLAS.gemm(transB: true, m: nq, n: nk, k: D, a: qh + i0 * L.qRowStride, lda: L.qRowStride,
                      b: kh, ldb: L.kRowStride, c: P, ldc: nk)
            BLAS.gemm(transB: true, m: nq, n: nk, k: D, a: dOh + i0 * L.oRowStride, lda: L.oRowStride,
                      b: vh, ldb: L.vRowStride, c: dS, ldc: nk)
            for i in 0..<nq {
                let row = P + i * nk, drow = dS + i * nk, n = Swift.max(L.visible(i0 + i), 0)
                let orow = oh + (i0 + i) * L.oRowStride, dorow = dOh + (i0 + i) * L.oRowStride
                var dot: Float = 0                       // D_i = Σ_d dO·O = Σ_j P·dP
                for d in 0..<D { dot += orow[d] * dorow[d] }
                if n > 0 { _ = ExpKernel.expSum(row, row, count: n, scale: scale, shift: lseH[i0 + i]) }
                for j in 0..<n { drow[j] = row[j] * (drow[j] - dot) * scale }   // dS = P ∘ (dP − D_i) · scale
                if n < nk { (row + n).update(repeating: 0, count: nk - n); (drow + n).update(repeating: 0, count: nk - n) }
            }
            // dV += Pᵀ·dO, dQ = dS·K, dK += dSᵀ·Q
            BLAS.gemm(transA: true, m: nk, n: D, k: nq, a: P, lda: nk, b: dOh + i0 * L.oRowStride, ldb: L.oRowStride,
                      beta: 1, c: dvh, ldc: L.vRowStride)
            BLAS.gemm(m: nq, n: D, k: nk, a: dS, lda: nk, b: kh, ldb: L.kRowStride, c: dqh + i0 * L.qRowStride, ldc: L.qRowStride)
            BLAS.gemm(transA: true, m: nk, n: D, k: nq, a: dS, lda: nk, b: qh + i0 * L.qRowStride, ldb: L.qRowStride,
                      beta: 1, c: dkh, ldc: L.kRowStride)
            i0 += nq
        }
    }
}

// MARK: - Naive references (Double accumulation, explicit loops; for tests and as documentation)

public func attentionForwardNaive(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                  o: UnsafeMutablePointer<Float>) {
    let D = L.headDim
    var p = [Double](repeating: 0, count: L.keys)
    for b in 0..<L.batch { for h in 0..<L.heads { for i in 0..<L.queries {
        let qi = q + b * L.qBatchStride + i * L.qRowStride + h * D
        let n = L.visible(i)
        var m = -Double.infinity
        for j in 0..<max(n, 0) {
            let kj = k + b * L.kBatchStride + j * L.kRowStride + h * D
            var s = 0.0
            for d in 0..<D { s += Double(qi[d]) * Double(kj[d]) }
            p[j] = s * Double(L.scale); m = max(m, p[j])
        }
        var sum = 0.0
        for j in 0..<max(n, 0) { p[j] = exp(p[j] - m); sum += p[j] }
        let oi = o + b * L.oBatchStride + i * L.oRowStride + h * D
        for d in 0..<D {
            var acc = 0.0
            for j in 0..<max(n, 0) { acc += p[j] / sum * Double(v[b * L.vBatchStride + j * L.vRowStride + h * D + d]) }
            oi[d] = Float(acc)
        }
    } } }
}

public func attentionBackwardNaive(_ L: AttentionLayout, q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                   dO: UnsafePointer<Float>, dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>,
                                   dv: UnsafeMutablePointer<Float>) {
    let D = L.headDim
    var dkAcc = [Double](repeating: 0, count: L.batch * L.keys * L.heads * D)
    var dvAcc = dkAcc
    for b in 0..<L.batch { for h in 0..<L.heads { for i in 0..<L.queries {
        let n = max(L.visible(i), 0)
        let qi = q + b * L.qBatchStride + i * L.qRowStride + h * D
        let doi = dO + b * L.oBatchStride + i * L.oRowStride + h * D
        var p = [Double](repeating: 0, count: n)
        var m = -Double.infinity
        for j in 0..<n {
            var s = 0.0
            for d in 0..<D { s += Double(qi[d]) * Double(k[b * L.kBatchStride + j * L.kRowStride + h * D + d]) }
            p[j] = s * Double(L.scale); m = max(m, p[j])
        }
        var sum = 0.0
        for j in 0..<n { p[j] = exp(p[j] - m); sum += p[j] }
        for j in 0..<n { p[j] /= sum }
        var dp = [Double](repeating: 0, count: n)
        var dot = 0.0
        for j in 0..<n {
            for d in 0..<D { dp[j] += Double(doi[d]) * Double(v[b * L.vBatchStride + j * L.vRowStride + h * D + d]) }
            dot += p[j] * dp[j]
        }
        var dqi = [Double](repeating: 0, count: D)
        for j in 0..<n {
            let ds = p[j] * (dp[j] - dot) * Double(L.scale)
            for d in 0..<D {
                let kv = Double(k[b * L.kBatchStride + j * L.kRowStride + h * D + d])
                dqi[d] += ds * kv
                dkAcc[((b * L.keys + j) * L.heads + h) * D + d] += ds * Double(qi[d])
                dvAcc[((b * L.keys + j) * L.heads + h) * D + d] += p[j] * Double(doi[d])
            }
        }
        for d in 0..<D { dq[b * L.qBatchStride + i * L.qRowStride + h * D + d] = Float(dqi[d]) }
    } } }
    for b in 0..<L.batch { for j in 0..<L.keys { for h in 0..<L.heads { for d in 0..<D {
        dk[b * L.kBatchStride + j * L.kRowStride + h * D + d] = Float(dkAcc[((b * L.keys + j) * L.heads + h) * D + d])
        dv[b * L.vBatchStride + j * L.vRowStride + h * D + d] = Float(dvAcc[((b * L.keys + j) * L.heads + h) * D + d])
    } } } }
}

/// Layer form: owns its output, log-sum-exp and input-gradient tensors and reuses them across steps.
public final class MultiHeadAttention {
    public let heads: Int
    public let headDim: Int
    public let workspace: AttentionWorkspace
    public let output = Tensor(shape: [0])
    public let gradQ = Tensor(shape: [0]), gradK = Tensor(shape: [0]), gradV = Tensor(shape: [0])
    let lse = Tensor(shape: [0])
    private var saved: (q: Tensor, k: Tensor, v: Tensor, layout: AttentionLayout)?

    public init(heads: Int, headDim: Int, blockSize: Int = 128) {
        self.heads = heads; self.headDim = headDim
        workspace = AttentionWorkspace(blockSize: blockSize)
    }

    /// Causal self-attention. q, k, v: [B, S, heads, headDim] -> layer-owned o of the same shape.
    /// Keeps references to q, k, v for `backward`; do not modify them in between.
    public func forward(q: Tensor, k: Tensor, v: Tensor) -> Tensor {
        let B = q.shape[0], S = q.shape[1]
        let L = AttentionLayout(batch: B, queries: S, heads: heads, headDim: headDim)
        output.resize(q.shape)
        lse.resize([B, heads, S])
        attentionForward(L, q: q.data, k: k.data, v: v.data, o: output.data, lse: lse.data, workspace: workspace)
        saved = (q, k, v, L)
        return output
    }

    /// dO: [B, S, heads, headDim] -> layer-owned (dq, dk, dv).
    public func backward(_ dOut: Tensor) -> (dq: Tensor, dk: Tensor, dv: Tensor) {
        guard let s = saved else { return (gradQ, gradK, gradV) }
        gradQ.resize(s.q.shape); gradK.resize(s.k.shape); gradV.resize(s.v.shape)
        attentionBackward(s.layout, q: s.q.data, k: s.k.data, v: s.v.data, o: output.data, lse: lse.data, dO: dOut.data,
                          dq: gradQ.data, dk: gradK.data, dv: gradV.data, workspace: workspace)
        return (gradQ, gradK, gradV)
    }

    /// Incremental decoding: q holds the [B, n, heads, headDim] queries of the rows most recently appended
    /// to `cache`; each attends to every cached key up to its own position. -> layer-owned o [B, n, heads, headDim].
    public func forward(q: Tensor, cache: KVCache) -> Tensor {
        let B = q.shape[0], n = q.shape[1]
        var L = AttentionLayout(batch: B, queries: n, keys: cache.count, heads: heads, headDim: headDim,
                                causalOffset: cache.count - n)
        L.kBatchStride = cache.capacity * heads * headDim
        L.vBatchStride = L.kBatchStride
        output.resize(q.shape)
        if n == 1, let qk = cache.int8Keys, let qv = cache.int8Values, let sk = cache.keyScales, let sv = cache.valueScales,
           L.heads <= workspace.blockSize {
            attentionForwardOneQueryInt8(L, q: q.data, k: qk, kScales: sk, v: qv, vScales: sv,
                                         scaleBatchStride: cache.capacity * heads, o: output.data, workspace: workspace)
        } else if n == 1, let hk = cache.halfKeys, let hv = cache.halfValues, L.heads <= workspace.blockSize {
            attentionForwardOneQueryHalf(L, q: q.data, k: hk, v: hv, o: output.data, workspace: workspace)
        } else {
            attentionForward(L, q: q.data, k: cache.keys.data, v: cache.values.data, o: output.data, lse: nil, workspace: workspace)
        }
        saved = nil
        return output
    }
}
