// The HiTVideo hierarchical tokenizer (paper section 3.2, Figure 1, Table 4).
// encode: video [T, H, W, 3] in [-1, 1] → causal CNN encoder → latent z → token layers, coarsest first:
//   r_{N-1} = z;  codes_m = LFQ(down_m(r_m));  u_m = up_m(codes_m);  r_{m-1} = r_m − sg(u_m)
// so each finer layer quantises what the coarser ones left over (a residual, as in VQ-VAE-2/VAR).
// decode: ẑ = Σ_{m ∈ given layers} u_m → decoder → video. Rendering from the coarse layers alone
// gives ẑ = u_3 (+ u_2 …): a coarse but recognisable video, which training asks for explicitly by
// decoding from randomly truncated sums (see TokenizerTrainer.swift).
// The residual uses a stop-gradient on u (sg): each layer's up path learns only from reconstruction.
import Foundation
import HVEngine
import HVFormat

public final class HierarchicalTokenizer: ParameterOwner {
    public let config: TokenizerConfig
    /// Set when the model was loaded from or saved to a checkpoint. .hvt headers carry `tokenIdentity`, which is
    /// this one unless the checkpoint was fine-tuned with frozen tokens (`tokensOf`).
    public internal(set) var identity: TokenizerIdentity?
    /// Set for a checkpoint trained with frozen tokens: the checkpoint whose encoder and down paths it kept.
    /// Its tokens are that checkpoint's, so .hvt headers name that one (see `tokenIdentity`).
    public var tokensOf: TokenizerIdentity?
    let encoder: Encoder3D
    let layers: [TokenLayer]
    let decoder: Decoder3D

    /// For tools that only run forwards (hv-encode, hv-render): the encoder's and the decoder's ResNet blocks keep
    /// no activations for a backward, so a 256² clip's encode peaks at a fraction of the memory with the same
    /// output bits. A refinement runs backwards through the decoder, so keep `decoder` false for it.
    public func setInference(encoder e: Bool, decoder d: Bool) {
        for b in encoder.blocks.joined() { b.lean = e }
        for b in decoder.blocks.joined() { b.lean = d }
    }

    /// Learned mask embedding of each layer (used by the `learned` strategy), shape [bits].
    let maskEmbeddings: [Parameter]

    // Forward state kept for backward.
    private var residuals: [Tensor] = []
    private var codes: [Tensor] = []
    private var quantGrads: [Tensor] = []
    /// d(residual loss)/d(u_m) of the last forward (empty when the loss is off).
    private var residualGrads: [Tensor] = []
    private var active: [Int] = []
    /// Token positions of layer 0 masked in the last forward, and what they were filled with: the learned mask
    /// embedding (mask training), or their predecessors' codes one latent frame of `plane` tokens back (repeat).
    private enum TrainingMask { case embedding([Bool]), repeated([Bool], plane: Int) }
    private var trainingMask: TrainingMask? = nil
    private let zhat = Tensor(shape: [0])
    private let dz = Tensor(shape: [0])

    public init(config: TokenizerConfig, seed: UInt64 = 0) throws {
        try config.validate()
        self.config = config
        var rng = SeededRandom(seed: seed)
        encoder = Encoder3D(config: config, rng: &rng)
        layers = config.layers.indices.map { TokenLayer(index: $0, config: config, rng: &rng) }
        decoder = Decoder3D(config: config, rng: &rng)
        maskEmbeddings = config.layers.indices.map {
            Parameter("hierarchy.\($0).mask_embedding", shape: [config.layers[$0].bits], decays: false)
        }
        residuals = layers.map { _ in Tensor(shape: [0]) }
        codes = layers.map { _ in Tensor(shape: [0]) }
        quantGrads = layers.map { _ in Tensor(shape: [0]) }
        residualGrads = layers.map { _ in Tensor(shape: [0]) }
    }

    public var parameters: [Parameter] {
        encoder.parameters + layers.flatMap { $0.parameters } + maskEmbeddings + decoder.parameters
    }

