import XCTest
import HVEngine
import HVFormat
@testable import HVTokenizer

/// Decoder fine-tuning with frozen tokens (`hv-train tokenizer --init C --freeze-tokens`): the render side learns,
/// the token side does not move, every clip keeps its tokens, and the fine-tuned checkpoint reads and writes the
/// .hvt files of the one it came from.
final class FrozenTokenTests: XCTestCase {
    var dir: String!
    override func setUp() { dir = NSTemporaryDirectory() + "hvfrozen-\(UUID().uuidString)" }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func clip(seed: UInt64) -> Tensor {
        let x = Tensor(shape: [8, 32, 32, 3])
        var rng = SeededRandom(seed: seed)
        for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        return x
    }

    func options() -> TokenizerTrainingOptions {
        var o = TokenizerTrainingOptions()
        o.steps = 8; o.crop = 32; o.warmupSteps = 1; o.learningRate = 3e-3; o.adversarialWeight = 0
        o.progressiveSchedule = [0, 0, 0]; o.truncationProbability = 0.5; o.residualWeight = 0.01
        o.maskTraining = true; o.freezeTokens = true
        return o
    }

    /// The render side's gradients are those of the full backward (which TokenizerGradientTests checks against
    /// finite differences); the token side gets none.
    func testRenderSideGradientsEqualTheFullBackward() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let x = clip(seed: 4)
        func grads(throughTokens: Bool) -> (render: [[Float]], token: [[Float]]) {
            m.zeroGrad()
            var rng = SeededRandom(seed: 5)
            let (y, _) = m.forward(x, finest: 0, entropyWeight: 0.01, commitWeight: 0.1, maskFraction: 0.5,
                                   residualWeight: 0.01, rng: &rng)
            let d = Tensor(shape: y.shape)
            _ = l1Loss(pred: y, target: x, grad: d)
            m.backward(d, throughTokens: throughTokens)
            return (m.renderParameters.map { $0.grad.array }, m.tokenParameters.map { $0.grad.array })
        }
        let full = grads(throughTokens: true), frozen = grads(throughTokens: false)
        XCTAssertEqual(frozen.render, full.render)
        XCTAssertTrue(full.token.joined().contains { $0 != 0 }, "the full backward reaches the encoder")
        XCTAssertTrue(frozen.token.joined().allSatisfy { $0 == 0 }, "the frozen backward must not")
        XCTAssertEqual(Set(m.renderParameters.map(\.name)).union(m.tokenParameters.map(\.name)),
                       Set(m.parameters.map(\.name)))
        XCTAssertTrue(Set(m.renderParameters.map(\.name)).isDisjoint(with: m.tokenParameters.map(\.name)))
    }

    func testFineTuningKeepsTokensAndChangesRendering() throws {
        let parent = try HierarchicalTokenizer(config: .tiny, seed: 7)
        let parentID = try TokenizerCheckpoint.save(parent, to: dir + "/parent")
        let m = try TokenizerCheckpoint.load(from: dir + "/parent")
        m.tokensOf = m.tokensOf ?? m.identity
        let probe = clip(seed: 11)
        let tokensBefore = m.encode(probe)
        let tokenWeights = m.tokenParameters.map { $0.value.array }
        let renderBefore = m.decode(indices: tokensBefore.map { Optional($0) }, frames: 8, height: 32, width: 32).array
        let trainer = TokenizerTrainer(model: m, options: options())
        let data = FixedClipData(clip(seed: 12))
        for _ in 0..<8 { _ = trainer.trainStep(source: data) }
        XCTAssertEqual(m.tokenParameters.map { $0.value.array }, tokenWeights, "token-side weights moved")
        XCTAssertEqual(m.encode(probe), tokensBefore)
        XCTAssertNotEqual(m.decode(indices: tokensBefore.map { Optional($0) }, frames: 8, height: 32, width: 32).array,
                          renderBefore, "the render side did not train")

        // Saved, it is a different checkpoint that reads and writes the parent's tokens, and says so after a reload.
        let childID = try TokenizerCheckpoint.save(m, to: dir + "/child")
        XCTAssertNotEqual(childID, parentID)
        let child = try TokenizerCheckpoint.load(from: dir + "/child")
        XCTAssertEqual(child.identity, childID)
        XCTAssertEqual(child.tokensOf, parentID)
        XCTAssertEqual(child.tokenIdentity, parentID)
        XCTAssertEqual(child.hvtHeader(source: "t").tokenizer.hash, parentID.hash)
        let reloadedParent = try TokenizerCheckpoint.load(from: dir + "/parent")
        XCTAssertNoThrow(try child.requireCompatible(reloadedParent.hvtHeader(source: "t")))
        XCTAssertNoThrow(try reloadedParent.requireCompatible(child.hvtHeader(source: "t")))
        // An unrelated model's tokens are still refused.
        let other = try HierarchicalTokenizer(config: .tiny, seed: 8)
        try TokenizerCheckpoint.save(other, to: dir + "/other")
        let otherLoaded = try TokenizerCheckpoint.load(from: dir + "/other")
        XCTAssertThrowsError(try child.requireCompatible(otherLoaded.hvtHeader(source: "t")))
        XCTAssertThrowsError(try otherLoaded.requireCompatible(child.hvtHeader(source: "t")))
    }

    func testMalformedTokensOfIsRefusedOnLoad() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 1)
        try TokenizerCheckpoint.save(m, to: dir, metadata: [TokenizerCheckpoint.tokensOfKey: "tiny@not-a-hash"])
        XCTAssertThrowsError(try TokenizerCheckpoint.load(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("tokens_of"), "\(e)")
        }
        XCTAssertNil(TokenizerIdentity(full: "noat"))
        XCTAssertNil(TokenizerIdentity(full: "@" + String(repeating: "a", count: 64)))
        XCTAssertEqual(TokenizerIdentity(full: "a@b@" + String(repeating: "0", count: 64))?.name, "a@b")
    }
}
