// Training loop of the text-to-video model (paper section 3.3): shifted next-token loss per layer with
// per-layer weights, caption dropout to the learned null text (for CFG), token dropout, AdamW with warm-up +
// cosine decay, global-norm clipping. Every step's randomness comes from (seed, step), so a run resumed from a
// checkpoint continues exactly as an uninterrupted one would.
import Foundation
import HVEngine
import HVFormat

/// One training clip: the states [len, textDim] of each caption it is known by and its video codes (sequence
/// order, config.videoTokens). A step trains on one of the captions, drawn uniformly; evaluation uses the first.
/// `source` names what the clip was cut from (a video, or the photograph of a photo-motion clip): with
/// `LMTrainingOptions.balanceSources` every source is drawn equally often, however many clips it gave.
public struct LMExample {
    public var captions: [Tensor]
    public var video: [UInt32]
    public var source: String
    public var caption: Tensor { captions[0] }
    public init(caption: Tensor, video: [UInt32], source: String = "") { self.init(captions: [caption], video: video, source: source) }
    public init(captions: [Tensor], video: [UInt32], source: String = "") {
        precondition(!captions.isEmpty, "a training clip needs a caption")
        self.captions = captions; self.video = video; self.source = source
    }

    /// What a clip named by a token file, path or manifest video key was cut from: the video, or for a
    /// photo-motion clip NAME-vK (pipelines/photo-clips.sh) the photograph NAME, whose clips are one source
    /// however they were framed.
    public static func source(ofClipNamed name: String) -> String {
        let base = (name as NSString).lastPathComponent
        let stem = base.hasSuffix(".hvt") || base.hasSuffix(".y4m") ? String(base.dropLast(4)) : base
        guard let r = stem.range(of: "-v[0-9]+$", options: .regularExpression) else { return stem }
        return String(stem[..<r.lowerBound])
    }
}

public struct LMTrainingOptions: Sendable {
    public var steps = 1000
    public var batchSize = 1
    public var learningRate: Float = 1e-3
    public var warmupSteps = 50
    /// Final learning rate as a fraction of the peak.
    public var floorFraction: Float = 0.1
    public var weightDecay: Float = 0.01
    public var clipNorm: Float = 1
    /// Per sequence layer (config order); nil = all 1.
    public var layerWeights: [Float]? = nil
    public var seed: UInt64 = 0
    /// Draw a source uniformly, then one of its clips, instead of a clip uniformly: a video cut into many clips
    /// (the cartoon gives a quarter of the generator's clips) then weighs no more in training than a photograph's
    /// few, so it does not become the unconditional distribution's mode.
    public var balanceSources = false
    public init() {}
}

public struct LMStepReport {
    public var step: Int
    public var loss: GeneratorLoss
    public var learningRate: Float
    public var gradNorm: Float
    public var captionsDropped: Int
}

public final class LMTrainer {
    public let model: GeneratorModel
    public let optimizer: AdamW
    public let options: LMTrainingOptions
    public let data: [LMExample]
    /// Steps completed.
    public var step = 0
    let weights: [Float]
    /// Indices into `data` per source, sources in order of first appearance (balanced draws only).
    let sourceClips: [[Int]]

    public init(model: GeneratorModel, data: [LMExample], options: LMTrainingOptions) throws {
        guard !data.isEmpty else { throw GenError.badTokens(reason: "no training clips") }
        let n = model.config.videoTokens
        for (i, ex) in data.enumerated() where ex.video.count != n {
            throw GenError.badTokens(reason: "clip \(i) has \(ex.video.count) video tokens, the model expects \(n)")
        }
        let w = options.layerWeights ?? Array(repeating: 1, count: model.config.layers.count)
        guard w.count == model.config.layers.count, w.allSatisfy({ $0 >= 0 && $0.isFinite }), w.contains(where: { $0 > 0 }) else {
            throw GenError.badOption(reason: "--layer-weights needs \(model.config.layers.count) non-negative numbers, not all zero")
        }
        guard options.batchSize >= 1, options.steps >= 1 else { throw GenError.badOption(reason: "--steps and --batch must be at least 1") }
        self.model = model; self.data = data; self.options = options; weights = w
        var bySource: [String: Int] = [:]
        var groups: [[Int]] = []
        if options.balanceSources {
            for (i, ex) in data.enumerated() {
                if let g = bySource[ex.source] { groups[g].append(i) } else { bySource[ex.source] = groups.count; groups.append([i]) }
            }
        }
        sourceClips = groups
        optimizer = AdamW(parameters: model.parameters, learningRate: options.learningRate, weightDecay: options.weightDecay)
    }

    public func learningRate(at step: Int) -> Float {
        LRSchedule(peak: options.learningRate, warmupSteps: options.warmupSteps, totalSteps: options.steps,
                   floorFraction: options.floorFraction).rate(at: step)
    }

    /// One optimizer step on a batch drawn (with replacement) by the step's generator.
    public func trainStep() throws -> LMStepReport {
        var rng = SeededRandom(seed: options.seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
        var batch: [GeneratorExample] = []
        var dropped = 0
        for _ in 0..<options.batchSize {
            let ex = data[drawClip(&rng)]
            // Drawn only when there is a choice, so that one-caption data trains exactly as before.
            let text = ex.captions.count > 1 ? ex.captions[Int(rng.next() % UInt64(ex.captions.count))] : ex.caption
            let drop = rng.uniform() < model.config.captionDropout
            if drop { dropped += 1 }
            batch.append(GeneratorExample(text: drop ? nil : text, video: ex.video))
        }
        model.zeroGrad()
        let loss = try model.lossAndGradients(batch, layerWeights: weights, rng: &rng)
        let norm = clipGradNorm(model.parameters, maxNorm: options.clipNorm)
        let lr = learningRate(at: step)
        optimizer.step(learningRate: lr)
        step += 1
        return LMStepReport(step: step, loss: loss, learningRate: lr, gradNorm: norm, captionsDropped: dropped)
    }

    /// The index of a training clip: uniform over clips, or over sources then their clips.
    func drawClip(_ rng: inout SeededRandom) -> Int {
        guard options.balanceSources else { return Int(rng.next() % UInt64(data.count)) }
        let clips = sourceClips[Int(rng.next() % UInt64(sourceClips.count))]
        return clips[Int(rng.next() % UInt64(clips.count))]
    }

    /// Per-layer NLL (bits/token) of every clip with its caption, no dropout, no update: forward only
    /// (`GeneratorModel.bits`), a third of what scoring through the training pass cost.
    public func evaluate() throws -> [Double] {
        let layers = model.config.layers
        var sums = [Double](repeating: 0, count: layers.count)
        for ex in data {
            let bits = try model.bits([GeneratorExample(text: ex.caption, video: ex.video)])[0]
            for m in sums.indices { sums[m] += bits[m] / Double(layers[m].tokenCount) / Double(data.count) }
        }
        return sums
    }

    public func save(to dir: String, tokenizer: TokenizerIdentity?) throws {
        try GeneratorCheckpoint.save(model, to: dir, tokenizer: tokenizer)
        try GeneratorCheckpoint.saveTrainState(optimizer, step: step, to: dir)
    }

    /// Restores the optimizer and step from `dir` (the weights are loaded with the model). Returns whether
    /// there was a train state to resume.
    public func resume(from dir: String) throws -> Bool {
        guard let s = try GeneratorCheckpoint.loadTrainState(into: optimizer, from: dir) else { return false }
        step = s
        return true
    }
}
