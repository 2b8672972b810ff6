// One Llama-style decoder block (Touvron et al. 2023): pre-RMSNorm causal self-attention with rotary positions,
// then a pre-RMSNorm SwiGLU feed-forward, each added to the residual stream, with the dropouts of Table 2
// (residual branches, SwiGLU hidden). Three entry points: `forward`/`backward` for training on whole
// sequences [B, S, C], and `step` for decoding new rows against a KV cache. The projections are SGEMMs
// (HVEngine.Linear), attention is HVEngine's blocked causal kernel.
import Foundation
import HVEngine

/// Dropout masks of one step: each element 0 or 1/(1−p), drawn from the step's seeded generator.
struct DropoutDraw {
    var residual: Float, ffn: Float
    var rng: SeededRandom

    /// Fills `mask` (shape `shape`) and multiplies `x` by it in place; no-op (and `mask` emptied) when p = 0.
    mutating func apply(_ x: Tensor, mask: Tensor, p: Float) {
        guard p > 0 else { mask.resize([0]); return }
        mask.resize(x.shape)
        let keep = 1 / (1 - p)
        for i in 0..<x.count {
            let m: Float = rng.uniform() < p ? 0 : keep
            mask[i] = m; x[i] *= m
        }
    }
}

/// dy ⊙ mask into `out` (or a copy when the mask is empty, i.e. no dropout).
func maskedCopy(_ dy: Tensor, mask: Tensor, into out: Tensor) {
    out.resize(dy.shape)
    if mask.count == 0 { out.data.update(from: dy.data, count: dy.count); return }
    for i in 0..<dy.count { out[i] = dy[i] * mask[i] }
}

final class DecoderBlock: ParameterOwner {
    let width: Int, heads: Int, headDim: Int, ffnHidden: Int
    let attnNorm: RMSNorm, ffnNorm: RMSNorm
    /// `layers.<i>.attn.qkv` [3C, C] (rows: q, k, v), `attn.out` [C, C], `ffn.gate_up` [2F, C] (rows: gate, up), `ffn.down` [C, F].
    let qkv: Linear, attnOut: Linear, gateUp: Linear, down: Linear
    let swiglu = SwiGLU()
    let attention: MultiHeadAttention
    // Activations kept for backward (block-owned, reused across steps).
    let q = Tensor(shape: [0]), k = Tensor(shape: [0]), v = Tensor(shape: [0])
    let x1 = Tensor(shape: [0]), x2 = Tensor(shape: [0])
    let maskAttn = Tensor(shape: [0]), maskFFN = Tensor(shape: [0]), maskHidden = Tensor(shape: [0])
    let scratch = Tensor(shape: [0]), dqkv = Tensor(shape: [0]), dx = Tensor(shape: [0])
    private var shape: (b: Int, s: Int) = (0, 0)

    var parameters: [Parameter] {
        attnNorm.parameters + qkv.parameters + attnOut.parameters + ffnNorm.parameters + gateUp.parameters + down.parameters
    }

    init(name: String, config: GeneratorConfig, rng: inout SeededRandom) {
        width = config.width; heads = config.heads; headDim = config.headDim; ffnHidden = config.ffnHidden
        attnNorm = RMSNorm(name: name + ".attn_norm", dim: width, eps: config.normEps)
        ffnNorm = RMSNorm(name: name + ".ffn_norm", dim: width, eps: config.normEps)
        qkv = Linear(name: name + ".attn.qkv", inFeatures: width, outFeatures: 3 * width, bias: false, rng: &rng)
        attnOut = Linear(name: name + ".attn.out", inFeatures: width, outFeatures: width, bias: false, rng: &rng)
        gateUp = Linear(name: name + ".ffn.gate_up", inFeatures: width, outFeatures: 2 * ffnHidden, bias: false, rng: &rng)
        down = Linear(name: name + ".ffn.down", inFeatures: ffnHidden, outFeatures: width, bias: false, rng: &rng)
        attention = MultiHeadAttention(heads: heads, headDim: headDim)
        // GPT-2 style scaled init of the projections that write into the residual stream.
        let s = 1 / Float(2 * config.depth).squareRoot()
        for w in [attnOut.weight.value, down.weight.value] { for i in 0..<w.count { w[i] *= s } }
    }

    /// qkv rows [B·S, 3C] -> q, k, v [B, S, H, D]; q and k rotated at sequence positions offset..<offset+S.
    private func splitQKV(_ t: Tensor, b: Int, s: Int, rope: RoPE, offset: Int) {
        let c = width
        for x in [q, k, v] { x.resize([b, s, heads, headDim]) }
        for r in 0..<(b * s) {
            let src = t.data + r * 3 * c
            (q.data + r * c).update(from: src, count: c)
            (k.data + r * c).update(from: src + c, count: c)
            (v.data + r * c).update(from: src + 2 * c, count: c)
        }
        for i in 0..<b {
            rope.apply(q.data + i * s * c, rows: s, heads: heads, tableOffset: offset)
            rope.apply(k.data + i * s * c, rows: s, heads: heads, tableOffset: offset)
        }
    }

