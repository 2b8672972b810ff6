// The causal 3D CNN decoder, mirroring Encoder3D: latent [T', H', W', latentChannels] →
// video [T, H, W, 3] (unbounded; clamp to [-1, 1] when rendering).
// Up-sampling is nearest-neighbour repetition followed by a causal 3×3×3 conv: latent frame j feeds
// frames 2j and 2j+1 only, so the decoder stays causal. The output head predicts a 2×4×4 patch per
// position and a depth-to-space unpacks it (the inverse of the encoder's stem).
import HVEngine

final class Decoder3D: ParameterOwner {
    let convIn: Conv3d
    var blocks: [[ResBlock3D]] = []      // stage order: deepest first
    var ups: [(Upsample, Conv3d)?] = []  // after each stage's blocks
    let normOut: GroupNorm
    let actOut = SiLU()
    let head: Conv3d
    let d2s: DepthToSpace

    init(config c: TokenizerConfig, rng: inout SeededRandom) {
        let stages = Array(c.stages.reversed())
        convIn = Conv3d(name: "decoder.conv_in", inChannels: c.latentChannels, outChannels: stages[0].channels,
                        kernel: (t: 3, h: 3, w: 3), rng: &rng)
        for (i, s) in stages.enumerated() {
            blocks.append((0..<s.blocks).map { b in
                ResBlock3D(name: "decoder.stage\(i).block\(b)", inChannels: s.channels, outChannels: s.channels,
                           groups: c.normGroups, rng: &rng)
            })
            if i + 1 < stages.count {
                // The encoder went from stages[i+1] down to stages[i] with stages[i+1].down.
                let f = stages[i + 1].down
                let next = stages[i + 1].channels
                ups.append((Upsample(factors: f.tuple),
                            Conv3d(name: "decoder.stage\(i).up", inChannels: s.channels, outChannels: next,
                                   kernel: (t: 3, h: 3, w: 3), rng: &rng)))
            } else {
                ups.append(nil)
            }
        }
        let last = stages.last!.channels
        normOut = GroupNorm(name: "decoder.norm_out", channels: last, groups: c.normGroups)
        head = Conv3d(name: "decoder.head", inChannels: last, outChannels: 3 * c.patch.volume,
                      kernel: (t: 1, h: 3, w: 3), rng: &rng)
        d2s = DepthToSpace(factors: c.patch.tuple)
    }

    var parameters: [Parameter] {
        var p = convIn.parameters
        for (i, stage) in blocks.enumerated() {
            for b in stage { p += b.parameters }
            if let (_, conv) = ups[i] { p += conv.parameters }
        }
        return p + normOut.parameters + head.parameters
    }

    func forward(_ z: Tensor) -> Tensor {
        var h = convIn.forward(z)
        for (i, stage) in blocks.enumerated() {
            for b in stage { h = b.forward(h) }
            if let (up, conv) = ups[i] { h = conv.forward(up.forward(h)) }
        }
        h = normOut.forward(h)
        h = actOut.forward(h)
        h = head.forward(h)
        return d2s.forward(h)
    }

    func backward(_ dy: Tensor) -> Tensor {
        var g = d2s.backward(dy)
        g = head.backward(g)
        g = actOut.backward(g)
        g = normOut.backward(g)
        for (i, stage) in blocks.enumerated().reversed() {
            if let (up, conv) = ups[i] { g = up.backward(conv.backward(g)) }
            for b in stage.reversed() { g = b.backward(g) }
        }
        return convIn.backward(g)
    }
}
