import XCTest
import HVEngine
@testable import HVTokenizer

final class TokenizerModelTests: XCTestCase {
    func randomClip(_ c: TokenizerConfig, seed: UInt64, frames: Int? = nil, size: Int? = nil) -> Tensor {
        let s = size ?? c.frameSize
        let x = Tensor(shape: [frames ?? c.framesPerClip, s, s, 3])
        var rng = SeededRandom(seed: seed)
        for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
        return x
    }

    func testPresetGeometry() throws {
        for (name, c) in TokenizerConfig.presets {
            XCTAssertNoThrow(try c.validate(), name)
        }
        let p = TokenizerConfig.small
        XCTAssertEqual(p.latentGrid, Size3(8, 16, 16))
        XCTAssertEqual(p.layers.map { $0.grid.volume }, [2048, 256, 128, 16])
        XCTAssertEqual(p.layers.map { $0.bits }, [18, 16, 14, 12])
        XCTAssertEqual(p.tokensPerClip, 2448)
        XCTAssertEqual(p.bitsPerPixel, Double(2048 * 18 + 256 * 16 + 128 * 14 + 16 * 12) / Double(64 * 256 * 256), accuracy: 1e-12)
        XCTAssertEqual(TokenizerConfig.single.latentGrid, Size3(8, 17, 17))
        XCTAssertEqual(TokenizerConfig.single.tokensPerClip, 2312)
        XCTAssertEqual(TokenizerConfig.paper.latentGrid, TokenizerConfig.small.latentGrid)
        // A crop must be a whole number of the coarsest layer's cells: L3's 1×4×4 over 64×256² is 64 frames × 64².
        XCTAssertEqual(TokenizerConfig.small2.inputGranularity, Size3(64, 64, 64))
        XCTAssertEqual(TokenizerConfig.tiny.inputGranularity, Size3(8, 16, 16))
        // Not only the coarsest layer: two layers whose cells do not divide each other need their least common multiple.
        var odd = TokenizerConfig.tiny
        odd.layers = [LayerConfig(name: "A", grid: Size3(2, 2, 4), bits: 4), LayerConfig(name: "B", grid: Size3(2, 4, 1), bits: 4)]
        XCTAssertEqual(odd.inputGranularity, Size3(4, 16, 32))
    }

    /// The `single` baseline's full clips go 256² → 272² into the encoder and back to 256² out of the decoder:
    /// 8×17×17 = 2312 tokens per clip, frames at the clip's size (the model is untrained; shapes only).
    func testSingleBaselineEncodesFullFramesOn17x17() throws {
        let c = TokenizerConfig.single
        let m = try HierarchicalTokenizer(config: c, seed: 1)
        let x = randomClip(c, seed: 2)
        let idx = m.encode(x)
        XCTAssertEqual(idx.map { $0.count }, [2312])
        let y = m.decode(indices: idx, frames: c.framesPerClip, height: c.frameSize, width: c.frameSize)
        XCTAssertEqual(y.shape, [64, 256, 256, 3])
    }

    func testBilinearResize() {
        // 1×1×2 → 1×1×4 with half-pixel centres: [0, 1] → [0, 0.25, 0.75, 1] (PyTorch, align_corners=False).
        let x = Tensor(shape: [1, 1, 2, 1]); x[0] = 0; x[1] = 1
        let y = resizeBilinear(x, height: 1, width: 4)
        for (i, v) in [Float(0), 0.25, 0.75, 1].enumerated() { XCTAssertEqual(y[i], v, accuracy: 1e-6) }
        // A constant frame stays constant, and a ramp along H stays a ramp (up and down again).
        let r = Tensor(shape: [2, 16, 16, 3])
        for t in 0..<2 { for h in 0..<16 { for w in 0..<16 { for ch in 0..<3 { r[((t * 16 + h) * 16 + w) * 3 + ch] = ch == 0 ? 0.5 : Float(h) } } } }
        let up = resizeBilinear(r, height: 17, width: 17), back = resizeBilinear(up, height: 16, width: 16)
        for i in stride(from: 0, to: up.count, by: 3) { XCTAssertEqual(up[i], 0.5, accuracy: 1e-6) }
        for h in 2..<14 { XCTAssertEqual(back[(h * 16 + 5) * 3 + 1], Float(h), accuracy: 0.07) }
    }

