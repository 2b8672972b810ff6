// The perceptual term of the tokenizer loss. LPIPS needs pretrained VGG/AlexNet weights, which cannot
// be downloaded here, so we use a multi-scale image-gradient L1 instead: |∇x̂ − ∇x| on horizontal and
// vertical finite differences at full and half resolution. Like LPIPS it penalises blur and lost edges
// that plain L1 tolerates, it costs a few passes over the frames, and it has no learned parameters.
// pred, target: [T, H, W, 3]; the loss is the mean over every difference at each scale, scales summed.
import HVEngine

public enum GradientLoss {
    /// Returns the loss and ACCUMULATES weight·d(loss)/d(pred) into `grad` (same shape as pred).
    public static func compute(pred: Tensor, target: Tensor, weight: Float, grad: Tensor) -> Float {
        precondition(pred.shape == target.shape && grad.shape == pred.shape)
        let T = pred.shape[0], H = pred.shape[1], W = pred.shape[2], C = pred.shape[3]
        var loss = fullScale(pred.data, target.data, T: T, H: H, W: W, C: C, weight: weight, grad: grad.data)
        if H >= 4 && W >= 4 && H % 2 == 0 && W % 2 == 0 {
            let h2 = H / 2, w2 = W / 2
            let p2 = Tensor(shape: [T, h2, w2, C]), t2 = Tensor(shape: [T, h2, w2, C]), g2 = Tensor(shape: [T, h2, w2, C])
            pool2(pred.data, into: p2.data, T: T, H: H, W: W, C: C)
            pool2(target.data, into: t2.data, T: T, H: H, W: W, C: C)
            loss += fullScale(p2.data, t2.data, T: T, H: h2, W: w2, C: C, weight: weight, grad: g2.data)
            // Back through the 2×2 average: each input pixel gets a quarter of its pooled gradient.
            for t in 0..<T { for y in 0..<H { for x in 0..<W { for c in 0..<C {
                grad.data[((t * H + y) * W + x) * C + c] += 0.25 * g2.data[((t * h2 + y / 2) * w2 + x / 2) * C + c]
            } } } }
        }
        return loss
    }

    static func pool2(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int) {
        let h2 = H / 2, w2 = W / 2
        for t in 0..<T { for y in 0..<h2 { for x in 0..<w2 { for c in 0..<C {
            let a = src[((t * H + 2 * y) * W + 2 * x) * C + c] + src[((t * H + 2 * y) * W + 2 * x + 1) * C + c]
            let b = src[((t * H + 2 * y + 1) * W + 2 * x) * C + c] + src[((t * H + 2 * y + 1) * W + 2 * x + 1) * C + c]
            dst[((t * h2 + y) * w2 + x) * C + c] = 0.25 * (a + b)
        } } } }
    }

    /// Mean |Δp − Δt| over horizontal and vertical neighbours; accumulates weight·grad.
    static func fullScale(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int,
                          weight: Float, grad: UnsafeMutablePointer<Float>) -> Float {
        let nx = T * H * (W - 1) * C, ny = T * (H - 1) * W * C
        guard nx > 0 || ny > 0 else { return 0 }
        var sum: Double = 0
        let sx = nx > 0 ? weight / Float(nx) : 0, sy = ny > 0 ? weight / Float(ny) : 0
        var lx: Double = 0, ly: Double = 0
        for t in 0..<T {
            for y in 0..<H {
                for x in 0..<W {
                    let base = ((t * H + y) * W + x) * C
                    for c in 0..<C {
                        let i = base + c
                        if x + 1 < W {
                            let j = i + C
                            let d = (p[j] - p[i]) - (q[j] - q[i])
                            lx += Double(abs(d))
                            let s: Float = d > 0 ? sx : (d < 0 ? -sx : 0)
                            grad[j] += s; grad[i] -= s
                        }
                        if y + 1 < H {
                            let j = i + W * C
                            let d = (p[j] - p[i]) - (q[j] - q[i])
                            ly += Double(abs(d))
                            let s: Float = d > 0 ? sy : (d < 0 ? -sy : 0)
                            grad[j] += s; grad[i] -= s
                        }
                    }
                }
            }
        }
        sum = (nx > 0 ? lx / Double(nx) : 0) + (ny > 0 ? ly / Double(ny) : 0)
        return Float(sum)
    }
}
