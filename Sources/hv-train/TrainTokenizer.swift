// `hv-train tokenizer`: random 64-frame windows from y4m videos, progressive layer schedule,
// checkpoints with resume, a CSV log (losses, codebook usage per layer, held-out PSNR) and progress.
import ArgumentParser
import Foundation
import HVCLI
import HVCore
import HVEngine
import HVManifest
import HVTokenizer

struct TrainTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train a hierarchical video tokenizer on y4m videos.",
        discussion: """
        Inputs are y4m files at the model's frame rate and size, as written by `hv-decode --fps 8 --size 256`,
        other video files (decoded the same way when loaded), folders of them, or the clips of a dataset
        manifest (--manifest, --split). Decoded frames are held in memory (192 KiB per 256² frame).
        The output folder receives config.json, model.safetensors, train-state.safetensors (for --resume)
        and train.csv, whose columns are: step, seconds (that step's time), lr, finest_layer (the densest
        layer decoded that step), l1, perceptual, adv_g, adv_d, grad_norm, hardness (soft-to-hard quantisation,
        1 = hard), residual (the weighted residual-matching loss), temporal (the unweighted temporal-difference L1; 0 when
        --temporal-weight is 0), colour (the unweighted mean-colour L1; 0 when --colour-weight is 0), entropy/commit/usage per layer (usage: distinct
        codes in the step's crop), and psnr_top1…psnr_topN (held-out PSNR decoding from the coarsest 1…N layers,
        on evaluation steps only). A log from an older hv-train gains the new columns, empty, on --resume.
        """)

    @Option(name: .long, parsing: .upToNextOption, help: "Training videos: y4m files (at the model's rate and size), other video files (decoded on load), or folders of them.")
    var data: [String] = []

    @Option(help: "Train on the clips of a dataset manifest (hv-manifest), decoded on load.")
    var manifest: String?

    @Option(help: "Manifest split to train on. Without --heldout, the first clips of up to four val videos are held out.")
    var split: SplitSelection = .train

    @Option(name: .long, parsing: .upToNextOption, help: "Held-out videos for PSNR (first clip of each): y4m or other video files.")
    var heldout: [String] = []

    @Option(name: [.short, .long], help: "Output checkpoint folder.")
    var out: String

    @Option(help: "Architecture preset (small2, single2: v2, RMSNorm and a wider decoder; tiny, tiny2: for tests).")
    var preset = TokenizerPreset(name: "small")

    @Flag(inversion: .prefixedNo, help: "Keep the GroupNorm before the encoder's output and the decoder's pixel head (new models only).")
    var outputNorm = true

    @Flag(inversion: .prefixedNo, help: "Override the preset's colour shortcuts (new models only).")
    var shortcuts: Bool?

    @Option(help: "Override the preset's RMSNorm epsilon (new models only).")
    var normEpsilon: Float?

    @Option(name: .customLong("grow-from"), help: ArgumentHelp(
        "Start a new model from this checkpoint, adding the --preset's coarser token layers to its own.",
        discussion: "Every tensor of the checkpoint is kept; the added layers start with their contribution at zero, so the new model first renders what the checkpoint rendered (dense-first training)."))
    var growFrom: String?

    @Option(help: "Keep only the densest N token layers of the preset (new and grown models; ablations such as L0 alone).")
    var layers: Int?

    @Option(help: ArgumentHelp("Latent frames after its own that the decoder's first conv sees (new and grown models; 0: causal).",
        discussion: "With --grow-from, the checkpoint's taps are kept and the added ones start at zero, so the model first renders what the checkpoint rendered."))
    var lookahead: Int?

    @Flag(help: "Continue from the checkpoint and train-state in the output folder.")
    var resume = false

    @Option(name: .customLong("init"), help: "Start from this checkpoint's weights and architecture (fresh optimizer, step 0) instead of a new model.")
    var initFrom: String?

    @Flag(help: "Train only what turns tokens into video (the decoder, the densest layer's up path, the mask embeddings); all that decides tokens stays as loaded (--init or --resume), so every clip keeps its tokens, and the checkpoint reads and writes the .hvt files of the one it kept them from (metadata tokens_of).")
    var freezeTokens = false

    @Option(help: "Total optimisation steps (the schedule is laid out over them).")
    var steps: Int = 4000

    @Option(help: "Stop (after saving) when this many minutes have passed; 0 means no limit.")
    var minutes: Double = 0

    @Flag(name: .customLong("pointwise-coarse"), help: "Give the coarse layers (L1…) 1×1 down convs, which see a 64² crop as they see a whole frame (new and grown models).")
    var pointwiseCoarse = false

    @Option(name: .customLong("decoder-blocks"), help: ArgumentHelp("The decoder's residual blocks per stage, shallowest first, as N,N,N: a new model's, or more than an --init checkpoint's.",
        discussion: "small2 has 1,2,2; 1,2,4 adds two blocks at the latent grid. With --init the checkpoint's blocks are kept and each added one starts as the identity (its second conv at zero), so the model first renders what the checkpoint rendered; with --freeze-tokens it keeps the checkpoint's tokens."),
            transform: { try countList($0, flag: "--decoder-blocks", example: "1,2,4", least: 0) })
    var decoderBlocks: [Int]?

    @Flag(name: .customLong("frame-branches"), help: ArgumentHelp("Give the decoder a channel-to-time branch at each up-sampling that doubles time: a new model's, or added to an --init checkpoint's.",
        discussion: "Repetition lets the frames of a latent step differ only through the step before; a branch lets the step's own channels set each frame apart. Added to an --init checkpoint the branches start at zero, so the model first renders what the checkpoint rendered."))
    var frameBranches = false

    @Option(help: ArgumentHelp("A new model's encoder channels per stage, shallowest first, as N,N,N (default: the preset's; small2 has 32,64,128).",
                               valueName: "N,N,N"), transform: { try countList($0, flag: "--widths", example: "64,128,256", least: 1) })
    var widths: [Int]?

    @Option(name: .customLong("decoder-widths"), help: ArgumentHelp("A new model's decoder channels per stage, shallowest first, as N,N,N (default: the preset's; small2 has 48,96,192).",
                                                                     valueName: "N,N,N"),
            transform: { try countList($0, flag: "--decoder-widths", example: "96,192,384", least: 1) })
    var decoderWidths: [Int]?

    @Option(name: .customLong("latent-channels"), help: "A new model's latent channels, what the token layers read and the decoder's input (default: the preset's; small2 has 128).")
    var latentChannels: Int?

    @Option(name: .customLong("lr-scale"), help: ArgumentHelp("Scale the learning rate of the tensors whose names start with PREFIX (repeatable), as PREFIX=S.",
        discussion: "E.g. --lr-scale encoder.=0.2 --lr-scale decoder.=0.2 --lr-scale hierarchy.0.=0.2: a grown model's kept tensors learn at a fifth of the rate of its new layers."))
    var lrScale: [String] = []

    @Option(name: .customLong("subtraction-ramp"), help: "Steps over which the coarse layers' contributions are subtracted from what the denser layers quantise, from 0 to fully (for coarse layers grown onto a trained dense one; 0: fully from the start).")
    var subtractionRamp: Int = 0

    @Option(name: .customLong("stop-at"), help: "Stop (after saving) at this step of the --steps schedule: a shipped checkpoint taken part-way through a run is reproduced step for step.")
    var stopAt: Int?

    @Option(help: "Square crop size of training windows.")
    var crop: Int = 128

    @Option(help: "Clips per optimisation step.")
    var batch: Int = 1

    @Option(help: ArgumentHelp("Copies of the model that train a step's crops side by side, one core each (0: one per core, at most --batch; 1: each crop in turn on all cores).",
                               discussion: "Two crops on two cores each run at one core's speed, where one crop split over both waits at every layer for the slower half (docs/speed-training-step.md). Each copy holds its own activations and gradients (0.9 GB more resident at the 64×128² crops of the batch-16 recipe). Steps with the adversarial loss, refinement or mask training run their crops in turn."))
    var replicas: Int = 0

    @Option(help: "Peak learning rate.")
    var lr: Float = 4e-4

    @Option(help: "Weight of the multi-scale gradient (perceptual) loss.")
    var perceptualWeight: Float = 0.5

    @Option(name: .customLong("l2-weight"), help: "Weight of a mean-squared-error term added to the L1 loss.")
    var l2Weight: Float = 0

    @Option(help: "Weight of the temporal-difference L1 (frame-to-frame change against the source's, at --temporal-scales scales).")
    var temporalWeight: Float = 0

    @Option(help: "Scales of the temporal-difference L1: full resolution, then the frames 2×2-averaged, and so on (7 reaches 64² cells on a 128² crop, where a frame's coarse change is predictable from its codes).")
    var temporalScales: Int = 3

    @Option(help: "Weight of the mean-colour L1: each channel's mean over the crop against the source's (a saturated clip's colour is worth little of its squared error).")
    var colourWeight: Float = 0

    @Option(help: "Rounds of decoder-guided refinement of each sample's layer-0 codes before its training pass (as hv-encode --refine): the decoder learns from the refined codes. 0: off.")
    var refineRounds: Int = 0

    @Option(help: "With --refine-rounds: weight of a hinge loss pulling the encoder's layer-0 activations towards the refined codes' signs (margin 0.5).")
    var refineTargetWeight: Float = 0

    @Option(help: "Weight of the adversarial loss (0 disables the discriminator).")
    var adversarialWeight: Float = 0.05

    @Option(help: "Fraction of the steps after which the adversarial loss switches on.")
    var adversarialStart: Float = 0.6

    @Option(help: "Weight of the LFQ entropy penalty.")
    var entropyWeight: Float = 0.02

    @Flag(help: "Train on one fixed window (the first clip of the first video, centre crop): a sanity check that the model can fit.")
    var fixedWindow = false

    @Option(help: "Fractions of --steps at which each denser layer joins, comma-separated (coarsest alone before the first).")
    var progressive: String = "0.05,0.12,0.2"

    @Option(help: "Probability, once all layers train, that a step decodes from a coarser truncated sum.")
    var truncation: Float = 0.25

    @Option(help: "Fraction of --steps over which quantisation goes from soft (continuous) to hard (±1); 0 disables.")
    var quantizationWarmup: Float = 0.3

    @Option(help: "Weight of the residual-matching loss: each layer's contribution is pulled towards the residual it quantises, so partial sums approach the latent layer by layer.")
    var residualWeight: Float = 0

    @Option(help: "Commitment loss weight.")
    var commitWeight: Float = 0.25

    @Flag(help: "Mask dense tokens at random during training so the learned mask embedding is trained.")
    var maskTraining = false

    @Option(help: "Probability per crop of masking the dense layer as 'hv-mask --strategy repeat --ratio 0.85' does (each masked token takes its predecessor's code), so the model learns to render masked streams. 0: off.")
    var repeatMaskTraining: Float = 0

    @Option(help: "Decay of the exponential moving average of the weights that evaluation and checkpoints use (e.g. 0.999); 0: off, the last step's weights.")
    var ema: Float = 0

    @Option(help: "Random seed.")
    var seed: UInt64 = 1

    @Option(help: "Evaluate held-out PSNR every N steps.")
    var evalEvery: Int = 200

    @Option(help: "Save a checkpoint every N steps.")
    var checkpointEvery: Int = 100

    @Option(help: "Also keep every Nth step's weights in OUT/snapshots (for hv-train export --average-last); 0: off.")
    var snapshotEvery: Int = 0

    @Option(help: "How weights are stored.")
    var storage: WeightStorage = .f32

    @Option(help: ArgumentHelp("Run the training steps' convs on AMX tiles in bfloat16 (float32 sums; evaluation stays float32): auto where the CPU has AMX, on, or off (float32).",
                               discussion: "bfloat16 trains like float32 (two same-seed pairs from scratch and one at the plateau; docs/tokenizer-journal.md) at 1.7–2.5× the steps an hour.",
                               valueName: "auto|on|off"))
    var bf16: ConvPrecision = .auto

    func validate() throws {
        if bf16 == .on && !Conv3dAMX.available {
            throw ValidationError("--bf16 on needs AMX bfloat16 tiles, which this CPU or kernel does not offer; use auto or off.")
        }
        guard steps > 0, crop > 0, batch > 0 else { throw ValidationError("--steps, --crop and --batch must be positive.") }
        guard replicas >= 0 else { throw ValidationError("--replicas must be 0 (one per core) or more.") }
        if let stopAt { guard stopAt > 0 && stopAt <= steps else { throw ValidationError("--stop-at must be in 1...--steps.") } }
        guard refineRounds >= 0 && refineTargetWeight >= 0 else {
            throw ValidationError("--refine-rounds and --refine-target-weight must not be negative.")
        }
        guard temporalScales >= 1 else { throw ValidationError("--temporal-scales must be at least 1.") }
        guard temporalWeight >= 0 && l2Weight >= 0 && perceptualWeight >= 0 && colourWeight >= 0 else {
            throw ValidationError("--temporal-weight, --colour-weight, --l2-weight and --perceptual-weight must not be negative.")
        }
        guard ema >= 0 && ema < 1 else { throw ValidationError("--ema must be in [0, 1).") }
        guard repeatMaskTraining >= 0 && repeatMaskTraining <= 1 else {
            throw ValidationError("--repeat-mask-training is a probability in [0, 1].")
        }
        guard snapshotEvery >= 0 else { throw ValidationError("--snapshot-every must be 0 (off) or positive.") }
        guard !data.isEmpty || manifest != nil else { throw ValidationError("Give training videos with --data or --manifest.") }
        guard [resume, initFrom != nil, growFrom != nil].filter({ $0 }).count <= 1 else {
            throw ValidationError("Give at most one of --resume (continue the run in --out), --init and --grow-from (start a new one).")
        }
        if widths != nil || decoderWidths != nil || latentChannels != nil, resume || initFrom != nil || growFrom != nil {
            throw ValidationError("--widths, --decoder-widths and --latent-channels shape a new model; --resume, --init and --grow-from keep the checkpoint's.")
        }
        if let latentChannels, latentChannels < 1 { throw ValidationError("--latent-channels must be positive.") }
        let stageCount = preset.config.stages.count
        for (flag, list) in [("--widths", widths), ("--decoder-widths", decoderWidths)] where (list?.count ?? stageCount) != stageCount {
            throw ValidationError("\(flag) needs one width per stage of \(preset) (\(stageCount)).")
        }
        if decoderBlocks != nil, resume || growFrom != nil {
            throw ValidationError("--decoder-blocks shapes a new model or deepens an --init checkpoint's decoder; --resume and --grow-from keep the checkpoint's.")
        }
        if frameBranches, resume || growFrom != nil || decoderBlocks != nil {
            throw ValidationError("--frame-branches shapes a new model or extends an --init checkpoint's decoder, alone; --resume and --grow-from keep the checkpoint's.")
        }
        guard (0...2).contains(lookahead ?? 0) else { throw ValidationError("--lookahead must be 0, 1 or 2 latent frames.") }
        guard lookahead == nil || !(resume || initFrom != nil) else {
            throw ValidationError("--lookahead shapes a new or grown model; --resume and --init keep the checkpoint's.")
        }
        guard !freezeTokens || resume || initFrom != nil else {
            throw ValidationError("--freeze-tokens keeps a trained model's tokens: give it with --init CHECKPOINT (or --resume).")
        }
    }

    /// Training and held-out videos from --data/--heldout files and folders and the --manifest clips, and each
    /// training video's source (its folder's name; a manifest clip's video key).
    func loadVideos(fps: Int, size: Int) throws -> (train: [ClipDataset.Video], heldout: [ClipDataset.Video], sources: [String]) {
        func load(_ path: String) throws -> ClipDataset.Video {
            path.hasSuffix(".y4m") ? try ClipDataset.readY4M(path) : try ClipDataset.decode(path, fps: fps, size: size)
        }
        let trainFiles = try expandVideosBySource(data)
        var train = try trainFiles.map { try load($0.path) }
        var sources = trainFiles.map { $0.source }
        var held = try expandVideos(heldout).map(load)
        if let manifest {
            guard FileManager.default.fileExists(atPath: manifest) else {
                throw FileError.cannotOpen(path: manifest, reason: "no such file or directory")
            }
            let m = try Manifest(path: manifest, migrate: false)
            let all = ["pending", "running", "done", "failed"]
            let clips = try m.clips(states: all, split: split.split)
            guard !clips.isEmpty else {
                throw ManifestError.badValue(name: "--split", value: split.rawValue, reason: "\(manifest) has no clips in it (hv-manifest split assigns them)")
            }
            for c in clips {
                train.append(try ClipDataset.decode(c.path, fps: fps, size: size, start: c.startSeconds,
                                                    duration: c.durationSeconds, name: "\(c.videoKey)#\(c.clipID)"))
                sources.append(c.videoKey)
            }
            if heldout.isEmpty && split == .train {
                var seen = Set<String>()
                for c in try m.clips(states: all, split: "val") where seen.count < 4 && seen.insert(c.videoKey).inserted {
                    held.append(try ClipDataset.decode(c.path, fps: fps, size: size, start: c.startSeconds,
                                                       duration: c.durationSeconds, name: "\(c.videoKey)#\(c.clipID)"))
                }
            }
        }
        return (train, held, sources)
    }

    /// Source kinds from `sources.tsv` (columns source, kind, …) in any --data folder or its parent.
    func sourceKinds() -> [String: String] {
        var kinds: [String: String] = [:]
        for d in data {
            for f in ["\(d)/sources.tsv", "\((d as NSString).deletingLastPathComponent)/sources.tsv"] {
                guard let text = try? String(contentsOfFile: f, encoding: .utf8) else { continue }
                for line in text.split(separator: "\n").dropFirst() {
                    let cols = line.split(separator: "\t", omittingEmptySubsequences: false)
                    if cols.count >= 2 { kinds[String(cols[0])] = String(cols[1]) }
                }
            }
        }
        return kinds
    }

    /// The preset's token layers (its densest --layers of them) and the model name that says which.
    func presetLayers() throws -> ([LayerConfig], String) {
        let config = preset.config
        guard let layers else { return (config.layers, config.name) }
        guard (1...config.layers.count).contains(layers) else {
            throw ValidationError("--layers must be 1...\(config.layers.count) for preset \(preset).")
        }
        return (Array(config.layers.prefix(layers)), config.name + "-l\(layers)")
    }

    func run() throws {

        var options = TokenizerTrainingOptions()
        options.steps = steps; options.crop = crop; options.batch = batch; options.replicas = replicas; options.learningRate = lr
        options.perceptualWeight = perceptualWeight; options.l2Weight = l2Weight; options.temporalWeight = temporalWeight
        options.temporalScales = temporalScales
        options.colourWeight = colourWeight
        options.adversarialWeight = adversarialWeight
        options.adversarialStart = adversarialStart; options.entropyWeight = entropyWeight
        options.maskTraining = maskTraining; options.repeatMaskTraining = repeatMaskTraining; options.seed = seed; options.commitWeight = commitWeight
        options.truncationProbability = truncation
        options.residualWeight = residualWeight
        options.refineRounds = refineRounds; options.refineTargetWeight = refineTargetWeight
        options.quantizationWarmup = quantizationWarmup
        options.progressiveSchedule = progressive.split(separator: ",").compactMap { Float($0) }
        options.evalEvery = evalEvery; options.checkpointEvery = checkpointEvery
        options.freezeTokens = freezeTokens
        options.emaDecay = ema
        options.subtractionRamp = subtractionRamp
        options.learningRateScales = try lrScale.map { spec in
            let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, let f = Float(parts[1]), f >= 0, f.isFinite else {
                throw ValidationError("--lr-scale takes PREFIX=S with S >= 0, e.g. encoder.=0.2 (got '\(spec)').")
            }
            return TokenizerTrainingOptions.RateScale(prefix: parts[0], scale: f)
        }

        let model: HierarchicalTokenizer
        if resume {
            model = try TokenizerCheckpoint.load(from: out)
        } else if let initFrom, let decoderBlocks {
            model = try TokenizerCheckpoint.deepenDecoder(from: initFrom, blocks: decoderBlocks)
        } else if let initFrom, frameBranches {
            model = try TokenizerCheckpoint.addFrameBranches(from: initFrom)
        } else if let initFrom {
            model = try TokenizerCheckpoint.load(from: initFrom)
        } else if let growFrom {
            let (layerList, name) = try presetLayers()
            model = try TokenizerCheckpoint.grow(from: growFrom, layers: layerList, name: name, seed: seed, lookahead: lookahead,
                                                 pointwiseCoarseDown: pointwiseCoarse)
        } else {
            var config = preset.config
            if !outputNorm { config.outputNorm = false }
            if let shortcuts { config.shortcuts = shortcuts }
            if let normEpsilon { config.normEpsilon = normEpsilon }
            if let lookahead, lookahead > 0 { config.decoderLookahead = lookahead }
            if pointwiseCoarse { config.pointwiseCoarseDown = true }
            if frameBranches { config.frameBranches = true }
            if let decoderBlocks { config.decoderBlocks = decoderBlocks }
            if let widths { for i in config.stages.indices { config.stages[i].channels = widths[i] } }
            if let decoderWidths { config.decoderChannels = decoderWidths }
            if let latentChannels { config.latentChannels = latentChannels }
            (config.layers, config.name) = try presetLayers()
            model = try HierarchicalTokenizer(config: config, seed: seed)
        }
        let cfg = model.config
        let cell = cfg.inputGranularity
        if cfg.encoderSize == nil && (crop % cell.h != 0 || crop % cell.w != 0) {
            throw ValidationError("--crop \(crop) does not pool to every layer of \(cfg.name): it must be a multiple of \(cell.h), one cell of its coarsest grid in pixels.")
        }
        if refineRounds > 0 && !model.canRefine(height: crop, width: crop) {
            throw ValidationError("--refine-rounds needs crops the model encodes at their own size; \(cfg.name) resizes whole \(cfg.frameSize)² frames to \(cfg.encoderSize ?? 0)² (use a smaller --crop).")
        }
        let (trainVideos, heldVideos, videoSources) = try loadVideos(fps: cfg.fps, size: cfg.frameSize)
        guard !trainVideos.isEmpty else { throw ValidationError("No videos found in --data.") }
        let dataset = ClipDataset(videos: trainVideos)
        if Set(videoSources).count > 1 {
            // Windows are drawn per source, not per frame: one long video must not dominate what the model sees.
            let weights = ClipDataset.cappedWeights(sources: videoSources, kinds: sourceKinds())
            dataset.setSources(videoSources, weights: weights)
            Console.note("hv-train: sampling \(weights.count) sources: " + dataset.sourceWeights.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.1f", 100 * $0.value))%" }.joined(separator: ", "))
        }
        let held = ClipDataset(videos: heldVideos)
        for v in dataset.videos + held.videos where v.width < crop || v.height < crop || v.frames.isEmpty {
            throw TokenizerError.inputMismatch("video \(v.name) is \(v.width)x\(v.height) with \(v.frames.count) frames; need at least \(crop)x\(crop) (hint: hv-decode --size \(cfg.frameSize) --fps \(cfg.fps))")
        }
        // A frozen-token run reads and writes the tokens of the checkpoint it started from (or of the one that
        // checkpoint kept its tokens from); every checkpoint it saves records that identity.
        if freezeTokens {
            model.tokensOf = model.tokensOf ?? model.identity
            try TokenizerCheckpoint.requireStorable(model, as: storage.dtype)   // fail now, not at the first save
        } else {
            model.tokensOf = nil   // the encoder trains, so the tokens become this run's own
        }
        for r in options.learningRateScales where !model.parameters.contains(where: { $0.name.hasPrefix(r.prefix) }) {
            throw ValidationError("--lr-scale: no tensor of \(cfg.name) starts with '\(r.prefix)'.")
        }
        let trainer = TokenizerTrainer(model: model, options: options)
        trainer.bf16Convs = bf16 == .on || (bf16 == .auto && Conv3dAMX.available)
        if trainer.bf16Convs { Console.note("hv-train: training steps run their convs on AMX tiles in bfloat16 (--bf16 off: float32)") }
        let source: ClipSource = fixedWindow ? FixedWindow(dataset, frames: cfg.framesPerClip, crop: crop) : dataset
        let statePath = "\(out)/train-state.safetensors"
        if resume {
            if FileManager.default.fileExists(atPath: statePath) {
                let state = try SafeTensors.load(path: statePath)
                try trainer.restore(state: state.allTensors())
            } else {
                // A committed checkpoint travels without its optimizer state (which is twice the weights): continue
                // from its weights at its step, with fresh Adam moments (they re-estimate within the warm-up).
                let meta = try SafeTensors.load(path: "\(out)/\(TokenizerCheckpoint.weightsFile)").metadata
                guard let s = meta["step"].flatMap(Int.init), s >= 0 else {
                    throw TokenizerError.checkpointUnreadable(path: out, reason: "no train-state.safetensors and no step in the checkpoint's metadata")
                }
                trainer.restart(atStep: s)
                Console.note("hv-train: no train state in \(out): continuing from its weights at step \(s) with fresh optimizer moments")
            }
        }
        // Held-out clips: the first clip of each video at full size.
        var heldClips: [Tensor] = [], heldCounts: [Int] = []
        for v in held.videos {
            let t = Tensor(shape: [0])
            let n = min(cfg.framesPerClip, v.frames.count)
            let s = min(v.width, v.height, cfg.frameSize)
            held.fill(t, video: v, start: 0, frames: cfg.framesPerClip, y0: (v.height - s) / 2, x0: (v.width - s) / 2, size: s)
            heldClips.append(t); heldCounts.append(n)
        }

        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        let log = try CSVLog(path: "\(out)/train.csv", layers: cfg.layers.count, append: resume)
        let progress = Progress("hv-train")
        let began = Date()
        let memory = ProcessMemory.residentMegabytes
        Console.note("hv-train: \(cfg.name): \(model.parameterCount) parameters, \(dataset.videos.count) videos (\(dataset.totalFrames) frames), crop \(crop), BLAS core \(BLAS.coreName)")
        var lastSave = trainer.step
        while trainer.step < min(steps, stopAt ?? steps) {
            let t0 = Date()
            var row = trainer.trainStep(source: source)
            row.seconds = Date().timeIntervalSince(t0)
            let done = trainer.step
            if !heldClips.isEmpty && (done % evalEvery == 0 || done == steps) {
                row.heldOutPSNR = trainer.withAveragedWeights { trainer.evaluate(clips: heldClips, frameCounts: heldCounts) }
            }
            if done % options.logEvery == 0 || row.heldOutPSNR != nil || done == 1 || done == steps { try log.append(row) }
            let residualNote = (residualWeight > 0 ? " residual \(String(format: "%.4f", row.residual))" : "")
                + (refineRounds > 0 ? " refine +\(String(format: "%.2f", row.refineGain)) dB" : "")
            progress.update("step \(done)/\(steps) L1 \(String(format: "%.4f", row.l1))\(residualNote) finest L\(row.finest) \(String(format: "%.2f", row.seconds)) s/step")
            let outOfTime = (minutes > 0 && Date().timeIntervalSince(began) > minutes * 60)
            if snapshotEvery > 0 && done % snapshotEvery == 0 {
                try trainer.withAveragedWeights { try TokenizerCheckpoint.saveSnapshot(model, run: out, step: done) }
            }
            if done % checkpointEvery == 0 || done == steps || outOfTime {
                try save(model: model, trainer: trainer, statePath: statePath)
                lastSave = done
            }
            if outOfTime { break }
        }
        if lastSave != trainer.step { try save(model: model, trainer: trainer, statePath: statePath) }
        progress.finish("step \(trainer.step)/\(steps) in \(Int(Date().timeIntervalSince(began))) s, peak RSS \(max(memory, ProcessMemory.residentMegabytes)) MB")
    }

    private func save(model: HierarchicalTokenizer, trainer: TokenizerTrainer, statePath: String) throws {
        // The checkpoint is what evaluation and export use: the averaged weights when --ema is on.
        try trainer.withAveragedWeights {
            try TokenizerCheckpoint.save(model, to: out, storage: storage.dtype,
                                         metadata: ["step": "\(trainer.step)"])
            try SafeTensors.save(trainer.stateTensors(), dtype: .f32, metadata: ["step": "\(trainer.step)"], to: statePath)
        }
    }
}

