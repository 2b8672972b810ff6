// Tokenizer configuration as data (paper section 3.2, Table 4). A config is stored as `config.json`
// beside the weights and hashed, with them, into every .hvt header. The token geometry (latent grid
// per layer and code width) is what the paper fixes; widths and depths are ours to choose for a CPU.
import Foundation
import HVCore

/// A size or factor along (time, height, width).
public struct Size3: Codable, Equatable, Hashable, CustomStringConvertible, Sendable {
    public var t: Int
    public var h: Int
    public var w: Int
    public init(_ t: Int, _ h: Int, _ w: Int) { self.t = t; self.h = h; self.w = w }
    public var volume: Int { t * h * w }
    public var description: String { "\(t)x\(h)x\(w)" }
    public static let one = Size3(1, 1, 1)
}

/// One encoder stage: `blocks` ResNet blocks at `channels`, then (unless `down` is 1×1×1) a causal
/// strided conv that downsamples by `down` into the next stage.
public struct StageConfig: Codable, Equatable, Sendable {
    public var channels: Int
    public var blocks: Int
    public var down: Size3
    public init(channels: Int, blocks: Int, down: Size3) { self.channels = channels; self.blocks = blocks; self.down = down }
}

/// One token layer of the hierarchy. Layer 0 is the densest; the last is the most compressed.
public struct LayerConfig: Codable, Equatable, Sendable {
    /// Name used in .hvt headers ("L0" ... "L3").
    public var name: String
    /// Token grid for a full clip (frames × size²), e.g. 8×16×16 for layer 0.
    public var grid: Size3
    /// LFQ code width: the codebook has 2^bits entries.
    public var bits: Int
    public init(name: String, grid: Size3, bits: Int) { self.name = name; self.grid = grid; self.bits = bits }
}

public struct TokenizerConfig: Codable, Equatable, Sendable {
    /// Identifies the architecture family; combined with the weights' hash in .hvt headers.
    public var name: String
    /// Frames per clip (64 in the paper: 8 s at 8 fps).
    public var framesPerClip: Int
    /// Square frame size in pixels (256 in the paper).
    public var frameSize: Int
    /// Frames per second the model was trained at.
    public var fps: Int
    /// Space-to-depth patch of the stem (Cosmos-style): makes full-resolution layers cheap.
    public var patch: Size3
    /// Encoder stages; the decoder mirrors them.
    public var stages: [StageConfig]
    /// Channels of the continuous latent that the hierarchy quantises.
    public var latentChannels: Int
    /// Token layers, densest first (layer 0 … layer N−1).
    public var layers: [LayerConfig]
    /// GroupNorm groups (per frame; see Encoder.swift).
    public var normGroups: Int
    /// Spatial size the encoder sees (the `single` baseline interpolates 256 → 272 so its latent is 17×17);
    /// nil means `frameSize`.
    public var encoderSize: Int?
    /// false removes the GroupNorm before the encoder's output projection and the decoder's pixel head:
    /// per-frame statistics there normalise away a frame's overall level and contrast, which the first thing a
    /// reconstruction has to carry (see docs/tokenizer-journal.md, "Training notes"). nil means true.
    public var outputNorm: Bool?
    /// Normalisation of the ResNet blocks and output heads: `group` (GroupNorm, per-frame statistics; absent
    /// means this) or `rms` (RMSNorm over each position's channels, independent of the crop size).
    public var norm: NormKind?
    /// Non-parametric colour shortcuts around the stem, every resampling conv and both output projections, and
    /// zero-initialised residual branches (see Shortcuts.swift): an untrained model renders box means.
    public var shortcuts: Bool?
    /// Decoder widths per stage, listed like `stages` (shallowest first); absent mirrors the encoder's.
    public var decoderChannels: [Int]?
    /// Decoder residual blocks per stage, listed like `stages` (shallowest first); absent mirrors the encoder's.
    /// More blocks at the latent grid give the decoder capacity per latent cell, where the detail inside a
    /// cell has to be painted (docs/tokenizer-journal.md, "A deeper decoder").
    public var decoderBlocks: [Int]?
    /// ε of the `rms` norm (absent: 1e-6). RMSNorm divides by each position's RMS, so where activations are near
    /// zero (a flat region, or a decoder whose input starts at zero) it amplifies the gradient by up to 1/√ε.
    public var normEpsilon: Float?
    /// Latent frames after its own that the decoder's first conv sees (absent: 0, a causal decoder). The conv
    /// keeps its two past taps and gains one tap per frame of lookahead, so the frames of latent step j can
    /// move towards step j + 1 (docs/tokenizer-journal.md, "Looking a latent frame ahead"); rendering a latent
    /// frame then waits for the next one. The encoder, and so the tokens, stay causal.
    public var decoderLookahead: Int?
    /// The coarse layers' (L1…) down convs are 1×1 in space instead of 3×3 (absent: false). On 64² training crops
    /// their grids are 1×1 or 2×2, so a 3×3 kernel trains mostly its centre and the rest acts untrained on whole
    /// frames (docs/tokenizer-journal.md, "Coarse layers see whole frames differently").
    public var pointwiseCoarseDown: Bool?
    /// Every decoder up-sampling that doubles time gains a zero-initialised channel-to-time branch (absent:
    /// false; Decoder3D.swift, FrameBranch): repetition lets a latent step's frames differ only through the step
    /// before, so the change inside a step that only its own code can know has no path to the render.
    public var frameBranches: Bool?

