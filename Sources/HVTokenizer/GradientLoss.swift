// The perceptual term of the tokenizer loss. LPIPS needs pretrained VGG/AlexNet weights, which cannot
// be downloaded here, so we use a multi-scale image-gradient L1 instead: |∇x̂ − ∇x| on horizontal and
// vertical finite differences at full and half resolution. Like LPIPS it penalises blur and lost edges
// that plain L1 tolerates, it costs a few passes over the frames, and it has no learned parameters.
// pred, target: [T, H, W, 3]; the loss is the mean over every difference at each scale, scales summed.
//
// `temporal` is the same idea along time: |Δₜx̂ − Δₜx| between consecutive frames. Per-frame L1 is indifferent
// to *when* a change happens inside a latent step — a render that holds a frame for 8 steps and then jumps costs
// about what one that moves smoothly costs — while this term charges every frame whose change differs from the
// source's. It is taken on the frames 2×2- and 4×4-averaged as well, because what a decoder can render of motion
// at this rate is mostly the motion of coarse structure.
import HVEngine

public enum GradientLoss {
    /// A term's value at one scale: (pred, target, T, H, W, C, weight, grad) → loss, accumulating weight·gradient.
    typealias Term = (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int, Int, Int, Int, Float,
                      UnsafeMutablePointer<Float>) -> Float

    /// Returns the loss and ACCUMULATES weight·d(loss)/d(pred) into `grad` (same shape as pred).
    public static func compute(pred: Tensor, target: Tensor, weight: Float, grad: Tensor) -> Float {
        precondition(pred.shape == target.shape && grad.shape == pred.shape)
        return multiScale(pred.data, target.data, T: pred.shape[0], H: pred.shape[1], W: pred.shape[2], C: pred.shape[3],
                          weight: weight, grad: grad.data, scales: 2, minimumSize: 4) {
            fullScale($0, $1, T: $2, H: $3, W: $4, C: $5, weight: $6, grad: $7)
        }
    }

    /// Mean |Δₜp − Δₜt| over consecutive frames, summed over `scales` spatial scales (full, then 2×2-averaged, …);
    /// returns the loss and ACCUMULATES weight·d(loss)/d(pred) into `grad`.
    public static func temporal(pred: Tensor, target: Tensor, weight: Float, grad: Tensor, scales: Int = 3) -> Float {
        precondition(pred.shape == target.shape && grad.shape == pred.shape)
        return multiScale(pred.data, target.data, T: pred.shape[0], H: pred.shape[1], W: pred.shape[2], C: pred.shape[3],
                          weight: weight, grad: grad.data, scales: scales, minimumSize: 2) {
            temporalScale($0, $1, T: $2, H: $3, W: $4, C: $5, weight: $6, grad: $7)
        }
    }

    /// `term` at full resolution, then on the frames 2×2-averaged (while H and W are even and ≥ `minimumSize`), up to
    /// `scales` scales, summed; each pooled scale's gradient goes back through the average.
    static func multiScale(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int,
                           weight: Float, grad: UnsafeMutablePointer<Float>, scales: Int, minimumSize: Int,
                           term: Term) -> Float {
        guard scales > 0 else { return 0 }
        var loss = term(p, q, T, H, W, C, weight, grad)
        if scales > 1 && H >= minimumSize && W >= minimumSize && H % 2 == 0 && W % 2 == 0 {
            let count = T * (H / 2) * (W / 2) * C
            let p2 = Tensor(shape: [count]), q2 = Tensor(shape: [count]), g2 = Tensor(shape: [count])
            pool2(p, into: p2.data, T: T, H: H, W: W, C: C)
            pool2(q, into: q2.data, T: T, H: H, W: W, C: C)
            loss += multiScale(p2.data, q2.data, T: T, H: H / 2, W: W / 2, C: C, weight: weight, grad: g2.data,
                               scales: scales - 1, minimumSize: minimumSize, term: term)
            unpool2(g2.data, into: grad, T: T, H: H, W: W, C: C)
        }
        return loss
    }

    /// Mean |Δₜp − Δₜt| over consecutive frames at one scale; accumulates weight·grad.
    static func temporalScale(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int,
                              weight: Float, grad: UnsafeMutablePointer<Float>) -> Float {
        guard T > 1 else { return 0 }
        let frame = H * W * C, n = (T - 1) * frame
        let s = weight / Float(n)
        var sum: Double = 0
        for t in 1..<T {
            let a = t * frame, b = a - frame
            for i in 0..<frame {
                let d = (p[a + i] - p[b + i]) - (q[a + i] - q[b + i])
                sum += Double(abs(d))
                let g: Float = d > 0 ? s : (d < 0 ? -s : 0)
                grad[a + i] += g; grad[b + i] -= g
            }
        }
        return Float(sum / Double(n))
    }

    /// The adjoint of `pool2`: adds a quarter of each pooled gradient to the four pixels it averaged.
    static func unpool2(_ g2: UnsafeMutablePointer<Float>, into grad: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int) {
        let h2 = H / 2, w2 = W / 2
        Parallel.forEach(T) { t in for y in 0..<H { for x in 0..<W { for c in 0..<C {
            grad[((t * H + y) * W + x) * C + c] += 0.25 * g2[((t * h2 + y / 2) * w2 + x / 2) * C + c]
        } } } }
    }

