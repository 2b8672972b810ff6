// The causal 3D CNN decoder, mirroring Encoder3D: latent [T', H', W', latentChannels] →
// video [T, H, W, 3] (unbounded; clamp to [-1, 1] when rendering).
// Up-sampling is nearest-neighbour repetition followed by a causal 3×3×3 conv: latent frame j feeds
// frames 2j and 2j+1 only, so the decoder stays causal. The pair runs fused on the low-resolution input
// (UpsampledConv3d: 8 taps per output instead of 27). The output head predicts a 2×4×4 patch per
// position and a depth-to-space unpacks it (the inverse of the encoder's stem).
// Widths are the encoder's or `decoderChannels` (a decoder wider than the encoder puts capacity where the
// image prior lives). With `shortcuts`, the input conv, every up-sampling conv and the head add the colour
// means of their (repeated) input, so the untrained decoder paints each latent cell's colour (Shortcuts.swift).
// With `decoderLookahead` L the input conv has 3 + L taps, the last L on the latent frames after its own: every
// later layer then sees one step ahead too, and a latent step's 8 frames can interpolate towards the next.
// Repetition makes the two frames of a pair differ only by what their taps see of the previous latent frame, so
// a step's frames can interpolate from the step before but cannot show change that only this step's code knows.
// With `frameBranches` every up-sampling that doubles time adds a channel-to-time branch (FrameBranch), through
// which a latent step's channels can set each of its frames apart.
import HVEngine

/// Channel-to-time, as TAEHV's decoder grows time: a 1×3×3 conv on the low-rate grid with f.t × outChannels
/// outputs, unpacked into f.t frames (depth-to-space over time) and repeated over f.h × f.w, added to an
/// up-sampling's output. Zero-initialised, so a decoder given branches renders what it rendered without them
/// until they train.
final class FrameBranch: ParameterOwner {
    let conv: Conv3d
    private let toTime: DepthToSpace
    private let repeatSpace: Upsample

    init(name: String, inChannels: Int, outChannels: Int, factors f: (t: Int, h: Int, w: Int), rng: inout SeededRandom) {
        conv = Conv3d(name: name, inChannels: inChannels, outChannels: f.t * outChannels, kernel: (t: 1, h: 3, w: 3), rng: &rng)
        conv.weight.value.scale(by: 0)
        toTime = DepthToSpace(factors: (t: f.t, h: 1, w: 1))
        repeatSpace = Upsample(factors: (t: 1, h: f.h, w: f.w))
    }

    var parameters: [Parameter] { conv.parameters }
    func forward(_ x: Tensor) -> Tensor { repeatSpace.forward(toTime.forward(conv.forward(x))) }
    func backward(_ dy: Tensor) -> Tensor { conv.backward(toTime.backward(repeatSpace.backward(dy))) }
}

final class Decoder3D: ParameterOwner {
    let convIn: Conv3d
    var blocks: [[ResBlock3D]] = []      // stage order: deepest first
    var ups: [UpsampledConv3d?] = []  // after each stage's blocks
    let normOut: BlockNorm?
    let actOut = SiLU()
    let head: Conv3d
    let d2s: DepthToSpace
    // Shortcut paths (nil without `shortcuts`).
    let inShortcut: ColourShortcut?
    var upShortcuts: [(ColourShortcut, Upsample)?] = []
    var frameBranches: [FrameBranch?] = []
    let headShortcut: ColourShortcut?
    private let inSum = Tensor(shape: [0]), headSum = Tensor(shape: [0]), dsum = Tensor(shape: [0]), fsum = Tensor(shape: [0])
    private var upSums: [Tensor] = [], frameSums: [Tensor] = []