    public enum NormKind: String, Codable, Sendable { case group, rms }

    public init(name: String, framesPerClip: Int, frameSize: Int, fps: Int, patch: Size3, stages: [StageConfig],
                latentChannels: Int, layers: [LayerConfig], normGroups: Int, encoderSize: Int? = nil,
                outputNorm: Bool? = nil, norm: NormKind? = nil, shortcuts: Bool? = nil, decoderChannels: [Int]? = nil,
                normEpsilon: Float? = nil, decoderLookahead: Int? = nil) {
        self.name = name; self.framesPerClip = framesPerClip; self.frameSize = frameSize; self.fps = fps
        self.patch = patch; self.stages = stages; self.latentChannels = latentChannels; self.layers = layers
        self.normGroups = normGroups; self.encoderSize = encoderSize; self.outputNorm = outputNorm
        self.norm = norm; self.shortcuts = shortcuts; self.decoderChannels = decoderChannels
        self.normEpsilon = normEpsilon; self.decoderLookahead = decoderLookahead
    }

    /// Whether the encoder's and decoder's last stage ends in a norm (absent in config.json = true).
    public var hasOutputNorm: Bool { outputNorm ?? true }
    public var normKind: NormKind { norm ?? .group }
    public var hasShortcuts: Bool { shortcuts ?? false }
    public var lookahead: Int { decoderLookahead ?? 0 }
    public var hasPointwiseCoarseDown: Bool { pointwiseCoarseDown ?? false }
    public var hasFrameBranches: Bool { frameBranches ?? false }
    /// The decoder's stages, shallowest first: the encoder's with `decoderChannels` widths and `decoderBlocks`.
    public var decoderStages: [StageConfig] {
        // An override of the wrong length is left to validate() to reject; here it falls back per stage.
        func pick(_ o: [Int]?, _ i: Int, _ d: Int) -> Int { o.flatMap { i < $0.count ? $0[i] : nil } ?? d }
        return stages.indices.map { i in
            StageConfig(channels: pick(decoderChannels, i, stages[i].channels), blocks: pick(decoderBlocks, i, stages[i].blocks),
                        down: stages[i].down)
        }
    }

    /// Total down-sampling of the encoder: patch × every stage's `down`.
    public var totalDown: Size3 {
        stages.reduce(patch) { Size3($0.t * $1.down.t, $0.h * $1.down.h, $0.w * $1.down.w) }
    }

    /// The latent grid for a full clip.
    public var latentGrid: Size3 {
        let d = totalDown, s = encoderSize ?? frameSize
        return Size3(framesPerClip / d.t, s / d.h, s / d.w)
    }

