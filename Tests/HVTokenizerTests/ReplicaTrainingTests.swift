import HVEngine
@testable import HVTokenizer
import XCTest

/// A step's crops trained side by side on copies of the model (`TokenizerTrainingOptions.replicas`) against the same
/// crops in turn on the model alone: the same crops (drawn in the same order), so the same gradients up to the order
/// of the float sums, over two steps (the second checks that the copies take the updated weights).
final class ReplicaTrainingTests: XCTestCase {
    /// Each crop a different random clip, drawn from the trainer's generator: a lane that trained the wrong crop,
    /// or a crop trained twice, changes the gradients.
    final class NoiseClips: ClipSource {
        func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom) {
            x.resize([frames, crop, crop, 3])
            for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        }
    }

    func testCropsSideBySideGiveTheGradientsOfCropsInTurn() throws {
        try XCTSkipUnless(Parallel.cores >= 2, "one core: the crops run in turn")
        var o = TokenizerTrainingOptions()
        o.crop = 32; o.batch = 5; o.adversarialWeight = 0; o.progressiveSchedule = [0, 0, 0]
        o.truncationProbability = 0; o.quantizationWarmup = 0; o.l2Weight = 1; o.temporalWeight = 0.5
        o.residualWeight = 0.001; o.emaDecay = 0.99
        var grads: [[Float]] = [], values: [[Float]] = [], rows: [[Float]] = []
        for replicas in [1, 2] {
            o.replicas = replicas
            let m = try HierarchicalTokenizer(config: .tiny2, seed: 5)
            let trainer = TokenizerTrainer(model: m, options: o)
            var row = trainer.trainStep(source: NoiseClips())
            row = trainer.trainStep(source: NoiseClips())
            XCTAssertEqual(trainer.lastStepReplicas, replicas)
            grads.append(m.parameters.flatMap { $0.grad.array })
            values.append(m.parameters.flatMap { $0.value.array })
            rows.append([row.l1, row.perceptual, row.temporal, row.residual] + row.entropy + row.commit
                        + row.usage.map(Float.init))
        }
        func relative(_ a: [Float], _ b: [Float]) -> Double {
            let num = zip(a, b).map { Double($0 - $1) * Double($0 - $1) }.reduce(0, +)
            let den = b.map { Double($0) * Double($0) }.reduce(0, +)
            return (num / max(den, 1e-30)).squareRoot()
        }
        XCTAssertGreaterThan(grads[0].map { Double($0 * $0) }.reduce(0, +), 0)
        XCTAssertLessThan(relative(grads[1], grads[0]), 1e-4)
        XCTAssertLessThan(relative(values[1], values[0]), 1e-6)
        for (a, b) in zip(rows[1], rows[0]) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
    }
}