    func testBadConfigIsRejectedWithReason() {
        var c = TokenizerConfig.tiny
        c.layers[1].grid = Size3(1, 3, 3)
        XCTAssertThrowsError(try HierarchicalTokenizer(config: c)) { e in
            XCTAssertTrue("\(e)".contains("does not divide"), "\(e)")
        }
    }

    /// `decoderBlocks` reshapes the decoder alone (the encoder keeps the preset's blocks), round-trips through
    /// config.json, and a list of the wrong length is rejected.
    func testDecoderBlocksOverride() throws {
        var c = TokenizerConfig.tiny2
        c.decoderBlocks = [0, 3]
        let m = try HierarchicalTokenizer(config: c)
        let names = Set(m.parameters.map(\.name))
        // Decoder stages run deepest first: stage0 is the encoder's last stage (3 blocks), stage1 its first (none).
        XCTAssertTrue(names.contains("decoder.stage0.block2.conv2.weight"))
        XCTAssertFalse(names.contains { $0.hasPrefix("decoder.stage0.block3.") })
        XCTAssertFalse(names.contains { $0.hasPrefix("decoder.stage1.block") })
        XCTAssertTrue(names.contains("encoder.stage0.block0.conv1.weight"))
        XCTAssertFalse(names.contains { $0.hasPrefix("encoder.stage1.block1.") })
        let x = randomClip(c, seed: 1)
        let y = m.decode(indices: m.encode(x).map { Optional($0) }, frames: c.framesPerClip, height: c.frameSize, width: c.frameSize)
        XCTAssertEqual(y.shape, x.shape)
        let back = try JSONDecoder().decode(TokenizerConfig.self, from: try c.canonicalJSON())
        XCTAssertEqual(back.decoderStages.map(\.blocks), [0, 3])
        c.decoderBlocks = [1]
        XCTAssertThrowsError(try HierarchicalTokenizer(config: c)) { e in
            XCTAssertTrue("\(e)".contains("decoderBlocks"), "\(e)")
        }
    }

    func testShapesThroughEveryLayer() throws {
        for c in [TokenizerConfig.tiny, .tiny2] {
            let m = try HierarchicalTokenizer(config: c)
            let x = randomClip(c, seed: 1)
            let idx = m.encode(x)
            XCTAssertEqual(idx.count, c.layers.count)
            for (i, l) in c.layers.enumerated() {
                XCTAssertEqual(idx[i].count, l.grid.volume)
                XCTAssertTrue(idx[i].allSatisfy { $0 < (1 << l.bits) })
            }
            let y = m.decode(indices: idx.map { Optional($0) }, frames: c.framesPerClip, height: c.frameSize, width: c.frameSize)
            XCTAssertEqual(y.shape, x.shape)
        }
    }

    /// `setInference`'s lean ResNet blocks (inner activations in two buffers of the thread) encode and decode to
    /// the same bits as the blocks that keep theirs, for both norms (tiny: GroupNorm, tiny2: RMSNorm).
    func testInferenceBlocksGiveTheSameBits() throws {
        for c in [TokenizerConfig.tiny, .tiny2] {
            let m = try HierarchicalTokenizer(config: c)
            var rng = SeededRandom(seed: 8)
            for p in m.parameters { for i in 0..<p.value.count { p.value[i] += 0.1 * (rng.uniform() * 2 - 1) } }
            let x = randomClip(c, seed: 9)
            func run() -> ([[UInt32]], [Float]) {
                let idx = m.encode(x)
                let y = m.decode(indices: idx.map { Optional($0) }, frames: c.framesPerClip, height: c.frameSize,
                                 width: c.frameSize)
                return (idx, y.array)
            }
            let kept = run()
            m.setInference(encoder: true, decoder: true)
            let lean = run()
            m.setInference(encoder: false, decoder: false)
            let again = run()
            XCTAssertEqual(lean.0, kept.0, "\(c.name): tokens")
            XCTAssertEqual(lean.1, kept.1, "\(c.name): decoded clip")
            XCTAssertEqual(again.1, kept.1, "\(c.name): after turning it off")
            XCTAssertGreaterThan(Set(kept.0[0]).count, 1, "\(c.name): codes that vary")
        }
    }

