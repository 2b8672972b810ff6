// `hv-train lm`: trains the autoregressive text-to-video model (paper section 3.3) on .hvt token files with
// captions: a caption list (--clips) or the WebDataset token shards of `make pretokenize` (--shards). Captions
// become MiniLM per-token states once per distinct caption (HVText.CaptionStates; cached with --shards).
// Checkpoints (config.json + model.safetensors + train-state.safetensors) go to --out every --checkpoint-every
// steps and at the end; --resume continues from them exactly. One CSV row per logged step; progress on a terminal.
import ArgumentParser
import Foundation
import HVCLI
import HVCore
import HVEngine
import HVFormat
import HVGen
import HVManifest
import HVText

struct TrainLM: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm",
        abstract: "Train the text-to-video generator on captioned .hvt files or token shards.",
        discussion: """
        Give the training clips with exactly one of:
          --clips LIST     a UTF-8 text file with one line per .hvt file: PATH<TAB>CAPTION. Relative paths are
                           read from the list's folder; every clip of a file gets its caption; a file on several
                           lines has several captions; '#' starts a comment line.
          --shards PATH    token shards as 'hv-manifest pack' (make pretokenize) writes them: a SPLIT/index.json,
                           a split folder, or the pack folder (its train/index.json). Each sample's KEY.hvt is
                           trained on with its KEY.json captions; tokens must be unmasked (MASK_FLAGS='--ratio 0').
        A clip with several captions (phrasings) trains on one of them per step, drawn uniformly. A step draws
        its clips uniformly, or with --balance-sources a source uniformly and then one of its clips (a source is
        a video, or a photograph whose motion clips are named NAME-vK).
        The generator conditions on the caption's per-token MiniLM states (--text-condition tokens), or on its
        sentence embedding, the vector of KEY.txtemb.npy (--text-condition sentence): each distinct caption is
        encoded once and kept in --text-cache (default with --shards: text-states/ in the pack folder), so a
        second run reads them (formats/text-states.md).
          hv-train lm --shards out/lm-shards/tokens/shards --config small --steps 2000 --out models/generator
          hv-train lm --clips data/captions.tsv --config small --steps 600 --out models/generator
        """)

    @Option(help: "Caption list: one 'PATH<TAB>CAPTION' line per .hvt file.")
    var clips: String?

    @Option(help: "Token shards: SPLIT/index.json, a split folder, or the 'hv-manifest pack --out' folder (train split).")
    var shards: String?

    @Option(name: .customLong("text-cache"), help: "Folder of cached caption states (default: PACK/text-states with --shards, none with --clips).")
    var textCache: String?

    @Option(help: "Architecture preset (tiny: for tests).")
    var config: GeneratorConfig.Preset = .small

    @Option(help: "Tokenizer layers to model, e.g. 3,2 (default: every layer of the files).")
    var layers: LayerList?

    @Option(name: .customLong("text-length"), help: "Override the preset's text prefix length.")
    var textLength: Int?

    @Option(name: .customLong("text-condition"), help: "What of the caption the prefix holds: tokens (per-token states, the preset's length) or sentence (one row: the sentence embedding).")
    var textCondition: GeneratorConfig.TextCondition?

    @Flag(name: .customLong("sentence-bias"), help: "Also add the caption's sentence embedding, projected, to every position's input (config sentence_bias; formats/generator.md).")
    var sentenceBias = false

    @Option(name: .customLong("group-bits"), help: "Bits per softmax group of the factorised head (1...12; the preset's 6 by default). 12 predicts each 12-bit L3 code jointly, and every finer layer in two groups (formats/generator.md).")
    var groupBits: Int?

    @Option(help: "Checkpoint folder to write (and to resume from with --resume).")
    var out: String = GeneratorCheckpoint.defaultDirectory

    @Flag(help: "Continue from the checkpoint in --out (weights, optimizer state and step).")
    var resume = false

    @Option(help: "Total optimizer steps.")
    var steps: Int = 600

    @Option(help: "Sequences per step.")
    var batch: Int = 1

    @Option(help: "Peak learning rate (linear warm-up, cosine decay to 10%).")
    var lr: Float = 2e-3

    @Option(help: "Warm-up steps.")
    var warmup: Int = 30

    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.")
    var weightDecay: Float = 0.01

    @Option(name: .customLong("clip-norm"), help: "Clip the global gradient norm to this value.")
    var clipNorm: Float = 1

    @Option(name: .customLong("layer-weights"), help: "Loss weight per modelled layer, coarse first, e.g. 1,1,1,0.5.")
    var layerWeights: String?

    @Option(name: .customLong("caption-dropout"), help: "Probability of training on the null text instead of the caption.")
    var captionDropout: Float?

    @Option(name: .customLong("token-dropout"), help: "Probability of blanking an input video token.")
    var tokenDropout: Float?

    @Option(name: .customLong("word-dropout"), help: "Also train on shortened phrasings of every caption: each word kept with probability 1 - RATE, encoded by the text encoder like any caption (0: off).")
    var wordDropout: Float = 0

    @Option(name: .customLong("word-variants"), help: "Shortened phrasings per caption with --word-dropout.")
    var wordVariants: Int = 3

    @Option(name: .customLong("holdout-prompts"), help: "SOURCE<TAB>PROMPT list (e.g. pipelines/eval-prompts.tsv; repeat for several lists): no shortened phrasing that shares 60% or more of its words with one of these prompts is trained on.")
    var holdoutPrompts: [String] = []

    @Option(help: "Random seed (initialisation, batches, dropouts).")
    var seed: UInt64 = 0

    @Flag(name: .customLong("balance-sources"), help: "Draw every source equally often: a source uniformly, then one of its clips (a source is a video, or the photograph whose clips are named NAME-vK).")
    var balanceSources = false

    @Option(name: .customLong("text-encoder"), help: "Text encoder folder ('make text-encoder' fetches it).")
    var textEncoder: String = "models/text-encoder"

    @Option(help: "CSV log file (default: OUT/train-lm.csv).")
    var log: String?

    @Option(name: .customLong("log-every"), help: "Write a CSV row every N steps.")
    var logEvery: Int = 10

    @Option(name: .customLong("checkpoint-every"), help: "Save a checkpoint every N steps.")
    var checkpointEvery: Int = 100

    func validate() throws {
        if (clips == nil) == (shards == nil) { throw ValidationError("give exactly one of --clips LIST and --shards INDEX_OR_FOLDER") }
        if textCache?.isEmpty == true { throw ValidationError("--text-cache must name a folder") }
        if steps < 1 || batch < 1 || logEvery < 1 || checkpointEvery < 1 { throw ValidationError("--steps, --batch, --log-every and --checkpoint-every must be at least 1") }
        if !(lr > 0) { throw ValidationError("--lr must be positive") }
        if let t = textLength, t < 1 { throw ValidationError("--text-length must be at least 1") }
        if let g = groupBits, !(1...12).contains(g) { throw ValidationError("--group-bits must be 1...12") }
        if !(wordDropout >= 0 && wordDropout < 1) { throw ValidationError("--word-dropout must be in [0, 1)") }
        for (name, p) in [("--caption-dropout", captionDropout), ("--token-dropout", tokenDropout)] {
            if let p, !(p >= 0 && p < 1) { throw ValidationError("\(name) must be in [0, 1)") }
        }
        if wordVariants < 1 { throw ValidationError("--word-variants must be at least 1") }
        if !holdoutPrompts.isEmpty && !(wordDropout > 0) { throw ValidationError("--holdout-prompts only filters --word-dropout's phrasings; give --word-dropout RATE too") }
        if let w = layerWeights, numbers(w) == nil { throw ValidationError("--layer-weights takes comma-separated numbers") }
    }

    func numbers(_ s: String) -> [Double]? {
        let v = s.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        return v.isEmpty || v.contains(where: { $0 == nil }) ? nil : v.map { $0! }
    }

    /// (path, caption) pairs of the caption list.
    func readClipList(_ clips: String) throws -> [(String, String)] {
        let base = (clips as NSString).deletingLastPathComponent
        let out = try readTabList(clips, form: "PATH<TAB>CAPTION").map { path, caption in
            (path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path), caption)
        }
        guard !out.isEmpty else { throw GenError.badTokens(reason: "\(clips) lists no clips") }
        return out
    }

    /// A token file's header and clips, with the captions it is trained on (the first is its caption).
    typealias TokenFile = (header: HVTHeader, clips: [HVTClip], captions: [String], name: String, source: String)

    /// The files of the caption list, in list order; a file listed on several lines is read once and trained on
    /// with each line's caption (several phrasings of one clip).
    func filesOfClipList(_ list: String) throws -> [TokenFile] {
        var order: [String] = []
        var captions: [String: [String]] = [:]
        for (path, caption) in try readClipList(list) {
            if captions[path] == nil { order.append(path) }
            if !(captions[path] ?? []).contains(caption) { captions[path, default: []].append(caption) }
        }
        return try order.map { path in
            let input = try InputFile(path)
            let reader = try HVTReader(fileDescriptor: input.descriptor, name: input.displayName)
            var cs: [HVTClip] = []
            while let c = try reader.nextClip() { cs.append(c) }
            return (reader.header, cs, captions[path]!, path, LMExample.source(ofClipNamed: path))
        }
    }

    /// The samples of the shards, in index order then archive order: each sample's KEY.hvt with its caption.
    func filesOfShards(_ index: String) throws -> [TokenFile] {
        try TokenShards.read(index: index).samples.map { s in
            let name = "sample \(s.key) of \(s.shard)"
            guard let caption = s.info.caption, !caption.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw GenError.badTokens(reason: "\(name) (video '\(s.info.video)') has no caption; caption it in the manifest and pack again")
            }
            var captions = [caption]
            for c in s.info.captions ?? [] where !c.trimmingCharacters(in: .whitespaces).isEmpty && !captions.contains(c) {
                captions.append(c)
            }
            let reader = try HVTReader(bytes: s.hvt, name: name)
            var cs: [HVTClip] = []
            while let c = try reader.nextClip() { cs.append(c) }
            return (reader.header, cs, captions, name, LMExample.source(ofClipNamed: s.info.video))
        }
    }

    func run() throws {
        // 1. Token files and their captions.
        var cacheDir = textCache
        var shardIndex: String?
        var files: [TokenFile]
        if let shards {
            let index = try TokenShards.indexPath(shards)
            if cacheDir == nil {
                // The pack folder: above SPLIT/ for an index or split folder given.
                cacheDir = (((index as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent as NSString)
                    .appendingPathComponent("text-states")
            }
            files = try filesOfShards(index)
            shardIndex = index
        } else {
            files = try filesOfClipList(clips!)
        }
        if wordDropout > 0 {
            let avoid = try holdoutPrompts.flatMap { try readTabList($0, form: "SOURCE<TAB>PROMPT").map(\.1) }
            // Many token files share a caption list (a video's clips, a photograph's clips): vary each list once, and
            // count what the prompts kept out once per list, not once per file.
            var varied: [[String]: [String]] = [:], avoided = 0
            files = files.map { f in
                if varied[f.captions] == nil {
                    let v = CaptionVariants.withVariants(f.captions, count: wordVariants, dropRate: wordDropout, seed: seed, avoid: avoid)
                    varied[f.captions] = v.captions
                    avoided += v.avoided
                }
                return (f.header, f.clips, varied[f.captions]!, f.name, f.source)
            }
            if !avoid.isEmpty { Console.note("hv-train lm: \(avoided) shortened phrasings left out for coming near a held-out prompt") }
        }
        for f in files.dropFirst() where f.header.tokenizer != files[0].header.tokenizer {
            throw GenError.layerMismatch(reason: "\(f.name) was made by \(f.header.tokenizer), \(files[0].name) by \(files[0].header.tokenizer)")
        }
        let header = files[0].header
        // 2. Model: fresh from the preset (layers from the files), or resumed.
        let resuming = resume && FileManager.default.fileExists(atPath: (out as NSString).appendingPathComponent(GeneratorCheckpoint.configFile))
        let model: GeneratorModel
        if resuming {
            model = try GeneratorCheckpoint.load(from: out).model
            // Dropout rates are training settings, not shapes: a resumed run may change them.
            try model.setTrainingDropouts(caption: captionDropout, token: tokenDropout)
        } else {
            var c = config.config
            c.layers = try GeneratorConfig.layers(from: header, keep: layers?.layers)
            if let t = textCondition { c.textCondition = t; if t == .sentence { c.textLength = 1 } }
            if let t = textLength { c.textLength = t }
            if sentenceBias { c.sentenceBias = true }
            if let g = groupBits { c.groupBits = g }
            if let p = captionDropout { c.captionDropout = p }
            if let p = tokenDropout { c.tokenDropout = p }
            model = try GeneratorModel(config: c, seed: seed)
        }
        let cfg = model.config
        try cfg.requireCompatible(with: header, what: files.count == 1 ? "the token file" : "the token files")
        // 3. Clips → model sequences (refusing masked tokens before any caption is encoded), then captions →
        // per-token states, once per distinct caption (from the cache where it has them).
        var videos: [[[UInt32]]] = []
        for f in files {
            do { videos.append(try f.clips.map { try model.layout.video(of: $0) }) }
            catch let GenError.badTokens(reason) {
                throw GenError.badTokens(reason: "\(f.name): \(reason)\(shards == nil ? "" : " (pretokenize generator data with MASK_FLAGS='--ratio 0')")")
            }
        }
        if let shardIndex { Console.note("hv-train lm: \(files.count) samples of \(shardIndex)") }
        let captionStates = try CaptionStates(modelDirectory: textEncoder, cacheDirectory: cacheDir)
        let allCaptions = files.flatMap(\.captions)
        let flatStates = try captionStates.states(allCaptions)
        for file in captionStates.replaced { Console.warning("hv-train", "\(file) was not a usable cache file of its caption; encoded again") }
        if let cacheDir {
            Console.note("hv-train lm: caption states: \(captionStates.cached) from \(cacheDir), \(captionStates.computed) encoded")
        }
        var data: [LMExample] = []
        var next = 0
        for (v, f) in zip(videos, files) {
            let conditions = flatStates[next..<(next + f.captions.count)].map {
                cfg.textCondition == .sentence ? MiniLMEncoder.sentenceState($0) : $0
            }
            next += f.captions.count
            for video in v { data.append(LMExample(captions: conditions, video: video, source: f.source)) }
        }
        let phrasings = files.count == allCaptions.count ? "" : " (\(allCaptions.count) captions of \(files.count) token files)"
        let sources = balanceSources ? ", \(Set(data.map(\.source)).count) sources drawn equally" : ""
        Console.note("hv-train lm: \(data.count) clips\(phrasings)\(sources), \(cfg.name) model \(cfg.parameterCount) parameters, \(cfg.sequenceLength) positions, layers \(cfg.layers.map(\.name).joined(separator: ","))")
        // 4. Train.
        var o = LMTrainingOptions()
        o.steps = steps; o.batchSize = batch; o.learningRate = lr; o.warmupSteps = warmup; o.weightDecay = weightDecay
        o.clipNorm = clipNorm; o.seed = seed; o.balanceSources = balanceSources
        o.layerWeights = layerWeights.flatMap(numbers).map { $0.map(Float.init) }
        let trainer = try LMTrainer(model: model, data: data, options: o)
        if resuming, try trainer.resume(from: out) { Console.note("hv-train lm: resuming at step \(trainer.step)") }
        let logPath = log ?? (out as NSString).appendingPathComponent("train-lm.csv")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let csv = try LMLog(path: logPath, layers: cfg.layers.map(\.name), append: resuming)
        let tokenizerID = header.tokenizer
        let progress = Progress("hv-train lm")
        let t0 = Date()
        while trainer.step < steps {
            let r = try trainer.trainStep()
            guard r.loss.loss.isFinite else { throw GenError.badTokens(reason: "the loss became \(r.loss.loss) at step \(r.step); lower --lr") }
            let bits = r.loss.bitsPerToken.map { String(format: "%.3f", $0) }.joined(separator: " ")
            progress.update("step \(r.step)/\(steps) loss \(String(format: "%.4f", r.loss.loss)) bits/token [\(bits)] lr \(String(format: "%.2e", r.learningRate))")
            if r.step % logEvery == 0 || r.step == steps { try csv.append(r, seconds: Date().timeIntervalSince(t0)) }
            if r.step % checkpointEvery == 0 || r.step == steps { try trainer.save(to: out, tokenizer: tokenizerID) }
        }
        let final = try trainer.evaluate()
        progress.finish("done, step \(trainer.step)")
        Console.note("hv-train lm: training clips, bits/token per layer: " +
                     zip(cfg.layers, final).map { "\($0.name) \(String(format: "%.3f", $1))" }.joined(separator: ", "))
    }
}

/// The LM training log: one CSV row per logged step, flushed as written.
final class LMLog {
    private let handle: FileHandle
    init(path: String, layers: [String], append: Bool) throws {
        if !append || !FileManager.default.fileExists(atPath: path) {
            let header = ["step", "seconds", "lr", "loss", "grad_norm", "captions_dropped"] + layers.map { "bits_\($0)" }
            guard FileManager.default.createFile(atPath: path, contents: Data((header.joined(separator: ",") + "\n").utf8)) else {
                throw FileError.cannotCreate(path: path, reason: "cannot create the log")
            }
        }
        guard let h = FileHandle(forWritingAtPath: path) else { throw FileError.cannotCreate(path: path, reason: "cannot open for writing") }
        h.seekToEndOfFile()
        handle = h
    }

    func append(_ r: LMStepReport, seconds: Double) throws {
        let cols = ["\(r.step)", String(format: "%.2f", seconds), "\(r.learningRate)", "\(r.loss.loss)", "\(r.gradNorm)",
                    "\(r.captionsDropped)"] + r.loss.bitsPerToken.map { String(format: "%.4f", $0) }
        handle.write(Data((cols.joined(separator: ",") + "\n").utf8))
    }
}

/// The lines 'KEY<TAB>TEXT' of a UTF-8 list (caption lists, prompt lists), skipping blank lines and '#' comments.
func readTabList(_ path: String, form: String) throws -> [(String, String)] {
    guard let data = FileManager.default.contents(atPath: path) else { throw FileError.cannotOpen(path: path, reason: "not readable") }
    guard let text = String(data: data, encoding: .utf8) else { throw GenError.badTokens(reason: "\(path) is not UTF-8 text") }
    var out: [(String, String)] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let l = line.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
        if l.trimmingCharacters(in: .whitespaces).isEmpty || l.hasPrefix("#") { continue }
        let parts = l.split(separator: "\t", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].trimmingCharacters(in: .whitespaces).isEmpty else {
            throw GenError.badTokens(reason: "\(path) line \(i + 1) is not '\(form)'")
        }
        out.append((parts[0], parts[1]))
    }
    return out
}
