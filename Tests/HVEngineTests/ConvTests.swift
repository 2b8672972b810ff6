import XCTest
import CKernels
@testable import HVEngine

final class ConvTests: XCTestCase {
    let geometries: [((Int, Int, Int), (Int, Int, Int), TemporalPadding)] = [
        ((3, 3, 3), (1, 1, 1), .replicate), ((3, 3, 3), (2, 2, 2), .replicate), ((3, 3, 3), (1, 2, 2), .zero),
        ((1, 1, 1), (1, 1, 1), .replicate), ((1, 3, 3), (1, 1, 1), .zero), ((3, 1, 1), (2, 1, 1), .replicate),
        ((1, 1, 1), (2, 2, 2), .replicate),
    ]

    /// Forward, input gradient, weight gradient (and bias gradient when the layer has one) of the optimised conv
    /// against the naive reference on `x`; returns the gradient `dy` used, for further checks.
    @discardableResult
    func assertMatchesNaive(_ layer: Conv3d, _ x: Tensor, seed: UInt64, _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) -> Tensor {
        func err(_ a: Tensor, _ b: Tensor) -> Double { relativeError(a.array.map(Double.init), b.array.map(Double.init)) }
        let y = layer.forward(x).clone()
        let ref = conv3dForwardNaive(x: x, weight: layer.weight.value, bias: layer.bias?.value, geometry: layer.geometry)
        XCTAssertEqual(y.shape, ref.shape, file: file, line: line)
        XCTAssertLessThan(err(y, ref), 1e-5, "forward, \(what)", file: file, line: line)
        let dy = randomTensor(y.shape, seed: seed)
        layer.zeroGrad()
        let dx = layer.backward(dy).clone()
        let (rdx, rdw, rdb) = conv3dBackwardNaive(x: x, weight: layer.weight.value, geometry: layer.geometry, dy: dy)
        XCTAssertLessThan(err(dx, rdx), 1e-5, "dx, \(what)", file: file, line: line)
        XCTAssertLessThan(err(layer.weight.grad, rdw), 1e-5, "dW, \(what)", file: file, line: line)
        if let b = layer.bias { XCTAssertLessThan(err(b.grad, rdb), 1e-5, "db, \(what)", file: file, line: line) }
        // The input gradient alone (parameter gradients off) is the same dx and leaves the gradients untouched.
        layer.zeroGrad()
        layer.accumulatesParameterGradients = false
        defer { layer.accumulatesParameterGradients = true }
        XCTAssertEqual(layer.backward(dy).array, dx.array, "dx without parameter gradients, \(what)", file: file, line: line)
        XCTAssertTrue(layer.parameters.allSatisfy { $0.grad.array.allSatisfy { $0 == 0 } }, "gradients stay zero, \(what)",
                      file: file, line: line)
        return dy
    }

    func testOptimisedConvMatchesNaiveForwardAndBackward() {
        for (i, (k, s, pad)) in geometries.enumerated() {
            var rng = SeededRandom(seed: UInt64(i))
            let layer = Conv3d(name: "c", inChannels: 3, outChannels: 5, kernel: (t: k.0, h: k.1, w: k.2),
                               stride: (t: s.0, h: s.1, w: s.2), temporalPadding: pad, rng: &rng)
            layer.bias!.value.randomNormal(std: 0.5, rng: &rng)
            assertMatchesNaive(layer, randomTensor([6, 7, 5, 3], seed: 100 + UInt64(i)), seed: 200 + UInt64(i), "k \(k) s \(s)")
        }
    }

    /// The SIMD runs of im2col/col2im (channel counts at, around and above 16 lanes), windows cut by the frame
    /// edges on odd sizes, and the chunked path (one output frame per chunk) against the naive reference;
    /// large enough that col2im splits by channel over two workers.
    func testOptimisedConvMatchesNaiveWithWideChannelsAndChunks() {
        let saved = (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows)
        defer { (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows) = saved }
        for (j, cin) in [16, 19, 33].enumerated() {
            for (i, (k, s, pad)) in geometries.enumerated() {
                for budget in [1, 1 << 24] {
                    (Conv3dTuning.columnFloats, Conv3dTuning.minimumRows) = (budget, 1)
                    var rng = SeededRandom(seed: UInt64(10 * j + i))
                    let layer = Conv3d(name: "c", inChannels: cin, outChannels: 7, kernel: (t: k.0, h: k.1, w: k.2),
                                       stride: (t: s.0, h: s.1, w: s.2), temporalPadding: pad, rng: &rng)
                    assertMatchesNaive(layer, randomTensor([5, 9, 7, cin], seed: 300 + UInt64(i)), seed: 400 + UInt64(i),
                                       "Cin \(cin) k \(k) s \(s) column floats \(budget)")
                }
            }
        }
    }

    func testChunkFramesKeepTheBudgetAndTheRowMinimum() {
        // 16×16 plane, K = 1296: 331 776 floats per frame. Over the budget, still one frame.
        XCTAssertEqual(conv3dChunkFrames(outShape: [32, 16, 16, 48], k: 1296, maxFloats: 256 << 10, minRows: 256), 1)
        XCTAssertEqual(conv3dChunkFrames(outShape: [32, 16, 16, 48], k: 1296, maxFloats: 1 << 20, minRows: 256), 3)
        // 4×4 plane, K = 5184: the budget allows 3 frames, the 256-row minimum asks for 16, the layer has 8.
        XCTAssertEqual(conv3dChunkFrames(outShape: [8, 4, 4, 192], k: 5184, maxFloats: 256 << 10, minRows: 256), 8)
        XCTAssertEqual(conv3dChunkFrames(outShape: [8, 4, 4, 192], k: 5184, maxFloats: 256 << 10, minRows: 32), 3)
    }

