// Configuration of the autoregressive text-to-video model (paper section 3.3, Table 2) as data: a Llama-style
// decoder (RMSNorm, SwiGLU, 3D rotary attention) over [text prefix | video tokens, coarse layer first].
// `paper` is Table 2 (3.1B parameters; buildable and countable, never trained here); `small` trains on a
// 2-core CPU. Stored as `config.json` beside `model.safetensors` (formats/generator.md).
import Foundation
import HVCore

/// One token layer of the sequence, in sequence order (most compressed first).
public struct GenLayerSpec: Codable, Equatable, Sendable {
    /// Index of the layer in the tokenizer (0 = densest), which is its index in .hvt files.
    public var tokenizerLayer: Int
    /// Name in .hvt headers ("L3").
    public var name: String
    /// Token grid of one clip (frames, rows, columns).
    public var gridT: Int, gridH: Int, gridW: Int
    /// LFQ code width: vocabulary 2^bits.
    public var bits: Int

    public init(tokenizerLayer: Int, name: String, gridT: Int, gridH: Int, gridW: Int, bits: Int) {
        self.tokenizerLayer = tokenizerLayer; self.name = name
        self.gridT = gridT; self.gridH = gridH; self.gridW = gridW; self.bits = bits
    }

    public var tokenCount: Int { gridT * gridH * gridW }

    enum CodingKeys: String, CodingKey {
        case tokenizerLayer = "tokenizer_layer", name, gridT = "grid_t", gridH = "grid_h", gridW = "grid_w", bits
    }
}

public struct GeneratorConfig: Codable, Equatable, Sendable {
    /// Architecture name ("small", "paper", ...).
    public var name: String
    /// Video token layers in sequence order: most compressed first (paper: layer 3, 2, 1, 0).
    public var layers: [GenLayerSpec]
    /// Text prefix length: caption states are truncated or right-padded to it (paper: 120).
    public var textLength: Int
    /// Width of the text encoder's per-token states (MiniLM: 384).
    public var textDim: Int
    /// Model width, decoder depth, attention heads.
    public var width: Int, depth: Int, heads: Int
    /// SwiGLU hidden size.
    public var ffnHidden: Int
    /// Bits per output group of the factorised head (formats/generator.md): a layer's `bits` are split into
    /// ⌈bits/groupBits⌉ near-equal groups, each predicted by its own softmax.
    public var groupBits: Int
    public var ropeBase: Double
    public var normEps: Float
    /// Dropouts of Table 2 (training only): residual branches, SwiGLU hidden, input video tokens.
    public var residualDropout: Float, ffnDropout: Float, tokenDropout: Float
    /// Probability that a training caption is replaced by the learned null text (for CFG).
    public var captionDropout: Float
    /// What of the caption the prefix holds (absent in older config.json files: `tokens`).
    public var textCondition: TextCondition
    /// Also add a projection of the caption's sentence embedding (its states mean-pooled and L2-normalised) to the
    /// input of every position, text and video; the null text adds a learned vector instead. The prefix reaches a
    /// token only through attention, whose pull on the coarse codes measured a third of a bit a token; this path
    /// reaches every token directly, and the sentence embedding places paraphrases next to their caption.
    /// Absent in older config.json files: false (and written only when true).
    public var sentenceBias: Bool

    /// `tokens`: the text encoder's per-token states, truncated or padded to `textLength` (the paper).
    /// `sentence`: one row, the caption's sentence embedding (MiniLM mean-pooled and L2-normalised, the vector the
    /// manifest stores); `textLength` is 1. A sentence-embedding model places paraphrases of a caption next to
    /// it, so a generator trained on a few dozen captions can be steered by wordings it never saw.
    public enum TextCondition: String, Codable, Sendable, CaseIterable {
        case tokens, sentence
    }