    /// Pooling factor from the latent grid to layer `i`'s grid.
    public func pool(ofLayer i: Int) -> Size3 {
        let g = latentGrid, l = layers[i].grid
        return Size3(g.t / l.t, g.h / l.h, g.w / l.w)
    }

    /// The input sizes that every layer's grid divides, in frames, rows and columns: one cell of each layer's grid
    /// in input pixels, least common multiple over the layers. A crop that is not a whole number of them in each
    /// direction cannot be pooled to every layer. (A model with `encoderSize` resizes whole frames first.)
    public var inputGranularity: Size3 {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        func lcm(_ a: Int, _ b: Int) -> Int { a / gcd(a, b) * b }
        let d = totalDown
        return layers.indices.reduce(Size3(1, 1, 1)) { acc, i in
            let p = pool(ofLayer: i)
            return Size3(lcm(acc.t, d.t * p.t), lcm(acc.h, d.h * p.h), lcm(acc.w, d.w * p.w))
        }
    }

    /// Tokens per clip over all layers.
    public var tokensPerClip: Int { layers.reduce(0) { $0 + $1.grid.volume } }
    /// Raw token bits per clip over all layers.
    public var bitsPerClip: Int { layers.reduce(0) { $0 + $1.grid.volume * $1.bits } }
    /// Raw bits per pixel of a full clip.
    public var bitsPerPixel: Double { Double(bitsPerClip) / Double(framesPerClip * frameSize * frameSize) }

    /// Checks that the geometry is consistent; throws a sentence naming what is wrong.
    public func validate() throws {
        func fail(_ s: String) -> TokenizerError { .badConfig(name: name, reason: s) }
        let d = totalDown, s = encoderSize ?? frameSize
        guard framesPerClip % d.t == 0, s % d.h == 0, s % d.w == 0 else {
            throw fail("clip \(framesPerClip)x\(s)x\(s) is not divisible by the encoder's total down-sampling \(d)")
        }
        guard !layers.isEmpty else { throw fail("there are no token layers") }
        let g = latentGrid
        for (i, l) in layers.enumerated() {
            guard (1...20).contains(l.bits) else { throw fail("layer \(i) has \(l.bits) bits; 1...20 are supported") }
            guard l.grid.t > 0, l.grid.h > 0, l.grid.w > 0, g.t % l.grid.t == 0, g.h % l.grid.h == 0, g.w % l.grid.w == 0 else {
                throw fail("layer \(i) grid \(l.grid) does not divide the latent grid \(g)")
            }
        }
        if let w = decoderChannels {
            guard w.count == stages.count, w.allSatisfy({ $0 > 0 }) else {
                throw fail("decoderChannels needs one positive width per stage (\(stages.count))")
            }
        }
        if let b = decoderBlocks {
            guard b.count == stages.count, b.allSatisfy({ $0 >= 0 }) else {
                throw fail("decoderBlocks needs one block count (0 or more) per stage (\(stages.count))")
            }
        }
        if normKind == .group {
            guard normGroups > 0, (stages + decoderStages).allSatisfy({ $0.channels % normGroups == 0 }),
                  latentChannels % normGroups == 0 else {
                throw fail("every stage's channels must be a multiple of normGroups \(normGroups)")
            }
        }
        if hasShortcuts {
            guard (stages + decoderStages).allSatisfy({ $0.channels >= 3 }), latentChannels >= 3 else {
                throw fail("colour shortcuts need at least 3 channels in every stage and in the latent")
            }
        }
    }

    /// Canonical JSON (sorted keys) — the bytes that are hashed.
    public func canonicalJSON() throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .prettyPrinted]
        return try enc.encode(self)
    }
}

extension TokenizerConfig {
    /// The paper's hierarchy (Table 4): 2^18 on 8×16×16, 2^16 on 4×8×8, 2^14 on 2×8×8, 2^12 on 1×4×4.
    public static let paperLayers: [LayerConfig] = [
        LayerConfig(name: "L0", grid: Size3(8, 16, 16), bits: 18),
        LayerConfig(name: "L1", grid: Size3(4, 8, 8), bits: 16),
        LayerConfig(name: "L2", grid: Size3(2, 8, 8), bits: 14),
        LayerConfig(name: "L3", grid: Size3(1, 4, 4), bits: 12),
    ]

