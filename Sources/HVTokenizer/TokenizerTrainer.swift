// Tokenizer training (paper sections 3.2 and 4.1): L1 + perceptual (multi-scale gradient L1, see
// GradientLoss.swift) + adversarial (3D patch discriminator, hinge loss, switched on after a warm-up)
// + LFQ entropy penalty and commitment loss, with the paper's progressive schedule: the most compressed
// layer is trained first, then each denser layer is added in turn. Once all layers are on, a fraction
// of steps decodes from a randomly truncated, coarse-only sum so that rendering from the coarse layers
// alone stays a recognisable video.
import Foundation
import HVEngine

public struct TokenizerTrainingOptions: Codable, Sendable {
    public var steps = 4000
    public var learningRate: Float = 4e-4
    public var warmupSteps = 100
    public var minLearningRateFraction: Float = 0.1
    public var weightDecay: Float = 1e-4
    public var gradClip: Float = 1.0
    public var crop = 128
    public var batch = 1
    public var perceptualWeight: Float = 0.5
    /// Weight of a mean-squared-error term added to L1. L1's gradient has the same size for every pixel;
    /// MSE's grows with the error, which pulls the low frequencies (level, colour, layout) in first.
    public var l2Weight: Float = 0
    /// Weight of the temporal-difference L1 (`GradientLoss.temporal`): charges a render whose frame-to-frame
    /// change differs from the source's, which per-frame losses leave free (motion inside a latent step).
    public var temporalWeight: Float = 0
    /// Scales of the temporal term (GradientLoss.temporal): 3 is full resolution, 2×2 and 4×4.
    public var temporalScales: Int = 3
    /// Weight of the mean-colour L1 (`ColourLoss`): each channel's mean over the crop against the source's.
    public var colourWeight: Float = 0
    public var entropyWeight: Float = 0.02
    public var commitWeight: Float = 0.25
    public var entropyTemperature: Float = 1.0
    public var adversarialWeight: Float = 0.05
    /// Step at which the discriminator and adversarial loss switch on (as a fraction of `steps`).
    public var adversarialStart: Float = 0.6
    /// Fractions of `steps` at which each denser layer joins (coarsest alone before the first).
    public var progressiveSchedule: [Float] = [0.05, 0.12, 0.2]
    /// Probability, once every layer is on, that a step decodes from a coarser truncated sum.
    public var truncationProbability: Float = 0.25
    /// Soft-to-hard quantisation warm-up, as a fraction of `steps`: the decoder input goes linearly from the
    /// normalised continuous latent to the ±1 codes (Agustsson et al. 2017). 0 disables it.
    public var quantizationWarmup: Float = 0.3
    /// Weight of the residual-matching loss (see `HierarchicalTokenizer.forward`); 0 disables it.
    public var residualWeight: Float = 0
    /// Train the learned mask embedding by masking dense tokens at random (for `hv-mask --strategy learned`).
    public var maskTraining = false
    /// Probability per crop (steps that decode every layer) of masking layer 0 as `hv-mask --strategy repeat
    /// --ratio 0.85` does, each masked token taking its predecessor's code: the decoder learns to render masked
    /// streams, the encoder that its codes may be reused. 0: off.
    public var repeatMaskTraining: Float = 0
    /// Train only the render side (`HierarchicalTokenizer.renderParameters`: the densest layer's up path, the mask
    /// embeddings, the decoder): everything that decides tokens stays as loaded, so every clip's tokens stay what
    /// they were (pretokenized data and a generator trained on them stay valid) while decoding improves.
    /// Quantisation is hard throughout.
    public var freezeTokens = false
    /// Exponential moving average of the trained weights (0: off). With it, evaluation and saved checkpoints use
    /// the average (less noisy than the last batch's weights); the raw weights live on in the train state.
    /// The decay ramps up as min(emaDecay, (1 + step) / (10 + step)) so that early averages do not lag.
    public var emaDecay: Float = 0
    /// Learning-rate multiples by parameter-name prefix, e.g. ("encoder.", 0.2): a grown model's kept tensors
    /// learn slower than the layers added to them.
    public var learningRateScales: [RateScale] = []
    /// Rounds of decoder-guided refinement (CodeRefinement.swift) of each sample's layer-0 codes before its training
    /// pass, on steps that train layer 0 (0: off). The decoder then learns from the refined codes — what
    /// `hv-encode --refine` will hand it — instead of the encoder's own, as a semi-amortised autoencoder does.
    public var refineRounds = 0
    /// With `refineRounds`: weight of a hinge loss mean(max(0, margin − s·e)) pulling layer 0's pre-quantisation
    /// activations e towards the refined signs s, so that the encoder learns to produce the refined codes itself.
    public var refineTargetWeight: Float = 0
    public var refineTargetMargin: Float = 0.5
    /// Steps over which the coarse contributions' subtraction from the residual rises from 0 to 1 (0: always 1).
    public var subtractionRamp = 0
    public struct RateScale: Codable, Sendable {
        public var prefix: String, scale: Float
        public init(prefix: String, scale: Float) { self.prefix = prefix; self.scale = scale }
    }
    /// Copies of the model that train a step's crops side by side, one core each, their gradients summed before the
    /// update (0: one per core, at most `batch`; 1: every crop in turn on all cores). Steps with the adversarial
    /// loss, refinement or mask training run their crops in turn whatever this says.
    public var replicas = 0
    public var seed: UInt64 = 1
    public var logEvery = 10
    public var evalEvery = 200
    public var checkpointEvery = 100
    public init() {}
}

