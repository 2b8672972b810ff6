// The weights of a BERT encoder under their Hugging Face names, loaded strictly from safetensors: a missing
// or mis-shaped tensor, or an unexpected extra one, is an error naming it. `embeddings.position_ids` (an
// integer buffer, passed over by the reader) and `pooler.*` (the [CLS] pooler, unused by mean pooling) are the only
// names skipped.
import Foundation
import HVEngine

public final class BertWeights {
    public struct Linear { public let weight: Tensor; public let bias: Tensor }   // weight [out, in], bias [out]
    public struct Norm { public let weight: Tensor; public let bias: Tensor }     // [hidden] each
    public struct Layer {
        public let query: Linear, key: Linear, value: Linear, attentionOutput: Linear, attentionNorm: Norm
        public let intermediate: Linear, output: Linear, outputNorm: Norm
    }

    public let wordEmbeddings: Tensor        // [vocab, hidden]
    public let positionEmbeddings: Tensor    // [maxPositions, hidden]
    public let tokenTypeEmbeddings: Tensor   // [typeVocab, hidden]
    public let embeddingNorm: Norm
    public let layers: [Layer]

    static let ignored: Set<String> = ["embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"]

    public init(file path: String, config c: BertConfig) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw TextError.missingFile(path: path, what: "weights") }
        let file: SafeTensorsFile
        do { file = try SafeTensors.load(path: path, skippingOtherDTypes: true) } catch {
            throw TextError.badWeights(path: path, reason: "\(error)")
        }
        var used = Set<String>()
        func load(_ name: String, _ shape: [Int]) throws -> Tensor {
            guard let e = file.entries[name] else { throw TextError.badWeights(path: path, reason: "missing tensor '\(name)'") }
            guard e.shape == shape else { throw TextError.badWeights(path: path, reason: "tensor '\(name)' has shape \(e.shape), expected \(shape)") }
            used.insert(name)
            do { return try file.tensor(name) } catch { throw TextError.badWeights(path: path, reason: "\(error)") }
        }
        let h = c.hiddenSize
        func linear(_ p: String, _ o: Int, _ i: Int) throws -> Linear { Linear(weight: try load(p + ".weight", [o, i]), bias: try load(p + ".bias", [o])) }
        func norm(_ p: String) throws -> Norm { Norm(weight: try load(p + ".weight", [h]), bias: try load(p + ".bias", [h])) }
        wordEmbeddings = try load("embeddings.word_embeddings.weight", [c.vocabularySize, h])
        positionEmbeddings = try load("embeddings.position_embeddings.weight", [c.maxPositions, h])
        tokenTypeEmbeddings = try load("embeddings.token_type_embeddings.weight", [c.typeVocabularySize, h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<c.layerCount).map { l in
            let p = "encoder.layer.\(l)."
            return Layer(query: try linear(p + "attention.self.query", h, h), key: try linear(p + "attention.self.key", h, h),
                         value: try linear(p + "attention.self.value", h, h),
                         attentionOutput: try linear(p + "attention.output.dense", h, h),
                         attentionNorm: try norm(p + "attention.output.LayerNorm"),
                         intermediate: try linear(p + "intermediate.dense", c.intermediateSize, h),
                         output: try linear(p + "output.dense", h, c.intermediateSize),
                         outputNorm: try norm(p + "output.LayerNorm"))
        }
        let extra = Set(file.entries.keys).subtracting(used).subtracting(BertWeights.ignored)
        if let name = extra.sorted().first {
            throw TextError.badWeights(path: path, reason: "unexpected tensor '\(name)' (\(extra.count) unexpected in all); is this a BERT encoder with this config?")
        }
    }
}