    /// Parameters that decide the tokens: the encoder, every layer's down path, and the up paths of all but the
    /// densest layer (layer m's contribution u_m is subtracted from the residual that layer m−1 quantises).
    /// Frozen, every clip keeps its tokens (`TokenizerTrainingOptions.freezeTokens`).
    public var tokenParameters: [Parameter] {
        encoder.parameters + layers.flatMap { $0.downParameters } + layers.dropFirst().flatMap { $0.upParameters }
    }

    /// Parameters that only turn tokens into video: the densest layer's up path, the mask embeddings and the decoder.
    public var renderParameters: [Parameter] {
        layers[0].upParameters + maskEmbeddings + decoder.parameters
    }

    /// Token grid of layer `i` for an input of `frames` × `size`², or nil when it does not divide.
    public func grid(ofLayer i: Int, frames: Int, height: Int, width: Int) -> Size3 {
        let d = config.totalDown, p = config.pool(ofLayer: i)
        return Size3(frames / d.t / p.t, height / d.h / p.h, width / d.w / p.w)
    }

    // MARK: - Training forward/backward

    /// Auxiliary quantiser statistics of one forward pass, per layer.
    public struct LayerStats {
        public var entropyLoss: Float = 0
        public var perSampleEntropy: Float = 0
        public var codebookEntropy: Float = 0
        public var commitLoss: Float = 0
        /// Mean squared distance between the layer's contribution u and the residual it quantised (weighted).
        public var residualLoss: Float = 0
        public var indices: [UInt32] = []
    }

    /// Codes for layer 0 found by refinement (`refine`): the decoder is fed these instead of sign(e), and with
    /// `weight` > 0 a hinge loss weight · mean(max(0, margin − s·e)) pulls e towards their signs s.
    public struct CodeTargets {
        public var indices: [UInt32]
        public var weight: Float
        public var margin: Float
        public init(indices: [UInt32], weight: Float, margin: Float) {
            self.indices = indices; self.weight = weight; self.margin = margin
        }
    }

