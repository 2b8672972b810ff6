import XCTest
import HVEngine
@testable import HVTokenizer

final class TokenizerCheckpointTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "hvtok-\(UUID().uuidString)"
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func clip() -> Tensor {
        let x = Tensor(shape: [8, 32, 32, 3])
        var rng = SeededRandom(seed: 9)
        for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        return x
    }

    func testSaveLoadGivesIdenticalOutputs() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 11)
        let id = try TokenizerCheckpoint.save(m, to: dir)
        XCTAssertEqual(id.hash.count, 64)
        let loaded = try TokenizerCheckpoint.load(from: dir)
        XCTAssertEqual(loaded.identity, id)
        let x = clip()
        XCTAssertEqual(m.encode(x), loaded.encode(x))
        let idx = m.encode(x).map { Optional($0) }
        XCTAssertEqual(m.decode(indices: idx, frames: 8, height: 32, width: 32).array,
                       loaded.decode(indices: idx, frames: 8, height: 32, width: 32).array)
    }

    /// Growing an L0-only checkpoint into the full hierarchy keeps every weight and renders the same video from all
    /// layers as the checkpoint did from L0 (the added layers contribute zero), while the added layers still
    /// produce codes; a checkpoint whose layers are not the target's densest ones is refused.
    func testGrowingAddsCoarseLayersThatStartAtZero() throws {
        var dense = TokenizerConfig.tiny
        dense.layers = [dense.layers[0]]
        let m = try HierarchicalTokenizer(config: dense, seed: 5)
        for p in m.parameters { for j in 0..<p.value.count { p.value[j] += 0.01 * Float(j % 5) } }
        try TokenizerCheckpoint.save(m, to: dir)
        let grown = try TokenizerCheckpoint.grow(from: dir, layers: TokenizerConfig.tiny.layers, name: "grown", seed: 6)
        XCTAssertEqual(grown.config.layers, TokenizerConfig.tiny.layers)
        let x = clip()
        let before = m.encode(x), after = grown.encode(x)
        XCTAssertEqual(after.count, 2)
        XCTAssertEqual(after[0], before[0])
        XCTAssertEqual(after[1].count, 4)   // L1 is 1×2×2 on 8 frames of 32²
        let a = m.decode(indices: [before[0]], frames: 8, height: 32, width: 32).array
        let b = grown.decode(indices: after.map { Optional($0) }, frames: 8, height: 32, width: 32).array
        XCTAssertEqual(a, b)
        var other = TokenizerConfig.tiny.layers
        other[0].bits = 5
        XCTAssertThrowsError(try TokenizerCheckpoint.grow(from: dir, layers: other, name: "bad", seed: 6))
        XCTAssertThrowsError(try TokenizerCheckpoint.grow(from: dir, layers: [dense.layers[0]], name: "same", seed: 6))
    }

    /// Growing a causal decoder into one that looks a latent frame ahead keeps the tokens and the render (the added
    /// tap starts at zero); once that tap is non-zero, changing the second latent frame changes the first one's frames.
    func testGrowingTheDecoderLookaheadStartsWithTheSameRender() throws {
        var dense = TokenizerConfig.tiny
        dense.layers = [dense.layers[0]]
        let m = try HierarchicalTokenizer(config: dense, seed: 5)
        try TokenizerCheckpoint.save(m, to: dir)
        let grown = try TokenizerCheckpoint.grow(from: dir, layers: dense.layers, name: "ahead", seed: 6, lookahead: 1)
        XCTAssertEqual(grown.config.lookahead, 1)
        let x = clip()
        let codes = m.encode(x)
        XCTAssertEqual(grown.encode(x), codes)
        let a = m.decode(indices: [codes[0]], frames: 8, height: 32, width: 32).array
        let b = grown.decode(indices: [codes[0]], frames: 8, height: 32, width: 32).array
        // Equal up to rounding: the grown conv's GEMM runs over 4 taps instead of 3, and OpenBLAS may block and sum
        // the longer inner dimension in another order (it does with the Zen kernels), even though the added tap is 0.
        XCTAssertEqual(a.count, b.count)
        XCTAssertLessThanOrEqual(zip(a, b).map { abs($0 - $1) }.max() ?? 0, 1e-5)
        XCTAssertThrowsError(try TokenizerCheckpoint.grow(from: dir, layers: dense.layers, name: "same", seed: 6, lookahead: 0))

        let conv = grown.parameters.first { $0.name == "decoder.conv_in.weight" }!
        XCTAssertEqual(conv.value.shape[0], 4)
        for j in (3 * conv.value.count / 4)..<conv.value.count { conv.value[j] = 0.05 * Float(j % 7 - 3) }
        var other = codes[0]
        let perFrame = other.count / 2
        for j in perFrame..<other.count { other[j] ^= 1 }
        let c = grown.decode(indices: [codes[0]], frames: 8, height: 32, width: 32).array
        let d = grown.decode(indices: [other], frames: 8, height: 32, width: 32).array
        XCTAssertNotEqual(Array(c[..<(c.count / 2)]), Array(d[..<(d.count / 2)]))
        let e = m.decode(indices: [other], frames: 8, height: 32, width: 32).array
        XCTAssertEqual(Array(a[..<(a.count / 2)]), Array(e[..<(e.count / 2)]), "the causal decoder's first frames do not see the second latent frame")
    }

    /// Deepening the decoder keeps every tensor, the tokens and the render (each added block is the identity until
    /// its second conv trains), records the checkpoint's token identity, and refuses block counts that are not more.
    func testDeepeningTheDecoderKeepsTokensAndRender() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 5)
        for p in m.parameters { for j in 0..<p.value.count { p.value[j] += 0.01 * Float(j % 5) } }
        let id = try TokenizerCheckpoint.save(m, to: dir)
        let have = m.config.decoderStages.map(\.blocks)
        let more = have.enumerated().map { $0.offset == 0 ? $0.element + 2 : $0.element + 1 }
        let deep = try TokenizerCheckpoint.deepenDecoder(from: dir, blocks: more)
        XCTAssertEqual(deep.config.decoderStages.map(\.blocks), more)
        XCTAssertEqual(deep.tokensOf, id)
        XCTAssertGreaterThan(deep.parameters.count, m.parameters.count)
        let x = clip()
        let codes = m.encode(x)
        XCTAssertEqual(deep.encode(x), codes)
        let idx = codes.map { Optional($0) }
        XCTAssertEqual(m.decode(indices: idx, frames: 8, height: 32, width: 32).array,
                       deep.decode(indices: idx, frames: 8, height: 32, width: 32).array)
        // Once an added block's second conv is non-zero, it changes the render: the blocks are in the path.
        let added = deep.parameters.first { $0.name.hasSuffix(".block\(have[0]).conv2.weight") }!
        for j in 0..<added.value.count { added.value[j] = 0.02 * Float(j % 7 - 3) }
        XCTAssertNotEqual(m.decode(indices: idx, frames: 8, height: 32, width: 32).array,
                          deep.decode(indices: idx, frames: 8, height: 32, width: 32).array)
        XCTAssertThrowsError(try TokenizerCheckpoint.deepenDecoder(from: dir, blocks: have))
        XCTAssertThrowsError(try TokenizerCheckpoint.deepenDecoder(from: dir, blocks: have.map { max($0 - 1, 0) } ))
        XCTAssertThrowsError(try TokenizerCheckpoint.deepenDecoder(from: dir, blocks: have + [1]))
    }

    /// Adding frame branches keeps every tensor, the tokens and the render (the branches start at zero) and records
    /// the checkpoint's token identity. Without branches, a latent step repeated in time renders the same frame
    /// at every repeated position of the up-sampled grid; a trained (non-zero) branch sets them apart, which is
    /// the path it adds. A checkpoint that has branches is refused.
    func testAddingFrameBranchesKeepsTokensAndRenderAndSetsFramesApart() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 5)
        for p in m.parameters { for j in 0..<p.value.count { p.value[j] += 0.01 * Float(j % 5) } }
        let id = try TokenizerCheckpoint.save(m, to: dir)
        let b = try TokenizerCheckpoint.addFrameBranches(from: dir)
        XCTAssertTrue(b.config.hasFrameBranches)
        XCTAssertEqual(b.tokensOf, id)
        XCTAssertEqual(b.parameters.count, m.parameters.count + 2)
        let x = clip()
        let codes = m.encode(x)
        XCTAssertEqual(b.encode(x), codes)
        // Both of L0's latent frames carry the first one's codes: a step that holds still.
        var still = codes
        let plane = still[0].count / 2
        for j in 0..<plane { still[0][plane + j] = still[0][j] }
        let idx = still.map { Optional($0) }
        let before = m.decode(indices: idx, frames: 8, height: 32, width: 32).array
        XCTAssertEqual(before, b.decode(indices: idx, frames: 8, height: 32, width: 32).array)
        let frame = 32 * 32 * 3
        func frameAt(_ v: [Float], _ f: Int) -> [Float] { Array(v[(f * frame)..<((f + 1) * frame)]) }
        // tiny's one up-sampling doubles time and the head's depth-to-space doubles it again: frames 0 and 2 come
        // from the two repeated copies of latent frame 0, which only a branch can tell apart.
        func gap(_ v: [Float], _ f: Int, _ g: Int) -> Float { zip(frameAt(v, f), frameAt(v, g)).map { abs($0 - $1) }.max()! }
        // (Equal up to the fused up-sampling's order of summation.)
        XCTAssertLessThan(gap(before, 0, 2), 1e-4)
        XCTAssertGreaterThan(gap(before, 0, 1), 0.1, "the head's two frames differ in any case")
        let branch = b.parameters.first { $0.name == "decoder.stage0.frames.weight" }!
        for j in 0..<branch.value.count { branch.value[j] = 0.05 * Float(j % 7 - 3) }
        let after = b.decode(indices: idx, frames: 8, height: 32, width: 32).array
        XCTAssertGreaterThan(gap(after, 0, 2), 0.01)
        // The branch sees only its own latent frame: the render stays causal.
        var later = still
        for j in 0..<plane { later[0][plane + j] = codes[0][plane + j] }
        let moved = b.decode(indices: later.map { Optional($0) }, frames: 8, height: 32, width: 32).array
        XCTAssertEqual(Array(after[..<(after.count / 2)]), Array(moved[..<(moved.count / 2)]))
        try TokenizerCheckpoint.save(b, to: dir)
        XCTAssertThrowsError(try TokenizerCheckpoint.addFrameBranches(from: dir))
    }

    /// With the subtraction at 0 the dense layer quantises the latent itself, as if the coarse contributions were
    /// zero; at 1 (the default, and what encoding uses) it quantises the residual, which here differs.
    func testSubtractionRampScalesWhatTheDenseLayerSees() throws {
        let m = try HierarchicalTokenizer(config: .tiny, seed: 7)
        var rng = SeededRandom(seed: 1)
        let x = clip()
        let full = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, rng: &rng).1[0]!.indices
        let none = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, subtraction: 0, rng: &rng).1[0]!.indices
        XCTAssertNotEqual(full, none)
        XCTAssertEqual(full, m.encode(x)[0])
        for p in m.parameters where p.name.hasPrefix("hierarchy.1.up_conv") { p.value.scale(by: 0) }
        let zeroed = m.forward(x, finest: 0, entropyWeight: 0, commitWeight: 0, rng: &rng).1[0]!.indices
        XCTAssertEqual(zeroed, none)
    }

    /// With pointwise coarse down convs a coarse layer's pre-quantisation activations at one token depend on that
    /// token's pooled latent only (as on a training crop whose grid is one token); with 3×3 ones a neighbour's
    /// latent moves them too. L0 keeps its 3×3 conv. Growing onto L0 gives the added layers the pointwise shape.
    func testPointwiseCoarseDownConvsAreLocal() throws {
        var c = TokenizerConfig.tiny
        c.layers[1].grid = Size3(1, 4, 4)   // L1 on the same 4×4 grid as L0 here, so a token has neighbours
        func changedTokens(_ config: TokenizerConfig) throws -> Int {
            let m = try HierarchicalTokenizer(config: config, seed: 3)
            let layer = m.layers[1]
            let r = Tensor(shape: [2, 4, 4, config.latentChannels])
            var rng = SeededRandom(seed: 4)
            r.randomNormal(std: 1, rng: &rng)
            let a = layer.project(r).clone()
            for ch in 0..<config.latentChannels { r[((0 * 4 + 1) * 4 + 1) * config.latentChannels + ch] += 1 }   // token (1, 1) of frame 0
            let b = layer.project(r)
            let bits = config.layers[1].bits
            return (0..<(a.count / bits)).filter { t in (0..<bits).contains { a[t * bits + $0] != b[t * bits + $0] } }.count
        }
        XCTAssertEqual(try changedTokens(c), 9, "3×3: the token and its 8 neighbours")
        var p = c
        p.pointwiseCoarseDown = true
        XCTAssertEqual(try changedTokens(p), 1)
        let m = try HierarchicalTokenizer(config: p, seed: 3)
        XCTAssertEqual(m.parameters.first { $0.name == "hierarchy.0.down.weight" }!.value.shape[1], 3)
        XCTAssertEqual(m.parameters.first { $0.name == "hierarchy.1.down.weight" }!.value.shape[1], 1)

        var dense = TokenizerConfig.tiny
        dense.layers = [dense.layers[0]]
        try TokenizerCheckpoint.save(try HierarchicalTokenizer(config: dense, seed: 5), to: dir)
        let grown = try TokenizerCheckpoint.grow(from: dir, layers: TokenizerConfig.tiny.layers, name: "g", seed: 6, pointwiseCoarseDown: true)
        XCTAssertTrue(grown.config.hasPointwiseCoarseDown)
        XCTAssertEqual(grown.parameters.first { $0.name == "hierarchy.1.down.weight" }!.value.shape[1], 1)
    }

    func testEncodingIsDeterministic() throws {
        let a = try HierarchicalTokenizer(config: .tiny, seed: 3)
        let b = try HierarchicalTokenizer(config: .tiny, seed: 3)
        XCTAssertEqual(a.encode(clip()), b.encode(clip()))
    }

    func testDifferentWeightsGiveDifferentIdentity() throws {
        let a = try HierarchicalTokenizer(config: .tiny, seed: 1)
        let b = try HierarchicalTokenizer(config: .tiny, seed: 2)
        let ia = try TokenizerCheckpoint.save(a, to: dir + "/a")
        let ib = try TokenizerCheckpoint.save(b, to: dir + "/b")
        XCTAssertEqual(ia.name, ib.name)
        XCTAssertNotEqual(ia.hash, ib.hash)
    }

    /// Averaging the last K snapshots gives each weight's mean over exactly those snapshots (older ones left out);
    /// asking for more than the run has, or a snapshot of another architecture, is a clear error.
    func testAveragingSnapshotsIsTheMeanOfTheLastOnes() throws {
        let run = dir + "/run"
        let m = try HierarchicalTokenizer(config: .tiny, seed: 1)
        try TokenizerCheckpoint.save(m, to: run)
        var versions: [[[Float]]] = []
        for step in 1...3 {
            for p in m.parameters { for j in 0..<p.value.count { p.value[j] = Float(step * 10 + j % 7) * (j % 2 == 0 ? 1 : -0.5) } }
            versions.append(m.parameters.map { $0.value.array })
            try TokenizerCheckpoint.saveSnapshot(m, run: run, step: step * 250)
        }
        XCTAssertEqual(TokenizerCheckpoint.snapshots(run: run).map { ($0 as NSString).lastPathComponent },
                       ["step-00000250.safetensors", "step-00000500.safetensors", "step-00000750.safetensors"])
        let (avg, used) = try TokenizerCheckpoint.averagingSnapshots(run: run, last: 2)
        XCTAssertEqual(used.count, 2)
        XCTAssertTrue(used[0].hasSuffix("step-00000500.safetensors"))
        for (i, p) in avg.parameters.enumerated() {
            for j in stride(from: 0, to: p.value.count, by: max(1, p.value.count / 5)) {
                XCTAssertEqual(p.value[j], (versions[1][i][j] + versions[2][i][j]) / 2, accuracy: 1e-5, p.name)
            }
        }
        XCTAssertThrowsError(try TokenizerCheckpoint.averagingSnapshots(run: run, last: 4)) { e in
            XCTAssertTrue("\(e)".contains("has 3"), "\(e)")
        }
        // A snapshot of a different architecture is refused, naming the file.
        var other = TokenizerConfig.tiny
        other.stages[0].channels = 12
        try TokenizerCheckpoint.saveSnapshot(try HierarchicalTokenizer(config: other, seed: 1), run: run, step: 1000)
        XCTAssertThrowsError(try TokenizerCheckpoint.averagingSnapshots(run: run, last: 2)) { e in
            XCTAssertTrue("\(e)".contains("step-00001000"), "\(e)")
        }
    }

    func testStrictLoadRejectsWrongCheckpoint() throws {
        // Weights of one architecture under the config of another: a named weight is missing or mis-shaped.
        let m = try HierarchicalTokenizer(config: .tiny, seed: 1)
        try TokenizerCheckpoint.save(m, to: dir)
        var other = TokenizerConfig.tiny
        other.stages[0].channels = 12
        try other.canonicalJSON().write(to: URL(fileURLWithPath: dir + "/config.json"))
        XCTAssertThrowsError(try TokenizerCheckpoint.load(from: dir)) { e in
            XCTAssertTrue("\(e)".contains("encoder."), "error should name the weight: \(e)")
        }
    }

    func testMissingCheckpointIsClearError() {
        XCTAssertThrowsError(try TokenizerCheckpoint.load(from: dir + "/nothing")) { e in
            XCTAssertTrue("\(e)".contains("no tokenizer checkpoint"), "\(e)")
        }
    }
}
