// A causal 3D ResNet block (paper section 3.2: "four ResNet blocks, each equipped with causal 3D CNN
// layers"): Norm → SiLU → Conv 3×3×3 → Norm → SiLU → Conv 3×3×3, plus the input (through a
// 1×1×1 conv when the channel count changes). Shapes: x [T, H, W, Cin] → [T, H, W, Cout].
// The norm is the config's (GroupNorm per frame, or RMSNorm per position; see Shortcuts.swift).
import HVEngine

final class ResBlock3D: ParameterOwner {
    let norm1: BlockNorm, act1 = SiLU(), conv1: Conv3d
    let norm2: BlockNorm, act2 = SiLU(), conv2: Conv3d
    let skip: Conv3d?
    private let out = Tensor(shape: [0])
    private let dx = Tensor(shape: [0])
    /// Inference only: the block's inner activations go to two buffers of the thread, shared by every lean block,
    /// instead of six of its own kept for a backward (`HierarchicalTokenizer.setInference`). The output is the same
    /// to the bit; `backward` refuses.
    var lean = false

    init(name: String, inChannels: Int, outChannels: Int, config: TokenizerConfig, rng: inout SeededRandom) {
        norm1 = BlockNorm(name: "\(name).norm1", channels: inChannels, config: config)
        conv1 = Conv3d(name: "\(name).conv1", inChannels: inChannels, outChannels: outChannels,
                       kernel: (t: 3, h: 3, w: 3), rng: &rng)
        norm2 = BlockNorm(name: "\(name).norm2", channels: outChannels, config: config)
        conv2 = Conv3d(name: "\(name).conv2", inChannels: outChannels, outChannels: outChannels,
                       kernel: (t: 3, h: 3, w: 3), rng: &rng)
        // The second conv starts near zero (at zero with shortcuts) so that each block starts close to the identity.
        conv2.weight.value.scale(by: config.hasShortcuts ? 0 : 0.1)
        skip = inChannels == outChannels ? nil
            : Conv3d(name: "\(name).skip", inChannels: inChannels, outChannels: outChannels,
                     kernel: (t: 1, h: 1, w: 1), rng: &rng)
    }

    var convs: [Conv3d] { [conv1, conv2] + (skip.map { [$0] } ?? []) }

    var parameters: [Parameter] {
        norm1.parameters + conv1.parameters + norm2.parameters + conv2.parameters + (skip?.parameters ?? [])
    }

    func forward(_ x: Tensor) -> Tensor {
        if lean {
            let a = ThreadScratch.tensor("hv.block.a"), b = ThreadScratch.tensor("hv.block.b")
            norm1.forward(x, into: a); act1.forward(a, into: a)
            conv1.forward(a, into: b)
            norm2.forward(b, into: a); act2.forward(a, into: a)
            conv2.forward(a, into: b)
            let s = skip?.forward(x) ?? x
            out.resize(b.shape)
            add(b, s, into: out)
            return out
        }
        var h = norm1.forward(x)
        h = act1.forward(h)
        h = conv1.forward(h)
        h = norm2.forward(h)
        h = act2.forward(h)
        h = conv2.forward(h)
        let s = skip?.forward(x) ?? x
        out.resize(h.shape)
        add(h, s, into: out)
        return out
    }

    func backward(_ dy: Tensor) -> Tensor {
        precondition(!lean, "a lean ResBlock3D keeps no activations for a backward")
        var g = conv2.backward(dy)
        g = act2.backward(g)
        g = norm2.backward(g)
        g = conv1.backward(g)
        g = act1.backward(g)
        g = norm1.backward(g)
        let gs = skip?.backward(dy) ?? dy
        dx.resize(g.shape)
        add(g, gs, into: dx)
        return dx
    }
}


extension Size3 {
    var tuple: (t: Int, h: Int, w: Int) { (t: t, h: h, w: w) }
}
