// Reconstruction and adversarial losses. Each returns the mean-reduced scalar loss and WRITES
// d(loss)/d(input) into the caller's gradient tensor (resized to match).
import Foundation

/// mean |pred − target|.
public func l1Loss(pred: Tensor, target: Tensor, grad: Tensor) -> Float {
    precondition(pred.count == target.count)
    grad.resize(pred.shape)
    let n = pred.count, inv = 1 / Float(n)
    let p = pred.data, t = target.data, g = grad.data
    // 16 lanes: the gradient is exactly the scalar one; the sum is Float per lane over blocks of 1024, then Double.
    let total = blockSum(n) { i, end in
        typealias V = SIMD16<Float>
        var acc = V(), i = i
        let pos = V(repeating: inv), neg = V(repeating: -inv), zero = V()
        while i + 16 <= end {
            let d = V.load(p + i) - V.load(t + i)
            acc += d.replacing(with: -d, where: d .< 0)
            zero.replacing(with: pos, where: d .> 0).replacing(with: neg, where: d .< 0).store(g + i)
            i += 16
        }
        var s = Double(acc.sum())
        while i < end {
            let d = p[i] - t[i]
            s += Double(abs(d))
            g[i] = d > 0 ? inv : (d < 0 ? -inv : 0)
            i += 1
        }
        return s
    }
    return Float(total / Double(n))
}

/// mean (pred − target)².
public func l2Loss(pred: Tensor, target: Tensor, grad: Tensor) -> Float {
    precondition(pred.count == target.count)
    grad.resize(pred.shape)
    let n = pred.count, inv = 2 / Float(n)
    let p = pred.data, t = target.data, g = grad.data
    let total = blockSum(n) { i, end in
        typealias V = SIMD16<Float>
        var acc = V(), i = i
        while i + 16 <= end {
            let d = V.load(p + i) - V.load(t + i)
            acc += d * d
            (d * inv).store(g + i)
            i += 16
        }
        var s = Double(acc.sum())
        while i < end { let d = p[i] - t[i]; s += Double(d * d); g[i] = d * inv; i += 1 }
        return s
    }
    return Float(total / Double(n))
}

/// Σ of `body(start, end)` over consecutive blocks of 1024 of `0..<n`, added in Double (each block may sum its
/// elements in Float lanes: 1024 terms keep that error near Float's own).
@inline(__always) func blockSum(_ n: Int, _ body: (Int, Int) -> Double) -> Double {
    var total: Double = 0, i = 0
    while i < n { let end = min(n, i + 1024); total += body(i, end); i = end }
    return total
}

/// Hinge discriminator loss: mean relu(1 − D(real)) + mean relu(1 + D(fake)).
public func hingeDiscriminatorLoss(realLogits: Tensor, fakeLogits: Tensor, gradReal: Tensor, gradFake: Tensor) -> Float {
    gradReal.resize(realLogits.shape); gradFake.resize(fakeLogits.shape)
    var lr: Double = 0, lf: Double = 0
    let ir = 1 / Float(realLogits.count), iff = 1 / Float(fakeLogits.count)
    for i in 0..<realLogits.count {
        let m = 1 - realLogits[i]
        lr += Double(max(m, 0)); gradReal[i] = m > 0 ? -ir : 0
    }
    for i in 0..<fakeLogits.count {
        let m = 1 + fakeLogits[i]
        lf += Double(max(m, 0)); gradFake[i] = m > 0 ? iff : 0
    }
    return Float(lr / Double(realLogits.count) + lf / Double(fakeLogits.count))
}

/// Hinge generator loss: −mean D(fake).
public func hingeGeneratorLoss(fakeLogits: Tensor, grad: Tensor) -> Float {
    grad.resize(fakeLogits.shape)
    let inv = 1 / Float(fakeLogits.count)
    var s: Double = 0
    for i in 0..<fakeLogits.count { s += Double(fakeLogits[i]); grad[i] = -inv }
    return Float(-s / Double(fakeLogits.count))
}

@inline(__always) func softplus(_ x: Float) -> Float { x > 20 ? x : log1pf(expf(x)) }

/// Non-saturating generator loss: mean softplus(−D(fake)).
public func nonSaturatingGeneratorLoss(fakeLogits: Tensor, grad: Tensor) -> Float {
    grad.resize(fakeLogits.shape)
    let inv = 1 / Float(fakeLogits.count)
    var s: Double = 0
    for i in 0..<fakeLogits.count {
        let x = fakeLogits[i]
        s += Double(softplus(-x)); grad[i] = -sigmoidf(-x) * inv
    }
    return Float(s / Double(fakeLogits.count))
}

/// Non-saturating discriminator loss: mean softplus(−D(real)) + mean softplus(D(fake)).
public func nonSaturatingDiscriminatorLoss(realLogits: Tensor, fakeLogits: Tensor, gradReal: Tensor, gradFake: Tensor) -> Float {
    gradReal.resize(realLogits.shape); gradFake.resize(fakeLogits.shape)
    var lr: Double = 0, lf: Double = 0
    let ir = 1 / Float(realLogits.count), iff = 1 / Float(fakeLogits.count)
    for i in 0..<realLogits.count { let x = realLogits[i]; lr += Double(softplus(-x)); gradReal[i] = -sigmoidf(-x) * ir }
    for i in 0..<fakeLogits.count { let x = fakeLogits[i]; lf += Double(softplus(x)); gradFake[i] = sigmoidf(x) * iff }
    return Float(lr / Double(realLogits.count) + lf / Double(fakeLogits.count))
}
