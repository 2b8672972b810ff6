// hv-gen: text → .hvt video tokens with the autoregressive generator (paper section 3.3, Appendix A).
// Embeds the prompt with the MiniLM text encoder, prefills the text, samples video tokens coarse layer first
// with a KV cache and classifier-free guidance, and writes an .hvt whose header names the tokenizer, so
// `hv-gen "calm ocean waves at sunset" | hv-render -o out.mp4` works.
import ArgumentParser
import Foundation
import HVCLI
import HVCore
import HVEngine
import HVFormat
import HVGen
import HVText
import HVTokenizer

struct GenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hv-gen",
        abstract: "Generate video tokens from a text prompt.",
        discussion: """
        Writes one clip per sample to an .hvt file (stdout by default):
          hv-gen "calm ocean waves at sunset" --seed 3 | hv-render -o waves.mp4
        --layers 3,2 generates only the coarse layers; renderers decode from them.
        """)

    /// Longest prompt accepted, in UTF-8 bytes (the text prefix keeps far fewer tokens anyway).
    static let maxPromptBytes = 1000

    @Argument(help: "Describe the video to generate.")
    var prompt: String

    @Option(help: ArgumentHelp("Classifier-free guidance scale; 1 disables guidance (default: the generator's sampling.json, else \(SamplingOptions().cfgScale)).",
                               discussion: "Not the paper's 7.5: guidance beyond 2.5 took the samples of every generator here away from its footage and lowered the hits on paraphrased prompts (docs/gen.md). A comma-separated list gives one per generated layer, coarse first, as --temperature does: 2.5,2.5,1 guides layers 3 and 2 and leaves the fine layers unguided.",
                               valueName: "scale"))
    var cfg: PerLayerValues?

    @Option(help: ArgumentHelp("Sampling temperature; 0 picks the most likely code (default: the generator's sampling.json, else 1).",
                               discussion: "A comma-separated list gives one per generated layer, coarse first (3,2,1,0); layers past its end take its last value: 0,0.5,1 samples layer 3 greedily, layer 2 at 0.5 and the fine layers at 1.",
                               valueName: "t"))
    var temperature: PerLayerValues?

    @Option(name: .customLong("top-k"), help: "Keep only the K most likely classes of each head group.")
    var topK: Int?

    @Option(name: .customLong("top-p"), help: "Keep the smallest set of each head group's classes with probability P.")
    var topP: Float?

    @Option(help: ArgumentHelp("Sample N drafts of the coarse layers and keep the one the prompt explains best (default: the generator's sampling.json, else 1).",
                               discussion: "Each draft is scored by log p(codes | prompt) − log p(codes | no text) under the generator (or by --rerank-likelihood or --contrast); the rest of the clip is sampled after the kept draft. 1 = off."))
    var rerank: Int?

    @Option(name: .customLong("rerank-layers"), help: "How many leading (coarse) layers --rerank drafts (default: the generator's sampling.json, else 2).")
    var rerankLayers: Int?

    @Option(name: .customLong("rerank-first"),
            help: ArgumentHelp("Before --rerank's drafts, keep the best of N drafts of the coarsest layer alone; the --rerank drafts then redraw only the layers after it.",
                               discussion: "Scored as --rerank's drafts are. L3 is 16 tokens, so a wide search of the scene's layout costs little. Default: the generator's sampling.json, else 1 (off)."))
    var rerankFirst: Int?

    @Flag(name: .customLong("rerank-likelihood"),
          help: ArgumentHelp("Score --rerank's drafts by log p(codes | prompt) alone: keep the most probable draft.",
                             discussion: "A search for the coarse layers' mode; without it a draft scores how much better the prompt explains it than the null text does."))
    var rerankLikelihood = false

    @Option(help: ArgumentHelp("Captions to weigh --rerank's drafts against (a file: NAME<TAB>CAPTION or one caption a line).",
                               discussion: "A draft then scores the generator's posterior that the prompt, rather than one of these captions, wrote it: log p(codes | prompt) − log Σ p(codes | caption) over the prompt and every caption. The generator's training captions (pipelines/captions.tsv for the shipped one; the first caption of each NAME is used) make a draft of another scene lose to its own caption. Each caption adds one row to the drafts' batch.",
                               valueName: "file"))
    var contrast: String?

    @Option(help: "Random seed; the same seed gives the same tokens.")
    var seed: UInt64 = 0

    @Option(help: "Number of clips to generate (seeds seed, seed+1, ...).")
    var samples: Int = 1

    @Option(help: "Tokenizer layers to generate, e.g. 3,2 (the generator's leading layers; default all).")
    var layers: LayerList?

    @Option(help: "Generator checkpoint folder (config.json + model.safetensors; default: the shipped models/generator, found like the tokenizer).")
    var model: String?

    @Option(help: "Tokenizer checkpoint folder named in the output header (default: the shipped models/tokenizer).")
    var tokenizer: String?

    @Option(name: .customLong("text-encoder"), help: "Text encoder folder ('make text-encoder' fetches it).")
    var textEncoder: String?

    @Option(name: [.short, .customLong("output")], help: "Write the .hvt here instead of stdout ('-').")
    var output: String?

    func validate() throws {
        if samples < 1 { throw ValidationError("--samples must be at least 1") }
        if let n = rerank, n < 1 || n > 1000 { throw ValidationError("--rerank must be in 1...1000") }
        if let k = rerankLayers, k < 1 { throw ValidationError("--rerank-layers must be at least 1") }
        if let n = rerankFirst, n < 1 || n > 1000 { throw ValidationError("--rerank-first must be in 1...1000") }
        if contrast != nil && (rerank ?? 1) < 2 { throw ValidationError("--contrast weighs --rerank's drafts; give --rerank 2 or more") }
        if rerankLikelihood && (rerank ?? 1) < 2 { throw ValidationError("--rerank-likelihood scores --rerank's drafts; give --rerank 2 or more") }
        if rerankLikelihood && contrast != nil { throw ValidationError("--rerank-likelihood and --contrast are two ways to score the drafts; give one") }
        if let k = topK, k < 1 { throw ValidationError("--top-k must be at least 1") }
        if let p = topP, !(p > 0 && p <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
    }

    /// Prompt checks before any model is loaded: UTF-8 (on the raw bytes; Swift repairs argv), empty, length.
    static func checkPrompt(_ prompt: String) throws {
        for i in 0..<Int(CommandLine.argc) {
            guard let raw = CommandLine.unsafeArgv[i], String(validatingCString: raw) != nil else { throw GenError.promptNotUTF8 }
        }
        if prompt.contains("\u{FFFD}") { throw GenError.promptNotUTF8 }
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { throw GenError.emptyPrompt }
        if prompt.utf8.count > maxPromptBytes { throw GenError.promptTooLong(bytes: prompt.utf8.count, limit: maxPromptBytes) }
    }

    func run() throws {
        try GenCommand.checkPrompt(prompt)
        let contrastTexts = try contrast.map(GenCommand.contrastCaptions) ?? []
        // Generator (and the sampling settings that travel with it), tokenizer identity (header), text encoder.
        let genDir = model ?? ShippedModels.locate(GeneratorCheckpoint.defaultDirectory)
        let (gen, trainedOn) = try GeneratorCheckpoint.load(from: genDir)
        let stored = try GeneratorCheckpoint.samplingDefaults(in: genDir)
        let t = temperature?.values ?? stored?.temperature ?? [1]
        let g = cfg?.values ?? stored?.cfg ?? [SamplingOptions().cfgScale]
        // The drafts: the command line's when it names any, else the stored ones.
        let explicitDrafts = rerank != nil || rerankLikelihood || contrast != nil || rerankFirst != nil || rerankLayers != nil
        let drafts = explicitDrafts ? rerank ?? 1 : stored?.rerank ?? 1
        let byLikelihood = explicitDrafts ? rerankLikelihood : stored?.rerankLikelihood ?? false
        let firstDrafts = explicitDrafts ? rerankFirst ?? 1 : stored?.rerankFirst ?? 1
        let draftLayers = explicitDrafts ? rerankLayers ?? 2 : stored?.rerankLayers ?? 2
        let options = SamplingOptions(cfgScale: g.last!, layerCfgScales: g.count > 1 ? g : nil, temperature: t.last!,
                                      layerTemperatures: t.count > 1 ? t : nil, topK: topK, topP: topP, seed: seed)
        try options.validate()
        let tokDir = TokenizerCheckpoint.resolve(tokenizer)
        let tok = try TokenizerCheckpoint.load(from: tokDir)
        let fullHeader = tok.hvtHeader(source: "hv-gen")
        try gen.config.requireCompatible(with: fullHeader, what: "tokenizer \(tok.tokenIdentity)")
        // A tokenizer fine-tuned with frozen tokens has its parent's tokens (tokenIdentity), so a generator
        // trained on those fits it.
        let id = tok.tokenIdentity
        if let trainedOn, trainedOn != id {
            Console.warning("hv-gen", "the generator was trained on tokens of \(trainedOn), not \(id)")
        }
        let k = try gen.config.leadingLayers(layers?.layers)
        let count = gen.config.layers.prefix(k).reduce(0) { $0 + $1.tokenCount }
        let present = Set(gen.config.layers.prefix(k).map(\.tokenizerLayer))
        let encoder = try MiniLMEncoder(modelDirectory: textEncoder ?? ShippedModels.locate("models/text-encoder"))
        let tokenStates = encoder.hiddenStates([prompt])[0]
        let states = gen.config.textCondition == .sentence ? MiniLMEncoder.sentenceState(tokenStates) : tokenStates
        let contrastStates = contrastTexts.isEmpty ? [] : encoder.hiddenStates(contrastTexts).map {
            gen.config.textCondition == .sentence ? MiniLMEncoder.sentenceState($0) : $0
        }

        var header = tok.hvtHeader(source: "hv-gen: \(String(prompt.prefix(200)))", layers: present)
        header.source = String(header.source.utf8.prefix(HVTLayout.maxSourceBytes)) ?? "hv-gen"
        let out = try OutputFile(output == "-" ? nil : output, what: ".hvt tokens")
        let writer = try HVTWriter(header: header) { try out.write($0) }
        let generator = Generator(model: gen)
        let progress = Progress("hv-gen")
        for s in 0..<samples {
            var o = options
            o.seed = seed &+ UInt64(s)
            let t0 = Date()
            let report = { (n: Int) in
                progress.update("sample \(s + 1)/\(samples): \(n)/\(count) tokens, \(String(format: "%.0f", Double(n) / max(Date().timeIntervalSince(t0), 1e-3))) tokens/s")
            }
            let video = drafts > 1 || firstDrafts > 1
                ? try generator.sampleReranked(text: states, options: o, candidates: drafts, layers: min(draftLayers, k),
                                               firstCandidates: firstDrafts,
                                               contrast: contrastStates, likelihood: byLikelihood, count: count,
                                               progress: report).codes
                : try generator.sample(text: states, options: o, count: count, progress: report)
            try writer.write(gen.layout.clip(from: video, tokenizerLayers: fullHeader.layers.count, frameCount: fullHeader.framesPerClip))
        }
        try writer.finish()
        try out.commit()
        progress.finish("\(samples) clip(s), \(count) tokens each, \(String(format: "%.1f", progress.elapsed)) s")
    }
}

