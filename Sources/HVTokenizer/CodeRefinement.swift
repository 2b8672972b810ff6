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
import HVFormat

public struct CodeRefinement: Sendable {
    /// Rounds of proposals (each a decoder backward and one or two forwards).
    public var rounds: Int
    /// Share of layer 0's bits the first round may flip.
    public var fraction: Float = 0.02
    /// Weight w of the clip's mean-colour error in the searched objective: mean squared error
    /// + w · Σ_c (mean_c(render) − mean_c(clip))², channel means over the real frames on the [-1, 1] scale.
    /// Why: the squared error already holds the mean offsets, but as a few hundredths of it; a colour cast of 3–4
    /// levels over a whole clip is what a viewer sees first, and it costs the search almost nothing to fix.
    public var colourWeight: Double = 0
    public init(rounds: Int, fraction: Float = 0.02, colourWeight: Double = 0) {
        self.rounds = rounds; self.fraction = fraction; self.colourWeight = colourWeight
    }
}

/// Layer 0's tokens that the stream will not store (`TokenMasking`) and how the renderer fills them in, so that the
/// search tunes the kept tokens for the render the masked stream will really give.
///
/// Why: refined codes are tuned for the full render, and `repeat` then swaps about 45 % of them for their
/// predecessors: masking the refined cockatoo-000 clip cost 1.1–1.3 dB against 0.4 dB for the encoder's codes. With the
/// mask known, a kept token is rendered at its own place and at every later place that repeats it, and its flips are
/// ranked by the sum of those places' gradients.
public struct RefinementMask: Sendable {
    /// True where layer 0's token is masked (row-major over its grid).
    public var masked: [Bool]
    public var strategy: MaskStrategy
    public init(masked: [Bool], strategy: MaskStrategy) { self.masked = masked; self.strategy = strategy }
}

public struct RefinementStats: Sendable {
    /// Mean squared error (on the [-1, 1] scale, clamped render, real frames) before and after.
    public var mseBefore: Double
    public var mseAfter: Double
    /// The render's mean colour minus the clip's, per channel, on the 0–255 scale, before and after.
    public var colourOffsetBefore: [Double]
    public var colourOffsetAfter: [Double]
    public var keptRounds: Int
    /// Bits of layer 0 that differ from the encoder's codes.
    public var flippedBits: Int
}

/// The error of renders of one clip as a function of layer 0's codes, the coarser layers held at given codes:
/// the mean squared error plus `colourWeight` times the squared offsets of the channel means (CodeRefinement).
final class CodeObjective {
    let model: HierarchicalTokenizer
    let x: Tensor
    let real: Int
    let coarse: Tensor
    let colourWeight: Double
    /// The clip's channel means over the real frames ([-1, 1] scale).
    let sourceMean: [Double]
    /// Of the last `error` call: its mean squared error and the render's channel means minus the clip's.
    private(set) var lastMSE: Double = 0
    private(set) var lastOffset: [Double] = [0, 0, 0]
    private let zhat: Tensor
    private let dy: Tensor
    private var y: Tensor

