// Stride-1 convolution on AMX tiles in bfloat16 (CKernels' conv_amx.c), for training. The layouts are the direct
// kernels' (Conv3dDirect.swift): a zero-padded frame is one long row of positions, each output frame one row of
// Ho·Wp positions reading kt·kh entries (frame tap, row tap) shifted by kw column taps. Here the padded input is a
// bfloat16 copy with its channels padded to a multiple of 32, the weights are packed as B tiles, every position of
// a long row is computed in blocks of 32 (the Wp − Wo dropped ones too: a tile cannot skip rows) and only the kept
// ones are copied out. The input gradient is the same kernel over the padded output gradient with the flipped,
// channel-swapped weights. The weight gradient is built as dWᵀ: 32-position blocks of the output gradient (A)
// against position pairs of the padded input (B, one copy for each parity of a tap's shift), so that every tile
// load reads consecutive memory; one kernel tap a work item, its tiles kept over all frames.
// Rounding the operands to bfloat16 (sums stay float32) gives each output a relative error of a few 1e-3, so
// inference and every test of the float32 path keep float32; `Conv3dTuning.bf16` turns this path on, and
// `hv-train tokenizer --bf16 auto|on` does so for training steps (off by default: over 1 000 steps from scratch the
// bfloat16 run landed 0.12 dB below its float32 twin, beyond the 1 % the issue allows; docs/speed-training-step.md).
import CKernels

public enum Conv3dAMX {
    /// Whether this CPU and kernel run AMX bfloat16 tiles.
    public static let available: Bool = hv_amx_available() != 0

    /// The row kernels take stride-1 convs whose channel counts are multiples of 16 (fewer input channels would
    /// be mostly padding: a 3-channel input ran at 0.4× the float32 kernels).
    public static func appliesForward(_ g: Conv3dGeometry, bf16: Bool = Conv3dTuning.bf16) -> Bool {
        bf16 && available && g.stride == (1, 1, 1) && g.outChannels % 16 == 0 && g.inChannels % 16 == 0
            && g.kernel != (1, 1, 1) && g.padH < g.kernel.h && g.padW < g.kernel.w
    }

    static func appliesBackward(_ g: Conv3dGeometry) -> Bool { appliesForward(g) }

    /// Positions a work item computes: a multiple of the kernel's 32-position blocks.
    static let chunk = 128

    /// Positions of an output frame's long row from which the weight gradient runs all of a core's taps one block
    /// of positions at a time (hv_amx_conv_dw_taps) instead of one tap over whole frames (hv_amx_conv_dw): a 64×64
    /// plane's frame no longer fits in cache once per tap (backward 0.87× PyTorch's bfloat16 one way, 1.83× the
    /// other), while on 16² and 8² planes keeping a tap's accumulators over all frames is faster (1.66–1.97× against
    /// 1.14× on 64→64 over 16×8²).
    static var chunkedWeightGradient = 2048

    @inline(__always) static func halves(_ n: Int) -> Int { (n + 1) / 2 }