/// One row of the training log.
public struct TrainingLogRow {
    public var step: Int
    public var seconds: Double
    public var learningRate: Float
    public var finest: Int
    public var l1: Float
    public var perceptual: Float
    public var adversarialG: Float
    public var adversarialD: Float
    public var entropy: [Float]
    public var commit: [Float]
    public var usage: [Int]
    public var gradNorm: Float
    public var hardness: Float = 1
    /// Sum over layers of the weighted residual-matching loss (0 when it is off); train.csv column `residual`.
    public var residual: Float = 0
    /// The unweighted temporal-difference L1 (0 when its weight is 0); train.csv column `temporal`.
    public var temporal: Float = 0
    /// The unweighted mean-colour L1 (0 when its weight is 0); train.csv column `colour`.
    public var colour: Float = 0
    /// dB the refinement gained over the encoder's codes on this step's samples (0 when it is off; progress line only).
    public var refineGain: Float = 0
    public var heldOutPSNR: [Double]?
}

public final class TokenizerTrainer {
    public let model: HierarchicalTokenizer
    public let options: TokenizerTrainingOptions
    let discriminator = Discriminator3D()
    let optimizer: AdamW
    /// What the optimizer updates: all of the model, or only its render side with frozen tokens.
    let trained: [Parameter]
    let discOptimizer: AdamW
    let schedule: LRSchedule
    var rng: SeededRandom
    public private(set) var step = 0
    /// Step of a restart with fresh optimizer moments: the learning rate warms up again from there.
    private var restartWarmup: Int? = nil
    /// EMA of `trained` (empty when off). While `withAveragedWeights` runs, it holds the raw weights instead.
    private var ema: [Tensor] = []

    /// A crop's input and output-gradient buffers; one per model that trains crops side by side.
    final class Lane {
        let x = Tensor(shape: [0])
        let dRecon = Tensor(shape: [0])
        let dL2 = Tensor(shape: [0])
    }
    private let lanes: [Lane]
    /// The models beside `model` (its copies, weights synchronised at every step), one per further lane.
    private let copies: [HierarchicalTokenizer]
    /// Models that ran crops side by side in the last step (1: in turn).
    public private(set) var lastStepReplicas = 1
    private var x: Tensor { lanes[0].x }
    private var dRecon: Tensor { lanes[0].dRecon }
    private let dLogits = Tensor(shape: [0])
    private let dLogits2 = Tensor(shape: [0])
    private let fakeCopy = Tensor(shape: [0])