    init(_ model: HierarchicalTokenizer, x: Tensor, count: Int, indices: [[UInt32]], colourWeight: Double = 0) {
        self.model = model; self.x = x; self.colourWeight = colourWeight
        let T = x.shape[0], H = x.shape[1], W = x.shape[2]
        let n = count * H * W * 3
        real = n
        var s = [Double](repeating: 0, count: 3)
        for i in 0..<n { s[i % 3] += Double(max(-1, min(1, x[i]))) }
        sourceMean = s.map { $0 * 3 / Double(max(n, 1)) }
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

    /// The objective for codes q (mean squared error of the clamped render over the real frames, plus the colour
    /// term); the decoder and layer 0's up path keep this forward's state for `gradient`.
    func error(_ q: Tensor) -> Double {
        zhat.copy(from: coarse)
        addInPlace(zhat, model.layers[0].expand(q))
        y = model.decoder.forward(zhat)
        // Per-frame partial sums added in frame order: the same total whatever the number of threads, so the
        // accept/reject decisions (and the tokens) do not depend on it.
        let frameSize = x.count / x.shape[0], frames = real / frameSize
        let yp = UnsafePointer(y.data), xp = UnsafePointer(x.data)
        var partial = [Double](repeating: 0, count: frames * 4)
        partial.withUnsafeMutableBufferPointer { out in
            let o = out.baseAddress!
            Parallel.forEach(frames) { f in
                var se: Double = 0
                var sum: (Double, Double, Double) = (0, 0, 0)
                var i = f * frameSize
                while i < (f + 1) * frameSize {
                    let r = max(-1, min(1, yp[i])), g = max(-1, min(1, yp[i + 1])), b = max(-1, min(1, yp[i + 2]))
                    let er = r - xp[i], eg = g - xp[i + 1], eb = b - xp[i + 2]
                    se += Double(er * er); se += Double(eg * eg); se += Double(eb * eb)
                    sum.0 += Double(r); sum.1 += Double(g); sum.2 += Double(b)
                    i += 3
                }
                o[f * 4] = se; o[f * 4 + 1] = sum.0; o[f * 4 + 2] = sum.1; o[f * 4 + 3] = sum.2
            }
        }
        var se: Double = 0, sums = [Double](repeating: 0, count: 3)
        for f in 0..<frames {
            se += partial[f * 4]
            for c in 0..<3 { sums[c] += partial[f * 4 + 1 + c] }
        }
        lastMSE = se / Double(real)
        lastOffset = (0..<3).map { sums[$0] * 3 / Double(real) - sourceMean[$0] }
        return lastMSE + colourWeight * lastOffset.reduce(0) { $0 + $1 * $1 }
    }

    /// d(objective)/dq at the codes of the last `error` call (layer-owned). Zero where the clamp is flat and on
    /// padding frames. Parameter gradients the backward accumulates are the caller's to switch off or put back
    /// (`refine`).
    func gradient() -> Tensor {
        let scale = 2 / Float(real), n = real
        // ∂(w · offset_c²)/∂y_i = 2w · offset_c / (real / 3) for each in-range value of channel c.
        let shift = (0..<3).map { Float(2 * colourWeight * lastOffset[$0] * 3 / Double(real)) }
        let yp = UnsafePointer(y.data), xp = UnsafePointer(x.data), d = dy.data
        Parallel.forRanges(dy.count, minChunk: 1 << 16) { r in
            for i in r { d[i] = i < n && yp[i] > -1 && yp[i] < 1 ? scale * (yp[i] - xp[i]) + shift[i % 3] : 0 }
        }
        return model.layers[0].expandBackward(model.decoder.backward(dy))
    }

    /// `lastOffset` on the 0–255 scale.
    var lastOffsetLevels: [Double] { lastOffset.map { $0 * 127.5 } }
}

extension HierarchicalTokenizer {
    /// Whether `refine` applies to inputs of this size: a model with `encoderSize` resizes whole frames before
    /// encoding, so their codes are of another grid than the frames the decoder's error is measured on.
    public func canRefine(height: Int, width: Int) -> Bool {
        config.encoderSize == nil || height != config.frameSize || width != config.frameSize
    }

