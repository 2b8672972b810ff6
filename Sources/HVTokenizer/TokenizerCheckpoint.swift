// Tokenizer checkpoints: a directory holding `config.json` (the Codable TokenizerConfig) and
// `model.safetensors` (weights, F32 or BF16). The checkpoint's identity — config name plus the SHA-256
// of config.json followed by model.safetensors — goes into every .hvt header so that tokens from one
// model are refused by another. Loading is strict: a missing, extra or mis-shaped weight is an error
// naming it.
import Foundation
import HVCore
import HVEngine
import HVFormat

public enum TokenizerCheckpoint {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"

    /// Writes config.json and model.safetensors into `directory` (created if needed), atomically per file.
    @discardableResult
    public static func save(_ model: HierarchicalTokenizer, to directory: String, storage: SafeTensorsDType = .f32,
                            metadata: [String: String] = [:]) throws -> TokenizerIdentity {
        try requireStorable(model, as: storage)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = try model.config.canonicalJSON()
        try writeAtomically(config, to: "\(directory)/\(configFile)")
        var meta = metadata
        meta["format"] = "hitvideo-tokenizer"
        meta["config_name"] = model.config.name
        if let t = model.tokensOf { meta[tokensOfKey] = t.full }
        try SafeTensors.save(model.parameters.map { ($0.name, $0.value) }, dtype: storage, metadata: meta,
                             to: "\(directory)/\(weightsFile)")
        let id = try identity(of: directory)
        model.identity = id
        return id
    }

    /// Throws unless `model` can be stored as `storage` without changing its tokens: a frozen-token checkpoint
    /// (`tokensOf`) must keep its parent's tokens, so every weight that decides them must survive the rounding.
    public static func requireStorable(_ model: HierarchicalTokenizer, as storage: SafeTensorsDType) throws {
        guard storage != .f32, let parent = model.tokensOf else { return }
        let roundTrip: (Float) -> Float = storage == .bf16 ? { Half.bf16ToFloat(Half.floatToBF16($0)) }
                                                           : { Half.f16ToFloat(Half.floatToF16($0)) }
        guard let p = model.tokenParameters.first(where: { $0.value.array.contains { roundTrip($0) != $0 } }) else { return }
        throw TokenizerError.tokensWouldChange(
            "\(p.name) is not exactly \(storage.rawValue), so storing it so could change the tokens of \(parent) this checkpoint must keep; store it with --storage f32, or fine-tune from a \(storage.rawValue) checkpoint")
    }

    /// Loads a checkpoint directory; every weight must be present with the right shape.
    public static func load(from directory: String) throws -> HierarchicalTokenizer {
        let cfgPath = "\(directory)/\(configFile)", wPath = "\(directory)/\(weightsFile)"
        guard FileManager.default.fileExists(atPath: cfgPath), FileManager.default.fileExists(atPath: wPath) else {
            throw TokenizerError.checkpointMissing(path: directory)
        }
        let config: TokenizerConfig
        do {
            config = try JSONDecoder().decode(TokenizerConfig.self, from: Data(contentsOf: URL(fileURLWithPath: cfgPath)))
        } catch {
            throw TokenizerError.checkpointUnreadable(path: cfgPath, reason: "config.json is not a tokenizer config (\(error))")
        }
        let model = try HierarchicalTokenizer(config: config)
        let file = try SafeTensors.load(path: wPath)
        try file.loadStrict(into: model.parameters)
        if let t = file.metadata[tokensOfKey] {
            guard let id = TokenizerIdentity(full: t) else {
                throw TokenizerError.checkpointUnreadable(path: wPath, reason: "metadata \(tokensOfKey) '\(t.prefix(80))' is not name@sha256")
            }
            model.tokensOf = id
        }
        model.identity = try identity(of: directory)
        return model
    }

