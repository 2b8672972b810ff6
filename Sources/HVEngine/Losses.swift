// Reconstruction and adversarial losses. Each returns the mean-reduced scalar loss and WRITES
// d(loss)/d(input) into the caller's gradient tensor (resized to match).
import Foundation

/// mean |pred − target|.
public func l1Loss(pred: Tensor, target: Tensor, grad: Tensor) -> Float {
    precondition(pred.count == target.count)
    grad.resize(pred.shape)
    let n = pred.count, inv = 1 / Float(n)
    var total: Double = 0
    for i in 0..<n {
        let d = pred[i] - target[i]
        total += Double(abs(d))
        grad[i] = d > 0 ? inv : (d < 0 ? -inv : 0)
    }
    return Float(total / Double(n))
}

/// mean (pred − target)².
public func l2Loss(pred: Tensor, target: Tensor, grad: Tensor) -> Float {
    precondition(pred.count == target.count)
    grad.resize(pred.shape)
    let n = pred.count, inv = 2 / Float(n)
    var total: Double = 0
    for i in 0..<n {
        let d = pred[i] - target[i]
        total += Double(d * d)
        grad[i] = d * inv
    }
    return Float(total / Double(n))
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