/// Video file extensions picked up from folders (besides .y4m), as `hv-manifest add --dir` does.
let videoExtensions: Set<String> = ["y4m", "mp4", "mov", "mkv", "webm", "avi", "m4v", "mpg", "mpeg", "ogv"]

/// Like `expandVideos`, with each file's source: a folder's subfolders are sources of their own (DIR/SOURCE/*.y4m);
/// files given directly or lying in a given folder belong to the source named after their folder.
func expandVideosBySource(_ items: [String]) throws -> [(path: String, source: String)] {
    var out: [(path: String, source: String)] = []
    for item in items {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: item, isDirectory: &isDir) else {
            throw FileError.cannotOpen(path: item, reason: "no such file or directory")
        }
        let folderName = { (p: String) in ((p as NSString).standardizingPath as NSString).lastPathComponent }
        guard isDir.boolValue else {
            out.append((item, folderName((item as NSString).deletingLastPathComponent))); continue
        }
        out += try expandVideos([item]).map { ($0, folderName(item)) }
        for name in try FileManager.default.contentsOfDirectory(atPath: item).sorted() {
            let sub = "\(item)/\(name)"
            var subIsDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: sub, isDirectory: &subIsDir), subIsDir.boolValue, name != "cache" {
                out += try expandVideos([sub]).map { ($0, name) }
            }
        }
    }
    return out
}