    public init(model: HierarchicalTokenizer, options: TokenizerTrainingOptions) {
        self.model = model
        self.options = options
        trained = options.freezeTokens ? model.renderParameters : model.parameters
        optimizer = AdamW(parameters: trained, learningRate: options.learningRate,
                          beta1: 0.9, beta2: 0.99, epsilon: 1e-8, weightDecay: options.weightDecay)
        for r in options.learningRateScales { optimizer.scaleLearningRate(prefix: r.prefix, by: r.scale) }
        discOptimizer = AdamW(parameters: discriminator.parameters, learningRate: options.learningRate,
                              beta1: 0.5, beta2: 0.99, epsilon: 1e-8, weightDecay: 0)
        schedule = LRSchedule(peak: options.learningRate, warmupSteps: options.warmupSteps,
                              totalSteps: options.steps, floorFraction: options.minLearningRateFraction)
        rng = SeededRandom(seed: options.seed)
        if options.emaDecay > 0 { ema = trained.map { $0.value.clone() } }
        let replicas = options.replicas > 0 ? options.replicas : min(Parallel.cores, options.batch)
        lanes = (0..<max(1, min(replicas, options.batch))).map { _ in Lane() }
        copies = lanes.dropFirst().map { _ in
            // Random weights, overwritten from `model` before each step that uses them.
            let copy = try! HierarchicalTokenizer(config: model.config)   // cannot throw: `model` was built from it
            precondition(copy.parameters.map(\.name) == model.parameters.map(\.name))
            return copy
        }
    }

    /// Runs `body` with the model holding its averaged weights (as they are, when EMA is off).
    public func withAveragedWeights<T>(_ body: () throws -> T) rethrows -> T {
        func swap() { for (p, e) in zip(trained, ema) { swapContents(p.value, e) } }
        swap()
        defer { swap() }
        return try body()
    }

    private func swapContents(_ a: Tensor, _ b: Tensor) {
        for i in 0..<a.count { let t = a[i]; a[i] = b[i]; b[i] = t }
    }

    private func updateAverage() {
        guard !ema.isEmpty else { return }
        let d = min(options.emaDecay, Float(1 + step) / Float(10 + step))
        for (p, e) in zip(trained, ema) { emaUpdate(average: e, value: p.value, decay: d) }
    }

    /// The finest layer trained at `step` under the progressive schedule (layers count from 0 = densest).
    public func finestLayer(at step: Int, rng: inout SeededRandom) -> Int {
        let n = model.config.layers.count
        var finest = n - 1
        for (k, f) in options.progressiveSchedule.enumerated() where Float(step) >= f * Float(options.steps) {
            finest = max(0, n - 2 - k)
        }
        if finest == 0 && n > 1 && rng.uniform() < options.truncationProbability {
            finest = 1 + Int(rng.next() % UInt64(n - 1))
        }
        return finest
    }

    /// Whether training steps run their stride-1 convs on AMX tiles in bfloat16 (`Conv3dTuning.bf16`; float32 sums).
    /// Evaluation and everything outside `trainStep` keep float32.
    public var bf16Convs = false

