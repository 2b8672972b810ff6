// Decoder-guided refinement of layer 0's codes (CodeRefinement.swift, hv-encode --refine): the gradient it ranks
// flips by against finite differences, an error that never rises, coarse layers untouched, the same bytes each run.
import XCTest
import HVEngine
import HVFormat
@testable import HVTokenizer

final class CodeRefinementTests: XCTestCase {
    /// A clip with structure an untrained tiny model renders badly: a moving colour ramp with a bright square.
    func clip(frames: Int = 8) -> Tensor {
        let x = Tensor(shape: [frames, 32, 32, 3])
        for t in 0..<frames { for y in 0..<32 { for xx in 0..<32 {
            let i = ((t * 32 + y) * 32 + xx) * 3
            let square: Float = (abs(y - 16) < 6 && abs(xx - 8 - t) < 6) ? 0.8 : 0
            x[i] = Float(xx) / 16 - 1 + square
            x[i + 1] = Float(y) / 20 - 0.8
            x[i + 2] = min(1, 0.3 + square - Float(t) * 0.05)
        } } }
        return x
    }

    /// ∂error/∂q from the decoder backward against central differences of the exact error, bit by bit. The clamp
    /// is not differentiable at ±1, so the codes are scaled down to keep the render inside it.
    func testCodeGradientMatchesFiniteDifferences() throws {
        try checkCodeGradient(colourWeight: 0)
    }

    /// The same with the mean-colour term weighted so that it changes the gradient by more than the squared error's
    /// own size (asserted), so that its share is what the check sees.
    func testColourTermGradientMatchesFiniteDifferences() throws {
        let plain = try checkCodeGradient(colourWeight: 0)
        let tinted = try checkCodeGradient(colourWeight: 5)
        let change = zip(plain, tinted).map { abs($0 - $1) }.max() ?? 0
        XCTAssertGreaterThan(change, 0.5 * (plain.map(abs).max() ?? 0))
    }