/// Files given directly, plus the video files inside folders, sorted.
func expandVideos(_ items: [String]) throws -> [String] {
    var out: [String] = []
    for item in items {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: item, isDirectory: &isDir) else {
            throw FileError.cannotOpen(path: item, reason: "no such file or directory")
        }
        if isDir.boolValue {
            let names = try FileManager.default.contentsOfDirectory(atPath: item)
                .filter { videoExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            out += names.map { "\(item)/\($0)" }
        } else {
            out.append(item)
        }
    }
    return out
}

/// Always the same window: the first clip of the first video, centre-cropped (for --fixed-window).
final class FixedWindow: ClipSource {
    let clip = Tensor(shape: [0])
    init(_ data: ClipDataset, frames: Int, crop: Int) {
        let v = data.videos[0]
        data.fill(clip, video: v, start: 0, frames: frames, y0: (v.height - crop) / 2, x0: (v.width - crop) / 2, size: crop)
    }
    func sample(into x: Tensor, frames: Int, crop: Int, rng: inout SeededRandom) { x.copy(from: clip) }
}

/// Parses N,N,N for the options that give a count per stage.
private func countList(_ s: String, flag: String, example: String, least: Int) throws -> [Int] {
    try s.split(separator: ",", omittingEmptySubsequences: false).map { part -> Int in
        guard let n = Int(part.trimmingCharacters(in: .whitespaces)), n >= least else {
            throw ValidationError("\(flag) takes counts such as \(example), not '\(s)'.")
        }
        return n
    }
}
