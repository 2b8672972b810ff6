// Parameter-free resampling of channels-last video [T, H, W, C]:
// SpaceToDepth/DepthToSpace by factors (ft, fh, fw) ↔ [T/ft, H/fh, W/fw, ft·fh·fw·C] with channel order
// (ft, fh, fw, C), C fastest — the patch stem and the depth-to-space (transposed) up-sampling;
// Upsample (nearest-neighbour repetition; backward sums) and AvgPool (non-overlapping mean; backward spreads).

/// Moves (ft, fh, fw) blocks between space/time and channels. `toDepth`: [T,H,W,C] → [T/ft,H/fh,W/fw,ft·fh·fw·C].
func shuffleBlocks(_ src: Tensor, _ dst: Tensor, f: (t: Int, h: Int, w: Int), toDepth: Bool) {
    // Shapes in "space" form.
    let s = toDepth ? src.shape : dst.shape
    let T = s[0], H = s[1], W = s[2], C = s[3]
    let To = T / f.t, Ho = H / f.h, Wo = W / f.w
    let Cd = f.t * f.h * f.w * C
    let sp = src.data, dp = dst.data
    Parallel.forEach(To * Ho) { th in
        let to = th / Ho, ho = th % Ho
        for wo in 0..<Wo {
            for a in 0..<f.t { for b in 0..<f.h { for c in 0..<f.w {
                let spaceIdx = (((to * f.t + a) * H + ho * f.h + b) * W + wo * f.w + c) * C
                let depthIdx = ((to * Ho + ho) * Wo + wo) * Cd + ((a * f.h + b) * f.w + c) * C
                if toDepth { (dp + depthIdx).update(from: sp + spaceIdx, count: C) }
                else { (dp + spaceIdx).update(from: sp + depthIdx, count: C) }
            } } }
        }
    }
}

public final class SpaceToDepth {
    public let factors: (t: Int, h: Int, w: Int)
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    public init(factors: (t: Int, h: Int, w: Int)) { self.factors = factors }

    public func forward(_ x: Tensor) -> Tensor {
        let f = factors
        precondition(x.shape[0] % f.t == 0 && x.shape[1] % f.h == 0 && x.shape[2] % f.w == 0,
                     "SpaceToDepth: \(x.shape) not divisible by \(f)")
        output.resize([x.shape[0] / f.t, x.shape[1] / f.h, x.shape[2] / f.w, f.t * f.h * f.w * x.shape[3]])
        shuffleBlocks(x, output, f: f, toDepth: true)
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let f = factors
        gradInput.resize([dy.shape[0] * f.t, dy.shape[1] * f.h, dy.shape[2] * f.w, dy.shape[3] / (f.t * f.h * f.w)])
        shuffleBlocks(dy, gradInput, f: f, toDepth: false)
        return gradInput
    }
}

public final class DepthToSpace {
    public let factors: (t: Int, h: Int, w: Int)
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    public init(factors: (t: Int, h: Int, w: Int)) { self.factors = factors }

    public func forward(_ x: Tensor) -> Tensor {
        let f = factors
        output.resize([x.shape[0] * f.t, x.shape[1] * f.h, x.shape[2] * f.w, x.shape[3] / (f.t * f.h * f.w)])
        shuffleBlocks(x, output, f: f, toDepth: false)
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let f = factors
        gradInput.resize([dy.shape[0] / f.t, dy.shape[1] / f.h, dy.shape[2] / f.w, f.t * f.h * f.w * dy.shape[3]])
        shuffleBlocks(dy, gradInput, f: f, toDepth: true)
        return gradInput
    }
}

/// Nearest-neighbour up-sampling by integer factors; backward sums each block.
public final class Upsample {
    public let factors: (t: Int, h: Int, w: Int)
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    public init(factors: (t: Int, h: Int, w: Int)) { self.factors = factors }