    init(config c: TokenizerConfig, rng: inout SeededRandom) {
        let sc = c.hasShortcuts
        let stages = Array(c.decoderStages.reversed())
        convIn = Conv3d(name: "decoder.conv_in", inChannels: c.latentChannels, outChannels: stages[0].channels,
                        kernel: (t: 3 + c.lookahead, h: 3, w: 3), lookahead: c.lookahead, rng: &rng)
        inShortcut = sc ? ColourShortcut(inChannels: c.latentChannels, outChannels: stages[0].channels) : nil
        for (i, s) in stages.enumerated() {
            blocks.append((0..<s.blocks).map { b in
                ResBlock3D(name: "decoder.stage\(i).block\(b)", inChannels: s.channels, outChannels: s.channels,
                           config: c, rng: &rng)
            })
            if i + 1 < stages.count {
                // The encoder went from stages[i+1] down to stages[i] with stages[i+1].down.
                let f = stages[i + 1].down
                let next = stages[i + 1].channels
                ups.append(UpsampledConv3d(conv: Conv3d(name: "decoder.stage\(i).up", inChannels: s.channels,
                                                        outChannels: next, kernel: (t: 3, h: 3, w: 3), rng: &rng),
                                           factors: f.tuple))
                upShortcuts.append(sc ? (ColourShortcut(inChannels: s.channels, outChannels: next), Upsample(factors: f.tuple)) : nil)
                frameBranches.append(c.hasFrameBranches && f.t > 1
                    ? FrameBranch(name: "decoder.stage\(i).frames", inChannels: s.channels, outChannels: next,
                                  factors: f.tuple, rng: &rng) : nil)
            } else {
                ups.append(nil); upShortcuts.append(nil); frameBranches.append(nil)
            }
            upSums.append(Tensor(shape: [0])); frameSums.append(Tensor(shape: [0]))
        }
        let last = stages.last!.channels
        normOut = c.hasOutputNorm ? BlockNorm(name: "decoder.norm_out", channels: last, config: c) : nil
        head = Conv3d(name: "decoder.head", inChannels: last, outChannels: 3 * c.patch.volume,
                      kernel: (t: 1, h: 3, w: 3), rng: &rng)
        headShortcut = sc ? ColourShortcut(inChannels: last, outChannels: 3 * c.patch.volume) : nil
        d2s = DepthToSpace(factors: c.patch.tuple)
        if sc {
            convIn.weight.value.scale(by: 0.1)
            for u in ups { u?.conv.weight.value.scale(by: 0.1) }
            head.weight.value.scale(by: 0)
        }
    }

    var parameters: [Parameter] {
        var p = convIn.parameters
        for (i, stage) in blocks.enumerated() {
            for b in stage { p += b.parameters }
            if let up = ups[i] { p += up.parameters }
            if let fb = frameBranches[i] { p += fb.parameters }
        }
        return p + (normOut?.parameters ?? []) + head.parameters
    }

    /// Every conv, for switching their parameter gradients off in an input-gradient-only backward.
    var convs: [Conv3d] {
        [convIn, head] + blocks.joined().flatMap(\.convs) + ups.compactMap { $0?.conv } + frameBranches.compactMap { $0?.conv }
    }

    func forward(_ z: Tensor) -> Tensor {
        var h = convIn.forward(z)
        if let inShortcut {
            h = sum(h, inShortcut.forward(z), into: inSum)
        }
        for (i, stage) in blocks.enumerated() {
            for b in stage { h = b.forward(h) }
            if let up = ups[i] {
                let y = up.forward(h)
                var out = y
                if let (cs, rep) = upShortcuts[i] {
                    out = sum(y, rep.forward(cs.forward(h)), into: upSums[i])
                }
                if let fb = frameBranches[i] {
                    out = sum(out, fb.forward(h), into: frameSums[i])
                }
                h = out
            }
        }
        var g = h
        if let normOut { g = normOut.forward(g) }
        var y = head.forward(actOut.forward(g))
        if let headShortcut {
            y = sum(y, headShortcut.forward(h), into: headSum)
        }
        return d2s.forward(y)
    }

    func backward(_ dy: Tensor) -> Tensor {
        let gy = d2s.backward(dy)
        var g = head.backward(gy)
        g = actOut.backward(g)
        if let normOut { g = normOut.backward(g) }
        if let headShortcut { g = sum(g, headShortcut.backward(gy), into: dsum) }
        for (i, stage) in blocks.enumerated().reversed() {
            if let up = ups[i] {
                // The branch reads g before the shortcut's sum overwrites dsum, which g may be.
                let gf = frameBranches[i]?.backward(g)
                let gu = up.backward(g)
                var gin = gu
                if let (cs, rep) = upShortcuts[i] {
                    gin = sum(gu, cs.backward(rep.backward(g)), into: dsum)
                }
                if let gf { gin = sum(gin, gf, into: fsum) }
                g = gin
            }
            for b in stage.reversed() { g = b.backward(g) }
        }
        let gz = convIn.backward(g)
        guard let inShortcut else { return gz }
        return sum(gz, inShortcut.backward(g), into: dsum)
    }

}