    enum CodingKeys: String, CodingKey {
        case name, layers, textLength = "text_length", textDim = "text_dim", width, depth, heads
        case ffnHidden = "ffn_hidden", groupBits = "group_bits", ropeBase = "rope_base", normEps = "norm_eps"
        case residualDropout = "residual_dropout", ffnDropout = "ffn_dropout", tokenDropout = "token_dropout"
        case captionDropout = "caption_dropout", textCondition = "text_condition", sentenceBias = "sentence_bias"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        layers = try c.decode([GenLayerSpec].self, forKey: .layers)
        textLength = try c.decode(Int.self, forKey: .textLength)
        textDim = try c.decode(Int.self, forKey: .textDim)
        width = try c.decode(Int.self, forKey: .width)
        depth = try c.decode(Int.self, forKey: .depth)
        heads = try c.decode(Int.self, forKey: .heads)
        ffnHidden = try c.decode(Int.self, forKey: .ffnHidden)
        groupBits = try c.decode(Int.self, forKey: .groupBits)
        ropeBase = try c.decode(Double.self, forKey: .ropeBase)
        normEps = try c.decode(Float.self, forKey: .normEps)
        residualDropout = try c.decode(Float.self, forKey: .residualDropout)
        ffnDropout = try c.decode(Float.self, forKey: .ffnDropout)
        tokenDropout = try c.decode(Float.self, forKey: .tokenDropout)
        captionDropout = try c.decode(Float.self, forKey: .captionDropout)
        textCondition = try c.decodeIfPresent(TextCondition.self, forKey: .textCondition) ?? .tokens
        sentenceBias = try c.decodeIfPresent(Bool.self, forKey: .sentenceBias) ?? false
    }

