// Element-wise arithmetic on tensors of equal element count (residual adds and friends).
import Foundation

/// out = a + b.
public func add(_ a: Tensor, _ b: Tensor, into out: Tensor) {
    precondition(a.count == b.count, "add: \(a.shape) vs \(b.shape)")
    out.resize(a.shape)
    let x = a.data, y = b.data, o = out.data
    Parallel.forRanges(a.count) { r in for i in r { o[i] = x[i] + y[i] } }
}

/// out = a − b.
public func subtract(_ a: Tensor, _ b: Tensor, into out: Tensor) {
    precondition(a.count == b.count, "subtract: \(a.shape) vs \(b.shape)")
    out.resize(a.shape)
    let x = a.data, y = b.data, o = out.data
    Parallel.forRanges(a.count) { r in for i in r { o[i] = x[i] - y[i] } }
}

/// a += b.
public func addInPlace(_ a: Tensor, _ b: Tensor) {
    precondition(a.count == b.count, "addInPlace: \(a.shape) vs \(b.shape)")
    let x = a.data, y = b.data
    Parallel.forRanges(a.count) { r in for i in r { x[i] += y[i] } }
}

/// a += alpha · b.
public func axpy(_ alpha: Float, _ b: Tensor, _ a: Tensor) {
    precondition(a.count == b.count, "axpy: \(a.shape) vs \(b.shape)")
    let x = a.data, y = b.data
    Parallel.forRanges(a.count) { r in for i in r { x[i] += alpha * y[i] } }
}

extension Tensor {
    /// Multiplies every element by `s`.
    public func scale(by s: Float) {
        let x = data
        Parallel.forRanges(count) { r in for i in r { x[i] *= s } }
    }
}
