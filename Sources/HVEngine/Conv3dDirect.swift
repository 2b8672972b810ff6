// Direct convolution for stride-1 convs (CKernels' hv_conv_row / hv_conv_row_dw): no im2col copy and no packing.
// The input is copied once into a zero-padded buffer; a padded frame [Hp][Wp][C] is then one long row of Hp·Wp
// positions in which the output at (ho, wo) reads taps (ho + b, wo + c) at offset b·Wp + c from position ho·Wp + wo.
// So every output frame is one row of Ho·Wp positions for the kernel, with kt·kh entries (frame tap a, row tap b →
// the padded frame shifted by b rows) and kw column taps; the Wp − Wo positions at the end of each output row would
// read across the row's edge, and the kernels skip them (on a 16-wide plane they were 2 of every 18 positions' FMAs).
// The long rows are cut into segments whose outputs fit in L1.
// The input gradient of a stride-1 conv is itself such a conv — of the zero-padded output gradient with the kernel
// flipped in space and its channel axes swapped — and the weight gradient accumulates x ⊗ dy over the same rows
// (over the same kept positions). Used where the CPU has AVX-512 (or AVX2 and FMA) and the channel counts are
// multiples of 16 (`appliesForward`, `appliesBackward`); everything else, and every conv when `Conv3dTuning.direct` is off, goes
// through im2col. Tests compare both paths with the naive reference and check the gradients by finite differences.
import CKernels

/// Whether this CPU runs the hand-written AVX-512 kernels of CKernels (conv rows, AdamW, SiLU, the half-precision
/// KV cache); where it does not, each caller keeps its Swift or im2col path.
public enum AVX512Kernels {
    public static let available: Bool = hv_direct_conv_available() != 0
}

/// The AdamW update and SiLU in C lanes (AVX-512, or AVX2 in two 8-lane halves), where Swift's SIMD16 division and
/// square root run lane by lane.
public enum ElementwiseKernels {
    public static let supported: Bool = hv_elementwise_available() != 0
    /// Off, the Swift lanes run (benchmarks time both: `hv-bench train --elementwise-ab`).
    public static var enabled = true
    public static var available: Bool { supported && enabled }
}

public enum Conv3dDirect {
    /// Whether this CPU runs the kernels: AVX-512F, or AVX2 with FMA (6 positions × 16 channels a tile in 256-bit
    /// registers, where AVX-512's widest tile is 6 × 64).
    public static let available: Bool = hv_conv_rows_available() != 0

    /// Forward runs direct when the conv has unit strides, Cout is a multiple of 16 and frames are at least
    /// `minimumWidth` positions wide: on narrower ones the kw − 1 dropped positions of every row cost more than
    /// im2col does (4×4 planes: 1.5× the work; measured 0.5–0.6× im2col's speed there, docs/speed-training-step.md).
    /// Inputs of `maximumChannels` or more go to im2col too: `small2`'s 192→192 decoder convs ran direct at 0.65–0.92×
    /// im2col's speed on 8×8² and 8×16² planes (2026-12-05, Intel with AVX-512, one and two threads; level on 8×4²),
    /// where 128 channels and fewer are 1.0–1.9× faster direct. With AVX2 the limit is 128: on the AMD EPYC of
    /// 2026-12-05 (two threads, three runs) 128→128 ran direct at 0.90–0.93× / 0.80–0.89× (forward / backward)
    /// im2col's speed on 8×16² and 0.98–1.05× / 0.82–0.89× on 8×32², while 96→96 ran at 1.11–1.18× / 1.02–1.08×.
    static func appliesForward(_ g: Conv3dGeometry, width: Int) -> Bool {
        Conv3dTuning.direct && available && g.stride == (1, 1, 1) && g.outChannels % 16 == 0
            && g.kernel != (1, 1, 1) && g.padH < g.kernel.h && g.padW < g.kernel.w && width >= minimumWidth
            && g.inChannels < maximumChannels
    }

    public static let maximumChannels = AVX512Kernels.available ? 192 : 128

    /// 8 with AVX-512; 16 with AVX2, whose narrower tiles gain less from skipping the copies: on 8×8 planes they
    /// ran at 0.88× / 0.93× im2col (64→64) and 0.99× / 1.00× (96→96), on 16×16 and wider at 1.02–2.05×.
    public static let minimumWidth = AVX512Kernels.available ? 8 : 16

    /// Backward runs direct when forward would and Cin is a multiple of 16 too (it is dx's width), and Cout (dx's
    /// input width) is below `maximumChannels` as well.
    static func appliesBackward(_ g: Conv3dGeometry, width: Int) -> Bool {
        appliesForward(g, width: width) && g.inChannels % 16 == 0 && g.outChannels < maximumChannels
    }