    func testConvBackwardMatchesFiniteDifferences() {
        var rng = SeededRandom(seed: 9)
        let layer = Conv3d(name: "c", inChannels: 2, outChannels: 3, kernel: (t: 3, h: 3, w: 3),
                           stride: (t: 2, h: 1, w: 2), rng: &rng)
        assertBackwardMatchesFiniteDifferences(layer, randomTensor([4, 3, 4, 2], seed: 10), seed: 11)
    }

    /// dx and dW of `layer` at `x` against central finite differences of ⟨layer(x), r⟩.
    func assertBackwardMatchesFiniteDifferences(_ layer: Conv3d, _ x: Tensor, seed: UInt64,
                                                file: StaticString = #filePath, line: UInt = #line) {
        let r = randomTensor(layer.geometry.outputShape(x.shape), seed: seed)
        let numeric = numericGradient(x) { dot(layer.forward(x), r) }
        _ = layer.forward(x)
        layer.zeroGrad()
        let dx = layer.backward(r)
        XCTAssertLessThan(relativeError(dx.array.map(Double.init), numeric), 2e-3, "dx", file: file, line: line)
        let numericW = numericGradient(layer.weight.value) { dot(layer.forward(x), r) }
        XCTAssertLessThan(relativeError(layer.weight.grad.array.map(Double.init), numericW), 2e-3, "dW", file: file, line: line)
    }

    func testCausality() {
        for s in [1, 2] {
            var rng = SeededRandom(seed: 3)
            let layer = Conv3d(name: "c", inChannels: 2, outChannels: 2, kernel: (t: 3, h: 3, w: 3),
                               stride: (t: s, h: 1, w: 1), rng: &rng)
            let x = randomTensor([8, 4, 4, 2], seed: 4)
            let y1 = layer.forward(x).clone()
            let k = 5
            let per = 4 * 4 * 2
            for i in (k * per)..<(6 * per) { x[i] += 1 }
            let y2 = layer.forward(x)
            let outPer = y1.count / y1.shape[0]
            for t in 0..<y1.shape[0] {
                let changed = (0..<outPer).contains { y1[t * outPer + $0] != y2[t * outPer + $0] }
                // Output t sees input frames ≤ (t+1)·s − 1.
                XCTAssertEqual(changed, (t + 1) * s - 1 >= k && t * s + s - 1 - 2 <= k, "stride \(s) output \(t)")
            }
        }
    }

    /// A conv that looks ahead: the optimised kernels against the naive reference, the backward pass against
    /// finite differences, and which input frames each output sees ((t+1)·s − 1 + L at the latest, the last
    /// frame repeated past the clip's end).
    func testLookaheadConvMatchesNaiveAndFiniteDifferencesAndSeesTheNextFrames() {
        for (i, (kt, st, look)) in [(3, 1, 1), (4, 1, 1), (3, 1, 2), (3, 2, 1)].enumerated() {
            var rng = SeededRandom(seed: 40 + UInt64(i))
            let layer = Conv3d(name: "c", inChannels: 3, outChannels: 4, kernel: (t: kt, h: 3, w: 3),
                               stride: (t: st, h: 1, w: 1), lookahead: look, rng: &rng)
            layer.bias!.value.randomNormal(std: 0.5, rng: &rng)
            let x = randomTensor([6, 4, 5, 3], seed: 50 + UInt64(i))
            let r = assertMatchesNaive(layer, x, seed: 60 + UInt64(i), "lookahead \(i)")
            let y = layer.forward(x).clone()
            layer.zeroGrad()
            let dx = layer.backward(r).clone()
            let numeric = numericGradient(x) { dot(layer.forward(x), r) }
            XCTAssertLessThan(relativeError(dx.array.map(Double.init), numeric), 2e-3, "finite differences \(i)")

            // Which outputs change when input frame k changes.
            let per = 4 * 5 * 3, outPer = y.count / y.shape[0]
            for k in 0..<6 {
                let x2 = x.clone()
                for j in (k * per)..<((k + 1) * per) { x2[j] += 1 }
                let y2 = layer.forward(x2)
                for t in 0..<y.shape[0] {
                    let changed = (0..<outPer).contains { y[t * outPer + $0] != y2[t * outPer + $0] }
                    let first = t * st + st - kt + look, last = t * st + st - 1 + look
                    let sees = (max(first, 0)...last).contains { min($0, 5) == k } || (first < 0 && k == 0)
                    XCTAssertEqual(changed, sees, "kernel \(kt) stride \(st) lookahead \(look): output \(t), input \(k)")
                }
            }
        }
    }