    /// The paper's geometry with paper-scale widths (not trained here; for reference and parameter counts).
    public static let paper = TokenizerConfig(
        name: "hitvideo-paper", framesPerClip: 64, frameSize: 256, fps: 8, patch: Size3(2, 4, 4),
        stages: [StageConfig(channels: 128, blocks: 2, down: Size3(2, 2, 2)),
                 StageConfig(channels: 256, blocks: 2, down: Size3(2, 2, 2)),
                 StageConfig(channels: 512, blocks: 2, down: .one)],
        latentChannels: 256, layers: paperLayers, normGroups: 32)

    /// The CPU-trainable model we ship: the paper's token geometry and code widths, narrow and shallow.
    public static let small = TokenizerConfig(
        name: "hitvideo-small", framesPerClip: 64, frameSize: 256, fps: 8, patch: Size3(2, 4, 4),
        stages: [StageConfig(channels: 32, blocks: 1, down: Size3(2, 2, 2)),
                 StageConfig(channels: 64, blocks: 2, down: Size3(2, 2, 2)),
                 StageConfig(channels: 128, blocks: 2, down: .one)],
        latentChannels: 128, layers: paperLayers, normGroups: 8)

    /// The v2 architecture, which the shipped v3 recipe trains (formats/tokenizer.md, "v2"): the paper's token
    /// geometry; per-position RMSNorm and a decoder wider than the encoder. (Colour shortcuts made training
    /// diverge; `shortcuts` stays an option, off here.)
    public static let small2 = TokenizerConfig(
        name: "hitvideo-small2", framesPerClip: 64, frameSize: 256, fps: 8, patch: Size3(2, 4, 4),
        stages: small.stages, latentChannels: 128, layers: paperLayers, normGroups: 8, outputNorm: true,
        norm: .rms, decoderChannels: [48, 96, 192])

    /// The paper's single-layer baseline: one 2^18 codebook on 8×17×17 (2312 tokens); the encoder sees
    /// frames interpolated to 272² so that the latent is 17×17.
    public static let single = TokenizerConfig(
        name: "hitvideo-single", framesPerClip: 64, frameSize: 256, fps: 8, patch: Size3(2, 4, 4),
        stages: small.stages, latentChannels: 128,
        layers: [LayerConfig(name: "L0", grid: Size3(8, 17, 17), bits: 18)], normGroups: 8, encoderSize: 272)

    /// A tiny model for tests: 8 frames of 32², two layers.
    public static let tiny = TokenizerConfig(
        name: "hitvideo-tiny", framesPerClip: 8, frameSize: 32, fps: 8, patch: Size3(2, 4, 4),
        stages: [StageConfig(channels: 8, blocks: 1, down: Size3(2, 2, 2)),
                 StageConfig(channels: 16, blocks: 1, down: .one)],
        latentChannels: 16,
        layers: [LayerConfig(name: "L0", grid: Size3(2, 4, 4), bits: 6),
                 LayerConfig(name: "L1", grid: Size3(1, 2, 2), bits: 4)],
        normGroups: 4)

    /// `tiny` with the v2 architecture (tests).
    public static let tiny2: TokenizerConfig = {
        var c = tiny
        c.name = "hitvideo-tiny2"; c.norm = .rms; c.shortcuts = true; c.decoderChannels = [12, 20]
        return c
    }()

    /// The single-layer baseline with the v2 architecture (the Fig. 4 ablation at the same recipe as small2).
    public static let single2: TokenizerConfig = {
        var c = small2
        c.name = "hitvideo-single2"; c.layers = single.layers; c.encoderSize = single.encoderSize
        return c
    }()

    public static let presets: [String: TokenizerConfig] = ["paper": paper, "small": small, "single": single, "tiny": tiny,
                                                            "small2": small2, "single2": single2, "tiny2": tiny2]
}
