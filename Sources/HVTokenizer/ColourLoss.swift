// The mean-colour term of the tokenizer loss: Σ over channels of |mean(pred_c) − mean(target_c)|, the means taken
// over every frame and pixel of the crop. Pixel losses are minimised by the decoder's best guess given the codes, and
// a clip's mean colour is worth little of a clip's squared error (4 levels off in one channel is 16 of the ~650 of a
// 20 dB render), so the encoder is not pushed to spend bits on it and saturated clips come back a few levels off. An
// L1 on the means pushes every pixel of a channel the same way with a force that does not fade as the error shrinks.
// pred, target: [T, H, W, C].
import HVEngine

public enum ColourLoss {
    /// Returns the loss and ACCUMULATES weight·d(loss)/d(pred) into `grad` (same shape as pred).
    public static func compute(pred: Tensor, target: Tensor, weight: Float, grad: Tensor) -> Float {
        precondition(pred.shape == target.shape && grad.shape == pred.shape && pred.shape.count == 4)
        let c = pred.shape[3], n = pred.count / c
        let p = pred.data, t = target.data, g = grad.data
        // Per channel Σ(pred − target), in Double over chunks of whole pixels so that the sum does not depend on
        // how the chunks are scheduled.
        var diff = [Double](repeating: 0, count: c)
        for k in 0..<c {
            diff[k] = Parallel.sum(n, minChunk: 1 << 14) { r in
                var s: Double = 0, f: Float = 0
                for (j, i) in r.enumerated() {
                    f += p[i * c + k] - t[i * c + k]
                    if j & 1023 == 1023 { s += Double(f); f = 0 }
                }
                return s + Double(f)
            }
        }
        var loss: Double = 0
        var step = [Float](repeating: 0, count: c)
        for k in 0..<c {
            let d = diff[k] / Double(n)
            loss += abs(d)
            step[k] = d > 0 ? weight / Float(n) : (d < 0 ? -weight / Float(n) : 0)
        }
        step.withUnsafeBufferPointer { s in
            Parallel.forRanges(n, minChunk: 1 << 14) { r in
                for i in r { for k in 0..<c { g[i * c + k] += s[k] } }
            }
        }
        return Float(loss)
    }
}
