// One layer of the token hierarchy (paper section 3.2: "lightweight causal 3D CNN layers" compress the
// latent further, each with its own LFQ codebook whose dimension shrinks with it).
//   down:  residual r [T, H, W, C] → average-pool to the layer grid → conv (1,3,3) C→bits → per-token RMS
//          normalisation (bounded inputs for the LFQ losses; see TokenRMSNormalize.swift) → LFQ → ±1 codes
//   up:    codes [t, h, w, bits] → conv 1×1×1 bits→C → nearest up-sample to the latent grid → causal conv 3×3×3
// The up path maps a layer's codes to its contribution u to the latent; the decoder sees Σ u over the
// layers it is given, coarsest first (see HierarchicalTokenizer.swift).
import HVEngine

final class TokenLayer: ParameterOwner {
    let index: Int
    let bits: Int
    let pool: Size3
    let avgPool: AvgPool?
    let down: Conv3d
    let normalize = TokenRMSNormalize()
    let quantizer: LFQ
    let upProj: Conv3d
    let upsample: Upsample?
    let upConv: Conv3d

    init(index: Int, config c: TokenizerConfig, rng: inout SeededRandom) {
        self.index = index
        bits = c.layers[index].bits
        pool = c.pool(ofLayer: index)
        avgPool = pool == .one ? nil : AvgPool(factors: pool.tuple)
        let C = c.latentChannels
        // A coarse layer's grid on a 64² training crop is 1×1 (L3) or 2×2 (L2, L1): a 3×3 down conv there trains
        // its centre tap and little else, and the untrained taps then act on whole frames. Pointwise (config
        // `pointwiseCoarseDown`), the coarse codes are computed the same way on a crop and on a frame.
        let k = index > 0 && c.hasPointwiseCoarseDown ? 1 : 3
        down = Conv3d(name: "hierarchy.\(index).down", inChannels: C, outChannels: bits,
                      kernel: (t: 1, h: k, w: k), rng: &rng)
        quantizer = LFQ(bits: bits)
        upProj = Conv3d(name: "hierarchy.\(index).up_proj", inChannels: bits, outChannels: C,
                        kernel: (t: 1, h: 1, w: 1), rng: &rng)
        upsample = pool == .one ? nil : Upsample(factors: pool.tuple)
        upConv = Conv3d(name: "hierarchy.\(index).up_conv", inChannels: C, outChannels: C,
                        kernel: (t: 3, h: 3, w: 3), rng: &rng)
        // With colour shortcuts the decoder paints the colour means of ẑ = Σ u straight away: random up paths
        // would paint noise (seen: an untrained-looking colour mush after 500 steps). Starting every contribution
        // at zero starts the render at grey; the up paths learn what to add.
        if c.hasShortcuts { upConv.weight.value.scale(by: 0) }
    }

    var parameters: [Parameter] { downParameters + upParameters }
    /// What decides the layer's codes (frozen by `--freeze-tokens`).
    var downParameters: [Parameter] { down.parameters }
    /// What turns the layer's codes into its latent contribution.
    var upParameters: [Parameter] { upProj.parameters + upConv.parameters }

    /// Pre-quantisation activations for residual `r`: [t, h, w, bits].
    func project(_ r: Tensor) -> Tensor {
        let pooled = avgPool?.forward(r) ?? r
        return normalize.forward(down.forward(pooled))
    }

    /// d(loss)/d(pre-quantisation activations) → d(loss)/dr.
    func projectBackward(_ dx: Tensor) -> Tensor {
        let g = down.backward(normalize.backward(dx))
        return avgPool?.backward(g) ?? g
    }

    /// Latent contribution of codes q [t, h, w, bits] (±1).
    func expand(_ q: Tensor) -> Tensor {
        var h = upProj.forward(q)
        if let upsample { h = upsample.forward(h) }
        return upConv.forward(h)
    }

    /// d(loss)/du → d(loss)/dq.
    func expandBackward(_ du: Tensor) -> Tensor {
        var g = upConv.backward(du)
        if let upsample { g = upsample.backward(g) }
        return upProj.backward(g)
    }
}
