// AdamW against PyTorch (Golden/seq_adamw.safetensors), exact resume through a checkpoint, gradient clipping
// and the warm-up + cosine schedule; ported from engine-seq to the engine's AdamW/LRSchedule API.
import Foundation
import XCTest
@testable import HVEngine

final class OptimizerTests: XCTestCase {
    func testAdamWMatchesTorchGolden() throws {
        let f = try SeqGolden.file("seq_adamw.safetensors")
        let p1 = Parameter("p1", shape: [4, 3]), p2 = Parameter("p2", shape: [3], decays: false)
        try f.read("p1.init", into: p1.value); try f.read("p2.init", into: p2.value)
        let opt = AdamW(parameters: [p1, p2], learningRate: 1e-2, beta1: 0.9, beta2: 0.95, epsilon: 1e-8, weightDecay: 0.1)
        for s in 0..<3 {
            try f.read("p1.grad\(s)", into: p1.grad); try f.read("p2.grad\(s)", into: p2.grad)
            opt.step()
        }
        // Tolerance 1e-6 relative: three Float32 updates vs torch float64.
        XCTAssertLessThan(SeqGolden.maxRelativeError(p1.value.array, try f.tensor("p1.final").array), 1e-6)
        XCTAssertLessThan(SeqGolden.maxRelativeError(p2.value.array, try f.tensor("p2.final").array), 1e-6)
    }

