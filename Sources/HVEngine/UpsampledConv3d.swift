// Nearest-neighbour up-sampling by 1 or 2 per axis followed by a causal 3D convolution (the decoder's up step),
// computed on the low-resolution input, without building the up-sampled tensor. On a doubled axis, the two
// outputs inside each pair of copies (its phases) read only two input positions through the conv's three taps:
// for a 3-tap spatial kernel, phase 0 reads input h−1 through tap 0 and h through taps 1 and 2, phase 1 reads h
// through taps 0 and 1 and h+1 through tap 2. So each phase is a 2-tap conv of the input whose weights are the
// conv's taps summed by the input they land on: 8 taps per output instead of 27 for a 3×3×3 conv doubled on
// every axis, on an eighth of the positions. In time (causal, taps on frames u−2, u−1, u of the up-sampled
// clip) both phases read input frames t−1 and t, so they share one im2col: their weights stand side by side as
// one GEMM of f_t·Cout columns. Each spatial phase is then one `conv3dForward` with an even kernel.
// Tests compare it with Upsample followed by Conv3d, forward and backward, and check its backward by finite
// differences.
import Foundation

public final class UpsampledConv3d: ParameterOwner {
    /// Holds the weights [kt, kh, kw, Cin, Cout] and bias exactly as the unfused conv does (same names, same
    /// checkpoints); only the computation differs.
    public let conv: Conv3d
    public let factors: (t: Int, h: Int, w: Int)

    /// One phase of one axis: `index[k]` is the phase's tap that original tap k lands on.
    struct AxisPhase { let size: Int; let first: Int; let index: [Int] }

    struct SpatialPhase {
        let h: Int, w: Int                 // position inside the f_h × f_w block
        let rows: AxisPhase, cols: AxisPhase
        let geometry: Conv3dGeometry       // outChannels f_t·Cout
        let weight: Tensor, dWeight: Tensor
    }
    private let frames: [AxisPhase]        // one per temporal phase, all with the same taps
    private var phases: [SpatialPhase] = []
    private var input: Tensor?
    private let output = Tensor(shape: [0]), gradInput = Tensor(shape: [0])
    private let phaseOut = Tensor(shape: [0]), phaseGrad = Tensor(shape: [0])
    private var col: Tensor { ConvColumns.current }
    private let scratch = Conv3dScratch()

    /// Input offsets (floor((p + k + first) / f)) of an axis's taps for phase p.
    static func axisPhase(kernel: Int, first: Int, factor f: Int, phase p: Int) -> AxisPhase {
        let offsets = (0..<kernel).map { k -> Int in
            let u = p + k + first
            return u >= 0 ? u / f : -((-u + f - 1) / f)
        }
        let lo = offsets.min()!, hi = offsets.max()!
        return AxisPhase(size: hi - lo + 1, first: lo, index: offsets.map { $0 - lo })
    }

    public init(conv: Conv3d, factors: (t: Int, h: Int, w: Int)) {
        let g = conv.geometry
        precondition([factors.t, factors.h, factors.w].allSatisfy { $0 == 1 || $0 == 2 }, "UpsampledConv3d: factors of 1 or 2")
        precondition(g.stride == (1, 1, 1) && g.lookahead == 0 && g.spatialPadding == nil,
                     "UpsampledConv3d: a causal stride-1 'same' conv")
        precondition(g.kernel.h % 2 == 1 && g.kernel.w % 2 == 1, "UpsampledConv3d: odd spatial kernels")
        self.conv = conv
        self.factors = factors
        frames = (0..<factors.t).map { UpsampledConv3d.axisPhase(kernel: g.kernel.t, first: 1 - g.kernel.t, factor: factors.t, phase: $0) }
        let ft = frames[0]
        precondition(frames.allSatisfy { $0.size == ft.size && $0.first == ft.first }, "UpsampledConv3d: temporal phases differ in taps")
        // The phase conv is causal with its last tap on frame t + lookahead.
        let lookahead = ft.first + ft.size - 1
        precondition(lookahead == 0, "UpsampledConv3d: a temporal phase reaches past its frame")
        for ph in 0..<factors.h {
            for pw in 0..<factors.w {
                let r = UpsampledConv3d.axisPhase(kernel: g.kernel.h, first: -(g.kernel.h - 1) / 2, factor: factors.h, phase: ph)
                let c = UpsampledConv3d.axisPhase(kernel: g.kernel.w, first: -(g.kernel.w - 1) / 2, factor: factors.w, phase: pw)
                var pg = Conv3dGeometry(kernel: (t: ft.size, h: r.size, w: c.size), stride: (1, 1, 1), inChannels: g.inChannels,
                                        outChannels: factors.t * g.outChannels, temporalPadding: g.temporalPadding)
                pg.spatialPadding = (h: -r.first, w: -c.first)
                let shape = [ft.size, r.size, c.size, g.inChannels, factors.t * g.outChannels]
                phases.append(SpatialPhase(h: ph, w: pw, rows: r, cols: c, geometry: pg,
                                           weight: Tensor(shape: shape), dWeight: Tensor(shape: shape)))
            }
        }
    }

