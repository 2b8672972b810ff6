// `hv-train lm-bits`: how well the generator predicts token files — its training clips, or clips it never saw — in
// bits per token per layer, forward only. Held-out clips against training clips, under the same condition, tell a
// generator that models video from one that recalls its training set (the gap between the two rows).
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVFormat
import HVGen
import HVText

struct LMBits: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lm-bits",
        abstract: "Print a generator's bits per token, per layer, on token files (default: under the null text).",
        discussion: """
        Every clip of every FILE.hvt is scored; one row per file (the mean over its clips) and a last row with the
        mean over all clips. With --caption the clips are scored under that text instead of the null condition
        the generator learns from caption dropout. The token files must come from the tokenizer the generator was
        trained on, unmasked.
          hv-train lm-bits --model models/generator out/heldout-tokens/*.hvt
        """)

    @Option(help: "Generator checkpoint folder.")
    var model: String = GeneratorCheckpoint.defaultDirectory

    @Option(help: "Score under this caption instead of the null text.")
    var caption: String?

    @Option(name: .customLong("text-encoder"), help: "MiniLM text encoder folder (with --caption).")
    var textEncoder: String = "models/text-encoder"

    @Option(help: "Clips scored per forward pass.")
    var batch: Int = 4

    @Argument(help: "Token files (.hvt).")
    var files: [String] = []

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("Give at least one token file.") }
        guard batch > 0 else { throw ValidationError("--batch must be positive.") }
        if let caption, caption.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--caption must not be empty.") }
    }

    func run() throws {
        let (generator, trainedOn) = try GeneratorCheckpoint.load(from: model)
        let cfg = generator.config
        var text: Tensor?
        if let caption {
            let s = try CaptionStates(modelDirectory: textEncoder, cacheDirectory: nil).states([caption])[0]
            text = cfg.textCondition == .sentence ? MiniLMEncoder.sentenceState(s) : s
        }
        let names = cfg.layers.map(\.name)
        print("| file | clips | " + names.map { "\($0) bits/token" }.joined(separator: " | ") + " |")
        print("|" + String(repeating: " --- |", count: names.count + 2))
        var sums = [Double](repeating: 0, count: names.count), clips = 0
        let progress = Progress("hv-train lm-bits")
        for (i, path) in files.enumerated() {
            progress.update("\(i + 1)/\(files.count) \(path)")
            let input = try InputFile(path)
            let reader = try HVTReader(fileDescriptor: input.descriptor, name: input.displayName)
            if let trainedOn, trainedOn != reader.header.tokenizer {
                throw GenError.layerMismatch(reason: "the generator was trained on tokens of \(trainedOn), \(path) is of \(reader.header.tokenizer)")
            }
            try cfg.requireCompatible(with: reader.header, what: path)
            var videos: [[UInt32]] = []
            while let c = try reader.nextClip() {
                do { videos.append(try generator.layout.video(of: c)) }
                catch let GenError.badTokens(reason) { throw GenError.badTokens(reason: "\(path): \(reason)") }
            }
            guard !videos.isEmpty else { throw GenError.badTokens(reason: "\(path) holds no clips") }
            var fileSums = [Double](repeating: 0, count: names.count)
            for start in stride(from: 0, to: videos.count, by: batch) {
                let b = videos[start..<min(videos.count, start + batch)].map { GeneratorExample(text: text, video: $0) }
                for perLayer in try generator.bits(b) {
                    for m in perLayer.indices { fileSums[m] += perLayer[m] / Double(cfg.layers[m].tokenCount) }
                }
            }
            for m in sums.indices { sums[m] += fileSums[m] }
            clips += videos.count
            print("| \(path) | \(videos.count) | " + fileSums.map { String(format: "%.3f", $0 / Double(videos.count)) }.joined(separator: " | ") + " |")
        }
        progress.finish("\(clips) clips")
        print("| mean | \(clips) | " + sums.map { String(format: "%.3f", $0 / Double(clips)) }.joined(separator: " | ") + " |")
    }
}
