// Test helpers of the sequence ops (engine-seq): central finite differences in Double, closeness checks with
// stated tolerances, and access to the PyTorch golden files. Names are Seq-prefixed to stay clear of engine-conv.
import XCTest
@testable import HVEngine

enum SeqGradCheck {
    /// Numerical gradient of `f` at `x` by central differences with step `eps`.
    static func numeric(_ x: [Float], eps: Float = 1e-3, _ f: ([Float]) -> Double) -> [Double] {
        var g = [Double](repeating: 0, count: x.count)
        var xp = x
        for i in 0..<x.count {
            let orig = xp[i]
            xp[i] = orig + eps; let fp = f(xp)
            xp[i] = orig - eps; let fm = f(xp)
            xp[i] = orig
            g[i] = (fp - fm) / (2 * Double(eps))
        }
        return g
    }

    /// Asserts |a − n| ≤ atol + rtol·max|n| elementwise.
    static func assertClose(_ analytic: [Float], _ numeric: [Double], atol: Double = 1e-4, rtol: Double = 1e-2,
                            _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(analytic.count, numeric.count, message, file: file, line: line)
        let scale = numeric.map { abs($0) }.max() ?? 0
        var worst = 0.0, worstIndex = 0
        for i in 0..<min(analytic.count, numeric.count) {
            let e = abs(Double(analytic[i]) - numeric[i])
            if e > worst { worst = e; worstIndex = i }
        }
        XCTAssertLessThanOrEqual(worst, atol + rtol * scale,
            "\(message): worst error \(worst) at \(worstIndex) (analytic \(analytic[worstIndex]), numeric \(numeric[worstIndex])), scale \(scale)",
            file: file, line: line)
    }

    static func randoms(_ n: Int, seed: UInt64, std: Float = 1) -> [Float] {
        var rng = SeededRandom(seed: seed)
        return (0..<n).map { _ in rng.normal() * std }
    }
}

extension Tensor {
    convenience init(seq shape: [Int], _ values: [Float]) { self.init(shape: shape, values: values) }
}

/// Golden files made by Golden/make_golden_seq.py (PyTorch CPU, float64 math stored as F32).
enum SeqGolden {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Golden", withExtension: nil)!.appendingPathComponent(name)
    }
    static func file(_ name: String) throws -> SafeTensorsFile { try SafeTensors.load(path: url(name).path) }

    /// max |a − b| / max(1, max |b|).
    static func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count, "count \(a.count) vs \(b.count)")
        let scale = max(1, b.map { abs($0) }.max() ?? 0)
        return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
    }
}

extension SafeTensorsFile {
    /// Copies tensor `name` into `t` (same element count), as the golden tests fill parameters and gradients.
    func read(_ name: String, into t: Tensor) throws {
        let src = try tensor(name)
        XCTAssertEqual(src.count, t.count, name)
        for i in 0..<min(src.count, t.count) { t[i] = src[i] }
    }
}