    /// A model with `layers` (which must start with the checkpoint's own token layers, densest first) that renders
    /// exactly what the checkpoint renders: every tensor of the checkpoint is copied, and each added, coarser
    /// layer starts with its up path's last conv at zero, so its contribution to ẑ (and to the residual the
    /// denser layers quantise) is zero until training gives it one. This is how a dense-first run adds the
    /// coarse layers to a trained L0 (docs/tokenizer-journal.md, "Dense first").
    public static func grow(from directory: String, layers: [LayerConfig], name: String, seed: UInt64,
                            lookahead: Int? = nil, pointwiseCoarseDown: Bool = false) throws -> HierarchicalTokenizer {
        let source = try load(from: directory)
        let have = source.config.layers
        let look = lookahead ?? source.config.lookahead
        guard layers.count >= have.count, Array(layers.prefix(have.count)) == have,
              layers.count > have.count || look > source.config.lookahead else {
            throw TokenizerError.badConfig(name: name, reason: "the checkpoint's layers \(have.map { "\($0.grid)@\($0.bits)" }) "
                + "are not the densest layers of \(layers.map { "\($0.grid)@\($0.bits)" }) with more after them, "
                + "and its decoder lookahead (\(source.config.lookahead)) is not below \(look)")
        }
        guard look >= source.config.lookahead else {
            throw TokenizerError.badConfig(name: name, reason: "growing cannot take the decoder's lookahead from \(source.config.lookahead) down to \(look)")
        }
        var config = source.config
        config.layers = layers
        config.name = name
        config.decoderLookahead = look > 0 ? look : nil
        if pointwiseCoarseDown {
            guard have.count == 1 else {
                throw TokenizerError.badConfig(name: name, reason: "pointwise coarse down convs are for growing coarse layers onto L0 alone")
            }
            config.pointwiseCoarseDown = true
        }
        let model = try HierarchicalTokenizer(config: config, seed: seed)
        let byName = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0) })
        for p in source.parameters {
            guard let q = byName[p.name] else {
                throw TokenizerError.badConfig(name: name, reason: "tensor \(p.name) has no counterpart")
            }
            let a = p.value.shape, b = q.value.shape
            if a == b {
                q.value.copy(from: p.value)
            } else if a.count == b.count, a.count > 1, a.dropFirst() == b.dropFirst(), b[0] > a[0] {
                // A conv that gained taps after its own (the decoder's input conv looking ahead): the weight is
                // [kt, kh, kw, Cin, Cout], so the old taps are a prefix and the new, later ones start at zero.
                q.value.scale(by: 0)
                for i in 0..<p.value.count { q.value[i] = p.value[i] }
            } else {
                throw TokenizerError.badConfig(name: name, reason: "tensor \(p.name) is \(a) in the checkpoint but \(b) here")
            }
        }
        for layer in model.layers[have.count...] {
            layer.upConv.weight.value.scale(by: 0)
            layer.upConv.bias?.value.scale(by: 0)
        }
        return model
    }

    /// The checkpoint with `decoderBlocks` residual blocks per decoder stage (shallowest first, each at least the
    /// checkpoint's), rendering exactly what it renders: every tensor is copied and each added block starts with
    /// its second conv at zero, so it passes its input through unchanged until training gives it a residual. The
    /// encoder and the down paths are the checkpoint's, so the tokens are too: the result keeps the checkpoint's
    /// token identity (`tokensOf`), and a frozen-token run trains a deeper decoder for the same tokens.
    public static func deepenDecoder(from directory: String, blocks: [Int]) throws -> HierarchicalTokenizer {
        let source = try load(from: directory)
        let have = source.config.decoderStages.map(\.blocks)
        guard blocks.count == have.count, zip(blocks, have).allSatisfy({ $0 >= $1 }), blocks != have else {
            throw TokenizerError.badConfig(name: source.config.name, reason: "the decoder has \(have) blocks per stage "
                + "(shallowest first); deepening it needs as many counts, none smaller and at least one larger, not \(blocks)")
        }
        var config = source.config
        config.decoderBlocks = blocks
        return try extend(source, to: config) { p in
            // An added block starts as the identity.
            if p.name.contains(".conv2.") { p.value.scale(by: 0) }
        }
    }

    /// The checkpoint in `directory` with a channel-to-time branch at each of its decoder's temporal up-samplings
    /// (`frameBranches`, Decoder3D.swift). The branches start at zero, so the tokens and the render are the
    /// checkpoint's until they train.
    public static func addFrameBranches(from directory: String) throws -> HierarchicalTokenizer {
        let source = try load(from: directory)
        guard !source.config.hasFrameBranches else {
            throw TokenizerError.badConfig(name: source.config.name, reason: "its decoder already has frame branches")
        }
        var config = source.config
        config.frameBranches = true
        return try extend(source, to: config) { _ in }
    }

    /// A model of `config` (the source's with parts added) holding every tensor of `source` under the same name;
    /// `fresh` initialises the added ones. It records the source's token identity: the added parts are decoder
    /// parts, which leave the tokens alone.
    private static func extend(_ source: HierarchicalTokenizer, to config: TokenizerConfig,
                               fresh: (Parameter) -> Void) throws -> HierarchicalTokenizer {
        let model = try HierarchicalTokenizer(config: config)
        let kept = Dictionary(uniqueKeysWithValues: source.parameters.map { ($0.name, $0) })
        for p in model.parameters {
            if let q = kept[p.name] {
                p.value.copy(from: q.value)   // only parts were added: a kept name keeps its shape
            } else {
                fresh(p)
            }
        }
        model.tokensOf = source.tokensOf ?? source.identity
        return model
    }

    /// Name and SHA-256 of (config.json ‖ model.safetensors).
    public static func identity(of directory: String) throws -> TokenizerIdentity {
        var sha = SHA256()
        var name = "unknown"
        for f in [configFile, weightsFile] {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(f)"))
            data.withUnsafeBytes { sha.update($0) }
            if f == configFile, let c = try? JSONDecoder().decode(TokenizerConfig.self, from: data) { name = c.name }
        }
        return TokenizerIdentity(name: name, hash: sha.finalize().map { String(format: "%02x", $0) }.joined())
    }

    /// Metadata key of a checkpoint trained with frozen tokens (`hv-train tokenizer --freeze-tokens`): the full
    /// identity of the checkpoint whose encoder and down paths it kept, whose tokens it therefore reads and writes.
    public static let tokensOfKey = "tokens_of"

    static func writeAtomically(_ data: Data, to path: String) throws {
        let tmp = path + ".tmp.\(getpid())"
        try data.write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path) == 0 else {
            unlink(tmp)
            throw TokenizerError.checkpointUnreadable(path: path, reason: String(cString: strerror(errno)))
        }
    }
}

