// Encoding by analysis and synthesis: the encoder proposes the densest layer's codes, and a few rounds of bit flips
// chosen by the decoder's gradient move them towards the codes that this decoder renders best.
//
// Why: the encoder is a learnt guess at argmin over codes of ‖decode(codes) − x‖², trained through a straight-through
// sign. With the decoder held fixed, flipping single bits of the shipped model's codes lowers the render's error for
// about 45 % of the dense layer's bits to first order, and a greedy search that keeps a flip set only when the exact
// error falls gains 0.3–0.7 dB on held-out clips (docs/tokenizer-journal.md, "Session of 2026-12-02, seventh").
// A codec's encoder searching for the bits its decoder renders best is rate-distortion optimisation as x265 does it;
// the tokens, the decoder and the .hvt format are unchanged, and the coarse layers are left as the encoder made them,
// so every coarse prefix renders exactly as before.
//
// Each round: render the current codes, take d‖clamp(y) − x‖²/dq for every bit of layer 0 (decoder backward, then
// the layer's up path), predict each flip's change as −2·q·∂L/∂q, take each token's most promising flip, flip those
// of the tokens whose prediction is most negative (as many as `fraction` of layer 0's bits), and keep the flips only
// if the exact error of the new render is lower. The fraction grows ×1.5 after a kept round (to 0.1) and shrinks ÷3
// after a rejected one, so the error never rises and the result is deterministic.
import Foundation
import HVEngine

public struct CodeRefinement: Sendable {
    /// Rounds of proposals (each a decoder backward and one or two forwards).
    public var rounds: Int
    /// Share of layer 0's bits the first round may flip.
    public var fraction: Float = 0.02
    public init(rounds: Int, fraction: Float = 0.02) { self.rounds = rounds; self.fraction = fraction }
}

public struct RefinementStats: Sendable {
    /// Mean squared error (on the [-1, 1] scale, clamped render, real frames) before and after.
    public var mseBefore: Double
    public var mseAfter: Double
    public var keptRounds: Int
    /// Bits of layer 0 that differ from the encoder's codes.
    public var flippedBits: Int
}

/// The error of renders of one clip as a function of layer 0's codes, the coarser layers held at given codes.
final class CodeObjective {
    let model: HierarchicalTokenizer
    let x: Tensor
    let real: Int
    let coarse: Tensor
    private let zhat: Tensor
    private let dy: Tensor
    private var y: Tensor

    init(_ model: HierarchicalTokenizer, x: Tensor, count: Int, indices: [[UInt32]]) {
        self.model = model; self.x = x
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        real = count * H * W * 3
        let d = model.config.totalDown
        coarse = Tensor(shape: [T / d.t, H / d.h, W / d.w, model.config.latentChannels])
        coarse.zero()
        for m in 1..<model.layers.count {
            let g = model.grid(ofLayer: m, frames: T, height: H, width: W)
            let q = Tensor(shape: [g.t, g.h, g.w, model.layers[m].bits])
            LFQ.lookup(indices[m], bits: model.layers[m].bits, into: q)
            addInPlace(coarse, model.layers[m].expand(q))
        }
        zhat = Tensor(shape: coarse.shape)
        dy = Tensor(shape: x.shape)
        y = x
    }

    /// Mean squared error of the clamped render of codes q over the real frames; the decoder and layer 0's up path
    /// keep this forward's state for `gradient`.
    func error(_ q: Tensor) -> Double {
        zhat.copy(from: coarse)
        addInPlace(zhat, model.layers[0].expand(q))
        y = model.decoder.forward(zhat)
        // Per-frame partial sums added in frame order: the same total whatever the number of threads, so the
        // accept/reject decisions (and the tokens) do not depend on it.
        let frameSize = x.count / x.shape[0], frames = real / frameSize
        let yp = UnsafePointer(y.data), xp = UnsafePointer(x.data)
        var partial = [Double](repeating: 0, count: frames)
        partial.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            Parallel.forEach(frames) { f in
                var se: Double = 0
                for i in (f * frameSize)..<((f + 1) * frameSize) {
                    let e = max(-1, min(1, yp[i])) - xp[i]
                    se += Double(e * e)
                }
                o[f] = se
            }
        }
        return partial.reduce(0, +) / Double(real)
    }

    /// d(error)/dq at the codes of the last `error` call (layer-owned). Zero where the clamp is flat and on padding
    /// frames. Parameter gradients the backward accumulates are the caller's to switch off or put back (`refine`).
    func gradient() -> Tensor {
        let scale = 2 / Float(real), n = real
        let yp = UnsafePointer(y.data), xp = UnsafePointer(x.data), d = dy.data
        Parallel.forRanges(dy.count, minChunk: 1 << 16) { r in
            for i in r { d[i] = i < n && yp[i] > -1 && yp[i] < 1 ? scale * (yp[i] - xp[i]) : 0 }
        }
        return model.layers[0].expandBackward(model.decoder.backward(dy))
    }
}