    @inline(__always) static func bf16(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt16.self)
    }

    /// x [T, H, W, C] → bfloat16 [T, H + top + bottom, W + left + right, cp] with zero margins and channels, plus
    /// `slack` zero positions after the last frame.
    static func pad(_ x: UnsafePointer<Float>, T: Int, H: Int, W: Int, C: Int, cp: Int, top: Int, bottom: Int,
                    left: Int, right: Int, slack: Int, into y: UnsafeMutablePointer<UInt16>) {
        let Hp = H + top + bottom, Wp = W + left + right
        (y + T * Hp * Wp * cp).update(repeating: 0, count: slack * cp)
        Parallel.forRanges(T * Hp, minChunk: 32) { r in
            for row in r {
                let t = row / Hp, h = row % Hp - top
                let src: UnsafePointer<Float>? = h < 0 || h >= H ? nil : x + (t * H + h) * W * C
                hv_amx_pad_rows(src, 1, Int32(W), Int32(C), Int32(cp), Int32(left), Int32(right), y + row * Wp * cp)
            }
        }
    }

    /// w [taps][cin][cout] → B tiles [taps][cinp / 2][cout][2] (cinp = cin rounded up to 32).
    static func pack(_ w: UnsafePointer<Float>, taps: Int, cin: Int, cout: Int, into y: UnsafeMutablePointer<UInt16>) {
        let cinp = (cin + 31) / 32 * 32
        Parallel.forRanges(taps, minChunk: 1) { r in
            for tap in r { hv_amx_pack_pairs(w + tap * cin * cout, Int32(cin), Int32(cout), y + tap * cinp * cout) }
        }
    }

    /// Computes every frame's long row of `rowLength` positions in chunks spread over the cores — `fill(frame, p0,
    /// rows, weights)` sets each entry's row (at p0) and weights and returns how many — and copies the kept
    /// positions (columns below `width` of each `stride`-wide row) to dst [frames][rowLength / stride][width][channels].
    static func rows(frames: Int, rowLength: Int, stride: Int, width: Int, channels: Int, entries most: Int,
                     kw: Int, cinp: Int, bias: UnsafePointer<Float>?, dst: UnsafeMutablePointer<Float>,
                     _ fill: (Int, Int, UnsafeMutablePointer<UnsafePointer<UInt16>?>,
                              UnsafeMutablePointer<UnsafePointer<UInt16>?>) -> Int) {
        let perFrame = (rowLength + chunk - 1) / chunk
        Parallel.forRanges(frames * perFrame, minChunk: 1) { r in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (chunk + 32) * channels) { buf in
                withUnsafeTemporaryAllocation(of: UnsafePointer<UInt16>?.self, capacity: 2 * max(1, most)) { ptrs in
                    let out = buf.baseAddress!, rowsP = ptrs.baseAddress!, weightsP = rowsP + max(1, most)
                    for item in r {
                        let f = item / perFrame, p0 = (item % perFrame) * chunk, n = min(chunk, rowLength - p0)
                        let e = fill(f, p0, rowsP, weightsP)
                        hv_amx_conv_rows(rowsP, weightsP, Int32(e), Int32(kw), Int32(cinp), Int32(channels),
                                         Int32(n), bias, out)
                        var p = p0
                        while p < p0 + n {
                            let col = p % stride, run = min(p0 + n - p, stride - col)
                            if col < width {
                                copyFloats(dst + ((f * (rowLength / stride) + p / stride) * width + col) * channels,
                                           out + (p - p0) * channels, count: min(run, width - col) * channels)
                            }
                            p += run
                        }
                    }
                }
            }
        }
    }

    /// y = conv(x, w) + bias, y resized to the output shape; `scratch` holds the bfloat16 input and weights.
    static func forward(x: Tensor, weight: Tensor, bias: Tensor?, geometry g: Conv3dGeometry, y: Tensor,
                        scratch: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2], Cin = x.shape[3]
        let (kt, kh, kw) = g.kernel, Cout = g.outChannels
        let outShape = g.outputShape(x.shape)
        y.resize(outShape)
        let To = outShape[0], Ho = outShape[1], Wo = outShape[2]
        let cp = (Cin + 31) / 32 * 32, Hp = H + kh - 1, Wp = W + kw - 1, slack = 32 + kw
        let xFloats = halves((T * Hp * Wp + slack) * cp)
        scratch.resize([xFloats + halves(kt * kh * kw * cp * Cout)])
        let xb = bf16(scratch.data), wb = bf16(scratch.data + xFloats)
        pad(x.data, T: T, H: H, W: W, C: Cin, cp: cp, top: g.padH, bottom: kh - 1 - g.padH, left: g.padW,
            right: kw - 1 - g.padW, slack: slack, into: xb)
        pack(weight.data, taps: kt * kh * kw, cin: Cin, cout: Cout, into: wb)
        rows(frames: To, rowLength: Ho * Wp, stride: Wp, width: Wo, channels: Cout, entries: kt * kh, kw: kw,
             cinp: cp, bias: bias.map { UnsafePointer($0.data) }, dst: y.data) { to, p0, rowsP, weightsP in
            var n = 0
            for a in 0..<kt {
                guard let ti = g.inputFrame(to, a, frames: T) else { continue }
                for b in 0..<kh {
                    rowsP[n] = UnsafePointer(xb + ((ti * Hp + b) * Wp + p0) * cp)
                    weightsP[n] = UnsafePointer(wb + (a * kh + b) * kw * cp * Cout)
                    n += 1
                }
            }
            return n
        }
    }

    /// dx (resized to x's shape, overwritten) of y = conv(x, w): the forward kernel over the output gradient padded
    /// by the kernel's far margins, with the flipped, channel-swapped weights (Conv3dDirect.inputGradient's
    /// arrangement). `scratch` holds the padded gradient, `packed` the flipped weights' B tiles.
    static func inputGradient(dy: Tensor, weight: Tensor, geometry g: Conv3dGeometry, xShape: [Int], dx: Tensor,
                              scratch: Tensor, packed: Tensor) {
        let T = xShape[0], H = xShape[1], W = xShape[2], Cin = xShape[3]
        let (kt, kh, kw) = g.kernel, Cout = g.outChannels
        let To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2]
        dx.resize(xShape)
        let cp = (Cout + 31) / 32 * 32
        packed.resize([halves(kt * kh * kw * cp * Cin)])
        let wb = bf16(packed.data), w = UnsafePointer(weight.data)
        Parallel.forRanges(kt * kh * kw, minChunk: 1) { r in
            for tap in r {
                hv_amx_pack_flipped(w, Int32(kh), Int32(kw), Int32(Cin), Int32(Cout), Int32(tap), wb + tap * cp * Cin)
            }
        }
        let top = kh - 1 - g.padH, left = kw - 1 - g.padW, slack = 32 + kw
        let Hq = H + kh - 1, Wq = W + kw - 1
        scratch.resize([halves((To * Hq * Wq + slack) * cp)])
        let db = bf16(scratch.data)
        pad(dy.data, T: To, H: Ho, W: Wo, C: Cout, cp: cp, top: top, bottom: H + kh - 1 - top - Ho, left: left,
            right: W + kw - 1 - left - Wo, slack: slack, into: db)
        let readers = Conv3dDirect.readers(g, outputFrames: To, inputFrames: T)
        let most = max(1, (readers.map(\.count).max() ?? 0) * kh)
        rows(frames: T, rowLength: H * Wq, stride: Wq, width: W, channels: Cin, entries: most, kw: kw, cinp: cp,
             bias: nil, dst: dx.data) { ti, p0, rowsP, weightsP in
            var n = 0
            for (to, a) in readers[ti] {
                for b in 0..<kh {
                    rowsP[n] = UnsafePointer(db + ((to * Hq + b) * Wq + p0) * cp)
                    weightsP[n] = UnsafePointer(wb + (a * kh + b) * kw * cp * Cin)
                    n += 1
                }
            }
            return n
        }
    }

    /// dW += the weight gradient of y = conv(x, w) for output gradient dy, as dWᵀ tiles (hv_amx_conv_dw): `scratch`
    /// holds the padded input (float32) and its pair copies, `dyWide` dy on the padded width, `blocks` its bfloat16
    /// blocks.
    static func weightGradient(x: Tensor, dy: Tensor, geometry g: Conv3dGeometry, dWeight: Tensor, scratch: Tensor,
                               dyWide: Tensor, blocks: Tensor) {
        let T = x.shape[0], H = x.shape[1], W = x.shape[2], Cin = x.shape[3]
        let (kt, kh, kw) = g.kernel, Cout = g.outChannels
        let To = dy.shape[0], Ho = dy.shape[1], Wo = dy.shape[2]
        let Hp = H + kh - 1, Wp = W + kw - 1
        // Each padded frame, then room for the last blocks' reach past it (and the odd copy's one position).
        let plane = Hp * Wp + 33 + kw, planeP = (plane + 31) / 32 * 32
        scratch.resize([T * plane * Cin + T * planeP * Cin])
        let xf = scratch.data, pairs = bf16(scratch.data + T * plane * Cin)
        Parallel.forRanges(T, minChunk: 1) { r in
            for t in r {
                let frame = xf + t * plane * Cin
                frame.update(repeating: 0, count: plane * Cin)
                for h in 0..<H {
                    copyFloats(frame + ((h + g.padH) * Wp + g.padW) * Cin, x.data + (t * H + h) * W * Cin, count: W * Cin)
                }
                // Pairs from even positions, then from odd ones (the taps whose shift is odd read those).
                hv_amx_pack_pairs(frame, Int32(plane), Int32(Cin), pairs + 2 * t * planeP * Cin)
                hv_amx_pack_pairs(frame + Cin, Int32(plane - 1), Int32(Cin), pairs + (2 * t + 1) * planeP * Cin)
            }
        }
        Conv3dDirect.pad(dy.data, T: To, H: Ho, W: Wo, C: Cout, top: 0, bottom: 0, left: 0, right: Wp - Wo, slack: 0,
                         into: dyWide)
        let rowLength = Ho * Wp, L = (rowLength + 31) / 32 * 32
        blocks.resize([halves(To * L * Cout)])
        let db = bf16(blocks.data)
        Parallel.forRanges(To, minChunk: 1) { r in
            for to in r {
                hv_amx_block_transpose(dyWide.data + to * rowLength * Cout, Int32(rowLength), Int32(Cout), db + to * L * Cout)
            }
        }
        let taps = kt * kh * kw, dW = dWeight.data
        guard L >= chunkedWeightGradient else {
            // A tap a work item (each owns its weights, so the cores never add into one), its tiles kept over every
            // frame: on small planes a tap's whole frame stays in cache.
            Parallel.forRanges(taps, minChunk: 1) { r in
                withUnsafeTemporaryAllocation(of: UnsafePointer<UInt16>?.self, capacity: 2 * max(1, To)) { buf in
                    let pairsP = buf.baseAddress!, dyP = pairsP + max(1, To)
                    for tap in r {
                        let a = tap / (kh * kw), b = (tap / kw) % kh, c = tap % kw, shift = b * Wp + c
                        var n = 0
                        for to in 0..<To {
                            guard let ti = g.inputFrame(to, a, frames: T) else { continue }
                            pairsP[n] = UnsafePointer(pairs + (2 * ti + shift % 2) * planeP * Cin)
                            dyP[n] = UnsafePointer(db + to * L * Cout)
                            n += 1
                        }
                        hv_amx_conv_dw(pairsP, dyP, Int32(n), Int32(shift), Int32(Cin), 0, Int32(Cin), Int32(Cout),
                                       Int32(L), dW + tap * Cin * Cout)
                    }
                }
            }
            return
        }
        // Large planes: each core takes a share of the taps and runs all of them over one block of positions at a
        // time, into dWᵀ accumulators of its own, added into dW transposed at the end.
        let workers = min(Parallel.workers, taps)
        Parallel.perform(workers) { k in
            let mine = Array(stride(from: k, to: taps, by: workers))
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: mine.count * Cin * Cout)
            defer { acc.deallocate() }
            acc.update(repeating: 0, count: mine.count * Cin * Cout)
            withUnsafeTemporaryAllocation(of: UnsafePointer<UInt16>?.self, capacity: mine.count) { pairsBuf in
                withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>?.self, capacity: mine.count) { accBuf in
                    let pairsP = pairsBuf.baseAddress!, accP = accBuf.baseAddress!
                    for (j, _) in mine.enumerated() { accP[j] = acc + j * Cin * Cout }
                    for to in 0..<To {
                        for (j, tap) in mine.enumerated() {
                            let a = tap / (kh * kw), b = (tap / kw) % kh, c = tap % kw, shift = b * Wp + c
                            pairsP[j] = g.inputFrame(to, a, frames: T).map {
                                UnsafePointer(pairs + (2 * $0 + shift % 2) * planeP * Cin + shift / 2 * Cin * 2)
                            }
                        }
                        hv_amx_conv_dw_taps(pairsP, accP, Int32(mine.count), UnsafePointer(db + to * L * Cout),
                                            Int32(Cin), Int32(Cout), Int32(L))
                    }
                }
            }
            for (j, tap) in mine.enumerated() {
                let src = acc + j * Cin * Cout, dst = dW + tap * Cin * Cout
                for co in 0..<Cout { for ci in 0..<Cin { dst[ci * Cout + co] += src[co * Cin + ci] } }
            }
        }
    }
}