    static func pool2(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int) {
        let h2 = H / 2, w2 = W / 2
        Parallel.forEach(T) { t in for y in 0..<h2 { for x in 0..<w2 { for c in 0..<C {
            let a = src[((t * H + 2 * y) * W + 2 * x) * C + c] + src[((t * H + 2 * y) * W + 2 * x + 1) * C + c]
            let b = src[((t * H + 2 * y + 1) * W + 2 * x) * C + c] + src[((t * H + 2 * y + 1) * W + 2 * x + 1) * C + c]
            dst[((t * h2 + y) * w2 + x) * C + c] = 0.25 * (a + b)
        } } } }
    }

    /// Mean |Δp − Δt| over horizontal and vertical neighbours; accumulates weight·grad. Frames run in parallel
    /// (no difference crosses a frame), rows 16 lanes at a time. Each gradient element gets its four terms in the
    /// order `fullScaleReference` adds them (the vertical term from the row above, the horizontal one from the
    /// left neighbour, then its own horizontal and vertical ones), so the gradient is bit-for-bit the reference's;
    /// the loss is summed per row in Float lanes and per frame in Double, so it agrees to rounding.
    static func fullScale(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int,
                          weight: Float, grad: UnsafeMutablePointer<Float>) -> Float {
        let nx = T * H * (W - 1) * C, ny = T * (H - 1) * W * C
        guard nx > 0 || ny > 0 else { return 0 }
        let sx = nx > 0 ? weight / Float(nx) : 0, sy = ny > 0 ? weight / Float(ny) : 0
        let row = W * C, rowX = (W - 1) * C
        var lx = [Double](repeating: 0, count: T), ly = [Double](repeating: 0, count: T)
        lx.withUnsafeMutableBufferPointer { lxp in ly.withUnsafeMutableBufferPointer { lyp in
            let lxb = lxp.baseAddress!, lyb = lyp.baseAddress!
            Parallel.forEach(T) { t in
                // The signed terms of the row above (vertical, into this row), of this row's horizontal and
                // vertical differences: one scratch row each, swapped as the rows advance.
                let buf = UnsafeMutablePointer<Float>.allocate(capacity: 4 * row)
                defer { buf.deallocate() }
                let none = buf + 3 * row
                none.initialize(repeating: 0, count: row)
                var above = buf, horizontal = buf + row, below = buf + 2 * row
                var sumX: Double = 0, sumY: Double = 0
                for y in 0..<H {
                    let r = (t * H + y) * row
                    sumX += Double(signedDifferences(p + r, q + r, step: C, count: rowX, scale: sx, into: horizontal))
                    if y + 1 < H {
                        sumY += Double(signedDifferences(p + r, q + r, step: row, count: row, scale: sy, into: below))
                    }
                    addTerms(grad + r, row: row, shift: C, above: y > 0 ? above : none, horizontal: horizontal,
                             rowX: rowX, vertical: y + 1 < H ? below : none)
                    swap(&above, &below)
                }
                lxb[t] = sumX; lyb[t] = sumY
            }
        } }
        let sum = (nx > 0 ? lx.reduce(0, +) / Double(nx) : 0) + (ny > 0 ? ly.reduce(0, +) / Double(ny) : 0)
        return Float(sum)
    }

    /// out[i] = sign(d)·scale with d = (p[i + step] − p[i]) − (q[i + step] − q[i]), i < count; returns Σ|d|.
    @inline(__always)
    static func signedDifferences(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, step: Int,
                                  count n: Int, scale s: Float, into out: UnsafeMutablePointer<Float>) -> Float {
        typealias V = SIMD16<Float>
        let zero = V(repeating: 0), pos = V(repeating: s), neg = V(repeating: -s)
        var acc = V(repeating: 0), i = 0
        while i + 16 <= n {
            let d = (V.load(p + i + step) - V.load(p + i)) - (V.load(q + i + step) - V.load(q + i))
            acc += d.replacing(with: -d, where: d .< 0)
            zero.replacing(with: pos, where: d .> 0).replacing(with: neg, where: d .< 0).store(out + i)
            i += 16
        }
        var total = acc.sum()
        while i < n {
            let d = (p[i + step] - p[i]) - (q[i + step] - q[i])
            total += abs(d)
            out[i] = d > 0 ? s : (d < 0 ? -s : 0)
            i += 1
        }
        return total
    }

    /// Adds one row's gradient terms in the reference's order: g + above[k] + horizontal[k − shift] − horizontal[k]
    /// − vertical[k], the horizontal terms only where they exist (k ≥ shift, k < rowX); a missing row above or
    /// below is a row of zeros (x + 0 and x − 0 are x).
    @inline(__always)
    static func addTerms(_ g: UnsafeMutablePointer<Float>, row: Int, shift: Int, above: UnsafeMutablePointer<Float>,
                         horizontal h: UnsafeMutablePointer<Float>, rowX: Int, vertical v: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        var k = 0
        while k < min(shift, row) {
            var x = g[k] + above[k]
            if k < rowX { x -= h[k] }
            g[k] = x - v[k]; k += 1
        }
        while k + 16 <= rowX {
            var x: V = V.load(g + k) + V.load(above + k)
            x += V.load(h + k - shift)
            x -= V.load(h + k)
            x -= V.load(v + k)
            x.store(g + k)
            k += 16
        }
        while k < row {
            var x = g[k] + above[k]
            if k >= shift { x += h[k - shift] }
            if k < rowX { x -= h[k] }
            g[k] = x - v[k]; k += 1
        }
    }

    /// `fullScale` element by element: the reference the tests hold it to.
    static func fullScaleReference(_ p: UnsafeMutablePointer<Float>, _ q: UnsafeMutablePointer<Float>, T: Int, H: Int, W: Int, C: Int,
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
