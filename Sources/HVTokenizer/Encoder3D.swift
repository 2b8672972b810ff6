// The causal 3D CNN encoder (paper section 3.2, Figure 1): video [T, H, W, 3] in [-1, 1] →
// latent [T/8, H/16, W/16, latentChannels] for the shipped configs.
// - Stem: space-to-depth by `patch` (2×4×4, as Cosmos's patch stem) then a 1×1×1 conv, so the
//   full-resolution layers cost nothing and the first ResNet stage runs at 1/2 × 1/4 × 1/4.
// - Causal padding: every temporal kernel pads only the past, replicating the first frame (not zeros),
//   so that the first frames see a plausible "static past" instead of black, and a clip's latent frame t
//   depends only on input frames up to the end of its temporal window.
// - Normalisation: GroupNorm with statistics per frame — statistics over all frames would leak future
//   frames into earlier latents and break causality.
import HVEngine

final class Encoder3D: ParameterOwner {
    let s2d: SpaceToDepth
    let stem: Conv3d
    var blocks: [[ResBlock3D]] = []
    var downs: [Conv3d?] = []
    let normOut: GroupNorm
    let actOut = SiLU()
    let projOut: Conv3d

    init(config c: TokenizerConfig, rng: inout SeededRandom) {
        s2d = SpaceToDepth(factors: c.patch.tuple)
        let patchChannels = 3 * c.patch.volume
        stem = Conv3d(name: "encoder.stem", inChannels: patchChannels, outChannels: c.stages[0].channels,
                      kernel: (t: 1, h: 1, w: 1), rng: &rng)
        for (i, s) in c.stages.enumerated() {
            blocks.append((0..<s.blocks).map { b in
                ResBlock3D(name: "encoder.stage\(i).block\(b)", inChannels: s.channels, outChannels: s.channels,
                           groups: c.normGroups, rng: &rng)
            })
            if s.down != .one {
                let next = c.stages[i + 1].channels
                downs.append(Conv3d(name: "encoder.stage\(i).down", inChannels: s.channels, outChannels: next,
                                    kernel: (t: 3, h: 3, w: 3), stride: s.down.tuple, rng: &rng))
            } else {
                downs.append(nil)
            }
        }
        let last = c.stages.last!.channels
        normOut = GroupNorm(name: "encoder.norm_out", channels: last, groups: c.normGroups)
        projOut = Conv3d(name: "encoder.proj_out", inChannels: last, outChannels: c.latentChannels,
                         kernel: (t: 1, h: 1, w: 1), rng: &rng)
    }

    var parameters: [Parameter] {
        var p = stem.parameters
        for (i, stage) in blocks.enumerated() {
            for b in stage { p += b.parameters }
            if let d = downs[i] { p += d.parameters }
        }
        return p + normOut.parameters + projOut.parameters
    }

    func forward(_ x: Tensor) -> Tensor {
        var h = s2d.forward(x)
        h = stem.forward(h)
        for (i, stage) in blocks.enumerated() {
            for b in stage { h = b.forward(h) }
            if let d = downs[i] { h = d.forward(h) }
        }
        h = normOut.forward(h)
        h = actOut.forward(h)
        return projOut.forward(h)
    }

    func backward(_ dy: Tensor) -> Tensor {
        var g = projOut.backward(dy)
        g = actOut.backward(g)
        g = normOut.backward(g)
        for (i, stage) in blocks.enumerated().reversed() {
            if let d = downs[i] { g = d.backward(g) }
            for b in stage.reversed() { g = b.backward(g) }
        }
        g = stem.backward(g)
        return s2d.backward(g)
    }
}