    /// x: [B, S, C] at positions 0..<S -> block-owned [B, S, C]. Keeps activations for `backward`.
    func forward(_ x: Tensor, rope: RoPE, dropout: inout DropoutDraw?) -> Tensor {
        let b = x.shape[0], s = x.shape[1]
        shape = (b, s)
        let h = attnNorm.forward(x)
        splitQKV(qkv.forward(h), b: b, s: s, rope: rope, offset: 0)
        let a = attention.forward(q: q, k: k, v: v)
        a.reshape([b, s, width])
        let o = attnOut.forward(a)
        if dropout != nil { dropout!.apply(o, mask: maskAttn, p: dropout!.residual) } else { maskAttn.resize([0]) }
        x1.resize(x.shape)
        for i in 0..<x.count { x1[i] = x[i] + o[i] }
        let g = swiglu.forward(gateUp.forward(ffnNorm.forward(x1)))
        if dropout != nil { dropout!.apply(g, mask: maskHidden, p: dropout!.ffn) } else { maskHidden.resize([0]) }
        let f = down.forward(g)
        if dropout != nil { dropout!.apply(f, mask: maskFFN, p: dropout!.residual) } else { maskFFN.resize([0]) }
        x2.resize(x.shape)
        for i in 0..<x.count { x2[i] = x1[i] + f[i] }
        return x2
    }

    /// dOut: [B, S, C] -> block-owned dx; accumulates every parameter gradient.
    func backward(_ dOut: Tensor, rope: RoPE) -> Tensor {
        let (b, s) = shape, c = width
        // Feed-forward branch: x2 = x1 + drop(down(drop(swiglu(gateUp(norm(x1)))))).
        maskedCopy(dOut, mask: maskFFN, into: scratch)
        let dg = down.backward(scratch)
        if maskHidden.count > 0 { for i in 0..<dg.count { dg[i] *= maskHidden[i] } }
        let dn = ffnNorm.backward(gateUp.backward(swiglu.backward(dg)))
        dx.resize(dOut.shape)
        for i in 0..<dOut.count { dx[i] = dOut[i] + dn[i] }          // d x1
        // Attention branch: x1 = x + drop(out(attn(rope(q), rope(k), v))).
        maskedCopy(dx, mask: maskAttn, into: scratch)
        let da = attnOut.backward(scratch)
        da.reshape([b, s, heads, headDim])
        let (dq, dk, dv) = attention.backward(da)
        for i in 0..<b {
            rope.apply(dq.data + i * s * c, rows: s, heads: heads, inverse: true)
            rope.apply(dk.data + i * s * c, rows: s, heads: heads, inverse: true)
        }
        dqkv.resize([b, s, 3 * c])
        for r in 0..<(b * s) {
            let dst = dqkv.data + r * 3 * c
            dst.update(from: dq.data + r * c, count: c)
            (dst + c).update(from: dk.data + r * c, count: c)
            (dst + 2 * c).update(from: dv.data + r * c, count: c)
        }
        let dh = attnNorm.backward(qkv.backward(dqkv))
        for i in 0..<dx.count { dx[i] += dh[i] }                      // d x
        return dx
    }

    /// Decoding: x [B, n, C] holds the rows at sequence positions `position`..<position+n (already past rows
    /// are in `cache`); appends their keys and values -> block-owned [B, n, C]. No dropout.
    /// `half`: the projections' half-precision copies (`halfWeights()`), used where a step has at most `halfRows` rows.
    func step(_ x: Tensor, rope: RoPE, cache: KVCache, position: Int, half: HalfWeights? = nil,
              halfRows: Int = HalfWeight.maxRows) throws -> Tensor {
        let b = x.shape[0], n = x.shape[1]
        let h = attnNorm.forward(x)
        splitQKV(qkv.forward(h, half: half?.qkv, maxRows: halfRows), b: b, s: n, rope: rope, offset: position)
        try cache.append(keys: k, values: v)
        let a = attention.forward(q: q, cache: cache)
        a.reshape([b, n, width])
        let o = attnOut.forward(a, half: half?.attnOut, maxRows: halfRows)
        x1.resize(x.shape)
        for i in 0..<x.count { x1[i] = x[i] + o[i] }
        let up = gateUp.forward(ffnNorm.forward(x1), half: half?.gateUp, maxRows: halfRows)
        let f = down.forward(swiglu.forward(up), half: half?.down, maxRows: halfRows)
        x2.resize(x.shape)
        for i in 0..<x.count { x2[i] = x1[i] + f[i] }
        return x2
    }

    /// Half-precision snapshots of the four projections for decoding; nil where the CPU lacks the kernel.
    struct HalfWeights { let qkv, attnOut, gateUp, down: HalfWeight? }

    func halfWeights() -> HalfWeights {
        HalfWeights(qkv: HalfWeight(qkv), attnOut: HalfWeight(attnOut), gateUp: HalfWeight(gateUp), down: HalfWeight(down))
    }
}