    public var parameters: [Parameter] { conv.parameters }

    /// For every tap (kt, kh, kw) of the conv and temporal phase pt: the phase weight's tap it is summed into.
    private func forEachTap(_ p: SpatialPhase, _ body: (_ original: Int, _ phaseTap: Int, _ column: Int) -> Void) {
        let k = conv.geometry.kernel
        for kt in 0..<k.t { for kh in 0..<k.h { for kw in 0..<k.w {
            let original = (kt * k.h + kh) * k.w + kw
            for pt in 0..<factors.t {
                let tap = (frames[pt].index[kt] * p.rows.size + p.rows.index[kh]) * p.cols.size + p.cols.index[kw]
                body(original, tap, pt)
            }
        } } }
    }

    /// The phase's weights [kt', kh', kw', Cin, f_t·Cout] from the conv's.
    private func compose(_ p: SpatialPhase) {
        let cin = conv.geometry.inChannels, cout = conv.geometry.outChannels, n = factors.t * cout
        let w = conv.weight.value.data, pw = p.weight.data
        p.weight.zero()
        forEachTap(p) { original, tap, pt in
            for ci in 0..<cin {
                addFloats(pw + (tap * cin + ci) * n + pt * cout, w + (original * cin + ci) * cout, count: cout)
            }
        }
    }

    /// The transpose of `compose`: the conv's weight gradient accumulates the phase's.
    private func distribute(_ p: SpatialPhase) {
        let cin = conv.geometry.inChannels, cout = conv.geometry.outChannels, n = factors.t * cout
        let g = conv.weight.grad.data, pg = p.dWeight.data
        forEachTap(p) { original, tap, pt in
            for ci in 0..<cin {
                addFloats(g + (original * cin + ci) * cout, pg + (tap * cin + ci) * n + pt * cout, count: cout)
            }
        }
    }

    /// Calls `body(outputRow, phaseRow)` for every input position and temporal phase of spatial phase `p`:
    /// the up-sampled output position's Cout floats and their place in the phase's [T, H, W, f_t·Cout] result.
    private func forEachPosition(_ p: SpatialPhase, inputShape s: [Int],
                                 _ body: (_ output: Int, _ phase: Int) -> Void) {
        let T = s[0], H = s[1], W = s[2], f = factors, cout = conv.geometry.outChannels
        let Ho = H * f.h, Wo = W * f.w
        Parallel.forEach(T * H) { th in
            let t = th / H, h = th % H
            for w in 0..<W {
                let src = ((t * H + h) * W + w) * f.t * cout
                for pt in 0..<f.t {
                    body((((t * f.t + pt) * Ho + h * f.h + p.h) * Wo + w * f.w + p.w) * cout, src + pt * cout)
                }
            }
        }
    }

    /// x [T, H, W, Cin] → layer-owned y [f_t·T, f_h·H, f_w·W, Cout], valid until the next forward.
    public func forward(_ x: Tensor) -> Tensor {
        input = x
        let s = x.shape, f = factors, cout = conv.geometry.outChannels
        output.resize([s[0] * f.t, s[1] * f.h, s[2] * f.w, cout])
        let y = output.data
        for p in phases {
            compose(p)
            conv3dForward(x: x, weight: p.weight, bias: nil, geometry: p.geometry, y: phaseOut, col: col)
            let src = phaseOut.data
            forEachPosition(p, inputShape: s) { o, q in copyFloats(y + o, src + q, count: cout) }
        }
        if let bias = conv.bias { addBiasRows(output, bias.value) }
        return output
    }

    /// dy → layer-owned dx; accumulates into the conv's weight and bias gradients (unless the conv's
    /// `accumulatesParameterGradients` is off).
    public func backward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("UpsampledConv3d.backward before forward") }
        let s = x.shape, cout = conv.geometry.outChannels
        gradInput.resize(s)
        gradInput.zero()
        let grads = conv.accumulatesParameterGradients
        if grads, let bias = conv.bias { sumRows(dy, into: bias.grad) }
        phaseOut.resize([s[0], s[1], s[2], factors.t * cout])
        let d = dy.data, pd = phaseOut.data
        for p in phases {
            forEachPosition(p, inputShape: s) { o, q in copyFloats(pd + q, d + o, count: cout) }
            if grads { p.dWeight.zero() }
            conv3dBackward(x: x, weight: p.weight, geometry: p.geometry, dy: phaseOut, dx: phaseGrad,
                           dWeight: grads ? p.dWeight : nil, dBias: nil, col: col, scratch: scratch)
            addFloats(gradInput.data, phaseGrad.data, count: gradInput.count)
            if grads { distribute(p) }
        }
        return gradInput
    }
}