    /// The direct kernels (stride 1, channel counts that are multiples of 16) against the naive reference, forward and
    /// backward: register tiles of every width (16, 32, 48, 64 and 80 output channels, frames cut into segments of whole
    /// rows or rows into parts),
    /// frames narrower than `minimumWidth` falling back,
    /// zero and replicated temporal padding, a lookahead, and the even kernels with explicit spatial padding that
    /// `UpsampledConv3d`'s phases use; a channel count off the multiple of 16 falls back to im2col.
    func testDirectConvMatchesNaive() {
        let saved = Conv3dTuning.direct
        defer { Conv3dTuning.direct = saved }
        Conv3dTuning.direct = true
        typealias Case = (k: (Int, Int, Int), pad: TemporalPadding, look: Int, spatial: (h: Int, w: Int)?, cin: Int,
                          cout: Int, x: [Int])
        let cases: [Case] = [
            ((3, 3, 3), .replicate, 0, nil, 16, 16, [5, 6, 13, 16]),
            ((3, 3, 3), .zero, 0, nil, 32, 80, [4, 5, 19, 32]),
            ((1, 3, 3), .replicate, 0, nil, 16, 48, [3, 4, 17, 16]),
            ((3, 1, 1), .replicate, 1, nil, 16, 32, [6, 3, 25, 16]),
            ((2, 2, 2), .replicate, 0, (h: 1, w: 0), 16, 32, [4, 5, 17, 16]),
            ((2, 2, 2), .replicate, 0, (h: 0, w: 1), 16, 64, [3, 6, 18, 16]),
            ((3, 3, 3), .replicate, 0, nil, 16, 64, [2, 12, 30, 16]), // frames cut into 3 segments of 4 rows
            ((3, 3, 3), .zero, 0, nil, 16, 80, [2, 3, 110, 16]),     // rows longer than a segment: cut in two
            ((3, 3, 3), .replicate, 0, nil, 24, 32, [3, 4, 9, 24]),   // backward falls back (Cin 24)
            ((3, 3, 3), .replicate, 0, nil, 16, 24, [3, 4, 9, 16]),   // all falls back (Cout 24)
            ((3, 3, 3), .replicate, 0, nil, 16, 16, [3, 4, 4, 16]),   // all falls back (frames 4 wide)
        ]
        for (i, c) in cases.enumerated() {
            var g = Conv3dGeometry(kernel: (t: c.k.0, h: c.k.1, w: c.k.2), stride: (t: 1, h: 1, w: 1), inChannels: c.cin,
                                   outChannels: c.cout, temporalPadding: c.pad, lookahead: c.look)
            g.spatialPadding = c.spatial
            XCTAssertEqual(Conv3dDirect.appliesForward(g, width: c.x[2]),
                           Conv3dDirect.available && c.cout % 16 == 0 && c.x[2] >= Conv3dDirect.minimumWidth, "case \(i)")
            let x = randomTensor(c.x, seed: 500 + UInt64(i))
            let w = randomTensor([c.k.0, c.k.1, c.k.2, c.cin, c.cout], seed: 600 + UInt64(i))
            let bias = randomTensor([c.cout], seed: 700 + UInt64(i))
            let y = Tensor(shape: [0]), col = Tensor(shape: [0])
            conv3dForward(x: x, weight: w, bias: bias, geometry: g, y: y, col: col)
            let ref = conv3dForwardNaive(x: x, weight: w, bias: bias, geometry: g)
            XCTAssertEqual(y.shape, ref.shape, "case \(i)")
            XCTAssertLessThan(relativeError(y.array.map(Double.init), ref.array.map(Double.init)), 1e-5, "forward, case \(i)")
            let dy = randomTensor(ref.shape, seed: 800 + UInt64(i))
            let dx = randomTensor(x.shape, seed: 1), dw = Tensor(shape: w.shape), db = Tensor(shape: [c.cout])
            conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dx, dWeight: dw, dBias: db, col: col,
                           scratch: Conv3dScratch())
            let (rdx, rdw, rdb) = conv3dBackwardNaive(x: x, weight: w, geometry: g, dy: dy)
            for (name, a, b) in [("dx", dx, rdx), ("dW", dw, rdw), ("db", db, rdb)] {
                XCTAssertLessThan(relativeError(a.array.map(Double.init), b.array.map(Double.init)), 1e-5, "\(name), case \(i)")
            }
        }
    }

    /// Winograd F(2×2, 3×3) forward against the naive reference: even and odd frame sizes (the last tile row and
    /// column half outside), replicated and zero temporal padding, a lookahead, a (1, 3, 3) kernel, with and
    /// without bias, and chunks of one output frame (the input frames a chunk reads transformed again per chunk);
    /// what it does not take (stride 2, a 2×2 kernel, 60 channels) falls back.
    func testWinogradConvMatchesNaive() {
        let saved = (Conv3dTuning.winograd, Conv3dWinograd.minimumChannels, Conv3dWinograd.minimumPlane, Conv3dWinograd.chunkFloats)
        defer { (Conv3dTuning.winograd, Conv3dWinograd.minimumChannels, Conv3dWinograd.minimumPlane, Conv3dWinograd.chunkFloats) = saved }
        (Conv3dTuning.winograd, Conv3dWinograd.minimumChannels, Conv3dWinograd.minimumPlane) = (true, 64, 64)
        typealias Case = (k: (Int, Int, Int), pad: TemporalPadding, look: Int, cin: Int, cout: Int, x: [Int], bias: Bool, one: Bool)
        let cases: [Case] = [
            ((3, 3, 3), .replicate, 0, 64, 64, [4, 16, 16, 64], true, false),
            ((3, 3, 3), .zero, 0, 64, 72, [5, 9, 11, 64], false, false),
            ((3, 3, 3), .replicate, 1, 72, 64, [4, 10, 8, 72], true, true),
            ((1, 3, 3), .replicate, 0, 64, 64, [3, 8, 9, 64], true, true),
            ((3, 3, 3), .zero, 0, 64, 64, [6, 12, 12, 64], true, true),
        ]
        for (i, c) in cases.enumerated() {
            Conv3dWinograd.chunkFloats = c.one ? 1 : saved.3
            let g = Conv3dGeometry(kernel: (t: c.k.0, h: c.k.1, w: c.k.2), stride: (t: 1, h: 1, w: 1), inChannels: c.cin,
                                   outChannels: c.cout, temporalPadding: c.pad, lookahead: c.look)
            XCTAssertTrue(Conv3dWinograd.applies(g, xShape: c.x), "case \(i)")
            let x = randomTensor(c.x, seed: 900 + UInt64(i))
            let w = randomTensor([c.k.0, c.k.1, c.k.2, c.cin, c.cout], seed: 910 + UInt64(i))
            let bias = c.bias ? randomTensor([c.cout], seed: 920 + UInt64(i)) : nil
            let y = Tensor(shape: [0]), col = Tensor(shape: [0])
            conv3dForward(x: x, weight: w, bias: bias, geometry: g, y: y, col: col)
            let ref = conv3dForwardNaive(x: x, weight: w, bias: bias, geometry: g)
            XCTAssertEqual(y.shape, ref.shape, "case \(i)")
            XCTAssertLessThan(relativeError(y.array.map(Double.init), ref.array.map(Double.init)), 1e-5, "forward, case \(i)")
            // Backward: dx by Winograd, dW by the direct kernel (with scratch, where it applies) or im2col.
            let dy = randomTensor(ref.shape, seed: 930 + UInt64(i))
            let (rdx, rdw, rdb) = conv3dBackwardNaive(x: x, weight: w, geometry: g, dy: dy)
            for scratch in [Conv3dScratch(), nil] {
                let dx = randomTensor(x.shape, seed: 2), dw = Tensor(shape: w.shape), db = Tensor(shape: [c.cout])
                conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dx, dWeight: dw, dBias: db, col: col, scratch: scratch)
                for (name, a, b) in [("dx", dx, rdx), ("dW", dw, rdw), ("db", db, rdb)] {
                    XCTAssertLessThan(relativeError(a.array.map(Double.init), b.array.map(Double.init)), 1e-5,
                                      "\(name), case \(i), scratch \(scratch != nil)")
                }
            }
        }
        // The fused path of the thinner layers: bands of one tile row and less (5 tiles), of several rows (32),
        // both temporal paddings, a lookahead, a (1, 3, 3) kernel, odd frame sizes, unequal channels.
        if Conv3dDirect.available {
            let fusedSaved = (Conv3dWinograd.minimumPlaneFused, Conv3dWinograd.bandTiles)
            defer { (Conv3dWinograd.minimumPlaneFused, Conv3dWinograd.bandTiles) = fusedSaved }
            Conv3dWinograd.minimumPlaneFused = 64
            let fusedCases: [(Case, band: Int)] = [
                (((3, 3, 3), .replicate, 0, 32, 32, [5, 9, 11, 32], true, false), 5),
                (((3, 3, 3), .zero, 0, 48, 32, [4, 10, 8, 48], false, false), 32),
                (((3, 3, 3), .replicate, 1, 32, 48, [6, 8, 9, 32], true, false), 8),
                (((1, 3, 3), .replicate, 0, 32, 32, [3, 8, 8, 32], true, false), 32),
                (((3, 3, 3), .zero, 0, 32, 32, [7, 16, 16, 32], true, false), 32),
            ]
            for (i, (c, band)) in fusedCases.enumerated() {
                Conv3dWinograd.bandTiles = band
                let g = Conv3dGeometry(kernel: (t: c.k.0, h: c.k.1, w: c.k.2), stride: (t: 1, h: 1, w: 1),
                                       inChannels: c.cin, outChannels: c.cout, temporalPadding: c.pad, lookahead: c.look)
                XCTAssertTrue(Conv3dWinograd.fused(g, plane: c.x[1] * c.x[2]), "fused case \(i)")
                let x = randomTensor(c.x, seed: 940 + UInt64(i))
                let w = randomTensor([c.k.0, c.k.1, c.k.2, c.cin, c.cout], seed: 950 + UInt64(i))
                let bias = c.bias ? randomTensor([c.cout], seed: 960 + UInt64(i)) : nil
                let y = randomTensor([1], seed: 3), col = Tensor(shape: [0])
                conv3dForward(x: x, weight: w, bias: bias, geometry: g, y: y, col: col)
                let ref = conv3dForwardNaive(x: x, weight: w, bias: bias, geometry: g)
                XCTAssertEqual(y.shape, ref.shape, "fused case \(i)")
                XCTAssertLessThan(relativeError(y.array.map(Double.init), ref.array.map(Double.init)), 1e-5,
                                  "fused forward, case \(i)")
                let dy = randomTensor(ref.shape, seed: 970 + UInt64(i))
                let (rdx, rdw, rdb) = conv3dBackwardNaive(x: x, weight: w, geometry: g, dy: dy)
                let dx = randomTensor(x.shape, seed: 2), dw = Tensor(shape: w.shape), db = Tensor(shape: [c.cout])
                conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dx, dWeight: dw, dBias: db, col: col,
                               scratch: Conv3dScratch())
                for (name, a, b) in [("dx", dx, rdx), ("dW", dw, rdw), ("db", db, rdb)] {
                    XCTAssertLessThan(relativeError(a.array.map(Double.init), b.array.map(Double.init)), 1e-5,
                                      "fused \(name), case \(i)")
                }
            }
            let thin = Conv3dGeometry(kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 1, w: 1), inChannels: 40,
                                      outChannels: 32, temporalPadding: .replicate)
            XCTAssertFalse(Conv3dWinograd.applies(thin, xShape: [4, 16, 16, 40]), "40 channels (not a multiple of 16)")
            XCTAssertFalse(Conv3dWinograd.applies(Conv3dGeometry(kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 1, w: 1),
                                                                 inChannels: 16, outChannels: 32, temporalPadding: .replicate),
                                                  xShape: [4, 16, 16, 16]), "16 channels")
        }
        var g = Conv3dGeometry(kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 2, w: 2), inChannels: 64, outChannels: 64,
                               temporalPadding: .replicate)
        XCTAssertFalse(Conv3dWinograd.applies(g, xShape: [4, 16, 16, 64]), "stride 2")
        g.stride = (t: 1, h: 1, w: 1)
        XCTAssertFalse(Conv3dWinograd.applies(g, xShape: [4, 4, 4, 64]), "a plane below the minimum")
        g.kernel = (t: 2, h: 2, w: 2); g.spatialPadding = (h: 1, w: 0)
        XCTAssertFalse(Conv3dWinograd.applies(g, xShape: [4, 16, 16, 64]), "a 2×2 kernel")
        g = Conv3dGeometry(kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 1, w: 1), inChannels: 60, outChannels: 64,
                           temporalPadding: .replicate)
        XCTAssertFalse(Conv3dWinograd.applies(g, xShape: [4, 16, 16, 60]), "60 input channels")
    }

    /// The layers of a thread share one column buffer (ConvColumns): forwards of several layers, then their
    /// backwards in reverse (as a model runs them), each against the naive reference — a layer whose backward needed
    /// what its forward left in the buffer would fail here. Another thread gets a buffer of its own.
    func testLayersShareTheColumnBufferOfTheirThread() {
        var rng = SeededRandom(seed: 61)
        let layers = [
            Conv3d(name: "wide", inChannels: 64, outChannels: 64, kernel: (t: 3, h: 3, w: 3), rng: &rng),
            Conv3d(name: "thin", inChannels: 64, outChannels: 32, kernel: (t: 3, h: 3, w: 3), rng: &rng),
            Conv3d(name: "down", inChannels: 32, outChannels: 48, kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 2, w: 2),
                   rng: &rng),
            Conv3d(name: "point", inChannels: 48, outChannels: 16, kernel: (t: 1, h: 1, w: 1), rng: &rng),
        ]
        var xs = [randomTensor([4, 16, 16, 64], seed: 62)]
        for layer in layers { xs.append(layer.forward(xs.last!).clone()) }
        var dy = randomTensor(xs.last!.shape, seed: 63)
        for (i, layer) in layers.enumerated().reversed() {
            let ref = conv3dForwardNaive(x: xs[i], weight: layer.weight.value, bias: layer.bias?.value,
                                         geometry: layer.geometry)
            XCTAssertLessThan(relativeError(xs[i + 1].array.map(Double.init), ref.array.map(Double.init)), 1e-5,
                              "forward of layer \(i)")
            layer.zeroGrad()
            let dx = layer.backward(dy).clone()
            let (rdx, rdw, _) = conv3dBackwardNaive(x: xs[i], weight: layer.weight.value, geometry: layer.geometry, dy: dy)
            XCTAssertLessThan(relativeError(dx.array.map(Double.init), rdx.array.map(Double.init)), 1e-5, "dx of layer \(i)")
            XCTAssertLessThan(relativeError(layer.weight.grad.array.map(Double.init), rdw.array.map(Double.init)), 1e-5,
                              "dW of layer \(i)")
            dy = dx
        }
        let mine = ObjectIdentifier(ConvColumns.current)
        XCTAssertEqual(ObjectIdentifier(ConvColumns.current), mine)
        var other: ObjectIdentifier?
        let done = DispatchSemaphore(value: 0)
        Thread { other = ObjectIdentifier(ConvColumns.current); done.signal() }.start()
        done.wait()
        XCTAssertNotNil(other)
        XCTAssertNotEqual(other, mine)
    }

    /// The Winograd input gradient against finite differences of the loss Σ y · r (r fixed and random) at
    /// positions in the first frame (which, replicated, collects the taps before the clip), in the middle and on the
    /// last row and column of an odd-sized frame.
    func testWinogradInputGradientMatchesFiniteDifferences() {
        let saved = (Conv3dTuning.winograd, Conv3dWinograd.minimumPlane, Conv3dWinograd.minimumPlaneFused,
                     Conv3dWinograd.bandTiles)
        defer {
            (Conv3dTuning.winograd, Conv3dWinograd.minimumPlane, Conv3dWinograd.minimumPlaneFused,
             Conv3dWinograd.bandTiles) = saved
        }
        (Conv3dTuning.winograd, Conv3dWinograd.minimumPlane, Conv3dWinograd.minimumPlaneFused) = (true, 64, 64)
        // 64 channels: the SGEMM path; 32 (where the CPU has the register tiles): the fused one, in bands of 8 tiles.
        Conv3dWinograd.bandTiles = 8
        for channels in Conv3dDirect.available ? [64, 32] : [64] {
            assertWinogradInputGradient(channels: channels)
        }
    }

    private func assertWinogradInputGradient(channels: Int, file: StaticString = #filePath, line: UInt = #line) {
        var rng = SeededRandom(seed: 41)
        let layer = Conv3d(name: "w", inChannels: channels, outChannels: channels, kernel: (t: 3, h: 3, w: 3), rng: &rng)
        let x = randomTensor([4, 9, 11, channels], seed: 42)
        XCTAssertTrue(Conv3dWinograd.applies(layer.geometry, xShape: x.shape), file: file, line: line)
        let r = randomTensor(layer.geometry.outputShape(x.shape), seed: 43)
        func loss() -> Double {
            let y = layer.forward(x)
            var s = 0.0
            for i in 0..<y.count { s += Double(y[i]) * Double(r[i]) }
            return s
        }
        _ = loss()
        let dx = layer.backward(r).clone()
        let dw = layer.weight.grad
        // The central difference of the loss in element k of `value` against `gradient`[k].
        func check(_ value: Tensor, _ gradient: Tensor, _ k: Int, _ what: String) {
            let h: Float = 0.05, keep = value[k]
            value[k] = keep + h; let up = loss()
            value[k] = keep - h; let down = loss()
            value[k] = keep
            let fd = (up - down) / Double(2 * h)
            XCTAssertEqual(Double(gradient[k]), fd, accuracy: 2e-3 * max(1, abs(fd)), "\(what), \(channels) channels",
                           file: file, line: line)
        }
        for (t, row, col, ch) in [(0, 0, 0, 3), (0, 4, 5, 17), (2, 4, 5, 40), (3, 8, 10, 63), (1, 8, 3, 0)] {
            check(x, dx, ((t * 9 + row) * 11 + col) * channels + ch % channels, "dx at \((t, row, col, ch % channels))")
        }
        // dW (in the transformed domain for the wide layers): corner, edge and centre taps of every temporal tap.
        for (a, i, j, c, o) in [(0, 0, 0, 1, 2), (1, 1, 1, 20, 30), (2, 2, 2, 63, 0), (2, 0, 2, 7, 63), (0, 2, 1, 31, 5)] {
            check(layer.weight.value, dw, (((a * 3 + i) * 3 + j) * channels + c % channels) * channels + o % channels,
                  "dW at \((a, i, j, c % channels, o % channels))")
        }
    }

    /// The direct path's input and weight gradients against finite differences.
    func testDirectConvBackwardMatchesFiniteDifferences() {
        let saved = Conv3dTuning.direct
        defer { Conv3dTuning.direct = saved }
        Conv3dTuning.direct = true
        var rng = SeededRandom(seed: 19)
        let layer = Conv3d(name: "c", inChannels: 16, outChannels: 16, kernel: (t: 3, h: 3, w: 3), rng: &rng)
        assertBackwardMatchesFiniteDifferences(layer, randomTensor([2, 3, 16, 16], seed: 20), seed: 21)
    }

    /// The AMX path (bfloat16 operands, float32 sums) against the naive reference run on the same operands rounded
    /// to bfloat16: forward on (x, w), dx on (dy, w), dW on (x, dy); the bias gradient stays float32. Only the order
    /// of the float32 sums differs, so the tolerance is float32's. Channels that are not multiples of 32 exercise the
    /// zero-padded channels, rows longer than a chunk and 4-wide frames the blocks that run past a row or a frame,
    /// strided and pointwise convs the products of the im2col path.
    func testAMXConvMatchesNaiveOnBFloat16Operands() throws {
        try XCTSkipUnless(Conv3dAMX.available, "this CPU has no AMX bfloat16 tiles")
        let saved = Conv3dTuning.bf16
        defer { Conv3dTuning.bf16 = saved }
        Conv3dTuning.bf16 = true
        func rounded(_ t: Tensor) -> Tensor {
            Tensor(shape: t.shape, values: t.array.map { v -> Float in
                let bits = v.bitPattern
                return Float(bitPattern: (bits &+ 0x7fff &+ ((bits >> 16) & 1)) & 0xffff_0000)
            })
        }
        typealias Case = (k: (Int, Int, Int), pad: TemporalPadding, look: Int, spatial: (h: Int, w: Int)?, cin: Int,
                          cout: Int, x: [Int])
        let cases: [Case] = [
            ((3, 3, 3), .replicate, 0, nil, 32, 32, [5, 6, 13, 32]),
            ((3, 3, 3), .zero, 0, nil, 48, 80, [4, 5, 19, 48]),
            ((1, 3, 3), .replicate, 0, nil, 16, 48, [3, 4, 17, 16]),
            ((3, 1, 1), .replicate, 1, nil, 16, 32, [6, 3, 25, 16]),
            ((2, 2, 2), .replicate, 0, (h: 1, w: 0), 16, 32, [4, 5, 17, 16]),
            ((2, 2, 2), .replicate, 0, (h: 0, w: 1), 96, 64, [3, 6, 9, 96]),
            ((3, 3, 3), .zero, 0, nil, 16, 16, [2, 3, 150, 16]),      // rows longer than a chunk
            ((3, 3, 3), .replicate, 0, nil, 16, 32, [2, 21, 100, 16]),  // frames of 2 142 positions: dW by blocks
            ((3, 3, 3), .replicate, 0, nil, 64, 192, [3, 4, 4, 64]),  // 4-wide frames
            ((1, 1, 1), .replicate, 0, nil, 48, 32, [3, 5, 7, 48]),   // pointwise: the products
        ]
        // Strided convs go through im2col and the products (c = a·b, c += aᵀ·b, c = a·bᵀ).
        let strided: [(k: (Int, Int, Int), s: (Int, Int, Int), cin: Int, cout: Int, x: [Int])] = [
            ((3, 3, 3), (2, 2, 2), 32, 64, [6, 9, 10, 32]),
            ((3, 3, 3), (1, 2, 2), 16, 16, [3, 8, 8, 16]),
        ]
        var geometries: [(Conv3dGeometry, [Int])] = cases.map { c in
            var g = Conv3dGeometry(kernel: (t: c.k.0, h: c.k.1, w: c.k.2), stride: (t: 1, h: 1, w: 1), inChannels: c.cin,
                                   outChannels: c.cout, temporalPadding: c.pad, lookahead: c.look)
            g.spatialPadding = c.spatial
            return (g, c.x)
        }
        geometries += strided.map { c in
            (Conv3dGeometry(kernel: (t: c.k.0, h: c.k.1, w: c.k.2), stride: (t: c.s.0, h: c.s.1, w: c.s.2),
                            inChannels: c.cin, outChannels: c.cout, temporalPadding: .replicate), c.x)
        }
        for (i, (g, shape)) in geometries.enumerated() {
            let rowPath = g.stride == (1, 1, 1) && g.kernel != (1, 1, 1)
            XCTAssertEqual(Conv3dAMX.appliesBackward(g), rowPath, "case \(i)")
            XCTAssertTrue(Conv3dAMX.appliesProduct(.tn, n: g.outChannels, k: g.k), "case \(i)")
            let c = (cin: g.inChannels, cout: g.outChannels, k: (g.kernel.t, g.kernel.h, g.kernel.w), x: shape)
            let x = randomTensor(c.x, seed: 900 + UInt64(i))
            let w = randomTensor([c.k.0, c.k.1, c.k.2, c.cin, c.cout], seed: 1000 + UInt64(i))
            let bias = randomTensor([c.cout], seed: 1100 + UInt64(i))
            let y = Tensor(shape: [0]), col = Tensor(shape: [0])
            conv3dForward(x: x, weight: w, bias: bias, geometry: g, y: y, col: col)
            let ref = conv3dForwardNaive(x: rounded(x), weight: rounded(w), bias: bias, geometry: g)
            XCTAssertEqual(y.shape, ref.shape, "case \(i)")
            XCTAssertLessThan(relativeError(y.array.map(Double.init), ref.array.map(Double.init)), 1e-5, "forward, case \(i)")
            // Not rounding would be visibly different: the test can tell the two apart.
            let unrounded = conv3dForwardNaive(x: x, weight: w, bias: bias, geometry: g)
            XCTAssertGreaterThan(relativeError(y.array.map(Double.init), unrounded.array.map(Double.init)), 1e-4)
            let dy = randomTensor(ref.shape, seed: 1200 + UInt64(i))
            let dx = randomTensor(x.shape, seed: 1), dw = randomTensor(w.shape, seed: 2), db = Tensor(shape: [c.cout])
            let dw0 = dw.array
            conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dx, dWeight: dw, dBias: db, col: col,
                           scratch: Conv3dScratch())
            let (rdx, _, _) = conv3dBackwardNaive(x: x, weight: rounded(w), geometry: g, dy: rounded(dy))
            let (_, rdw, _) = conv3dBackwardNaive(x: rounded(x), weight: w, geometry: g, dy: rounded(dy))
            let (_, _, rdb) = conv3dBackwardNaive(x: x, weight: w, geometry: g, dy: dy)   // the bias sum stays float32
            XCTAssertLessThan(relativeError(dx.array.map(Double.init), rdx.array.map(Double.init)), 1e-5, "dx, case \(i)")
            // dx alone, on fresh scratch (nothing the weight gradient left behind).
            let dxOnly = Tensor(shape: [0])
            conv3dBackward(x: x, weight: w, geometry: g, dy: dy, dx: dxOnly, dWeight: nil, dBias: nil, col: Tensor(shape: [0]),
                           scratch: Conv3dScratch())
            XCTAssertEqual(dxOnly.array, dx.array, "dx alone, case \(i)")
            // dW accumulates into what was there.
            let added = zip(dw.array, dw0).map { Double($0 - $1) }
            XCTAssertLessThan(relativeError(added, rdw.array.map(Double.init)), 1e-4, "dW, case \(i)")
            XCTAssertLessThan(relativeError(db.array.map(Double.init), rdb.array.map(Double.init)), 1e-5, "db, case \(i)")
        }
    }

    /// The AVX2 tile transforms against their Swift references, bit for bit: even and odd frame sizes (the last tile
    /// row and column half outside the frame), 8 to 48 channels, with and without bias.
    func testWinogradTileTransformsInCMatchTheSwiftReference() throws {
        try XCTSkipUnless(Conv3dWinograd.transformsInC, "no AVX2 on this CPU: the Swift transforms are the only ones")
        for (i, (h, w, c, withBias)) in [(8, 8, 8, true), (7, 9, 24, false), (16, 13, 48, true), (3, 4, 16, false)].enumerated() {
            let x = randomTensor([h, w, c], seed: 1300 + UInt64(i))
            let tw = (w + 1) / 2, th = (h + 1) / 2, xiStride = tw * c
            let a = Tensor(shape: [16 * xiStride]), b = Tensor(shape: [16 * xiStride])
            let bias = withBias ? randomTensor([c], seed: 1310 + UInt64(i)) : nil
            let ya = randomTensor([h, w, c], seed: 1), yb = Tensor(shape: [h, w, c])
            yb.data.update(from: ya.data, count: ya.count)
            for ty in 0..<th {
                Conv3dWinograd.transformTiles(x.data, height: h, width: w, channels: c, tileRow: ty, into: a.data, xiStride: xiStride)
                Conv3dWinograd.transformTilesReference(x.data, height: h, width: w, channels: c, tileRow: ty, into: b.data,
                                                       xiStride: xiStride)
                XCTAssertTrue(a.array == b.array, "input transform, case \(i), tile row \(ty)")
                Conv3dWinograd.untransformTiles(a.data, xiStride: xiStride, height: h, width: w, channels: c, tileRow: ty,
                                                bias: bias.map { UnsafePointer($0.data) }, into: ya.data)
                Conv3dWinograd.untransformTilesReference(a.data, xiStride: xiStride, height: h, width: w, channels: c,
                                                         tileRow: ty, bias: bias.map { UnsafePointer($0.data) }, into: yb.data)
                XCTAssertTrue(ya.array == yb.array, "output transform, case \(i), tile row \(ty)")
            }
        }
    }

    /// hv_conv_row's whole-reduction tiles against its per-entry pass tiles, bit for bit (they add in the same order):
    /// the fused Winograd products of 32- and 48-channel layers (3 entries), a 16-channel direct layer (9 entries of
    /// 3 columns), forward and input gradient; then that both give what the naive reference gives.
    func testWholeReductionTilesGiveThePassTilesBits() throws {
        try XCTSkipIf(!Conv3dDirect.available || AVX512Kernels.available, "the whole-reduction tiles are AVX2's")
        let saved = (Conv3dTuning.direct, Conv3dTuning.winograd, Conv3dWinograd.minimumPlaneFused, hv_conv_whole_tiles(-1))
        defer {
            (Conv3dTuning.direct, Conv3dTuning.winograd, Conv3dWinograd.minimumPlaneFused) = (saved.0, saved.1, saved.2)
            hv_conv_whole_tiles(saved.3)
        }
        (Conv3dTuning.direct, Conv3dTuning.winograd, Conv3dWinograd.minimumPlaneFused) = (true, true, 64)
        for (i, (cin, cout, x)) in [(32, 32, [5, 9, 11, 32]), (48, 32, [4, 16, 16, 48]), (16, 32, [4, 6, 19, 16])].enumerated() {
            let g = Conv3dGeometry(kernel: (t: 3, h: 3, w: 3), stride: (t: 1, h: 1, w: 1), inChannels: cin, outChannels: cout,
                                   temporalPadding: .replicate)
            XCTAssertEqual(Conv3dWinograd.fused(g, plane: x[1] * x[2]), cin >= 32, "case \(i)")
            let xt = randomTensor(x, seed: 1400 + UInt64(i))
            let w = randomTensor([3, 3, 3, cin, cout], seed: 1410 + UInt64(i))
            let bias = randomTensor([cout], seed: 1420 + UInt64(i))
            var outputs: [[[Float]]] = []
            for whole in [1, 0] {
                hv_conv_whole_tiles(Int32(whole))
                let y = Tensor(shape: [0]), col = Tensor(shape: [0])
                conv3dForward(x: xt, weight: w, bias: bias, geometry: g, y: y, col: col)
                let dy = randomTensor(y.shape, seed: 1430 + UInt64(i))
                let dx = Tensor(shape: [0])
                conv3dBackward(x: xt, weight: w, geometry: g, dy: dy, dx: dx, dWeight: nil, dBias: nil, col: col,
                               scratch: Conv3dScratch())
                outputs.append([y.array, dx.array])
            }
            XCTAssertTrue(outputs[0][0] == outputs[1][0], "forward, case \(i)")
            XCTAssertTrue(outputs[0][1] == outputs[1][1], "dx, case \(i)")
            let ref = conv3dForwardNaive(x: xt, weight: w, bias: bias, geometry: g)
            XCTAssertLessThan(relativeError(outputs[0][0].map(Double.init), ref.array.map(Double.init)), 1e-5, "case \(i)")
        }
    }
}