/// The im2col path's three products on AMX tiles in bfloat16 (float32 sums), for the convs the row kernels do not
/// take (strided, pointwise): c = a·b, c += aᵀ·b and c = a·bᵀ, row-major with leading dimensions equal to the widths.
/// Each converts its operands into bfloat16 tiles of its own, so it suits products large enough to pay for that.
extension Conv3dAMX {
    enum Product {
        /// c [m, n] = a [m, k] · b [k, n].
        case nn
        /// c [k, n] += a [m, k]ᵀ · b [m, n] (the weight gradient: colᵀ · dy).
        case tn
        /// c [m, k] = a [m, n] · b [k, n]ᵀ (the column gradient: dy · wᵀ).
        case nt
    }

    /// Whether `product` of these sizes runs here: the output's columns must fill 16-wide tiles (n for nn and tn,
    /// k for nt) and, for the two backward products, k must be a multiple of 16 too.
    static func appliesProduct(_ product: Product, n: Int, k: Int) -> Bool {
        Conv3dTuning.bf16 && available && n % 16 == 0 && (product == .nn || k % 16 == 0)
    }

    /// The product over `m` rows; `serial` keeps it on the calling thread (inside a caller's parallel loop),
    /// otherwise blocks of rows (nn, nt) or of c's rows (tn) are spread over the cores.
    static func gemm(_ product: Product, m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                     c: UnsafeMutablePointer<Float>, serial: Bool) {
        func scratch<T>(_ count: Int, _: T.Type, _ body: (UnsafeMutablePointer<T>) -> Void) {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(1, count) * MemoryLayout<T>.stride, alignment: 64)
            defer { raw.deallocate() }
            body(raw.bindMemory(to: T.self, capacity: max(1, count)))
        }
        switch product {
        case .nn, .nt:
            // Rows of a (bfloat16, width padded to 32) times packed b, into a float32 block copied out.
            let inner = product == .nn ? k : n, out = product == .nn ? n : k
            let innerP = (inner + 31) / 32 * 32
            scratch(innerP * out, UInt16.self) { wb in
                if product == .nn {
                    hv_amx_pack_pairs(b, Int32(k), Int32(n), wb)
                } else {
                    hv_amx_pack_flipped(b, 1, 1, Int32(k), Int32(n), 0, wb)
                }
                let block = serial ? m : max(32, (m / Parallel.workers + 31) / 32 * 32)
                let blocks = (m + block - 1) / block
                let wbP = UnsafePointer(wb)
                Parallel.forRanges(blocks, minChunk: serial ? blocks : 1) { r in
                    for i in r {
                        let r0 = i * block, rows = min(block, m - r0), rowsP = (rows + 31) / 32 * 32
                        scratch(rowsP * innerP + 2 * out * rowsP, UInt16.self) { ab in
                            hv_amx_pad_rows(a + r0 * inner, Int32(rows), 1, Int32(inner), Int32(innerP), 0, 0, ab)
                            (ab + rows * innerP).update(repeating: 0, count: (rowsP - rows) * innerP)
                            let yb = UnsafeMutableRawPointer(ab + rowsP * innerP).assumingMemoryBound(to: Float.self)
                            var rowP: UnsafePointer<UInt16>? = UnsafePointer(ab), wP: UnsafePointer<UInt16>? = wbP
                            hv_amx_conv_rows(&rowP, &wP, 1, 1, Int32(innerP), Int32(out), Int32(rows), nil, yb)
                            copyFloats(c + r0 * out, yb, count: rows * out)
                        }
                    }
                }
            }
        case .tn:
            // a's rows in pairs, b blocked (hv_amx_conv_dw's layouts, shift 0); blocks of c's rows to the cores.
            let mP = (m + 31) / 32 * 32
            scratch(mP * k + mP * n, UInt16.self) { buf in
                let ap = buf, bb = buf + mP * k
                hv_amx_pack_pairs(a, Int32(m), Int32(k), ap)
                hv_amx_block_transpose(b, Int32(m), Int32(n), bb)
                let block = serial ? k : max(32, (k / Parallel.workers + 31) / 32 * 32)
                let blocks = (k + block - 1) / block
                Parallel.forRanges(blocks, minChunk: serial ? blocks : 1) { r in
                    for i in r {
                        let k0 = i * block, k1 = min(k, k0 + block)
                        var aP: UnsafePointer<UInt16>? = UnsafePointer(ap), bP: UnsafePointer<UInt16>? = UnsafePointer(bb)
                        hv_amx_conv_dw(&aP, &bP, 1, 0, Int32(k), Int32(k0), Int32(k1), Int32(n), Int32(mP), c)
                    }
                }
            }
        }
    }
}