extension GenCommand {
    /// Most captions --contrast reads: each is one row of every draft's batch.
    static let maxContrastCaptions = 1000
    static let maxContrastBytes = 1 << 20

    /// --contrast's captions (`Generator.contrastCaptions`), read from a file.
    static func contrastCaptions(_ path: String) throws -> [String] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw FileError.cannotOpen(path: path, reason: FileManager.default.fileExists(atPath: path) ? "not readable" : "no such file")
        }
        // A regular file of bounded size: a device or a pipe named here must not be read without end.
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard attributes?[.type] as? FileAttributeType == .typeRegular else {
            throw GenError.badCaptions(path: path, reason: "not a regular file")
        }
        if let size = attributes?[.size] as? Int, size > maxContrastBytes {
            throw GenError.badCaptions(path: path, reason: "\(size) bytes; the limit is \(maxContrastBytes)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw FileError.readFailed(path: path, reason: "cannot read it") }
        guard let text = String(data: data, encoding: .utf8) else { throw GenError.badCaptions(path: path, reason: "not UTF-8 text") }
        let captions = Generator.contrastCaptions(text)
        if captions.isEmpty { throw GenError.badCaptions(path: path, reason: "it holds no caption") }
        if captions.count > maxContrastCaptions {
            throw GenError.badCaptions(path: path, reason: "\(captions.count) captions; the limit is \(maxContrastCaptions)")
        }
        return captions
    }
}

/// --temperature and --cfg: one value, or one per generated layer (coarse first), each a finite number ≥ 0.
struct PerLayerValues: ExpressibleByArgument {
    let values: [Float]
    init(_ values: [Float]) { self.values = values }
    init?(argument: String) {
        let v = argument.split(separator: ",", omittingEmptySubsequences: false).map { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard !v.isEmpty, v.allSatisfy({ $0.map { $0.isFinite && $0 >= 0 } ?? false }) else { return nil }
        values = v.map { $0! }
    }
    var defaultValueDescription: String { values.map { String(format: "%g", $0) }.joined(separator: ",") }
}