    /// Runs encoder, the layers from the coarsest down to `finest`, and the decoder.
    /// Returns the reconstruction (model-owned) and per-layer statistics (nil for inactive layers).
    /// Quantiser losses (`entropyWeight`, `commitWeight`) are folded into the gradients used by `backward`.
    /// With `maskFraction` > 0, that fraction of layer 0's tokens (never in its first latent frame) is replaced
    /// by the learned mask embedding, which then receives their gradient (mask training for the `learned`
    /// strategy of hv-mask).
    ///
    /// With `repeatMaskRatio` > 0 (and no `maskFraction`), layer 0 is masked as `hv-mask --strategy repeat --ratio R`
    /// masks a stream — the tokens whose code differs from the previous latent frame's in fewer bits than the crop's
    /// mean (or none), at most R of them, a `maskSeed`-seeded subset beyond that — and each masked token takes its
    /// predecessor's code, as the renderer fills them. The gradient of a masked position goes to the code it copies.
    ///
    /// `residualWeight` > 0 adds `residualWeight · mean((u_m − sg(r_m))²)` for every active layer: each layer's
    /// contribution is pulled towards the residual it quantises, so that the partial sums u₃, u₃+u₂, … approach
    /// the latent step by step (the property residual VQ has by construction, which our expanding up paths
    /// otherwise only get from the reconstruction). Its gradient reaches the layer's up path and, straight
    /// through the codes, its down path and the encoder; never r_m itself.
    ///
    /// `subtraction` < 1 subtracts only that share of each contribution from the residual the next layer
    /// quantises (r_{m−1} = r_m − s·sg(u_m)): a training ramp for coarse layers grown onto a trained dense layer,
    /// whose input then moves from z to the residual gradually. Encoding and rendering always use 1.
    ///
    /// `layer0Targets` (training on refined codes): layer 0's decoder input is the targets' codes, see `CodeTargets`.
    public func forward(_ x: Tensor, finest: Int, entropyWeight: Float, commitWeight: Float,
                        temperature: Float = 1.0, maskFraction: Float = 0, hardness: Float = 1,
                        residualWeight: Float = 0, subtraction: Float = 1, layer0Targets: CodeTargets? = nil,
                        repeatMaskRatio: Float = 0, maskSeed: UInt64 = 0,
                        rng: inout SeededRandom) -> (Tensor, [LayerStats?]) {
        let z = encoder.forward(x)
        zhat.resize(z.shape); zhat.zero()
        active = Array((finest..<layers.count).reversed())
        var stats = [LayerStats?](repeating: nil, count: layers.count)
        var r = z
        for m in active {
            let layer = layers[m]
            let e = layer.project(r)
            let q = codes[m]
            q.resize(e.shape)
            let g = quantGrads[m]
            g.resize(e.shape)
            var s = LayerStats()
            s.indices = layer.quantizer.quantize(e, codes: q)
            if hardness < 1 {
                // Soft-to-hard warm-up: the decoder sees e + hardness·(sign(e) − e). The gradient is the same
                // straight-through identity; only the forward value is relaxed, so that the decoder learns to
                // use its input before the codes are fully binary.
                for i in 0..<q.count { q[i] = e[i] + hardness * (q[i] - e[i]) }
            }
            let l = layer.quantizer.losses(e, entropyWeight: entropyWeight, commitWeight: commitWeight,
                                           temperature: temperature, gradient: g)
            s.entropyLoss = l.entropy; s.perSampleEntropy = l.perSample; s.codebookEntropy = l.codebook
            s.commitLoss = l.commit
            if m == 0, let t = layer0Targets {
                precondition(t.indices.count * layer.bits == q.count, "layer-0 targets for another grid")
                LFQ.lookup(t.indices, bits: layer.bits, into: q)
                s.indices = t.indices
                if t.weight > 0 {
                    let scale = t.weight / Float(q.count)
                    for i in 0..<q.count where q[i] * e[i] < t.margin { g[i] -= scale * q[i] }
                }
            }
            stats[m] = s
            trainingMask = nil
            if m == 0 && maskFraction == 0 && repeatMaskRatio > 0 {
                let bits = layer.bits, plane = e.shape[1] * e.shape[2]
                var random = MaskRandom(seed: maskSeed)
                let mask = TokenMasking.mask(s.indices, gridT: e.shape[0], plane: plane, ratio: Double(repeatMaskRatio),
                                             strategy: .repeatPrevious, rng: &random)
                // Ascending, so that a run of masked tokens all take the code of the last kept one before it.
                for (i, masked) in mask.enumerated() where masked {
                    for b in 0..<bits { q[i * bits + b] = q[(i - plane) * bits + b] }
                }
                trainingMask = .repeated(mask, plane: plane)
            }
            if m == 0 && maskFraction > 0 {
                let bits = layer.bits, plane = e.shape[1] * e.shape[2], n = e.count / bits
                var mask = [Bool](repeating: false, count: n)
                for i in plane..<n where rng.uniform() < maskFraction {
                    mask[i] = true
                    for b in 0..<bits { q[i * bits + b] = maskEmbeddings[0].value[b] }
                }
                trainingMask = .embedding(mask)
            }
            let u = layer.expand(q)
            let du = residualGrads[m]
            if residualWeight > 0 {
                du.resize(u.shape)
                let scale = 2 * residualWeight / Float(u.count)
                var sum: Double = 0
                for i in 0..<u.count {
                    let d = u[i] - r[i]
                    sum += Double(d * d)
                    du[i] = scale * d
                }
                stats[m]!.residualLoss = residualWeight * Float(sum / Double(u.count))
            } else {
                du.resize([0])
            }
            addInPlace(zhat, u)
            if m > finest {
                let next = residuals[m]
                next.resize(r.shape)
                if subtraction == 1 {
                    subtract(r, u, into: next)
                } else {
                    for i in 0..<r.count { next[i] = r[i] - subtraction * u[i] }
                }
                r = next
            }
        }
        return (decoder.forward(zhat), stats)
    }