extension HierarchicalTokenizer {
    /// Whether `refine` applies to inputs of this size: a model with `encoderSize` resizes whole frames before
    /// encoding, so their codes are of another grid than the frames the decoder's error is measured on.
    public func canRefine(height: Int, width: Int) -> Bool {
        config.encoderSize == nil || height != config.frameSize || width != config.frameSize
    }

    /// Refines layer 0 of `indices` (densest first, as `encode` returns them) for clip `x` [T, H, W, 3], of which the
    /// first `count` frames are real. Coarser layers are returned unchanged.
    public func refine(_ x: Tensor, indices: [[UInt32]], count: Int, options: CodeRefinement)
        -> ([[UInt32]], RefinementStats) {
        precondition(canRefine(height: x.shape[1], width: x.shape[2]), "refinement needs an input the model encodes at its own size")
        let bits = layers[0].bits
        let objective = CodeObjective(self, x: x, count: count, indices: indices)
        // Only ∂error/∂q is wanted: the convs' weight gradients would cost as much again. The norms' still
        // accumulate, so what the render side held before (a training step's gradients) is put back at the end.
        let convs = decoder.convs + [layers[0].upProj, layers[0].upConv]
        for c in convs { c.accumulatesParameterGradients = false }
        let touched = renderParameters
        let held = touched.map { $0.grad.clone() }
        defer {
            for c in convs { c.accumulatesParameterGradients = true }
            for (p, g) in zip(touched, held) { p.grad.copy(from: g) }
        }
        let g = grid(ofLayer: 0, frames: x.shape[0], height: x.shape[1], width: x.shape[2])
        let current = Tensor(shape: [g.t, g.h, g.w, bits])
        LFQ.lookup(indices[0], bits: bits, into: current)
        let proposal = Tensor(shape: current.shape)
        let before = objective.error(current)
        var best = before, fraction = options.fraction, kept = 0, rendered = true
        var order = [Int](), gain = [Float](repeating: 0, count: current.count)
        for _ in 0..<options.rounds {
            if !rendered { _ = objective.error(current) }
            let dq = objective.gradient()
            // Each token offers its one best flip: flips within a token interact most (they share its up-path
            // footprint), and one per token gained 0.07–0.24 dB more in 8 rounds than the best bits overall
            // (three held-out 128² crops).
            order.removeAll(keepingCapacity: true)
            for p in 0..<(current.count / bits) {
                var pick = -1
                for i in (p * bits)..<((p + 1) * bits) {
                    gain[i] = -2 * current[i] * dq[i]
                    if gain[i] < 0 && (pick < 0 || gain[i] < gain[pick]) { pick = i }
                }
                if pick >= 0 { order.append(pick) }
            }
            if order.isEmpty { break }
            let n = max(1, min(order.count, Int(fraction * Float(current.count))))
            order.sort { gain[$0] != gain[$1] ? gain[$0] < gain[$1] : $0 < $1 }
            proposal.copy(from: current)
            for i in order.prefix(n) { proposal[i] = -proposal[i] }
            let e = objective.error(proposal)
            if e < best {
                best = e; current.copy(from: proposal); kept += 1; rendered = true
                fraction = min(0.1, fraction * 1.5)
            } else {
                rendered = false
                fraction /= 3
            }
        }
        var refined = indices
        refined[0] = (0..<indices[0].count).map { p in
            var v: UInt32 = 0
            for b in 0..<bits where current[p * bits + b] > 0 { v |= 1 << UInt32(b) }
            return v
        }
        let flipped = zip(refined[0], indices[0]).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount }
        return (refined, RefinementStats(mseBefore: before, mseAfter: best, keptRounds: kept, flippedBits: flipped))
    }
}
