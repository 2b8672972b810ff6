// The causal 3D CNN encoder (paper section 3.2, Figure 1): video [T, H, W, 3] in [-1, 1] →
// latent [T/8, H/16, W/16, latentChannels] for the shipped configs.
// - Stem: space-to-depth by `patch` (2×4×4, as Cosmos's patch stem) then a 1×1×1 conv, so the
//   full-resolution layers cost nothing and the first ResNet stage runs at 1/2 × 1/4 × 1/4.
// - Causal padding: every temporal kernel pads only the past, replicating the first frame (not zeros),
//   so that the first frames see a plausible "static past" instead of black, and a clip's latent frame t
//   depends only on input frames up to the end of its temporal window.
// - Normalisation: GroupNorm with statistics per frame — statistics over all frames would leak future
//   frames into earlier latents and break causality — or RMSNorm per position (config `norm`).
// - With `shortcuts` (Shortcuts.swift): the stem adds the patch's RGB box mean, each down-sampling conv adds the
//   average-pooled colour means of its input, and the output projection adds the colour means of its input, so
//   every conv learns a residual over box means. Pooling stays inside a latent frame's window: causal.
import HVEngine

final class Encoder3D: ParameterOwner {
    let s2d: SpaceToDepth
    let stem: Conv3d
    var blocks: [[ResBlock3D]] = []
    var downs: [Conv3d?] = []
    let normOut: BlockNorm?
    let actOut = SiLU()
    let projOut: Conv3d
    // Shortcut paths (nil without `shortcuts`): pool → colour map, per place.
    let stemPool: AvgPool?, stemShortcut: ColourShortcut?
    var downPools: [AvgPool?] = [], downShortcuts: [ColourShortcut?] = []
    let outShortcut: ColourShortcut?
    private let stemSum = Tensor(shape: [0])
    private var sums: [Tensor] = []
    private let zsum = Tensor(shape: [0])
    private let dsum = Tensor(shape: [0])

    init(config c: TokenizerConfig, rng: inout SeededRandom) {
        let sc = c.hasShortcuts
        s2d = SpaceToDepth(factors: c.patch.tuple)
        let patchChannels = 3 * c.patch.volume
        stem = Conv3d(name: "encoder.stem", inChannels: patchChannels, outChannels: c.stages[0].channels,
                      kernel: (t: 1, h: 1, w: 1), rng: &rng)
        stemPool = sc ? AvgPool(factors: c.patch.tuple) : nil
        stemShortcut = sc ? ColourShortcut(inChannels: 3, outChannels: c.stages[0].channels) : nil
        for (i, s) in c.stages.enumerated() {
            blocks.append((0..<s.blocks).map { b in
                ResBlock3D(name: "encoder.stage\(i).block\(b)", inChannels: s.channels, outChannels: s.channels,
                           config: c, rng: &rng)
            })
            if s.down != .one {
                let next = c.stages[i + 1].channels
                downs.append(Conv3d(name: "encoder.stage\(i).down", inChannels: s.channels, outChannels: next,
                                    kernel: (t: 3, h: 3, w: 3), stride: s.down.tuple, rng: &rng))
                downPools.append(sc ? AvgPool(factors: s.down.tuple) : nil)
                downShortcuts.append(sc ? ColourShortcut(inChannels: s.channels, outChannels: next) : nil)
            } else {
                downs.append(nil); downPools.append(nil); downShortcuts.append(nil)
            }
            sums.append(Tensor(shape: [0]))
        }
        let last = c.stages.last!.channels
        normOut = c.hasOutputNorm ? BlockNorm(name: "encoder.norm_out", channels: last, config: c) : nil
        projOut = Conv3d(name: "encoder.proj_out", inChannels: last, outChannels: c.latentChannels,
                         kernel: (t: 1, h: 1, w: 1), rng: &rng)
        outShortcut = sc ? ColourShortcut(inChannels: last, outChannels: c.latentChannels) : nil
        if sc {
            // Branches start small (the output projection at zero): the untrained encoder is its shortcut.
            stem.weight.value.scale(by: 0.1)
            for d in downs { d?.weight.value.scale(by: 0.1) }
            projOut.weight.value.scale(by: 0)
        }
    }

    var parameters: [Parameter] {
        var p = stem.parameters
        for (i, stage) in blocks.enumerated() {
            for b in stage { p += b.parameters }
            if let d = downs[i] { p += d.parameters }
        }
        return p + (normOut?.parameters ?? []) + projOut.parameters
    }

    func forward(_ x: Tensor) -> Tensor {
        var h = stem.forward(s2d.forward(x))
        if let stemPool, let stemShortcut {
            h = sum(h, stemShortcut.forward(stemPool.forward(x)), into: stemSum)
        }
        for (i, stage) in blocks.enumerated() {
            for b in stage { h = b.forward(h) }
            if let d = downs[i] {
                let y = d.forward(h)
                if let pool = downPools[i], let cs = downShortcuts[i] {
                    h = sum(y, cs.forward(pool.forward(h)), into: sums[i])
                } else {
                    h = y
                }
            }
        }
        var g = h
        if let normOut { g = normOut.forward(g) }
        let z = projOut.forward(actOut.forward(g))
        guard let outShortcut else { return z }
        return sum(z, outShortcut.forward(h), into: zsum)
    }

    func backward(_ dy: Tensor) -> Tensor {
        var g = projOut.backward(dy)
        g = actOut.backward(g)
        if let normOut { g = normOut.backward(g) }
        if let outShortcut { g = sum(g, outShortcut.backward(dy), into: dsum) }
        for (i, stage) in blocks.enumerated().reversed() {
            if let d = downs[i] {
                let gd = d.backward(g)
                if let pool = downPools[i], let cs = downShortcuts[i] {
                    g = sum(gd, pool.backward(cs.backward(g)), into: dsum)
                } else {
                    g = gd
                }
            }
            for b in stage.reversed() { g = b.backward(g) }
        }
        let gx = s2d.backward(stem.backward(g))
        if let stemPool, let stemShortcut { addInPlace(gx, stemPool.backward(stemShortcut.backward(g))) }
        return gx
    }

}