    /// Writes every key, `sentence_bias` only when true, so that the config.json of a model without it stays the
    /// bytes it was (a generator's files are compared and hashed).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name); try c.encode(layers, forKey: .layers)
        try c.encode(textLength, forKey: .textLength); try c.encode(textDim, forKey: .textDim)
        try c.encode(width, forKey: .width); try c.encode(depth, forKey: .depth); try c.encode(heads, forKey: .heads)
        try c.encode(ffnHidden, forKey: .ffnHidden); try c.encode(groupBits, forKey: .groupBits)
        try c.encode(ropeBase, forKey: .ropeBase); try c.encode(normEps, forKey: .normEps)
        try c.encode(residualDropout, forKey: .residualDropout); try c.encode(ffnDropout, forKey: .ffnDropout)
        try c.encode(tokenDropout, forKey: .tokenDropout); try c.encode(captionDropout, forKey: .captionDropout)
        try c.encode(textCondition, forKey: .textCondition)
        if sentenceBias { try c.encode(true, forKey: .sentenceBias) }
    }

    public init(name: String, layers: [GenLayerSpec], textLength: Int, textDim: Int = 384, width: Int, depth: Int,
                heads: Int, ffnHidden: Int, groupBits: Int = 6, ropeBase: Double = 10_000, normEps: Float = 1e-5,
                residualDropout: Float = 0, ffnDropout: Float = 0, tokenDropout: Float = 0, captionDropout: Float = 0.1,
                textCondition: TextCondition = .tokens, sentenceBias: Bool = false) {
        self.name = name; self.layers = layers; self.textLength = textLength; self.textDim = textDim
        self.width = width; self.depth = depth; self.heads = heads; self.ffnHidden = ffnHidden
        self.groupBits = groupBits; self.ropeBase = ropeBase; self.normEps = normEps
        self.residualDropout = residualDropout; self.ffnDropout = ffnDropout; self.tokenDropout = tokenDropout
        self.captionDropout = captionDropout; self.textCondition = textCondition; self.sentenceBias = sentenceBias
    }

    /// The tokenizer's four layers (paper Table 4 geometry), most compressed first.
    public static let hierarchy: [GenLayerSpec] = [
        GenLayerSpec(tokenizerLayer: 3, name: "L3", gridT: 1, gridH: 4, gridW: 4, bits: 12),
        GenLayerSpec(tokenizerLayer: 2, name: "L2", gridT: 2, gridH: 8, gridW: 8, bits: 14),
        GenLayerSpec(tokenizerLayer: 1, name: "L1", gridT: 4, gridH: 8, gridW: 8, bits: 16),
        GenLayerSpec(tokenizerLayer: 0, name: "L0", gridT: 8, gridH: 16, gridW: 16, bits: 18),
    ]

    /// Table 2: 24 layers, hidden 3200, 32 heads, text length 120, dropouts 0.1; SwiGLU hidden 8640 (OpenLLaMA-3B).
    public static let paper = GeneratorConfig(name: "paper", layers: hierarchy, textLength: 120, width: 3200, depth: 24,
                                              heads: 32, ffnHidden: 8640, residualDropout: 0.1, ffnDropout: 0.1,
                                              tokenDropout: 0.1)

    /// Trainable on a 2-core CPU: 4 layers, width 256, 4 heads (head dim 64).
    public static let small = GeneratorConfig(name: "small", layers: hierarchy, textLength: 32, width: 256, depth: 4,
                                              heads: 4, ffnHidden: 688)

    /// For tests: a few tokens per layer and a narrow model.
    public static func tiny(layers: [GenLayerSpec]? = nil, textLength: Int = 4, textDim: Int = 8) -> GeneratorConfig {
        GeneratorConfig(name: "tiny", layers: layers ?? [
            GenLayerSpec(tokenizerLayer: 1, name: "L1", gridT: 1, gridH: 2, gridW: 2, bits: 4),
            GenLayerSpec(tokenizerLayer: 0, name: "L0", gridT: 2, gridH: 2, gridW: 2, bits: 7),
        ], textLength: textLength, textDim: textDim, width: 32, depth: 2, heads: 2, ffnHidden: 48, groupBits: 3)
    }

    /// The architectures a tool may start from by name (hv-train lm --config, hv-bench gen --config).
    public enum Preset: String, CaseIterable, Sendable {
        case small, paper, tiny

        public var config: GeneratorConfig {
            switch self {
            case .paper: return .paper
            case .small: return .small
            case .tiny: return .tiny(textLength: 8, textDim: 384)   // CLI tests: seconds to train
            }
        }
    }

    public static func preset(_ name: String) -> GeneratorConfig? { Preset(rawValue: name)?.config }

    public var headDim: Int { width / max(heads, 1) }
    /// Video tokens per clip (2448 for the full hierarchy).
    public var videoTokens: Int { layers.reduce(0) { $0 + $1.tokenCount } }
    /// Text prefix + video tokens.
    public var sequenceLength: Int { textLength + videoTokens }

    /// Group sizes of layer `m`'s factorised head: ⌈bits/groupBits⌉ groups, sizes differing by at most one,
    /// larger first (14 bits at groupBits 6 -> [5, 5, 4]). Group g covers bits offset..<offset+size.
    public func groups(ofLayer m: Int) -> [Int] {
        let b = layers[m].bits, n = (b + groupBits - 1) / groupBits
        return (0..<n).map { b / n + ($0 < b % n ? 1 : 0) }
    }

    /// Output width of layer `m`'s head: Σ 2^size over its groups.
    public func headOutputs(ofLayer m: Int) -> Int { groups(ofLayer: m).reduce(0) { $0 + (1 << $1) } }

    /// Throws unless the configuration is usable (shapes divide, sizes positive, probabilities in [0, 1)).
    public func validate() throws {
        func bad(_ r: String) -> GenError { .badConfig(reason: r) }
        guard !layers.isEmpty else { throw bad("no token layers") }
        guard textLength >= 1, textDim >= 1, width >= 2, depth >= 1, heads >= 1, ffnHidden >= 1 else {
            throw bad("sizes must be positive")
        }
        guard width % heads == 0 else { throw bad("width \(width) is not a multiple of heads \(heads)") }
        guard headDim % 2 == 0, headDim >= 6 else { throw bad("head dimension \(headDim) must be even and at least 6") }
        guard (1...12).contains(groupBits) else { throw bad("group_bits must be 1...12") }
        for l in layers {
            guard (1...24).contains(l.bits), l.gridT >= 1, l.gridH >= 1, l.gridW >= 1 else {
                throw bad("layer \(l.name) has an invalid grid or bit width")
            }
        }
        for p in [residualDropout, ffnDropout, tokenDropout, captionDropout] where !(p >= 0 && p < 1) {
            throw bad("dropout probabilities must be in [0, 1)")
        }
        if textCondition == .sentence, textLength != 1 { throw bad("a sentence text condition has text_length 1, not \(textLength)") }
    }

    /// The configuration restricted to some tokenizer layers (in this config's order), e.g. [3, 2].
    public func restricted(toTokenizerLayers keep: [Int]) throws -> GeneratorConfig {
        var c = self
        c.layers = layers.filter { keep.contains($0.tokenizerLayer) }
        guard c.layers.count == Set(keep).count else { throw GenError.badConfig(reason: "layers \(keep) are not all in '\(name)'") }
        return c
    }

    /// Parameter count, computed from the shapes (equals `GeneratorModel.parameterCount`).
    public var parameterCount: Int {
        let c = width
        var n = textDim * c + c + textLength * c + c      // text projection + bias, null text, pad
        n += layers.count * c                              // layer embeddings
        for m in layers.indices { n += layers[m].bits * c + c * headOutputs(ofLayer: m) + headOutputs(ofLayer: m) }
        n += depth * (2 * c + 4 * c * c + 3 * c * ffnHidden)
        n += c                                             // final norm
        if sentenceBias { n += textDim * c + c + c }       // sentence projection + bias, null sentence
        return n
    }

    public func jsonData() throws -> Data {
        let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }
}