    func testSmallConfigShapesOnReducedClip() throws {
        // The shipped geometry on a 64×64×64 clip: every layer's grid scales with the input.
        let c = TokenizerConfig.small
        let m = try HierarchicalTokenizer(config: c)
        let x = randomClip(c, seed: 2, frames: 64, size: 64)
        let idx = m.encode(x)
        XCTAssertEqual(idx.map { $0.count }, [8 * 4 * 4, 4 * 2 * 2, 2 * 2 * 2, 1 * 1 * 1])
    }

    func testEncoderIsCausal() throws {
        for c in [TokenizerConfig.tiny, .tiny2] {
            let m = try HierarchicalTokenizer(config: c)
            // Move v2's zero-initialised branches off zero: causality must hold for what the convs learn too.
            var rng = SeededRandom(seed: 5)
            if c.hasShortcuts { for p in m.parameters { for i in 0..<p.value.count { p.value[i] += 0.1 * (rng.uniform() * 2 - 1) } } }
            let x = randomClip(c, seed: 3)
            let z1 = m.encoder.forward(x).clone()
            // Change the last frames: latent frames whose window ends before them must not change.
            let y = x.clone()
            let frameSize = c.frameSize * c.frameSize * 3
            for i in (6 * frameSize)..<(8 * frameSize) { y[i] = -y[i] }
            let z2 = m.encoder.forward(y)
            let perLatentFrame = z1.count / z1.shape[0]
            let down = c.totalDown.t
            for t in 0..<z1.shape[0] {
                let windowEnd = (t + 1) * down - 1   // the last input frame latent frame t may see
                let changed = (0..<perLatentFrame).contains { abs(z1[t * perLatentFrame + $0] - z2[t * perLatentFrame + $0]) > 1e-6 }
                if windowEnd < 6 { XCTAssertFalse(changed, "latent frame \(t) changed when only frames ≥ 6 did") }
            }
            // And the change is visible in the last latent frame.
            let last = z1.shape[0] - 1
            XCTAssertTrue((0..<perLatentFrame).contains { abs(z1[last * perLatentFrame + $0] - z2[last * perLatentFrame + $0]) > 1e-6 })
        }
    }

    /// The colour shortcut is the linear map its backward says: ⟨S x, y⟩ = ⟨x, Sᵀ y⟩, and S writes into channel j
    /// the mean of the input channels ≡ j (mod 3).
    func testColourShortcutForwardAndAdjoint() {
        for (ci, co) in [(3, 32), (32, 64), (64, 32), (128, 192), (32, 96), (16, 16)] {
            let s = ColourShortcut(inChannels: ci, outChannels: co)
            var rng = SeededRandom(seed: UInt64(ci * 1000 + co))
            let x = Tensor(shape: [2, 3, ci]), y = Tensor(shape: [2, 3, co])
            for i in 0..<x.count { x[i] = rng.uniform() * 2 - 1 }
            for i in 0..<y.count { y[i] = rng.uniform() * 2 - 1 }
            let sx = s.forward(x).clone()
            for p in 0..<6 { for j in 0..<co {
                let members = stride(from: j % 3, to: ci, by: 3).map { x[p * ci + $0] }
                XCTAssertEqual(sx[p * co + j], members.reduce(0, +) / Float(members.count), accuracy: 1e-5)
            } }
            let sty = s.backward(y)
            var a: Double = 0, b: Double = 0
            for i in 0..<sx.count { a += Double(sx[i] * y[i]) }
            for i in 0..<x.count { b += Double(x[i] * sty[i]) }
            XCTAssertEqual(a, b, accuracy: 1e-4, "\(ci)→\(co)")
        }
    }

    func testCoarseOnlyDecodeUsesFewerLayers() throws {
        let c = TokenizerConfig.tiny
        let m = try HierarchicalTokenizer(config: c)
        let x = randomClip(c, seed: 4)
        let idx = m.encode(x)
        let all = m.decode(indices: idx.map { Optional($0) }, frames: 8, height: 32, width: 32).clone()
        let coarse = m.decode(indices: [nil, idx[1]], frames: 8, height: 32, width: 32)
        XCTAssertEqual(coarse.shape, all.shape)
        XCTAssertNotEqual(coarse.array, all.array)
    }