    /// Back-propagates d(loss)/d(reconstruction) through the pass made by the last `forward`,
    /// accumulating parameter gradients. With `throughTokens` false only `renderParameters` receive gradients
    /// (the densest layer's up path, its mask embedding, the decoder); the rest of the backward is skipped.
    public func backward(_ dRecon: Tensor, throughTokens: Bool = true) {
        let dzhat = decoder.backward(dRecon)
        var dzInit = false
        for m in active where throughTokens || m == 0 {
            let layer = layers[m]
            let du = residualGrads[m]
            if du.count > 0 { addInPlace(du, dzhat) }   // u feeds both ẑ and the residual loss
            let dq = layer.expandBackward(du.count > 0 ? du : dzhat)
            if m == 0, case .repeated(let mask, let plane) = trainingMask {
                // A repeated code's gradient goes to the code it copies; descending, so a run's gradients reach
                // its last kept token.
                let bits = layer.bits
                for i in mask.indices.reversed() where mask[i] {
                    for b in 0..<bits { dq[(i - plane) * bits + b] += dq[i * bits + b]; dq[i * bits + b] = 0 }
                }
            } else if m == 0, case .embedding(let mask) = trainingMask {
                // Masked positions: the gradient belongs to the mask embedding, not to the encoder.
                let bits = layer.bits
                for (i, masked) in mask.enumerated() where masked {
                    for b in 0..<bits { maskEmbeddings[0].grad[b] += dq[i * bits + b]; dq[i * bits + b] = 0 }
                }
            }
            guard throughTokens else { continue }
            addInPlace(dq, quantGrads[m])          // straight-through + quantiser losses
            let dr = layer.projectBackward(dq)
            if !dzInit { dz.copy(from: dr); dzInit = true } else { addInPlace(dz, dr) }
        }
        if dzInit { _ = encoder.backward(dz) }
    }

    // MARK: - Inference

    /// Token indices per layer for one clip tensor [T, H, W, 3] (values in [-1, 1]), densest layer first.
    /// A model with `encoderSize` (the `single` baseline) sees full frames interpolated to that size, so its
    /// latent is e.g. 17×17 instead of 16×16; it trains on crops at the native scale (a crop cannot be
    /// interpolated to a whole number of latent cells), which is the same convolutional model.
    public func encode(_ x: Tensor) -> [[UInt32]] {
        var rng = SeededRandom(seed: 0)
        var input = x
        if let s = config.encoderSize, s != x.shape[1] || s != x.shape[2], x.shape[1] == config.frameSize {
            input = resizeBilinear(x, height: s, width: s)
        }
        let (_, stats) = forward(input, finest: 0, entropyWeight: 0, commitWeight: 0, rng: &rng)
        return stats.map { $0!.indices }
    }

    /// Decodes a clip from the layers that are given (nil = not used), coarsest contributions first.
    /// `masks[m][i] == true` marks token i of layer m as masked, filled in with `strategy`.
    public func decode(indices: [[UInt32]?], masks: [[Bool]?]? = nil, strategy: MaskStrategy = .repeatPrevious,
                       frames: Int, height outH: Int, width outW: Int) -> Tensor {
        let d = config.totalDown
        var height = outH, width = outW
        if let s = config.encoderSize, outH == config.frameSize, outW == config.frameSize { height = s; width = s }
        let latent = [frames / d.t, height / d.h, width / d.w, config.latentChannels]
        zhat.resize(latent); zhat.zero()
        for m in (0..<layers.count).reversed() {
            guard let idx = indices[m] else { continue }
            let g = grid(ofLayer: m, frames: frames, height: height, width: width)
            let q = codes[m]
            q.resize([g.t, g.h, g.w, layers[m].bits])
            fillCodes(q, indices: idx, mask: masks?[m], strategy: strategy, grid: g, layer: m)
            addInPlace(zhat, layers[m].expand(q))
        }
        let y = decoder.forward(zhat)
        return height == outH && width == outW ? y : resizeBilinear(y, height: outH, width: outW)
    }

    /// Writes ±1 code vectors for `indices` into q, applying the mask strategy.
    func fillCodes(_ q: Tensor, indices: [UInt32], mask: [Bool]?, strategy: MaskStrategy, grid g: Size3, layer m: Int) {
        let bits = layers[m].bits
        var idx = indices
        if let mask, strategy == .repeatPrevious {
            let plane = g.h * g.w
            for i in 0..<idx.count where mask[i] && i >= plane { idx[i] = idx[i - plane] }
        }
        LFQ.lookup(idx, bits: bits, into: q)
        guard let mask, strategy == .zero || strategy == .learned else { return }
        for i in 0..<idx.count where mask[i] {
            for b in 0..<bits {
                q[i * bits + b] = strategy == .zero ? 0 : maskEmbeddings[m].value[b]
            }
        }
    }
}