    /// Positions per segment of a long row: its outputs (`channels` wide) take about 256 KB, in L2, so that each
    /// pass of weights serves more outputs. Against 32 KB segments (2026-12-05, one and two threads, alternating
    /// runs): 192→192 over 8×8² and 8×16² 1.10–1.30× faster, every other shape of `small2` level within noise.
    static func segment(channels: Int) -> Int { min(384, max(48, 65536 / channels)) }

    /// The segments of a frame's long row of `rowLength` positions (whole rows of `stride`): as many whole rows as
    /// fit in `segment(channels:)` positions, or, where one row is longer, equal parts of a row. Segments never
    /// cross a row's edge, so the kernels' runs of kept positions are never cut into slivers (a 2-position tile
    /// streams a whole pass of weights for two outputs). Returns the count per frame and the i-th segment [p0, p1).
    static func pieces(rowLength: Int, stride: Int, channels: Int) -> (perFrame: Int, piece: (Int) -> (Int, Int)) {
        let base = segment(channels: channels), rows = rowLength / stride
        if stride <= base {
            let per = base / stride * stride
            return ((rowLength + per - 1) / per, { i in (i * per, min(rowLength, (i + 1) * per)) })
        }
        let parts = (stride + base - 1) / base, len = (stride + parts - 1) / parts
        return (rows * parts, { i in
            let r = i / parts, k = i % parts
            return (r * stride + k * len, r * stride + min(stride, (k + 1) * len))
        })
    }

    /// Copies x [T, H, W, C] into `padded` [T, H + top + bottom, W + left + right, C] with zero margins, plus
    /// `slack` zero positions after the last frame (what the last frame's dropped positions read past its end).
    static func pad(_ x: UnsafePointer<Float>, T: Int, H: Int, W: Int, C: Int, top: Int, bottom: Int, left: Int,
                    right: Int, slack: Int, into padded: Tensor) {
        let Hp = H + top + bottom, Wp = W + left + right
        padded.resize([T * Hp * Wp + slack, C])
        let p = padded.data
        (p + T * Hp * Wp * C).update(repeating: 0, count: slack * C)
        Parallel.forRanges(T * Hp, minChunk: 64) { r in
            for row in r {
                let t = row / Hp, h = row % Hp - top
                let dst = p + row * Wp * C
                if h < 0 || h >= H {
                    dst.update(repeating: 0, count: Wp * C)
                    continue
                }
                dst.update(repeating: 0, count: left * C)
                copyFloats(dst + left * C, x + (t * H + h) * W * C, count: W * C)
                (dst + (left + W) * C).update(repeating: 0, count: right * C)
            }
        }
    }