    /// One optimisation step over `options.batch` random clips. Returns the log row (without eval).
    public func trainStep(source data: ClipSource) -> TrainingLogRow {
        let savedPrecision = Conv3dTuning.bf16
        Conv3dTuning.bf16 = bf16Convs
        defer { Conv3dTuning.bf16 = savedPrecision }
        let o = options
        let frames = model.config.framesPerClip
        var lr = schedule.rate(at: step)
        if let r = restartWarmup, step - r < o.warmupSteps { lr *= Float(step - r + 1) / Float(o.warmupSteps) }
        let finest = finestLayer(at: step, rng: &rng)
        let adversarial = o.adversarialWeight > 0 && Float(step) >= o.adversarialStart * Float(o.steps)
        model.zeroGrad()
        discriminator.zeroGrad()
        var row = TrainingLogRow(step: step, seconds: 0, learningRate: lr, finest: finest, l1: 0, perceptual: 0,
                                 adversarialG: 0, adversarialD: 0,
                                 entropy: [Float](repeating: 0, count: model.config.layers.count),
                                 commit: [Float](repeating: 0, count: model.config.layers.count),
                                 usage: [Int](repeating: 0, count: model.config.layers.count),
                                 gradNorm: 0, heldOutPSNR: nil)
        let inv = 1 / Float(o.batch)
        let warm = o.quantizationWarmup * Float(o.steps)
        let hardness: Float = warm > 0 && !o.freezeTokens ? min(1, Float(step) / warm) : 1
        row.hardness = hardness
        let subtraction: Float = o.subtractionRamp > 0 ? min(1, Float(step) / Float(o.subtractionRamp)) : 1
        var discSteps = 0
        let sideBySide = lanes.count > 1 && !adversarial && o.refineRounds == 0 && !o.maskTraining
            && o.repeatMaskTraining == 0
        lastStepReplicas = sideBySide ? lanes.count : 1
        if sideBySide {
            // Rounds of one crop per lane, drawn in the order the crops-in-turn loop draws them; each lane's model
            // accumulates its crops' gradients, which are summed into `model`'s after the last round.
            for c in copies {
                for (p, q) in zip(model.parameters, c.parameters) { q.value.copy(from: p.value) }
                c.zeroGrad()
            }
            let models = [model] + copies
            var done = 0
            while done < o.batch {
                let n = min(lanes.count, o.batch - done)
                for k in 0..<n { data.sample(into: lanes[k].x, frames: frames, crop: o.crop, rng: &rng) }
                var results = [CropLosses](repeating: CropLosses(layers: model.config.layers.count), count: n)
                results.withUnsafeMutableBufferPointer { out in
                    let out = out.baseAddress!
                    Parallel.independent(n) { k in
                        var unused = SeededRandom(seed: 0)   // the forward draws only for masking, which is off here
                        out[k] = cropPass(models[k], lanes[k], finest: finest, hardness: hardness,
                                          subtraction: subtraction, maskFraction: 0, refined: nil, rng: &unused)
                    }
                }
                for r in results { r.add(to: &row) }
                done += n
            }
            for c in copies {
                for (p, q) in zip(model.parameters, c.parameters) { addInPlace(p.grad, q.grad) }
            }
        } else {
            for _ in 0..<o.batch {
                data.sample(into: x, frames: frames, crop: o.crop, rng: &rng)
                // Mask training: half of the steps mask a random 50–85 % of the dense tokens.
                let maskFraction: Float = o.maskTraining && finest == 0 && rng.uniform() < 0.5 ? 0.5 + 0.35 * rng.uniform() : 0
                var refined: HierarchicalTokenizer.CodeTargets? = nil
                if o.refineRounds > 0 && finest == 0 && maskFraction == 0 {
                    let idx = model.encode(x)
                    let (r, st) = model.refine(x, indices: idx, count: frames, options: CodeRefinement(rounds: o.refineRounds))
                    refined = .init(indices: r[0], weight: o.refineTargetWeight * inv, margin: o.refineTargetMargin)
                    row.refineGain += Float(10 * log10(st.mseBefore / max(st.mseAfter, 1e-12))) * inv
                }
                // Drawn only when the option is on, so that runs without it draw the same crops as before.
                let repeatMask = o.repeatMaskTraining > 0 && finest == 0 && maskFraction == 0 && refined == nil
                    && rng.uniform() < o.repeatMaskTraining
                let maskSeed = repeatMask ? rng.next() : 0
                var fake: Tensor? = nil
                let losses = cropPass(model, lanes[0], finest: finest, hardness: hardness, subtraction: subtraction,
                                      maskFraction: maskFraction, refined: refined,
                                      repeatMaskRatio: repeatMask ? 0.85 : 0, maskSeed: maskSeed, rng: &rng) { recon in
                    guard adversarial else { return }
                    // Generator: push D(recon) up. D's parameter gradients from this pass are discarded below.
                    fakeCopy.copy(from: recon)
                    fake = fakeCopy
                    let logits = discriminator.forward(fakeCopy)
                    dLogits.resize(logits.shape)
                    row.adversarialG += hingeGeneratorLoss(fakeLogits: logits, grad: dLogits) * inv
                    dLogits.scale(by: o.adversarialWeight * inv)
                    let dFake = discriminator.backward(dLogits)
                    addInPlace(dRecon, dFake)
                }
                losses.add(to: &row)
                if let fakeCopy = fake {
                    // Discriminator: real clip vs the (detached) reconstruction.
                    discriminator.zeroGrad()
                    let realLogits = discriminator.forward(x).clone()
                    let fakeLogits = discriminator.forward(fakeCopy).clone()
                    dLogits.resize(realLogits.shape); dLogits2.resize(fakeLogits.shape)
                    row.adversarialD += hingeDiscriminatorLoss(realLogits: realLogits, fakeLogits: fakeLogits,
                                                               gradReal: dLogits, gradFake: dLogits2) * inv
                    _ = discriminator.forward(x)
                    _ = discriminator.backward(dLogits)
                    _ = discriminator.forward(fakeCopy)
                    _ = discriminator.backward(dLogits2)
                    discSteps += 1
                }
            }
        }
        row.gradNorm = clipGradNorm(trained, maxNorm: o.gradClip)
        optimizer.step(learningRate: lr)
        updateAverage()
        if discSteps > 0 {
            _ = clipGradNorm(discriminator.parameters, maxNorm: o.gradClip)
            discOptimizer.step(learningRate: lr)
        }
        step += 1
        return row
    }