    @discardableResult
    func checkCodeGradient(colourWeight: Double) throws -> [Float] {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 11)
        let x = clip()
        let idx = m.encode(x)
        let objective = CodeObjective(m, x: x, count: 6, indices: idx, colourWeight: colourWeight)
        let q = Tensor(shape: [2, 4, 4, m.layers[0].bits])
        LFQ.lookup(idx[0], bits: m.layers[0].bits, into: q)
        for i in 0..<q.count { q[i] *= 0.5 }
        _ = objective.error(q)
        let analytic = objective.gradient().clone()
        let eps: Float = 1e-2
        var checked = 0
        for i in stride(from: 0, to: q.count, by: 7) {
            let v = q[i]
            q[i] = v + eps; let up = objective.error(q)
            q[i] = v - eps; let down = objective.error(q)
            q[i] = v
            let numeric = (up - down) / Double(2 * eps)
            XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 0.02 * abs(numeric) + 2e-5, "bit \(i)")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
        XCTAssertGreaterThan(analytic.array.map(abs).max() ?? 0, 1e-4, "the render must depend on the codes")
        return analytic.array
    }

    func testRefinementLowersTheErrorKeepsCoarseLayersAndIsDeterministic() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip()
        let idx = m.encode(x)
        var rng = SeededRandom(seed: 9)
        for p in m.parameters { p.grad.randomNormal(std: 1, rng: &rng) }
        let grads = m.parameters.map { $0.grad.array }
        let (a, stats) = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 6))
        let (b, _) = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 6))
        XCTAssertEqual(a, b, "the same clip must refine to the same tokens")
        XCTAssertEqual(Array(a.dropFirst()), Array(idx.dropFirst()), "coarse layers are the encoder's")
        XCTAssertLessThan(stats.mseAfter, stats.mseBefore)
        XCTAssertGreaterThan(stats.keptRounds, 0)
        XCTAssertEqual(stats.flippedBits, zip(a[0], idx[0]).reduce(0) { $0 + ($1.0 ^ $1.1).nonzeroBitCount })
        XCTAssertGreaterThan(stats.flippedBits, 0)
        // The reported error is the error of the tokens returned, rendered the ordinary way.
        func mse(_ r: Tensor) -> Double {
            var s: Double = 0
            for i in 0..<x.count { let e = Double(max(-1, min(1, r[i])) - x[i]); s += e * e }
            return s / Double(x.count)
        }
        let before = mse(m.decode(indices: idx.map { Optional($0) }, frames: 8, height: 32, width: 32))
        let after = mse(m.decode(indices: a.map { Optional($0) }, frames: 8, height: 32, width: 32))
        XCTAssertEqual(before, stats.mseBefore, accuracy: 1e-9)
        XCTAssertEqual(after, stats.mseAfter, accuracy: 1e-9)
        // Refining leaves the gradients as they were (it may run inside a training step).
        XCTAssertEqual(m.parameters.map { $0.grad.array }, grads)
    }

    /// The colour term: the objective is the squared error plus w times the squared channel-mean offsets (checked
    /// against a direct computation), and a search that weights it ends nearer the clip's mean colour than one
    /// that does not, with its reported offsets those of the tokens it returns.
    func testColourWeightBringsTheMeanColourCloser() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip()
        let idx = m.encode(x)
        func render(_ i: [[UInt32]]) -> Tensor { m.decode(indices: i.map { Optional($0) }, frames: 8, height: 32, width: 32) }
        // Channel means as diagnose takes them: of the clamped render and the clamped clip (the clip's square
        // reaches past 1).
        func offsets(_ r: Tensor) -> [Double] {
            var d = [Double](repeating: 0, count: 3)
            for i in 0..<x.count { d[i % 3] += Double(max(-1, min(1, r[i])) - max(-1, min(1, x[i]))) }
            return d.map { $0 * 3 / Double(x.count) }
        }
        func mse(_ r: Tensor) -> Double {
            var s: Double = 0
            for i in 0..<x.count { let e = Double(max(-1, min(1, r[i])) - x[i]); s += e * e }
            return s / Double(x.count)
        }
        let q = Tensor(shape: [2, 4, 4, m.layers[0].bits])
        LFQ.lookup(idx[0], bits: m.layers[0].bits, into: q)
        let start = render(idx), o0 = offsets(start)
        let objective = CodeObjective(m, x: x, count: 8, indices: idx, colourWeight: 7)
        XCTAssertEqual(objective.error(q), mse(start) + 7 * o0.reduce(0) { $0 + $1 * $1 }, accuracy: 1e-9)
        XCTAssertGreaterThan(o0.map(abs).max()!, 0.01, "the untrained model must start off the clip's colour")

        let (plain, ps) = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 12))
        let (tinted, ts) = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 12, colourWeight: 200))
        let norm = { (o: [Double]) in o.reduce(0) { $0 + $1 * $1 } }
        let po = offsets(render(plain)), to = offsets(render(tinted))
        XCTAssertLessThan(norm(to), norm(po), "weighting the colour term must end nearer the clip's mean colour")
        XCTAssertLessThan(norm(to), norm(o0))
        for c in 0..<3 {
            XCTAssertEqual(ts.colourOffsetAfter[c], to[c] * 127.5, accuracy: 1e-6)
            XCTAssertEqual(ts.colourOffsetBefore[c], o0[c] * 127.5, accuracy: 1e-6)
            XCTAssertEqual(ps.colourOffsetAfter[c], po[c] * 127.5, accuracy: 1e-6)
        }
        XCTAssertEqual(ts.mseAfter, mse(render(tinted)), accuracy: 1e-9)
        XCTAssertEqual(Array(tinted.dropFirst()), Array(idx.dropFirst()), "coarse layers are the encoder's")
    }

    /// Padding frames (a clip's short tail repeats its last frame) do not count: refining against 5 real frames
    /// of 8 matches what the real frames alone ask for, whatever the padding holds.
    func testPaddingFramesDoNotCount() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip(), y = x.clone()
        for i in (5 * 32 * 32 * 3)..<y.count { y[i] = -x[i] }
        let idx = m.encode(x)
        let a = m.refine(x, indices: idx, count: 5, options: CodeRefinement(rounds: 4))
        let b = m.refine(y, indices: idx, count: 5, options: CodeRefinement(rounds: 4))
        XCTAssertEqual(a.0, b.0)
        XCTAssertEqual(a.1.mseAfter, b.1.mseAfter)
    }

    /// A mask over the tiny model's layer 0 (grid 2×4×4): every other token of the second latent frame.
    func halfOfSecondFrame() -> [Bool] { (0..<32).map { $0 >= 16 && $0 % 2 == 0 } }

    /// With a mask, the gradient a kept token's bits are ranked by is the error's derivative when the token and
    /// every place that repeats it move together (central differences of the masked render's exact error).
    func testMaskedGradientMatchesFiniteDifferencesOfTheTiedCodes() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 11)
        let x = clip()
        let idx = m.encode(x)
        let objective = CodeObjective(m, x: x, count: 8, indices: idx)
        let fill = MaskFill(m, mask: RefinementMask(masked: halfOfSecondFrame(), strategy: .repeatPrevious),
                            grid: Size3(2, 4, 4))
        let bits = m.layers[0].bits
        let q = Tensor(shape: [2, 4, 4, bits]), rendered = Tensor(shape: q.shape)
        LFQ.lookup(idx[0], bits: bits, into: q)
        for i in 0..<q.count { q[i] *= 0.5 }
        fill.tie(q)
        func error() -> Double { fill.tie(q); fill.apply(q, into: rendered); return objective.error(rendered) }
        _ = error()
        let analytic = fill.gather(objective.gradient())
        // Token 0 is repeated at 16 (masked); token 1 is kept and so is 17: one place each.
        for token in [0, 1, 17] {
            for b in [0, bits - 1] {
                let i = token * bits + b, v = q[i], eps: Float = 1e-2
                q[i] = v + eps; let up = error()
                q[i] = v - eps; let down = error()
                q[i] = v
                let numeric = (up - down) / Double(2 * eps)
                XCTAssertEqual(Double(analytic[i]), numeric, accuracy: 0.02 * abs(numeric) + 2e-5, "token \(token) bit \(b)")
            }
        }
        for p in 16..<32 where p % 2 == 0 {
            XCTAssertEqual((0..<bits).map { analytic[p * bits + $0] }, [Float](repeating: 0, count: bits), "masked token \(p)")
        }
        _ = error()
        let untied = objective.gradient()
        XCTAssertNotEqual(analytic[0], untied[0], "a repeated token collects its copies' gradients")
    }

    /// Refining for a masked render: the reported errors are those of `decode` with the mask, the error falls,
    /// masked tokens hold what the renderer fills them with, and the coarse layers are the encoder's.
    func testMaskedRefinementLowersTheMaskedRendersError() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip()
        let idx = m.encode(x)
        let masked = halfOfSecondFrame()
        func mse(_ r: Tensor) -> Double {
            var s: Double = 0
            for i in 0..<x.count { let e = Double(max(-1, min(1, r[i])) - x[i]); s += e * e }
            return s / Double(x.count)
        }
        for strategy in [MaskStrategy.repeatPrevious, .zero] {
            let (a, stats) = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 6),
                                      mask: RefinementMask(masked: masked, strategy: strategy))
            XCTAssertEqual(Array(a.dropFirst()), Array(idx.dropFirst()), "\(strategy)")
            XCTAssertLessThan(stats.mseAfter, stats.mseBefore, "\(strategy)")
            let masks: [[Bool]?] = [masked] + idx.dropFirst().map { _ in nil }
            func render(_ i: [[UInt32]]) -> Tensor {
                m.decode(indices: i.map { Optional($0) }, masks: masks, strategy: strategy, frames: 8, height: 32, width: 32)
            }
            XCTAssertEqual(mse(render(idx)), stats.mseBefore, accuracy: 1e-9, "\(strategy)")
            XCTAssertEqual(mse(render(a)), stats.mseAfter, accuracy: 1e-9, "\(strategy)")
            for p in 16..<32 where masked[p] {
                XCTAssertEqual(a[0][p], strategy == .repeatPrevious ? a[0][p - 16] : idx[0][p], "\(strategy) token \(p)")
            }
            XCTAssertNotEqual(a[0].enumerated().filter { !masked[$0.offset] }.map(\.element),
                              idx[0].enumerated().filter { !masked[$0.offset] }.map(\.element), "\(strategy): kept tokens refined")
        }
    }

    /// Repeat-mask training renders what `hv-render` renders of the stream `hv-mask --strategy repeat` writes: the
    /// same mask (same rule, ratio and seed) and each masked token's predecessor's code.
    func testRepeatMaskTrainingForwardIsTheMaskedStreamsRender() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        // Noise, so that some masked tokens differ from their predecessors (the moving square's all equal them).
        let x = Tensor(shape: [8, 32, 32, 3])
        var noise = SeededRandom(seed: 4)
        for i in 0..<x.count { x[i] = noise.uniform() * 2 - 1 }
        let idx = m.encode(x)
        let plane = 16
        var random = MaskRandom(seed: 9)
        let mask = TokenMasking.mask(idx[0], gridT: idx[0].count / plane, plane: plane, ratio: 0.85,
                                     strategy: .repeatPrevious, rng: &random)
        XCTAssertTrue(mask.indices.contains { mask[$0] && idx[0][$0] != idx[0][$0 - plane] }, "no masked token differs")
        let masks: [[Bool]?] = [mask] + idx.dropFirst().map { _ in nil }
        let expected = m.decode(indices: idx.map { Optional($0) }, masks: masks, strategy: .repeatPrevious,
                                frames: 8, height: 32, width: 32).clone()
        let plain = m.decode(indices: idx.map { Optional($0) }, frames: 8, height: 32, width: 32).clone()
        var rng = SeededRandom(seed: 1)
        let (recon, stats) = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, repeatMaskRatio: 0.85,
                                       maskSeed: 9, rng: &rng)
        XCTAssertEqual(stats[0]!.indices, idx[0], "the stats keep the encoder's codes")
        var worst: Float = 0, moved: Float = 0
        for i in 0..<recon.count {
            worst = max(worst, abs(recon[i] - expected[i])); moved = max(moved, abs(plain[i] - expected[i]))
        }
        XCTAssertLessThan(worst, 1e-5)
        XCTAssertGreaterThan(moved, 1e-3, "the mask changed nothing to render")
    }

    /// Training on refined codes (`--refine-rounds`): the decoder is fed the targets, and the hinge that pulls the
    /// encoder towards their signs has the gradient finite differences give (the reconstruction's gradient set to
    /// zero, so the encoder learns from the hinge alone; coarse codes are piecewise constant, as their stop-gradient says).
    func testTrainingTargetsFeedTheDecoderAndTheHingeMatchesFiniteDifferences() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip()
        let idx = m.encode(x)
        let refined = m.refine(x, indices: idx, count: 8, options: CodeRefinement(rounds: 6)).0
        XCTAssertNotEqual(refined[0], idx[0])
        var rng = SeededRandom(seed: 1)
        let w: Float = 0.8, margin: Float = 0.5
        let targets = HierarchicalTokenizer.CodeTargets(indices: refined[0], weight: w, margin: margin)
        let (recon, stats) = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, layer0Targets: targets, rng: &rng)
        let fed = recon.clone()
        XCTAssertEqual(stats[0]!.indices, refined[0])
        let direct = m.decode(indices: refined.map { Optional($0) }, frames: 8, height: 32, width: 32)
        XCTAssertEqual(fed.array, direct.array, "the decoder renders the targets")

        m.zeroGrad()
        _ = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, layer0Targets: targets, rng: &rng)
        m.backward(Tensor(shape: x.shape))
        let s = Tensor(shape: [0])
        LFQ.lookup(refined[0], bits: m.layers[0].bits, into: s)
        func hinge() -> Double {
            var r = m.encoder.forward(x)
            for layer in m.layers.dropFirst().reversed() {
                let e = layer.project(r)
                let q = Tensor(shape: e.shape)
                for i in 0..<e.count { q[i] = e[i] > 0 ? 1 : -1 }
                let u = layer.expand(q)
                let next = Tensor(shape: r.shape)
                for i in 0..<r.count { next[i] = r[i] - u[i] }
                r = next
            }
            let e = m.layers[0].project(r)
            var sum: Double = 0
            for i in 0..<e.count { sum += Double(max(0, margin - s[i] * e[i])) }
            return Double(w) * sum / Double(e.count)
        }
        let p = m.parameters.first { $0.name == "encoder.proj_out.weight" }!
        var checked = 0, worst = 0.0
        for i in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 23)) {
            let v = p.value[i], eps: Float = 1e-3
            p.value[i] = v + eps; let up = hinge()
            p.value[i] = v - eps; let down = hinge()
            p.value[i] = v
            let numeric = (up - down) / Double(2 * eps)
            worst = max(worst, abs(Double(p.grad[i]) - numeric))
            checked += 1
        }
        let scale = p.grad.array.map { abs(Double($0)) }.max() ?? 0
        XCTAssertGreaterThan(scale, 1e-5, "the hinge must reach the encoder")
        XCTAssertLessThan(worst, 0.02 * scale, "\(checked) weights")
    }
}
