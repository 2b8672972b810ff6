// SwiGLU gate (Shazeer 2020, "GLU Variants Improve Transformer"): y = silu(a)·b, silu(a) = a·σ(a).
// Backward: da = dy·b·σ(a)·(1 + a·(1 − σ(a))), db = dy·silu(a). The layer takes x [N, 2F] = [a | b].
import Foundation

@inline(__always) func swigluSigmoid(_ z: Float) -> Float {
    1 / (1 + ExpKernel.expScalar(-z))   // exp clamps at ±88, so no overflow; vectorises
}

/// y[N, F] = silu(a)·b with a, b rows of length `features` at row strides `inStride` (2F for a packed [a|b]).
public func swigluForward(a: UnsafePointer<Float>, b: UnsafePointer<Float>, inStride: Int, y: UnsafeMutablePointer<Float>,
                          rows n: Int, features f: Int) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(f, 1))) { r in
        for i in r { for j in 0..<f {
            let av = a[i * inStride + j]
            y[i * f + j] = av * swigluSigmoid(av) * b[i * inStride + j]
        } }
    }
}

/// da, db overwritten (same strides as a, b).
public func swigluBackward(dy: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>, inStride: Int,
                           da: UnsafeMutablePointer<Float>, db: UnsafeMutablePointer<Float>, rows n: Int, features f: Int) {
    Parallel.forRanges(n, minChunk: Swift.max(1, 8192 / Swift.max(f, 1))) { r in
        for i in r { for j in 0..<f {
            let k = i * inStride + j, av = a[k], s = swigluSigmoid(av), g = dy[i * f + j]
            da[k] = g * b[k] * s * (1 + av * (1 - s))
            db[k] = g * av * s
        } }
    }
}

public final class SwiGLU {
    public let output = Tensor(shape: [0]), gradInput = Tensor(shape: [0])
    private var input: Tensor?
    public init() {}

    /// x: [..., 2F] (a = first F, b = last F) -> layer-owned [..., F].
    public func forward(_ x: Tensor) -> Tensor {
        let f2 = x.shape.last ?? 0, f = f2 / 2, n = f2 == 0 ? 0 : x.count / f2
        output.resize(Array(x.shape.dropLast()) + [f])
        swigluForward(a: x.data, b: x.data + f, inStride: f2, y: output.data, rows: n, features: f)
        input = x
        return output
    }

    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { return gradInput }
        let f2 = x.shape.last ?? 0, f = f2 / 2, n = f2 == 0 ? 0 : x.count / f2
        gradInput.resize(x.shape)
        swigluBackward(dy: dy.data, a: x.data, b: x.data + f, inStride: f2, da: gradInput.data, db: gradInput.data + f, rows: n, features: f)
        return gradInput
    }
}
