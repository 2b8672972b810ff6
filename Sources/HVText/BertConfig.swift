// Configuration of a BERT encoder as Hugging Face's config.json states it; the defaults are
// all-MiniLM-L6-v2's (hidden 384, 6 layers, 12 heads, FFN 1536, exact GELU, LayerNorm eps 1e-12).
import Foundation

public struct BertConfig: Codable, Equatable {
    public var vocabularySize = 30522
    public var hiddenSize = 384
    public var layerCount = 6
    public var headCount = 12
    public var intermediateSize = 1536
    public var maxPositions = 512
    public var typeVocabularySize = 2
    public var layerNormEpsilon: Float = 1e-12
    public var activation = "gelu"
    public var positionEmbeddingType = "absolute"

    enum CodingKeys: String, CodingKey {
        case vocabularySize = "vocab_size", hiddenSize = "hidden_size", layerCount = "num_hidden_layers"
        case headCount = "num_attention_heads", intermediateSize = "intermediate_size"
        case maxPositions = "max_position_embeddings", typeVocabularySize = "type_vocab_size"
        case layerNormEpsilon = "layer_norm_eps", activation = "hidden_act"
        case positionEmbeddingType = "position_embedding_type"
    }

    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = BertConfig()
        vocabularySize = try c.decodeIfPresent(Int.self, forKey: .vocabularySize) ?? d.vocabularySize
        hiddenSize = try c.decodeIfPresent(Int.self, forKey: .hiddenSize) ?? d.hiddenSize
        layerCount = try c.decodeIfPresent(Int.self, forKey: .layerCount) ?? d.layerCount
        headCount = try c.decodeIfPresent(Int.self, forKey: .headCount) ?? d.headCount
        intermediateSize = try c.decodeIfPresent(Int.self, forKey: .intermediateSize) ?? d.intermediateSize
        maxPositions = try c.decodeIfPresent(Int.self, forKey: .maxPositions) ?? d.maxPositions
        typeVocabularySize = try c.decodeIfPresent(Int.self, forKey: .typeVocabularySize) ?? d.typeVocabularySize
        layerNormEpsilon = try c.decodeIfPresent(Float.self, forKey: .layerNormEpsilon) ?? d.layerNormEpsilon
        activation = try c.decodeIfPresent(String.self, forKey: .activation) ?? d.activation
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType) ?? d.positionEmbeddingType
    }

    /// Reads config.json, refusing what this implementation does not compute.
    public static func load(_ path: String) throws -> BertConfig {
        guard let data = FileManager.default.contents(atPath: path) else { throw TextError.missingFile(path: path, what: "config") }
        let config: BertConfig
        do { config = try JSONDecoder().decode(BertConfig.self, from: data) } catch {
            throw TextError.badConfig(path: path, reason: "not a BERT config.json (\(error))")
        }
        guard config.activation == "gelu" else { throw TextError.badConfig(path: path, reason: "hidden_act '\(config.activation)' is not supported (only exact 'gelu')") }
        guard config.positionEmbeddingType == "absolute" else { throw TextError.badConfig(path: path, reason: "position_embedding_type '\(config.positionEmbeddingType)' is not supported") }
        guard config.headCount > 0, config.hiddenSize % config.headCount == 0 else {
            throw TextError.badConfig(path: path, reason: "hidden_size \(config.hiddenSize) is not a multiple of num_attention_heads \(config.headCount)")
        }
        return config
    }
}
