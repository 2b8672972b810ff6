// `hv-train lm-rank`: does the generator's text condition carry its sources, whatever sampling makes of it? For each
// prompt (SOURCE<TAB>PROMPT, pipelines/eval-prompts.tsv: paraphrases of training captions), one training clip of
// every source is scored (bits of its tokens under the prompt) and compared with the same clip under no text (the
// null condition the generator learns from caption dropout). The prompt ranks the sources by how much it lowers
// their bits; the paraphrased source at rank 1 is a hit (chance: 1 in the number of sources, mean rank (N + 1) / 2).
// The same ranking with each prompt's source's own training caption tells a generator that ignores its text (both
// near chance) from one that learnt its captions but not their meaning (own captions hit, paraphrases do not).
// Scores need no sampling, so they separate what the model knows from what `make eval-gen` sees in its samples.
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVFormat
import HVGen
import HVManifest
import HVText

struct LMRank: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm-rank",
        abstract: "Rank a generator's training sources under paraphrased prompts by how much each prompt lowers their bits.",
        discussion: """
        The sources and their clips come from the generator's training data, given as for `hv-train lm` (--clips or
        --shards). A source is a token file's video (shards) or file name (caption list), without the '-vK' of a
        photograph's clips. The first clip of each source's first file is scored: about 0.75 s per clip and condition
        on one core for the `small` generator over all layers (26 prompts, 65 sources: about 45 minutes), a tenth of
        that with --layers 2.
          hv-train lm-rank --model models/generator --shards out/lm-shards/tokens/shards --layers 2
        """)

    @Option(help: "Generator checkpoint folder.")
    var model: String = GeneratorCheckpoint.defaultDirectory

    @Option(help: "Caption list of the training clips: one 'PATH<TAB>CAPTION' line per .hvt file.")
    var clips: String?

    @Option(help: "Token shards of the training clips (as for hv-train lm).")
    var shards: String?

    @Option(help: "Prompts: one 'SOURCE<TAB>PROMPT' line each, '#' starts a comment.")
    var prompts: String = "pipelines/eval-prompts.tsv"

    @Option(name: .customLong("text-encoder"), help: "MiniLM text encoder folder.")
    var textEncoder: String = "models/text-encoder"

    @Option(help: "Clips scored per forward pass.")
    var batch: Int = 4

    @Option(help: "Score only the coarsest this many layers (the model then runs over their tokens only: with 2, about a tenth of the time).")
    var layers: Int?

    func validate() throws {
        guard (clips == nil) != (shards == nil) else { throw ValidationError("Give exactly one of --clips and --shards.") }
        guard batch > 0 else { throw ValidationError("--batch must be positive.") }
        if let layers, layers < 1 { throw ValidationError("--layers must be at least 1.") }
    }

    /// (source, caption, first clip) of every source, sorted by source.
    func sources() throws -> (TokenizerIdentity, [(String, String, HVTClip)]) {
        var found: [String: (String, HVTClip)] = [:]
        var identity: TokenizerIdentity?
        func add(_ source: String, _ caption: String, _ header: HVTHeader, _ clip: HVTClip?, _ name: String) throws {
            if let identity, identity != header.tokenizer {
                throw GenError.layerMismatch(reason: "\(name) was made by \(header.tokenizer), other files by \(identity)")
            }
            identity = header.tokenizer
            if found[source] == nil, let clip { found[source] = (caption, clip) }
        }
        if let clips {
            for f in try TrainLM().filesOfClipList(clips) { try add(f.source, f.captions[0], f.header, f.clips.first, f.name) }
        } else if let shards {
            for s in try TokenShards.read(index: try TokenShards.indexPath(shards)).samples {
                let name = "sample \(s.key) of \(s.shard)"
                let reader = try HVTReader(bytes: s.hvt, name: name)
                try add(LMExample.source(ofClipNamed: s.info.video), s.info.caption ?? "", reader.header, try reader.nextClip(), name)
            }
        }
        guard let identity, !found.isEmpty else { throw GenError.badTokens(reason: "no token files with clips were given") }
        return (identity, found.keys.sorted().map { ($0, found[$0]!.0, found[$0]!.1) })
    }

    func run() throws {
        let (generator, trainedOn) = try GeneratorCheckpoint.load(from: model)
        let (identity, sources) = try sources()
        if let trainedOn, trainedOn != identity {
            throw GenError.layerMismatch(reason: "the generator was trained on tokens of \(trainedOn), the clips are of \(identity)")
        }
        let names = sources.map(\.0)
        let list = try readTabList(prompts, form: "SOURCE<TAB>PROMPT")
        for (source, _) in list where !names.contains(source) {
            throw GenError.badOption(reason: "\(prompts): source '\(source)' has no training clip")
        }
        guard !list.isEmpty else { throw GenError.badOption(reason: "\(prompts) has no prompts") }
        let cfg = generator.config
        let videos = try sources.map { try generator.layout.video(of: $0.2) }
        let encoder = try CaptionStates(modelDirectory: textEncoder, cacheDirectory: nil)
        func condition(_ texts: [String]) throws -> [Tensor] {
            try encoder.states(texts).map { cfg.textCondition == .sentence ? MiniLMEncoder.sentenceState($0) : $0 }
        }
        let promptStates = try condition(list.map(\.1))
        let captionStates = try condition(list.map { p in sources.first { $0.0 == p.0 }!.1 })
        /// Bits (all layers, and the coarsest two) of every source's clip under `text`.
        func score(_ text: Tensor?) throws -> [(all: Double, coarse: Double)] {
            var out: [(Double, Double)] = []
            for start in stride(from: 0, to: videos.count, by: batch) {
                let b = videos[start..<min(videos.count, start + batch)].map { GeneratorExample(text: text, video: $0) }
                for perLayer in try generator.bits(b, layers: layers) { out.append((perLayer.reduce(0, +), perLayer.prefix(2).reduce(0, +))) }
            }
            return out
        }
        let progress = Progress("hv-train lm-rank")
        let null = try score(nil)
        /// Rank (1 = most lowered) of `right` among the sources, by bits under the condition minus bits under none.
        func rank(_ s: [(all: Double, coarse: Double)], _ right: Int, coarse: Bool) -> (Int, Double) {
            let d = s.indices.map { coarse ? s[$0].coarse - null[$0].coarse : s[$0].all - null[$0].all }
            return (1 + d.filter { $0 < d[right] }.count, d[right])
        }
        print("| source | prompt | rank, paraphrase (coarsest two layers) | Δbits of its clip | rank, own caption (coarsest two) | Δbits |")
        print("| --- | --- | --- | --- | --- | --- |")
        var ranks: [[Int]] = [[], [], [], []]
        for (i, (source, prompt)) in list.enumerated() {
            progress.update("prompt \(i + 1)/\(list.count)")
            let right = names.firstIndex(of: source)!
            let p = try score(promptStates[i]), c = try score(captionStates[i])
            let (rp, dp) = rank(p, right, coarse: false), (rpc, _) = rank(p, right, coarse: true)
            let (rc, dc) = rank(c, right, coarse: false), (rcc, _) = rank(c, right, coarse: true)
            for (k, r) in [rp, rpc, rc, rcc].enumerated() { ranks[k].append(r) }
            print("| \(source) | \(prompt) | \(rp) (\(rpc)) | \(String(format: "%+.0f", dp)) | \(rc) (\(rcc)) | \(String(format: "%+.0f", dc)) |")
        }
        progress.finish("\(list.count) prompts")
        let n = Double(list.count)
        func summary(_ r: [Int]) -> String {
            String(format: "rank 1: %ld of %ld, top 5: %ld, mean rank %.1f", r.filter { $0 == 1 }.count, r.count,
                   r.filter { $0 <= 5 }.count, Double(r.reduce(0, +)) / n)
        }
        print("")
        let scored = cfg.layers.prefix(layers ?? cfg.layers.count).map(\.name).joined(separator: ",")
        print("\(sources.count) sources (chance: rank 1 for 1 in \(sources.count), mean rank \(String(format: "%.1f", Double(sources.count + 1) / 2))), layers scored \(scored), \(cfg.textCondition.rawValue) condition")
        print("- paraphrases, scored layers: \(summary(ranks[0])); coarsest two: \(summary(ranks[1]))")
        print("- own training captions, scored layers: \(summary(ranks[2])); coarsest two: \(summary(ranks[3]))")
    }
}