extension TokenizerCheckpoint {
    /// Where the shipped checkpoint lives inside the repository.
    public static let shippedRelativePath = "models/tokenizer"

    /// The checkpoint folder to use: `explicit` if given; otherwise `models/tokenizer` in the current
    /// folder or in the first parent of the executable's folder that has one (so tools built in
    /// `.build/release` find the repository's shipped model).
    public static func resolve(_ explicit: String?) -> String {
        explicit ?? ShippedModels.locate(shippedRelativePath, marker: configFile)
    }
}

// Snapshots: a training run can keep the weights of every Nth step (`hv-train tokenizer --snapshot-every N`) in
// RUN/snapshots/step-NNNNNNNN.safetensors, F32. Exporting the mean of the last few (Polyak / stochastic weight
// averaging) gives a model that does not depend on where batch-1 noise left the last step.
extension TokenizerCheckpoint {
    public static let snapshotFolder = "snapshots"

    public static func snapshotPath(run: String, step: Int) -> String {
        "\(run)/\(snapshotFolder)/step-\(String(format: "%08d", step)).safetensors"
    }

    /// Writes the model's current weights as the snapshot of `step`.
    public static func saveSnapshot(_ model: HierarchicalTokenizer, run: String, step: Int) throws {
        try FileManager.default.createDirectory(atPath: "\(run)/\(snapshotFolder)", withIntermediateDirectories: true)
        try SafeTensors.save(model.parameters.map { ($0.name, $0.value) }, dtype: .f32, metadata: ["step": "\(step)"],
                             to: snapshotPath(run: run, step: step))
    }

    /// The run's snapshot files, oldest first.
    public static func snapshots(run: String) -> [String] {
        let dir = "\(run)/\(snapshotFolder)"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { $0.hasPrefix("step-") && $0.hasSuffix(".safetensors") }.sorted().map { "\(dir)/\($0)" }
    }

    /// The run's model (config from RUN/config.json) with weights set to the element-wise mean of its last `count`
    /// snapshots; also returns the snapshot files used. Each snapshot is loaded strictly.
    public static func averagingSnapshots(run: String, last count: Int) throws -> (HierarchicalTokenizer, [String]) {
        let model = try load(from: run)
        let files = snapshots(run: run)
        guard count > 0, files.count >= count else {
            throw TokenizerError.checkpointUnreadable(
                path: run, reason: "asked to average the last \(count) snapshots, but it has \(files.count) (hv-train tokenizer --snapshot-every N keeps them)")
        }
        let used = Array(files.suffix(count))
        var acc = model.parameters.map { [Double](repeating: 0, count: $0.value.count) }
        let scratch = try HierarchicalTokenizer(config: model.config)
        for f in used {
            do { try SafeTensors.load(path: f).loadStrict(into: scratch.parameters) }
            catch { throw TokenizerError.checkpointUnreadable(path: f, reason: "\(error)") }
            for (i, p) in scratch.parameters.enumerated() {
                let v = p.value.data
                for j in 0..<p.value.count { acc[i][j] += Double(v[j]) }
            }
        }
        for (i, p) in model.parameters.enumerated() {
            let v = p.value.data
            for j in 0..<p.value.count { v[j] = Float(acc[i][j] / Double(count)) }
        }
        return (model, used)
    }
}