    public func forward(_ x: Tensor) -> Tensor {
        let f = factors, T = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
        let To = T * f.t, Ho = H * f.h, Wo = W * f.w
        output.resize([To, Ho, Wo, C])
        let sp = x.data, dp = output.data
        Parallel.forEach(To * Ho) { th in
            let t = th / Ho, h = th % Ho
            for w in 0..<Wo {
                (dp + ((t * Ho + h) * Wo + w) * C).update(from: sp + (((t / f.t) * H + h / f.h) * W + w / f.w) * C, count: C)
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let f = factors, To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2], C = dy.shape[3]
        let T = To / f.t, H = Ho / f.h, W = Wo / f.w
        gradInput.resize([T, H, W, C])
        gradInput.zero()
        let sp = dy.data, dp = gradInput.data
        Parallel.forEach(T * H) { th in
            let t = th / H, h = th % H
            for w in 0..<W {
                let d = dp + ((t * H + h) * W + w) * C
                for a in 0..<f.t { for b in 0..<f.h { for c in 0..<f.w {
                    let s = sp + (((t * f.t + a) * Ho + h * f.h + b) * Wo + w * f.w + c) * C
                    for k in 0..<C { d[k] += s[k] }
                } } }
            }
        }
        return gradInput
    }
}

/// Non-overlapping average pooling by integer factors; backward spreads the gradient evenly.
public final class AvgPool {
    public let factors: (t: Int, h: Int, w: Int)
    private let output = Tensor(shape: [0])
    private let gradInput = Tensor(shape: [0])
    public init(factors: (t: Int, h: Int, w: Int)) { self.factors = factors }

    public func forward(_ x: Tensor) -> Tensor {
        let f = factors, T = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
        precondition(T % f.t == 0 && H % f.h == 0 && W % f.w == 0, "AvgPool: \(x.shape) not divisible by \(f)")
        let To = T / f.t, Ho = H / f.h, Wo = W / f.w
        output.resize([To, Ho, Wo, C])
        output.zero()
        let inv = 1 / Float(f.t * f.h * f.w)
        let sp = x.data, dp = output.data
        Parallel.forEach(To * Ho) { th in
            let t = th / Ho, h = th % Ho
            for w in 0..<Wo {
                let d = dp + ((t * Ho + h) * Wo + w) * C
                for a in 0..<f.t { for b in 0..<f.h { for c in 0..<f.w {
                    let s = sp + (((t * f.t + a) * H + h * f.h + b) * W + w * f.w + c) * C
                    for k in 0..<C { d[k] += s[k] * inv }
                } } }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        let f = factors, To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2], C = dy.shape[3]
        let T = To * f.t, H = Ho * f.h, W = Wo * f.w
        gradInput.resize([T, H, W, C])
        let inv = 1 / Float(f.t * f.h * f.w)
        let sp = dy.data, dp = gradInput.data
        Parallel.forEach(T * H) { th in
            let t = th / H, h = th % H
            for w in 0..<W {
                let s = sp + (((t / f.t) * Ho + h / f.h) * Wo + w / f.w) * C
                let d = dp + ((t * H + h) * W + w) * C
                for k in 0..<C { d[k] = s[k] * inv }
            }
        }
        return gradInput
    }
}

/// Bilinear spatial resize of [T, H, W, C] to [T, outH, outW, C] with half-pixel centres (PyTorch's
/// `interpolate(mode="bilinear", align_corners=False)`, no anti-aliasing). Forward only: it serves inference
/// (the `single` baseline's 256 → 272 → 256 frames), nothing trains through it.
public func resizeBilinear(_ x: Tensor, height outH: Int, width outW: Int) -> Tensor {
    let T = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    let y = Tensor(shape: [T, outH, outW, C])
    func taps(_ n: Int, _ inN: Int) -> [(Int, Int, Float)] {
        (0..<n).map { o in
            let s = max(0, (Float(o) + 0.5) * Float(inN) / Float(n) - 0.5)
            let i0 = min(Int(s), inN - 1), i1 = min(i0 + 1, inN - 1)
            return (i0, i1, s - Float(i0))
        }
    }
    let ty = taps(outH, H), tx = taps(outW, W)
    let src = x.data, dst = y.data
    Parallel.forEach(T * outH) { row in
        let t = row / outH, (y0, y1, fy) = ty[row % outH]
        let r0 = src + (t * H + y0) * W * C, r1 = src + (t * H + y1) * W * C
        let out = dst + row * outW * C
        for (o, (x0, x1, fx)) in tx.enumerated() {
            for c in 0..<C {
                let top = r0[x0 * C + c] + fx * (r0[x1 * C + c] - r0[x0 * C + c])
                let bottom = r1[x0 * C + c] + fx * (r1[x1 * C + c] - r1[x0 * C + c])
                out[o * C + c] = top + fy * (bottom - top)
            }
        }
    }
    return y
}