    /// One crop's share of a step's log row (already divided by the batch).
    struct CropLosses {
        var l1: Float = 0, perceptual: Float = 0, temporal: Float = 0, colour: Float = 0, residual: Float = 0
        var entropy: [Float], commit: [Float], usage: [Int]
        init(layers: Int) {
            entropy = [Float](repeating: 0, count: layers); commit = entropy
            usage = [Int](repeating: 0, count: layers)
        }
        func add(to row: inout TrainingLogRow) {
            row.l1 += l1; row.perceptual += perceptual; row.temporal += temporal; row.colour += colour
            row.residual += residual
            for m in entropy.indices {
                row.entropy[m] += entropy[m]; row.commit[m] += commit[m]
                row.usage[m] = max(row.usage[m], usage[m])
            }
        }
    }

    /// Forward, losses and backward of the crop in `lane.x` on `m`, its parameter gradients (weighted 1/batch) added
    /// to what `m` holds. `beforeBackward` sees the reconstruction and may add to `lane.dRecon` (the adversarial term).
    private func cropPass(_ m: HierarchicalTokenizer, _ lane: Lane, finest: Int, hardness: Float, subtraction: Float,
                          maskFraction: Float, refined: HierarchicalTokenizer.CodeTargets?,
                          repeatMaskRatio: Float = 0, maskSeed: UInt64 = 0, rng: inout SeededRandom,
                          beforeBackward: (Tensor) -> Void = { _ in }) -> CropLosses {
        let o = options
        let inv = 1 / Float(o.batch)
        let x = lane.x, dRecon = lane.dRecon
        let (recon, stats) = m.forward(x, finest: finest, entropyWeight: o.entropyWeight * inv,
                                       commitWeight: o.commitWeight * inv, temperature: o.entropyTemperature,
                                       maskFraction: maskFraction, hardness: hardness,
                                       residualWeight: o.residualWeight * inv, subtraction: subtraction,
                                       layer0Targets: refined, repeatMaskRatio: repeatMaskRatio, maskSeed: maskSeed,
                                       rng: &rng)
        var losses = CropLosses(layers: m.config.layers.count)
        dRecon.resize(recon.shape); dRecon.zero()
        losses.l1 = l1Loss(pred: recon, target: x, grad: dRecon) * inv
        if o.l2Weight > 0 {
            lane.dL2.resize(recon.shape)
            _ = l2Loss(pred: recon, target: x, grad: lane.dL2)   // only its gradient is used; train.csv logs L1
            axpy(o.l2Weight, lane.dL2, dRecon)
        }
        if inv != 1 { dRecon.scale(by: inv) }
        losses.perceptual = GradientLoss.compute(pred: recon, target: x, weight: o.perceptualWeight * inv, grad: dRecon) * inv
        if o.temporalWeight > 0 {
            losses.temporal = GradientLoss.temporal(pred: recon, target: x, weight: o.temporalWeight * inv, grad: dRecon,
                                                     scales: o.temporalScales) * inv
        }
        if o.colourWeight > 0 {
            losses.colour = ColourLoss.compute(pred: recon, target: x, weight: o.colourWeight * inv, grad: dRecon) * inv
        }
        for (k, s) in stats.enumerated() {
            guard let s else { continue }
            losses.entropy[k] = s.entropyLoss * inv
            losses.commit[k] = s.commitLoss * inv
            losses.residual += s.residualLoss
            losses.usage[k] = Set(s.indices).count
        }
        beforeBackward(recon)
        m.backward(dRecon, throughTokens: !o.freezeTokens)
        return losses
    }