    /// Refines layer 0 of `indices` (densest first, as `encode` returns them) for clip `x` [T, H, W, 3], of which the
    /// first `count` frames are real. Coarser layers are returned unchanged. With `mask`, only kept tokens change and
    /// the error is that of the render with masked tokens filled in as `mask.strategy` fills them; a token masked
    /// under `repeat` is returned holding the code it repeats, others as they came.
    public func refine(_ x: Tensor, indices: [[UInt32]], count: Int, options: CodeRefinement, mask: RefinementMask? = nil)
        -> ([[UInt32]], RefinementStats) {
        precondition(canRefine(height: x.shape[1], width: x.shape[2]), "refinement needs an input the model encodes at its own size")
        let bits = layers[0].bits
        let objective = CodeObjective(self, x: x, count: count, indices: indices, colourWeight: options.colourWeight)
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
        let tokens = current.count / bits
        let fill = mask.map { MaskFill(self, mask: $0, grid: g) }
        if let fill { fill.tie(current) }
        let rendered0 = fill.map { _ in Tensor(shape: current.shape) }
        // The codes the decoder sees: `codes` itself, or with the mask's fill applied.
        func render(_ codes: Tensor) -> Double {
            guard let fill, let r = rendered0 else { return objective.error(codes) }
            fill.apply(codes, into: r)
            return objective.error(r)
        }
        let proposal = Tensor(shape: current.shape)
        let before = render(current)
        let mseBefore = objective.lastMSE, offsetBefore = objective.lastOffsetLevels
        var mseBest = mseBefore, offsetBest = offsetBefore
        let candidates = fill.map { f in (0..<tokens).filter { !f.masked[$0] } } ?? Array(0..<tokens)
        var best = before, fraction = options.fraction, kept = 0, rendered = true
        var order = [Int](), gain = [Float](repeating: 0, count: current.count)
        for _ in 0..<options.rounds {
            if !rendered { _ = render(current) }
            var dq = objective.gradient()
            if let fill { dq = fill.gather(dq) }
            // Each token offers its one best flip: flips within a token interact most (they share its up-path
            // footprint), and one per token gained 0.07–0.24 dB more in 8 rounds than the best bits overall
            // (three held-out 128² crops).
            order.removeAll(keepingCapacity: true)
            for p in candidates {
                var pick = -1
                for i in (p * bits)..<((p + 1) * bits) {
                    gain[i] = -2 * current[i] * dq[i]
                    if gain[i] < 0 && (pick < 0 || gain[i] < gain[pick]) { pick = i }
                }
                if pick >= 0 { order.append(pick) }
            }
            if order.isEmpty { break }
            let n = max(1, min(order.count, Int(fraction * Float(candidates.count * bits))))
            order.sort { gain[$0] != gain[$1] ? gain[$0] < gain[$1] : $0 < $1 }
            proposal.copy(from: current)
            for i in order.prefix(n) { proposal[i] = -proposal[i] }
            if let fill { fill.tie(proposal) }
            let e = render(proposal)
            if e < best {
                best = e; current.copy(from: proposal); kept += 1; rendered = true
                mseBest = objective.lastMSE; offsetBest = objective.lastOffsetLevels
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
        return (refined, RefinementStats(mseBefore: mseBefore, mseAfter: mseBest, colourOffsetBefore: offsetBefore,
                                         colourOffsetAfter: offsetBest, keptRounds: kept, flippedBits: flipped))
    }
}

/// Layer 0's masked tokens as the renderer fills them (`fillCodes`): under `repeat` each one is tied to the kept
/// token it copies (its `source`); under `zero` and `learned` it is a constant.
final class MaskFill {
    let masked: [Bool]
    let bits: Int
    /// For each token, the kept token whose code it renders with, or −1 for a constant fill.
    let source: [Int]
    let constant: [Float]

    init(_ model: HierarchicalTokenizer, mask: RefinementMask, grid g: Size3) {
        bits = model.layers[0].bits
        masked = mask.masked
        let plane = g.h * g.w, n = g.t * plane
        precondition(masked.count == n, "the mask has \(masked.count) entries for \(n) tokens")
        var s = [Int](repeating: 0, count: n)
        for p in 0..<n {
            if !masked[p] { s[p] = p; continue }
            switch mask.strategy {
            case .repeatPrevious:
                precondition(p >= plane, "repeat cannot fill a masked token of the first latent frame")
                s[p] = s[p - plane]
            default:
                s[p] = -1
            }
        }
        source = s
        let embedding = model.maskEmbeddings[0].value
        constant = (0..<bits).map { mask.strategy == .learned ? embedding[$0] : 0 }
    }

    /// Copies each repeated token's code from its source in place, so `codes` reads as the kept tokens decide.
    func tie(_ codes: Tensor) {
        let c = codes.data
        for p in source.indices where masked[p] && source[p] >= 0 {
            (c + p * bits).update(from: c + source[p] * bits, count: bits)
        }
    }

    /// Writes the codes the renderer uses: `codes` (tied) with the constant at constant-filled tokens.
    func apply(_ codes: Tensor, into q: Tensor) {
        q.copy(from: codes)
        let d = q.data
        for p in source.indices where source[p] < 0 {
            for b in 0..<bits { d[p * bits + b] = constant[b] }
        }
    }

    /// The gradient with respect to the kept tokens' codes: each kept token collects the gradient of every place
    /// that renders with its code, in token order (deterministic); masked tokens get zero.
    func gather(_ dq: Tensor) -> Tensor {
        let out = Tensor(shape: dq.shape)
        out.zero()
        let o = out.data, d = dq.data
        for p in source.indices where source[p] >= 0 {
            let k = source[p]
            for b in 0..<bits { o[k * bits + b] += d[p * bits + b] }
        }
        return out
    }
}