    func testMaskTrainingTrainsTheMaskEmbedding() throws {
        let c = TokenizerConfig.tiny
        let m = try HierarchicalTokenizer(config: c, seed: 6)
        var o = TokenizerTrainingOptions()
        o.crop = 32; o.adversarialWeight = 0; o.progressiveSchedule = [0, 0, 0]; o.truncationProbability = 0
        o.maskTraining = true; o.warmupSteps = 1
        let trainer = TokenizerTrainer(model: m, options: o)
        let data = FixedClipData(randomClip(c, seed: 7))
        XCTAssertTrue(m.maskEmbeddings[0].value.array.allSatisfy { $0 == 0 })
        for _ in 0..<6 { _ = trainer.trainStep(source: data) }
        XCTAssertTrue(m.maskEmbeddings[0].value.array.contains { $0 != 0 }, "the mask embedding should have been trained")
    }

    func testTrainingStepsReduceLoss() throws {
        let c = TokenizerConfig.tiny
        let m = try HierarchicalTokenizer(config: c, seed: 5)
        var o = TokenizerTrainingOptions()
        o.steps = 60; o.crop = 32; o.warmupSteps = 5; o.learningRate = 3e-3; o.adversarialWeight = 0
        o.progressiveSchedule = [0, 0, 0]; o.truncationProbability = 0
        let trainer = TokenizerTrainer(model: m, options: o)
        // A fixed smooth clip: a moving gradient.
        let x = Tensor(shape: [8, 32, 32, 3])
        for t in 0..<8 { for y in 0..<32 { for xx in 0..<32 { for ch in 0..<3 {
            x[((t * 32 + y) * 32 + xx) * 3 + ch] = sinf(Float(xx + t) * 0.2 + Float(ch)) * 0.5 + Float(y) / 64 - 0.25
        } } } }
        let data = FixedClipData(x)
        var first: Float = 0, last: Float = 0
        for i in 0..<60 {
            let r = trainer.trainStep(source: data)
            if i < 5 { first += r.l1 / 5 }
            if i >= 55 { last += r.l1 / 5 }
        }
        XCTAssertLessThan(last, first * 0.7, "L1 went from \(first) to \(last)")
    }
    /// Source weights: the cartoon cap and the 25 % cap hold where they can, weights sum to 1, and with too few
    /// sources the cartoon cap still holds while the others share the rest.
    func testCappedSourceWeights() {
        let many = (0..<12).map { "s\($0)" }
        let w = ClipDataset.cappedWeights(sources: many + many, kinds: ["s0": "cartoon", "s1": "cartoon"])
        XCTAssertEqual(w.values.reduce(0, +), 1, accuracy: 1e-9)
        XCTAssertLessThanOrEqual(w["s0"]! + w["s1"]!, 0.10 + 1e-9)
        XCTAssertTrue(w.values.allSatisfy { $0 <= 0.25 + 1e-9 })
        XCTAssertEqual(w["s2"]!, w["s11"]!, accuracy: 1e-12)
        let few = ClipDataset.cappedWeights(sources: ["a", "b", "c"], kinds: ["a": "cartoon"])
        XCTAssertEqual(few["a"]!, 0.10, accuracy: 1e-9)
        XCTAssertEqual(few["b"]!, 0.45, accuracy: 1e-9)
        // Sampling follows the weights: a source of one short video is drawn as often as one of many long ones.
        let v = { (n: Int) in ClipDataset.Video(name: "v", width: 8, height: 8, frames: [[UInt8]](repeating: [UInt8](repeating: UInt8(n), count: 192), count: n)) }
        let d = ClipDataset(videos: [v(2), v(100), v(100), v(100)])
        d.setSources(["short", "long", "long", "long"], weights: ["short": 0.5, "long": 0.5])
        var rng = SeededRandom(seed: 4)
        let x = Tensor(shape: [0])
        var short = 0
        for _ in 0..<400 { d.sample(into: x, frames: 1, crop: 8, rng: &rng); if x[0] == Float(2) / 127.5 - 1 { short += 1 } }
        XCTAssertEqual(Double(short) / 400, 0.5, accuracy: 0.08)
    }
}

/// A data source that always yields the same clip.
final class FixedClipData: ClipSource {
    let clip: Tensor
    init(_ clip: Tensor) { self.clip = clip }
    func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom) { x.copy(from: clip) }
}