    /// Held-out PSNR when decoding from the coarsest layer only, then adding each denser layer.
    /// Index k of the result: decoded from layers n−1 … n−1−k.
    public func evaluate(clips: [Tensor], frameCounts: [Int]) -> [Double] {
        let n = model.config.layers.count
        var sums = [Double](repeating: 0, count: n)
        for (clip, count) in zip(clips, frameCounts) {
            let idx = model.encode(clip)
            for k in 0..<n {
                let given: [[UInt32]?] = (0..<n).map { $0 >= n - 1 - k ? idx[$0] : nil }
                let rec = model.decode(indices: given, frames: clip.shape[0], height: clip.shape[1], width: clip.shape[2])
                sums[k] += VideoTensor.psnr(rec, clip, frames: count)
            }
        }
        return sums.map { $0 / Double(max(clips.count, 1)) }
    }

    // MARK: - Resume state

    /// Optimizer moments, discriminator weights and counters, for `hv-train --resume`.
    public func stateTensors() -> [(String, Tensor)] {
        var out: [(String, Tensor)] = []
        out += optimizer.stateTensors(prefix: "adam.")
        out += discOptimizer.stateTensors(prefix: "disc_adam.")
        out += discriminator.parameters.map { ($0.name, $0.value) }
        let counters = Tensor(shape: [2], values: [Float(step), 0])
        out.append(("trainer.step", counters))
        // With EMA the checkpoint holds the average (saved inside withAveragedWeights); the raw weights are here.
        // Called outside withAveragedWeights, `ema` is the average: store whichever the model does not hold.
        for (p, e) in zip(trained, ema) { out.append(("ema_other.\(p.name)", e)) }
        return out
    }

    /// Continues at `step` from the model's current weights (also the average's start) with fresh optimizer state:
    /// resuming from a checkpoint that travelled without its train state.
    public func restart(atStep s: Int) {
        step = s
        for (p, e) in zip(trained, ema) { e.copy(from: p.value) }
        rng = SeededRandom(seed: options.seed &+ UInt64(step) &* 0x9E37)
        restartWarmup = step
    }

    public func restore(state: [String: Tensor]) throws {
        try optimizer.restore(state, prefix: "adam.")
        try discOptimizer.restore(state, prefix: "disc_adam.")
        for p in discriminator.parameters {
            guard let t = state[p.name], t.shape == p.value.shape else {
                throw TokenizerError.checkpointUnreadable(path: "train-state", reason: "missing or mis-shaped \(p.name)")
            }
            p.value.copy(from: t)
        }
        guard let c = state["trainer.step"] else {
            throw TokenizerError.checkpointUnreadable(path: "train-state", reason: "missing trainer.step")
        }
        step = Int(c[0])
        if !ema.isEmpty {
            // The checkpoint loaded into the model is the average; the raw weights continue training.
            for (p, e) in zip(trained, ema) {
                guard let raw = state["ema_other.\(p.name)"], raw.shape == p.value.shape else {
                    e.copy(from: p.value); continue   // a run without EMA so far: start the average here
                }
                e.copy(from: p.value)
                p.value.copy(from: raw)
            }
        }
        // Different stream after a resume, reproducible from (seed, step).
        rng = SeededRandom(seed: options.seed &+ UInt64(step) &* 0x9E37)
    }
}
