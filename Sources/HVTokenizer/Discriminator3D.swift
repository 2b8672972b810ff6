// A small 3D patch discriminator for the adversarial term (paper: "adversarial loss with a
// discriminator"; MAGVIT-v2 uses a 3D StyleGAN discriminator — far too costly here).
// video [T, H, W, 3] → space-to-depth 2×4×4 → conv (1,3,3) → SiLU → strided 3×3×3 convs → logits
// [T/8, H/16, W/16, 1]: one real/fake score per spatio-temporal patch. Causal padding like the encoder.
import HVEngine

public final class Discriminator3D: ParameterOwner {
    let s2d = SpaceToDepth(factors: (t: 2, h: 4, w: 4))
    let conv1: Conv3d, act1 = SiLU()
    let conv2: Conv3d, act2 = SiLU()
    let conv3: Conv3d, act3 = SiLU()
    let head: Conv3d

    public init(channels: Int = 32, seed: UInt64 = 7) {
        var rng = SeededRandom(seed: seed)
        conv1 = Conv3d(name: "disc.conv1", inChannels: 96, outChannels: channels, kernel: (t: 1, h: 3, w: 3), rng: &rng)
        conv2 = Conv3d(name: "disc.conv2", inChannels: channels, outChannels: 2 * channels, kernel: (t: 3, h: 3, w: 3),
                       stride: (t: 2, h: 2, w: 2), rng: &rng)
        conv3 = Conv3d(name: "disc.conv3", inChannels: 2 * channels, outChannels: 2 * channels, kernel: (t: 3, h: 3, w: 3),
                       stride: (t: 2, h: 2, w: 2), rng: &rng)
        head = Conv3d(name: "disc.head", inChannels: 2 * channels, outChannels: 1, kernel: (t: 1, h: 1, w: 1), rng: &rng)
    }

    public var parameters: [Parameter] { conv1.parameters + conv2.parameters + conv3.parameters + head.parameters }

    public func forward(_ x: Tensor) -> Tensor {
        var h = s2d.forward(x)
        h = act1.forward(conv1.forward(h))
        h = act2.forward(conv2.forward(h))
        h = act3.forward(conv3.forward(h))
        return head.forward(h)
    }

    /// Returns d(loss)/d(input); accumulates parameter gradients.
    public func backward(_ dy: Tensor) -> Tensor {
        var g = head.backward(dy)
        g = conv3.backward(act3.backward(g))
        g = conv2.backward(act2.backward(g))
        g = conv1.backward(act1.backward(g))
        return s2d.backward(g)
    }
}