    func testAdamWStateSaveAndResumeIsExact() throws {
        func makeParams() -> [Parameter] {
            let a = Parameter("a", shape: [5]), b = Parameter("b", shape: [2, 2], decays: false)
            var rng = SeededRandom(seed: 1)
            a.value.randomNormal(std: 1, rng: &rng); b.value.randomNormal(std: 1, rng: &rng)
            return [a, b]
        }
        func grads(_ ps: [Parameter], _ step: Int) {
            var rng = SeededRandom(seed: UInt64(100 + step))
            for p in ps { p.grad.randomNormal(std: 1, rng: &rng) }
        }
        let ref = makeParams(), optRef = AdamW(parameters: ref, learningRate: 0.01)
        for s in 0..<4 { grads(ref, s); optRef.step() }

        // Two steps, then parameters and moments through one safetensors file (as hv-train checkpoints do).
        let run = makeParams(), opt = AdamW(parameters: run, learningRate: 0.01)
        for s in 0..<2 { grads(run, s); opt.step() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hv-adam-\(getpid()).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try SafeTensors.save(run.map { ($0.name, $0.value) } + opt.stateTensors(prefix: "optim."), to: path)

        let resumed = makeParams()
        let file = try SafeTensors.load(path: path)
        for p in resumed { p.value.copy(from: try file.tensor(p.name)) }
        let opt2 = AdamW(parameters: resumed, learningRate: 0.01)
        try opt2.restore(try file.allTensors(), prefix: "optim.")
        XCTAssertEqual(opt2.step, 2)
        for s in 2..<4 { grads(resumed, s); opt2.step() }
        for (x, y) in zip(resumed, ref) { XCTAssertEqual(x.value.array, y.value.array) }

        let other = AdamW(parameters: [Parameter("a", shape: [6])], learningRate: 0.01)
        XCTAssertThrowsError(try other.restore(try file.allTensors(), prefix: "optim."))
    }

    /// A parameter whose rate is scaled by s moves exactly as it would under an unscaled optimizer at s·lr, and
    /// one at scale 0 does not move; the others are untouched by the scaling.
    func testPerParameterRateScalesEqualAScaledLearningRate() {
        func params(_ prefix: String) -> [Parameter] {
            let a = Parameter("\(prefix)enc.w", shape: [6]), b = Parameter("\(prefix)new.w", shape: [4])
            var rng = SeededRandom(seed: 5)
            a.value.randomNormal(std: 1, rng: &rng); b.value.randomNormal(std: 1, rng: &rng)
            return [a, b]
        }
        let scaled = params(""), full = params(""), slow = params("")
        let opt = AdamW(parameters: scaled, learningRate: 1e-2)
        XCTAssertEqual(opt.scaleLearningRate(prefix: "enc.", by: 0.25), 1)
        let reference = AdamW(parameters: full, learningRate: 1e-2), reference4 = AdamW(parameters: slow, learningRate: 2.5e-3)
        let frozen = params(""), frozenOpt = AdamW(parameters: frozen, learningRate: 1e-2)
        frozenOpt.scaleLearningRate(prefix: "enc.", by: 0)
        let start = frozen[0].value.array
        for step in 0..<4 {
            var rng = SeededRandom(seed: UInt64(50 + step))
            let g = params("")
            for p in g { p.grad.randomNormal(std: 1, rng: &rng) }
            for set in [scaled, full, slow, frozen] { for (p, q) in zip(set, g) { p.grad.copy(from: q.grad) } }
            opt.step(); reference.step(); reference4.step(); frozenOpt.step()
        }
        XCTAssertEqual(scaled[0].value.array, slow[0].value.array)
        XCTAssertEqual(scaled[1].value.array, full[1].value.array)
        XCTAssertEqual(frozen[0].value.array, start)
        XCTAssertNotEqual(frozen[1].value.array, params("")[1].value.array)
    }

    func testClipGradNorm() {
        let a = Parameter("a", shape: [2]), b = Parameter("b", shape: [1])
        a.grad[0] = 3; a.grad[1] = 0; b.grad[0] = 4
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 5)
        XCTAssertEqual(a.grad.array, [3, 0], "no change under the limit")
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 1), 5)
        XCTAssertEqual(a.grad[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(b.grad[0], 0.8, accuracy: 1e-6)
        b.grad[0] = .nan
        XCTAssertTrue(clipGradNorm([a, b], maxNorm: 1).isNaN)
        XCTAssertEqual(a.grad[0], 0.6, accuracy: 1e-6, "non-finite norm leaves gradients alone")
    }

    /// The scalar AdamW loop the SIMD kernel replaces (the naive reference).
    static func adamWReference(w: inout [Float], g: [Float], m: inout [Float], v: inout [Float], lr: Float, b1: Float,
                               b2: Float, c1: Float, c2: Float, eps: Float, decay: Float) {
        for i in w.indices {
            m[i] = b1 * m[i] + (1 - b1) * g[i]
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
            let mh = m[i] / c1, vh = v[i] / c2
            w[i] -= lr * (mh / (vh.squareRoot() + eps) + decay * w[i])
        }
    }

    func testSIMDAdamWUpdateIsBitIdenticalToTheScalarLoop() {
        var rng = SeededRandom(seed: 9)
        for n in [1, 15, 16, 17, 1000 + 7] {
            var w = (0..<n).map { _ in rng.normal() }, g = (0..<n).map { _ in rng.normal() * 0.1 }
            var m = (0..<n).map { _ in rng.normal() * 0.01 }, v = (0..<n).map { _ in rng.uniform() * 0.01 }
            var (w2, m2, v2) = (w, m, v)
            let (c1, c2): (Float, Float) = (1 - powf(0.9, 3), 1 - powf(0.99, 3))
            Self.adamWReference(w: &w, g: g, m: &m, v: &v, lr: 3e-4, b1: 0.9, b2: 0.99, c1: c1, c2: c2, eps: 1e-8, decay: 1e-4)
            w2.withUnsafeMutableBufferPointer { wp in m2.withUnsafeMutableBufferPointer { mp in v2.withUnsafeMutableBufferPointer { vp in
                adamWUpdate(w: wp.baseAddress!, g: g, m: mp.baseAddress!, v: vp.baseAddress!, count: n, lr: 3e-4, beta1: 0.9,
                            beta2: 0.99, c1: c1, c2: c2, eps: 1e-8, decay: 1e-4)
            } } }
            XCTAssertEqual(w2, w, "weights, n = \(n)"); XCTAssertEqual(m2, m, "m, n = \(n)"); XCTAssertEqual(v2, v, "v, n = \(n)")
        }
    }

    func testEMAUpdateIsBitIdenticalToTheScalarFormula() {
        var rng = SeededRandom(seed: 10)
        for n in [3, 16, 70_001] {   // the last is split over the workers
            let a = Tensor(shape: [n]), x = Tensor(shape: [n])
            a.randomNormal(std: 1, rng: &rng); x.randomNormal(std: 1, rng: &rng)
            let d: Float = 0.999
            let expected = (0..<n).map { d * a[$0] + (1 - d) * x[$0] }
            emaUpdate(average: a, value: x, decay: d)
            XCTAssertEqual(a.array, expected, "n = \(n)")
        }
    }

    func testClipGradNormMatchesADoubleSumOverLargeGradients() {
        var rng = SeededRandom(seed: 11)
        let ps = [Parameter("a", shape: [300_003]), Parameter("b", shape: [17])]   // odd sizes, split over the workers
        for p in ps { p.grad.randomNormal(std: 0.01, rng: &rng) }
        let expected = ps.reduce(0.0) { t, p in p.grad.array.reduce(t) { $0 + Double($1) * Double($1) } }.squareRoot()
        let before = ps[0].grad[5]
        let norm = clipGradNorm(ps, maxNorm: 1)
        XCTAssertEqual(Double(norm), expected, accuracy: expected * 1e-5)
        XCTAssertGreaterThan(norm, 1)
        XCTAssertEqual(ps[0].grad[5], before / (norm + 1e-6), accuracy: abs(before) * 1e-5, "scaled to the limit")
    }

    func testWorkersFollowTheAffinityMask() {
        XCTAssertGreaterThanOrEqual(Parallel.workers, 1)
        XCTAssertLessThanOrEqual(Parallel.workers, ProcessInfo.processInfo.activeProcessorCount)
        let sum = Parallel.sum(100_000, minChunk: 1000) { r in Double(r.reduce(0, +)) }
        XCTAssertEqual(sum, Double(99_999 * 100_000 / 2))
    }

    func testIndependentJobsEachKeepTheirLoopsOnTheirOwnThread() throws {
        try XCTSkipUnless(Parallel.cores >= 2, "one core")
        var seen = [Int](repeating: -1, count: 2), threads = [String](repeating: "", count: 2)
        seen.withUnsafeMutableBufferPointer { s in
            threads.withUnsafeMutableBufferPointer { t in
                let s = s.baseAddress!, t = t.baseAddress!
                Parallel.independent(2) { i in
                    s[i] = Parallel.workers
                    t[i] = "\(pthread_self())"
                    // A loop inside a job runs on the job's thread, chunk by chunk.
                    Parallel.forEach(8) { _ in if "\(pthread_self())" != t[i] { t[i] = "moved" } }
                }
            }
        }
        XCTAssertEqual(seen, [1, 1])
        XCTAssertFalse(threads.contains("moved"))
        XCTAssertEqual(Parallel.workers, Parallel.cores, "the cap ends with the jobs")
    }

    func testWarmupThenCosineToFloor() {
        let s = LRSchedule(peak: 1e-3, warmupSteps: 10, totalSteps: 110, floorFraction: 0.01)
        XCTAssertEqual(s.rate(at: 0), 1e-4, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 9), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 10), 1e-3, accuracy: 1e-9)
        XCTAssertEqual(s.rate(at: 60), (1e-3 + 1e-5) / 2, accuracy: 1e-8)
        XCTAssertEqual(s.rate(at: 110), 1e-5, accuracy: 1e-10)
        XCTAssertEqual(s.rate(at: 5000), 1e-5, accuracy: 1e-10)
        for t in 10..<110 { XCTAssertGreaterThanOrEqual(s.rate(at: t), s.rate(at: t + 1)) }
    }
}
