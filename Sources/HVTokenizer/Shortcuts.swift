// Pieces of the `v2` tokenizer architecture (TokenizerConfig.norm, .shortcuts; formats/tokenizer.md):
// - BlockNorm: the normalisation of a ResNet block, GroupNorm with per-frame statistics or RMSNorm over the
//   channels of each position. RMSNorm's statistics do not depend on how much of the frame the model sees, so
//   a model trained on 64² crops behaves the same on 256² frames (GroupNorm's per-frame statistics do not).
// - ColourShortcut: the non-parametric shortcut around every resampling conv and output head (after DC-AE's
//   space-to-channel / channel-to-space shortcuts). Channel j of every shortcut tensor stands for colour j mod 3:
//   the shortcut writes, into each output channel j, the mean of the input channels i ≡ j (mod 3). With the
//   stem's shortcut (the RGB box mean of each patch) and average pooling / repetition for the resampling, an
//   untrained encoder's latent is the box-mean colour of its cell and an untrained decoder paints the colour of
//   its latent: the model starts at box means and its convolutions learn only what box means miss.
import HVEngine

final class BlockNorm: ParameterOwner {
    let group: GroupNorm?
    let rms: RMSNorm?

    init(name: String, channels: Int, config c: TokenizerConfig) {
        if c.normKind == .rms {
            rms = RMSNorm(name: name, dim: channels, eps: c.normEpsilon ?? 1e-6); group = nil
        } else {
            group = GroupNorm(name: name, channels: channels, groups: c.normGroups); rms = nil
        }
    }

    var parameters: [Parameter] { group?.parameters ?? rms!.parameters }
    func forward(_ x: Tensor) -> Tensor { group?.forward(x) ?? rms!.forward(x) }
    func forward(_ x: Tensor, into y: Tensor) { if let group { group.forward(x, into: y) } else { rms!.forward(x, into: y) } }
    func backward(_ dy: Tensor) -> Tensor { group?.backward(dy) ?? rms!.backward(dy) }
}

/// y[..., j] = mean of x[..., i] over i ≡ j (mod 3); channel counts may differ (identity when equal).
final class ColourShortcut {
    let inChannels: Int, outChannels: Int
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])

    init(inChannels: Int, outChannels: Int) {
        precondition(inChannels >= 3 && outChannels >= 3, "a colour shortcut needs at least 3 channels each side")
        self.inChannels = inChannels; self.outChannels = outChannels
    }

    /// How many input channels carry colour k.
    private func count(_ k: Int) -> Float { Float((inChannels - k + 2) / 3) }

    func forward(_ x: Tensor) -> Tensor {
        let ci = inChannels, co = outChannels, n = x.count / ci
        var shape = x.shape; shape[shape.count - 1] = co
        output.resize(shape)
        let inv = (0..<3).map { 1 / count($0) }
        let xp = x.data, yp = output.data
        Parallel.forRanges(n, minChunk: 1024) { r in
            for p in r {
                let xi = xp + p * ci, yi = yp + p * co
                var m: (Float, Float, Float) = (0, 0, 0)
                var i = 0
                while i + 2 < ci { m.0 += xi[i]; m.1 += xi[i + 1]; m.2 += xi[i + 2]; i += 3 }
                if i < ci { m.0 += xi[i] }
                if i + 1 < ci { m.1 += xi[i + 1] }
                let c = (m.0 * inv[0], m.1 * inv[1], m.2 * inv[2])
                var j = 0
                while j + 2 < co { yi[j] = c.0; yi[j + 1] = c.1; yi[j + 2] = c.2; j += 3 }
                if j < co { yi[j] = c.0 }
                if j + 1 < co { yi[j + 1] = c.1 }
            }
        }
        return output
    }

    func backward(_ dy: Tensor) -> Tensor {
        let ci = inChannels, co = outChannels, n = dy.count / co
        var shape = dy.shape; shape[shape.count - 1] = ci
        gradInput.resize(shape)
        let inv = (0..<3).map { 1 / count($0) }
        let gp = dy.data, dp = gradInput.data
        Parallel.forRanges(n, minChunk: 1024) { r in
            for p in r {
                let gi = gp + p * co, di = dp + p * ci
                var s: [Float] = [0, 0, 0]
                for j in 0..<co { s[j % 3] += gi[j] }
                for k in 0..<3 { s[k] *= inv[k] }
                for i in 0..<ci { di[i] = s[i % 3] }
            }
        }
        return gradInput
    }
}

/// a + b written into `buffer` (resized), which is returned: for sums whose operands are layer-owned outputs that the
/// next call of the same layer overwrites (the shortcut additions of Encoder3D and Decoder3D).
func sum(_ a: Tensor, _ b: Tensor, into buffer: Tensor) -> Tensor {
    buffer.resize(a.shape)
    add(a, b, into: buffer)
    return buffer
}
