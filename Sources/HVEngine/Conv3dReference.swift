// Naive reference for Conv3d: direct loops, no im2col, no BLAS. Tests compare the optimised kernels
// against it; it is far too slow for anything else.

/// y = conv(x, w) + bias by direct summation (Double accumulation).
public func conv3dForwardNaive(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry) -> Tensor {
    let T = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    let o = g.outputShape(x.shape)
    let y = Tensor(shape: o)
    for to in 0..<o[0] { for ho in 0..<o[1] { for wo in 0..<o[2] { for co in 0..<g.outChannels {
        var s = Double(bias?[co] ?? 0)
        for a in 0..<g.kernel.t {
            guard let ti = g.inputFrame(to, a, frames: T) else { continue }
            for b in 0..<g.kernel.h {
                let hi = ho * g.stride.h + b - g.padH
                if hi < 0 || hi >= H { continue }
                for c in 0..<g.kernel.w {
                    let wi = wo * g.stride.w + c - g.padW
                    if wi < 0 || wi >= W { continue }
                    for ci in 0..<C {
                        s += Double(x[((ti * H + hi) * W + wi) * C + ci])
                            * Double(weight[(((a * g.kernel.h + b) * g.kernel.w + c) * C + ci) * g.outChannels + co])
                    }
                }
            }
        }
        y[((to * o[1] + ho) * o[2] + wo) * g.outChannels + co] = Float(s)
    } } } }
    return y
}

/// (dx, dW, dbias) by direct summation.
public func conv3dBackwardNaive(x: Tensor, weight: Tensor, geometry g: Conv3dGeometry, dy: Tensor) -> (Tensor, Tensor, Tensor) {
    let T = x.shape[0], H = x.shape[1], W = x.shape[2], C = x.shape[3]
    let o = dy.shape
    let dx = Tensor(shape: x.shape), dw = Tensor(shape: weight.shape), db = Tensor(shape: [g.outChannels])
    for to in 0..<o[0] { for ho in 0..<o[1] { for wo in 0..<o[2] { for co in 0..<g.outChannels {
        let d = dy[((to * o[1] + ho) * o[2] + wo) * g.outChannels + co]
        db[co] += d
        for a in 0..<g.kernel.t {
            guard let ti = g.inputFrame(to, a, frames: T) else { continue }
            for b in 0..<g.kernel.h {
                let hi = ho * g.stride.h + b - g.padH
                if hi < 0 || hi >= H { continue }
                for c in 0..<g.kernel.w {
                    let wi = wo * g.stride.w + c - g.padW
                    if wi < 0 || wi >= W { continue }
                    for ci in 0..<C {
                        let xi = ((ti * H + hi) * W + wi) * C + ci
                        let wj = (((a * g.kernel.h + b) * g.kernel.w + c) * C + ci) * g.outChannels + co
                        dx[xi] += d * weight[wj]
                        dw[wj] += d * x[xi]
                    }
                }
            }
        }
    } } } }
    return (dx, dw, db)
}
