// Generator checkpoints (formats/generator.md): a directory with `config.json` (GeneratorConfig) and
// `model.safetensors` (F32 weights under the names GeneratorModel binds), plus, while training,
// `train-state.safetensors` (AdamW moments and step) so a run resumes exactly. Loading is strict: a missing,
// extra or mis-shaped weight is an error naming it. All engine checkpoint I/O of HVGen is in this file.
import Foundation
import HVEngine
import HVFormat

public enum GeneratorCheckpoint {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"
    public static let trainStateFile = "train-state.safetensors"
    /// Optional: the sampling settings measured best for these weights (`SamplingDefaults`).
    public static let samplingFile = "sampling.json"
    /// `__metadata__` of model.safetensors.
    public static let formatName = "hitvideo-generator"
    public static let formatVersion = "1"
    /// Where tools look when --model is not given (relative to the working directory).
    public static let defaultDirectory = "models/generator"

    static func path(_ dir: String, _ file: String) -> String { (dir as NSString).appendingPathComponent(file) }

    /// Writes config.json and model.safetensors (each through a temporary file renamed into place).
    /// `tokenizer`, the identity of the tokens it was trained on, goes into the metadata whole (`name@sha256`;
    /// empty when unknown).
    public static func save(_ model: GeneratorModel, to dir: String, tokenizer: TokenizerIdentity? = nil) throws {
        do { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        catch { throw GenError.badCheckpoint(path: dir, reason: "cannot create the directory (\(error.localizedDescription))") }
        let cfg = path(dir, configFile)
        do { try model.config.jsonData().write(to: URL(fileURLWithPath: cfg), options: .atomic) }
        catch { throw GenError.badCheckpoint(path: cfg, reason: "cannot write (\(error.localizedDescription))") }
        let meta = ["format": formatName, "version": formatVersion, "tokenizer": tokenizer?.full ?? ""]
        try SafeTensors.save(model.parameters.map { ($0.name, $0.value) }, dtype: .f32, metadata: meta, to: path(dir, weightsFile))
    }

    /// The configuration stored in `dir`.
    public static func config(in dir: String) throws -> GeneratorConfig {
        let cfg = path(dir, configFile)
        guard FileManager.default.fileExists(atPath: cfg) else { throw GenError.missingCheckpoint(path: dir) }
        do {
            let c = try JSONDecoder().decode(GeneratorConfig.self, from: Data(contentsOf: URL(fileURLWithPath: cfg)))
            try c.validate()
            return c
        } catch let e as GenError { throw e }
        catch { throw GenError.badCheckpoint(path: cfg, reason: "\(error)") }
    }

    /// Builds the model of `dir`'s config and loads its weights strictly. Returns the identity of the tokens it
    /// was trained on, nil when the checkpoint records none.
    public static func load(from dir: String) throws -> (model: GeneratorModel, tokenizer: TokenizerIdentity?) {
        let model = try GeneratorModel(config: config(in: dir))
        let file = try SafeTensors.load(path: path(dir, weightsFile))
        guard file.metadata["format"] == formatName else {
            throw GenError.badCheckpoint(path: path(dir, weightsFile), reason: "its metadata does not name the format '\(formatName)'")
        }
        try file.loadStrict(into: model.parameters)
        let recorded = file.metadata["tokenizer"] ?? ""
        if recorded.isEmpty { return (model, nil) }
        guard let id = TokenizerIdentity(full: recorded) else {
            throw GenError.badCheckpoint(path: path(dir, weightsFile), reason: "its metadata 'tokenizer' is '\(recorded.prefix(80))', not name@ and 64 hex digits")
        }
        return (model, id)
    }

    /// The checkpoint's sampling settings, nil when it has no sampling.json. Values are checked as the command
    /// line's are (finite, ≥ 0, at most one per generated layer).
    public static func samplingDefaults(in dir: String) throws -> SamplingDefaults? {
        let p = path(dir, samplingFile)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        let d: SamplingDefaults
        do { d = try JSONDecoder().decode(SamplingDefaults.self, from: Data(contentsOf: URL(fileURLWithPath: p))) }
        catch { throw GenError.badCheckpoint(path: p, reason: "not a sampling file (\(error))") }
        let layers = try config(in: dir).layers.count
        for (key, v) in [("cfg", d.cfg), ("temperature", d.temperature)] {
            guard let v else { continue }
            guard !v.isEmpty, v.count <= layers, v.allSatisfy({ $0.isFinite && $0 >= 0 }) else {
                throw GenError.badCheckpoint(path: p, reason: "'\(key)' must list 1 to \(layers) finite numbers ≥ 0, coarse layer first")
            }
        }
        if let n = d.rerank, !(1...1000).contains(n) {
            throw GenError.badCheckpoint(path: p, reason: "'rerank' must be a number of drafts in 1...1000")
        }
        if d.rerankLikelihood == true && (d.rerank ?? 1) < 2 {
            throw GenError.badCheckpoint(path: p, reason: "'rerank_likelihood' scores drafts: give 'rerank' 2 or more")
        }
        if let n = d.rerankFirst, !(1...1000).contains(n) {
            throw GenError.badCheckpoint(path: p, reason: "'rerank_first' must be a number of drafts in 1...1000")
        }
        if let k = d.rerankLayers, !(1...layers).contains(k) {
            throw GenError.badCheckpoint(path: p, reason: "'rerank_layers' must be a number of leading layers in 1...\(layers)")
        }
        return d
    }

    /// Saves the optimizer state and the step count beside the weights.
    public static func saveTrainState(_ optimizer: AdamW, step: Int, to dir: String) throws {
        try SafeTensors.save(optimizer.stateTensors(prefix: "adamw."), dtype: .f32,
                             metadata: ["format": formatName + "-train-state", "step": "\(step)"], to: path(dir, trainStateFile))
    }

    /// Restores the optimizer state; returns the step to continue from, or nil when `dir` has no train state.
    public static func loadTrainState(into optimizer: AdamW, from dir: String) throws -> Int? {
        let p = path(dir, trainStateFile)
        guard FileManager.default.fileExists(atPath: p) else { return nil }
        let file = try SafeTensors.load(path: p)
        try optimizer.restore(try file.allTensors(), prefix: "adamw.")
        guard let s = file.metadata["step"].flatMap(Int.init) else {
            throw GenError.badCheckpoint(path: p, reason: "its metadata has no step")
        }
        return s
    }
}

/// sampling.json (formats/generator.md): what `hv-gen` samples with when its --cfg or --temperature is not given,
/// one value or one per generated layer, coarse first; the coarse drafts (`rerank`, `rerank_likelihood`,
/// `rerank_first`, `rerank_layers`) when none of --rerank, --rerank-likelihood, --rerank-first, --rerank-layers and
/// --contrast is; `note` says where the values were measured.
public struct SamplingDefaults: Codable, Equatable {
    public var cfg: [Float]?
    public var temperature: [Float]?
    public var rerank: Int?
    public var rerankLikelihood: Bool?
    public var rerankFirst: Int?
    public var rerankLayers: Int?
    public var note: String?
    enum CodingKeys: String, CodingKey {
        case cfg, temperature, rerank, rerankLikelihood = "rerank_likelihood", rerankFirst = "rerank_first",
             rerankLayers = "rerank_layers", note
    }
    public init(cfg: [Float]? = nil, temperature: [Float]? = nil, rerank: Int? = nil, rerankLikelihood: Bool? = nil,
                rerankFirst: Int? = nil, rerankLayers: Int? = nil, note: String? = nil) {
        self.cfg = cfg; self.temperature = temperature; self.rerank = rerank; self.rerankLikelihood = rerankLikelihood
        self.rerankFirst = rerankFirst; self.rerankLayers = rerankLayers; self.note = note
    }
}