    /// Runs `body(frame, p0, p1, out)` for every segment [p0, p1) of every frame's long row of `rowLength`
    /// positions, spread over the cores, then copies each segment's outputs (`out`, `channels` per position) to
    /// `dst` [frames][rowLength / stride][width][channels], dropping the positions at `width`…`stride`−1 of each row.
    static func segments(frames: Int, rowLength: Int, stride: Int, width: Int, channels: Int,
                         dst: UnsafeMutablePointer<Float>,
                         _ body: (Int, Int, Int, UnsafeMutablePointer<Float>) -> Void) {
        let (perFrame, piece) = pieces(rowLength: rowLength, stride: stride, channels: channels)
        let longest = max(1, piece(0).1 - piece(0).0)  // the first segment is a longest one
        Parallel.forRanges(frames * perFrame, minChunk: 1) { r in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: longest * channels) { buf in
                let out = buf.baseAddress!
                for item in r {
                    let f = item / perFrame, (p0, p1) = piece(item % perFrame)
                    body(f, p0, p1, out)
                    var p = p0
                    while p < p1 {
                        let col = p % stride, run = min(p1 - p, stride - col)
                        if col < width {
                            let n = min(run, width - col)
                            copyFloats(dst + ((f * (rowLength / stride) + p / stride) * width + col) * channels,
                                       out + (p - p0) * channels, count: n * channels)
                        }
                        p += run
                    }
                }
            }
        }
    }

    /// y = conv(x, w) + bias, y resized to the output shape; `padded` is scratch.
    static func forward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor, padded: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2], Cin = x.shape[3]
        let (kt, kh, kw) = g.kernel, Cout = g.outChannels
        let outShape = g.outputShape(x.shape)
        y.resize(outShape)
        let To = outShape[0], Ho = outShape[1], Wo = outShape[2]
        pad(x.data, T: T, H: H, W: W, C: Cin, top: g.padH, bottom: kh - 1 - g.padH, left: g.padW,
            right: kw - 1 - g.padW, slack: kw, into: padded)
        let Hp = H + kh - 1, Wp = W + kw - 1
        let xp = UnsafePointer(padded.data), w = UnsafePointer(weight.data)
        let b = bias.map { UnsafePointer($0.data) }
        withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 2 * kt * kh * To) { buf in
            // Entries of every output frame: (frame tap, row tap) → the padded frame shifted by the row tap.
            let rows = buf.baseAddress!, weights = rows + kt * kh * To
            var counts = [Int](repeating: 0, count: To)
            for to in 0..<To {
                var n = 0
                for a in 0..<kt {
                    guard let ti = g.inputFrame(to, a, frames: T) else { continue }
                    for bb in 0..<kh {
                        rows[to * kt * kh + n] = xp + (ti * Hp + bb) * Wp * Cin
                        weights[to * kt * kh + n] = w + (a * kh + bb) * kw * Cin * Cout
                        n += 1
                    }
                }
                counts[to] = n
            }
            let rowsP = UnsafePointer(rows)
            segments(frames: To, rowLength: Ho * Wp, stride: Wp, width: Wo, channels: Cout, dst: y.data) { f, p0, p1, out in
                withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: max(1, kt * kh)) { shifted in
                    let s = shifted.baseAddress!
                    for e in 0..<counts[f] { s[e] = rowsP[f * kt * kh + e]! + p0 * Cin }
                    hv_conv_row(s, weights + f * kt * kh, Int32(counts[f]), Int32(kw), Int32(Cin), Int32(Cout),
                                Int32(p1 - p0), Int32(Wp), Int32(Wo), Int32(p0 % Wp), b, out)
                }
            }
        }
    }

    /// dW += the weight gradient of y = conv(x, w) for output gradient dy. Segments are split over the cores; each
    /// core adds into its own dW (the first into `dWeight`, the others into zeroed parts of `partial`), added up in
    /// core order afterwards so the sum does not depend on scheduling. `padded` and `dyWide` are scratch.
    static func weightGradient(x: Tensor, dy: Tensor, geometry g: Conv3dGeometry, dWeight: Tensor, padded: Tensor,
                               dyWide: Tensor, partial: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2], Cin = x.shape[3]
        let (kt, kh, kw) = g.kernel, Cout = g.outChannels
        let To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2]
        pad(x.data, T: T, H: H, W: W, C: Cin, top: g.padH, bottom: kh - 1 - g.padH, left: g.padW,
            right: kw - 1 - g.padW, slack: kw, into: padded)
        let Hp = H + kh - 1, Wp = W + kw - 1
        // dy on the padded width, zero at the dropped positions, so that they add nothing.
        pad(dy.data, T: To, H: Ho, W: Wo, C: Cout, top: 0, bottom: 0, left: 0, right: Wp - Wo, slack: 0, into: dyWide)
        let rowLength = Ho * Wp
        let (perFrame, piece) = pieces(rowLength: rowLength, stride: Wp, channels: Cout)
        let items = To * perFrame
        let workers = min(Parallel.workers, items)
        let n = dWeight.count
        partial.resize([max(1, (workers - 1) * n)])
        if workers > 1 { partial.data.update(repeating: 0, count: (workers - 1) * n) }
        let xp = UnsafePointer(padded.data), dyp = UnsafePointer(dyWide.data)
        let dW = dWeight.data, parts = partial.data
        Parallel.perform(workers) { k in
            let target = k == 0 ? dW : parts + (k - 1) * n
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: max(1, kt * kh)) { rowBuf in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: max(1, kt * kh)) { wBuf in
                    let rows = rowBuf.baseAddress!, dws = wBuf.baseAddress!
                    for item in (k * items / workers)..<((k + 1) * items / workers) {
                        let to = item / perFrame, (p0, p1) = piece(item % perFrame)
                        var e = 0
                        for a in 0..<kt {
                            guard let ti = g.inputFrame(to, a, frames: T) else { continue }
                            for bb in 0..<kh {
                                rows[e] = xp + ((ti * Hp + bb) * Wp + p0) * Cin
                                dws[e] = target + (a * kh + bb) * kw * Cin * Cout
                                e += 1
                            }
                        }
                        hv_conv_row_dw(rows, dws, Int32(e), Int32(kw), Int32(Cin), Int32(Cout), Int32(p1 - p0),
                                       Int32(Wp), Int32(Wo), Int32(p0 % Wp), dyp + (to * rowLength + p0) * Cout)
                    }
                }
            }
        }
        for k in 1..<max(workers, 1) { addFloats(dW, parts + (k - 1) * n, count: n) }
    }

    /// For each input frame, the (output frame, frame tap) pairs that read it.
    static func readers(_ g: Conv3dGeometry, outputFrames To: Int, inputFrames T: Int) -> [[(Int, Int)]] {
        var readers = [[(Int, Int)]](repeating: [], count: T)
        for to in 0..<To {
            for a in 0..<g.kernel.t { if let ti = g.inputFrame(to, a, frames: T) { readers[ti].append((to, a)) } }
        }
        return readers
    }

    /// wf[a][b'][c'][co][ci] = w[a][kh−1−b'][kw−1−c'][ci][co]: the kernel of the input gradient's conv.
    static func flip(_ weight: Tensor, geometry g: Conv3dGeometry, into flipped: Tensor) {
        let (kt, kh, kw) = g.kernel, Cin = g.inChannels, Cout = g.outChannels
        flipped.resize([kt, kh, kw, Cout, Cin])
        let w = UnsafePointer(weight.data), wf = flipped.data
        Parallel.forRanges(kt * kh * kw, minChunk: 1) { r in
            for tap in r {
                let a = tap / (kh * kw), b = (tap / kw) % kh, c = tap % kw
                let src = w + ((a * kh + (kh - 1 - b)) * kw + (kw - 1 - c)) * Cin * Cout
                let dst = wf + tap * Cout * Cin
                // In 16 × 16 blocks, so that the strided side of the transpose stays within a few cache lines.
                for ci0 in stride(from: 0, to: Cin, by: 16) {
                    for co0 in stride(from: 0, to: Cout, by: 16) {
                        for ci in ci0..<min(Cin, ci0 + 16) {
                            for co in co0..<min(Cout, co0 + 16) { dst[co * Cin + ci] = src[ci * Cout + co] }
                        }
                    }
                }
            }
        }
    }

    /// dx (resized to x's shape, overwritten) of y = conv(x, w): for each input frame, the (output frame, frame tap)
    /// pairs that read it (with `.replicate`, frame 0 is read by every tap that reaches before the clip), each
    /// with the flipped, channel-swapped kernel rows, over the output gradient padded by the kernel's far margins.
    /// `scratch` holds the padded gradient and `flipped` the flipped weights.
    static func inputGradient(dy: Tensor, weight: Tensor, geometry g: Conv3dGeometry, xShape: [Int], dx: Tensor,
                              scratch: Tensor, flipped: Tensor) {
        let T = xShape[0], H = xShape[1], W = xShape[2], Cin = xShape[3]
        let (_, kh, kw) = g.kernel, Cout = g.outChannels
        let To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2]
        dx.resize(xShape)
        flip(weight, geometry: g, into: flipped)
        // dy padded so that dx row hi, tap b' reads padded row hi + b' (dy row hi + padH − b) and column wi + c'.
        let top = kh - 1 - g.padH, left = kw - 1 - g.padW
        pad(dy.data, T: To, H: Ho, W: Wo, C: Cout, top: top, bottom: H + kh - 1 - top - Ho, left: left,
            right: W + kw - 1 - left - Wo, slack: kw, into: scratch)
        let Hq = H + kh - 1, Wq = W + kw - 1
        // The (output frame, frame tap) pairs that read each input frame.
        let readers = Self.readers(g, outputFrames: To, inputFrames: T)
        let most = max(1, (readers.map(\.count).max() ?? 0) * kh)
        let dyp = UnsafePointer(scratch.data), wfp = UnsafePointer(flipped.data)
        segments(frames: T, rowLength: H * Wq, stride: Wq, width: W, channels: Cin, dst: dx.data) { ti, p0, p1, out in
            withUnsafeTemporaryAllocation(of: UnsafePointer<Float>?.self, capacity: 2 * most) { buf in
                let rows = buf.baseAddress!, weights = rows + most
                var n = 0
                for (to, a) in readers[ti] {
                    for b in 0..<kh {
                        rows[n] = dyp + ((to * Hq + b) * Wq + p0) * Cout
                        weights[n] = wfp + (a * kh + b) * kw * Cout * Cin
                        n += 1
                    }
                }
                if n == 0 {
                    out.update(repeating: 0, count: (p1 - p0) * Cin)
                } else {
                    hv_conv_row(rows, weights, Int32(n), Int32(kw), Int32(Cout), Int32(Cin), Int32(p1 - p0), Int32(Wq),
                                Int32(W), Int32(p0 % Wq), nil, out)
                }
            }
        }
    }
}
