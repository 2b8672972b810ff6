// `hv-train diagnose`: what a tokenizer checkpoint's tokens carry, clip by clip and per data source, beside the
// trivial baselines on the same frames (see TokenizerDiagnostics.swift for each number's meaning).
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVTokenizer

struct DiagnoseTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Diagnose a tokenizer on clips: PSNR per layer prefix, at the crop size, without the quantiser, with layer 0 shuffled; bit balance, colour, motion; beside the clip-mean and box-mean baselines.",
        discussion: """
        Each clip is the first 64 frames of a y4m file at the model's rate and size (hv-decode --fps 8 --size 256).
        A clip's source is the name of the folder it is in; a summary per source and overall follows the clip table.
        Columns: prefix PSNRs (L3, L3+L2, …, all), box (smooth box-mean baseline at the densest grid), mean (clip mean
        colour), crop (the clip cut into --crop tiles, each encoded and decoded alone), bypass (quantiser bypassed),
        shuf (layer 0 codes shuffled across positions), bits (mean |p(+1)−0.5| per layer, densest first), ΔRGB (mean
        colour of the reconstruction minus the source's), motion (source / reconstruction mean |ΔY|, their correlation,
        and the box-mean baseline's correlation), edge (the share of source / reconstruction motion that falls
        across the densest layer's latent-step boundaries: 7/63 ≈ 0.11 for even motion over 64 frames, near 1 for a
        hold-and-jump render). With --refine N the densest layer's codes are refined by N rounds of decoder-guided bit
        flips (as hv-encode --refine) before everything but the crop tiles; "refine" is its gain over the encoder's
        own codes. With --mask-ratio R, "masked" is the all-layer PSNR after masking layer 0 as hv-encode --mask-ratio R
        does (repeat; refined for the masked render with --refine), its cost against all layers, and the share masked.
        """)

    @Option(help: "Tokenizer checkpoint folder (config.json + model.safetensors) or a training run folder.")
    var model: String = "models/tokenizer"

    @Option(help: "Training crop size for the tiled PSNR; 0 skips it.")
    var crop: Int = 64

    @OptionGroup var refinement: RefinementOption

    @Option(help: "Also render layer 0 masked as hv-encode --mask-ratio R masks it (repeat strategy), refined for the masked render with --refine.")
    var maskRatio: Double?

    @Flag(help: "Print JSON (one object per clip) instead of tables.")
    var json = false

    @Argument(help: "y4m clips, or folders of them (searched one level deep: FOLDER/SOURCE/*.y4m or FOLDER/*.y4m).")
    var clips: [String]

    func validate() throws {
        guard crop >= 0 else { throw ValidationError("--crop must be 0 (off) or positive.") }
        if let r = maskRatio, !(0...1).contains(r) { throw ValidationError("--mask-ratio must be between 0 and 1.") }
        guard !clips.isEmpty else { throw ValidationError("Give at least one clip.") }
    }

    func run() throws {
        let m = try TokenizerCheckpoint.load(from: model)
        let cfg = m.config
        if refinement.rounds > 0 && !m.canRefine(height: cfg.frameSize, width: cfg.frameSize) {
            throw ValidationError("--refine needs a model that encodes frames at their own size; \(model) resizes them to \(cfg.encoderSize!)².")
        }
        var results: [(String, ClipDiagnosis)] = []
        // The trainer's own reading of folders: DIR/SOURCE/*.y4m, or files whose folder names their source.
        let files = try expandVideosBySource(clips).filter { $0.path.hasSuffix(".y4m") }
        guard !files.isEmpty else { throw FileError.cannotOpen(path: clips[0], reason: "no .y4m clips found") }
        for (path, source) in files {
            let v = try ClipDataset.readY4M(path)
            guard v.width == cfg.frameSize, v.height == cfg.frameSize, !v.frames.isEmpty else {
                throw TokenizerError.inputMismatch("\(path) is \(v.width)x\(v.height); the model takes \(cfg.frameSize)x\(cfg.frameSize) (hint: hv-decode --size \(cfg.frameSize) --fps \(cfg.fps))")
            }
            let x = Tensor(shape: [0])
            ClipDataset(videos: [v]).fill(x, video: v, start: 0, frames: cfg.framesPerClip, y0: 0, x0: 0, size: cfg.frameSize)
            let d = TokenizerDiagnostics.diagnose(m, clip: x, count: min(v.frames.count, cfg.framesPerClip),
                                                  name: (path as NSString).lastPathComponent, crop: crop,
                                                  refinement: refinement.rounds > 0 ? CodeRefinement(rounds: refinement.rounds, colourWeight: refinement.colourWeight) : nil,
                                                  maskRatio: maskRatio)
            results.append((source, d))
            if json {
                let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
                print(String(decoding: try enc.encode(d), as: UTF8.self))
            }
        }
        if json { return }
        let n = cfg.layers.count
        let prefixNames = (0..<n).map { k in (0...k).map { "L\(n - 1 - $0)" }.joined(separator: "+") }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        print("| source | clip | " + prefixNames.joined(separator: " | ") + " | box | mean | all − box | crop | bypass | shuf | bits | ΔRGB | motion src/rec (corr; box) | edge src/rec |")
        print("|" + String(repeating: " --- |", count: 13 + n))
        for (s, d) in results {
            let bits = d.bitImbalanceMean.map { String(format: "%.2f", $0) }.joined(separator: "/")
            let dc = zip(d.reconColour, d.sourceColour).map { String(format: "%+.0f", $0 - $1) }.joined(separator: ",")
            print("| \(s) | \(d.name) | " + d.prefixPSNR.map(f).joined(separator: " | ")
                  + " | \(f(d.boxMeanPSNR)) | \(f(d.clipMeanPSNR)) | \(String(format: "%+.2f", d.allLayersPSNR - d.boxMeanPSNR)) | \(d.cropPSNR.map(f) ?? "–") | \(f(d.bypassPSNR)) | \(f(d.shuffledL0PSNR)) | \(bits) | \(dc) | \(String(format: "%.1f/%.1f", d.sourceMotion, d.reconMotion)) (\(d.motionCorrelation.map { String(format: "%.2f", $0) } ?? "n/a"); \(d.boxMotionCorrelation.map { String(format: "%.2f", $0) } ?? "n/a")) | \(String(format: "%.2f/%.2f", d.sourceStepEdgeShare, d.reconStepEdgeShare)) |")
        }
        print("\n| source | clips | all layers | box | all − box (min) | L3 − mean | bypass | shuf − all | motion corr (box), over moving clips | edge src/rec | |ΔRGB| max |" + (refinement.rounds > 0 ? " refine |" : "")
              + (maskRatio != nil ? " masked (cost, worst; share) |" : ""))
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |" + (refinement.rounds > 0 ? " --- |" : "") + (maskRatio != nil ? " --- |" : ""))
        var groups: [(String, [ClipDiagnosis])] = []
        for (s, d) in results {
            if let i = groups.firstIndex(where: { $0.0 == s }) { groups[i].1.append(d) } else { groups.append((s, [d])) }
        }
        groups.append(("all", results.map { $0.1 }))
        for (s, ds) in groups {
            func mean(_ k: (ClipDiagnosis) -> Double) -> Double { ds.map(k).reduce(0, +) / Double(ds.count) }
            // Motion correlations over the clips where they are defined (not static shots), with their count.
            func motion(_ k: (ClipDiagnosis) -> Double?) -> String {
                let v = ds.compactMap(k)
                return v.isEmpty ? "n/a" : String(format: "%.2f", v.reduce(0, +) / Double(v.count))
            }
            let moving = ds.filter { $0.motionCorrelation != nil }.count
            let motionCell = "\(motion { $0.motionCorrelation }) (\(motion { $0.boxMotionCorrelation }))" + (moving < ds.count ? " of \(moving)" : "")
            let worst = ds.map { $0.allLayersPSNR - $0.boxMeanPSNR }.min() ?? 0
            let colour = ds.map { d in zip(d.reconColour, d.sourceColour).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
            print("| \(s) | \(ds.count) | \(f(mean { $0.allLayersPSNR })) | \(f(mean { $0.boxMeanPSNR })) | \(String(format: "%+.2f (%+.2f)", mean { $0.allLayersPSNR - $0.boxMeanPSNR }, worst)) | \(String(format: "%+.2f", mean { $0.prefixPSNR[0] - $0.clipMeanPSNR })) | \(f(mean { $0.bypassPSNR })) | \(String(format: "%+.2f", mean { $0.shuffledL0PSNR - $0.allLayersPSNR })) | \(motionCell) | \(String(format: "%.2f/%.2f", mean { $0.sourceStepEdgeShare }, mean { $0.reconStepEdgeShare })) | \(String(format: "%.1f", colour)) |"
                  + (refinement.rounds > 0 ? String(format: " %+.2f |", mean { $0.allLayersPSNR - ($0.encoderPSNR ?? $0.allLayersPSNR) }) : "")
                  + (maskRatio != nil ? String(format: " %.2f (%.2f, %.2f; %.2f) |", mean { $0.maskedPSNR ?? 0 },
                                               mean { $0.allLayersPSNR - ($0.maskedPSNR ?? 0) },
                                               ds.map { $0.allLayersPSNR - ($0.maskedPSNR ?? 0) }.max() ?? 0,
                                               mean { $0.maskedShare ?? 0 }) : ""))
        }
    }
}
