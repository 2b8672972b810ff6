// hv-bench gen: decoding speed of the text-to-video generator on one 2448-token clip. KV-cache decoding is
// measured whole; recomputing the prefix for every token (the reference) is measured as full forwards at a few
// prefix lengths and integrated over the clip (trapezoid rule), since running it 2448 times would take
// minutes. Reports tokens/s of both, their ratio, the KV-cache per-token time at the start vs the end, the same
// architecture decoded by PyTorch CPU with a KV cache at the same thread count (bench/peer_gen.py, given this
// config's dims; a loud SKIPPED line when torch is missing), and the time of one training step.
import ArgumentParser
import Foundation
import HVCLI
import HVEngine
import HVGen

struct GenBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gen",
        abstract: "Measure generator decoding: KV cache vs recomputing the prefix, per-token time over the clip.")

    @Option(help: "Generator checkpoint folder (default: a randomly initialised model of --config).")
    var model: String?

    @Option(help: "Architecture preset when no --model is given.")
    var config: GeneratorConfig.Preset = .small

    @Option(help: "Guidance scale; anything but 1 decodes the conditional and unconditional rows as a batch of two.")
    var cfg: Float = 7.5

    @Option(name: .customLong("prefix-points"), help: "Prefix lengths at which the recomputation is timed.")
    var prefixPoints: Int = 5

    @Option(help: "Folder of the peer scripts (bench/peer_gen.py: the same model in PyTorch CPU).")
    var peers: String = "bench"

    func validate() throws {
        if prefixPoints < 2 { throw ValidationError("--prefix-points must be at least 2") }
    }

    func run() throws {
        let gen = try model.map { try GeneratorCheckpoint.load(from: $0).model } ?? GeneratorModel(config: config.config, seed: 1)
        let c = gen.config, n = c.videoTokens
        print("OpenBLAS core: \(BLAS.coreName), threads \(BLAS.threads); cores \(Parallel.workers); the peer runs at \(threads) threads")
        print("generator \(c.name): \(c.parameterCount) parameters, \(c.textLength) text + \(n) video positions")
        var rng = SeededRandom(seed: 2)
        let text = Tensor(shape: [12, c.textDim])
        text.randomNormal(std: 1, rng: &rng)

        // KV cache: one whole clip, timing every token; with the cache's 8-bit copies and the weights' half copies
        // (what hv-gen uses where the CPU allows) and, for comparison, with the half cache, and from float32.
        let generator = Generator(model: gen)
        let batch = cfg == 1 ? 1 : 2
        func decodeClip(cache: KVCache.Precision, halfWeights: Bool) throws -> (codes: [UInt32], tokensPerSecond: Double) {
            let saved = (KVCache.defaultPrecision, Generator.halfWeightsByDefault)
            (KVCache.defaultPrecision, Generator.halfWeightsByDefault) = (cache, halfWeights)
            defer { (KVCache.defaultPrecision, Generator.halfWeightsByDefault) = saved }
            var stamps: [UInt64] = []
            stamps.reserveCapacity(n + 1)
            let start = DispatchTime.now().uptimeNanoseconds
            let codes = try generator.sample(text: text, options: SamplingOptions(cfgScale: cfg, seed: 3)) { _ in
                stamps.append(DispatchTime.now().uptimeNanoseconds)
            }
            let kvSeconds = Double(stamps.last! - start) / 1e9
            let prefill = Double(stamps[0] - start) / 1e9
            let window = min(100, n / 4)
            // ms per token between stamps lo and hi (stamp k: token k has been sampled).
            func perToken(_ lo: Int, _ hi: Int) -> Double { Double(stamps[hi] - stamps[lo]) / 1e6 / Double(hi - lo) }
            let early = perToken(0, window), late = perToken(n - 1 - window, n - 1)
            let what = "kv cache (\(cache.rawValue) cache, \(halfWeights ? "half" : "float32") weights)"
            print(what + String(format: ": %.2f s for %d tokens (batch %d) = %.1f tokens/s; prefill %.1f ms", kvSeconds, n, batch, Double(n) / kvSeconds, prefill * 1e3))
            print(what + String(format: " per token: %.2f ms at the start (tokens 1-%d), %.2f ms at the end (last %d); end/start %.2f",
                         early, window, late, window, late / early))
            return (codes, Double(n) / kvSeconds)
        }
        let halfWeights = HalfWeight.available
        let shipped = KVCache.available(KVCache.defaultPrecision, headDim: c.headDim) ? KVCache.defaultPrecision : .float32
        if shipped == .float32 { print("kv cache: float32 rows only (no AVX2 with FMA, or a head size that is not a multiple of 8)") }
        if !halfWeights { print("kv cache: float32 weights (no AVX2 with FMA and F16C)") }
        if shipped != .float32 || halfWeights { _ = try decodeClip(cache: .float32, halfWeights: false) }
        if shipped != .half && KVCache.halfAvailable(headDim: c.headDim) { _ = try decodeClip(cache: .half, halfWeights: halfWeights) }
        let (codes, tokensPerSecond) = try decodeClip(cache: shipped, halfWeights: halfWeights)
        pytorchPeer(c, prefixRows: text.shape[0], ourTokensPerSecond: tokensPerSecond)
        try draftsBench(generator, text: text)

        // Recomputation: full forward (same batch) at `prefixPoints` prefix lengths, trapezoid over 1...n.
        let texts: [Tensor?] = batch == 2 ? [text, nil] : [text]
        let points = (0..<prefixPoints).map { 1 + (n - 1) * $0 / (prefixPoints - 1) }
        var times: [Double] = []
        for p in points {
            let examples = texts.map { GeneratorExample(text: $0, video: codes) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            _ = try gen.logits(examples, predicted: p)
            times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            print(String(format: "  recompute at prefix %4d: %.1f ms per token", p, times.last! * 1e3))
        }
        var total = 0.0
        for i in 1..<points.count { total += 0.5 * (times[i] + times[i - 1]) * Double(points[i] - points[i - 1]) }
        total += times[0]
        print(String(format: "recompute (estimated over the clip): %.1f s = %.2f tokens/s", total, Double(n) / total))
        print(String(format: "kv cache speed-up: %.1fx", total / (Double(n) / tokensPerSecond)))

        // One training step (batch 1, forward + backward + AdamW) on the sampled clip, for planning runs.
        let trainer = try LMTrainer(model: gen, data: [LMExample(caption: text, video: codes)], options: LMTrainingOptions())
        _ = try trainer.trainStep()
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<2 { _ = try trainer.trainStep() }
        let step = Double(DispatchTime.now().uptimeNanoseconds - t0) / 2e9
        print(String(format: "training step (batch 1, %d positions): %.2f s; recompute-forward at full length / step = %.2f",
                     c.sequenceLength - 1, step, times.last! / step))
    }

    /// The shipped sampling's search (models/generator/sampling.json: 16 drafts of L3, the most probable kept, then 8
    /// drafts of L3 + L2 + L1 after it), its drafts decoded side by side as one batch against one after another (the
    /// reference, which gives the same codes): the search and the 400 tokens after it, alternating, best of three.
    func draftsBench(_ generator: Generator, text: Tensor) throws {
        let layers = generator.model.config.layers
        guard layers.count >= 3 else { return }
        let lead = layers.prefix(3).reduce(0) { $0 + $1.tokenCount }
        let options = SamplingOptions(cfgScale: cfg, temperature: 0.5, seed: 4)
        var seconds: [Bool: [Double]] = [false: [], true: []], codes: [Bool: [UInt32]] = [:]
        defer { Generator.batchedDrafts = true }
        for _ in 0..<3 {
            for batched in [false, true] {
                Generator.batchedDrafts = batched
                let t0 = DispatchTime.now().uptimeNanoseconds
                codes[batched] = try generator.sampleReranked(text: text, options: options, candidates: 8, layers: 3,
                                                              firstCandidates: 16, likelihood: true, count: lead).codes
                seconds[batched]!.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
        }
        let one = seconds[false]!.min()!, side = seconds[true]!.min()!
        print(String(format: "drafts (16 of L3, then 8 of %d tokens; cfg %g): one after another %.2f s, side by side %.2f s (best of 3) = %.2f× faster; same codes: %@",
                     lead, cfg, one, side, one / side, codes[false] == codes[true] ? "yes" : "NO"))
    }

    /// The threads ours can use: OpenBLAS's for the GEMMs, the affinity mask's for the other loops (`taskset -c 0
    /// OPENBLAS_NUM_THREADS=1 hv-bench gen` is the one-thread run); the peer is given the same count.
    var threads: Int { max(1, min(BLAS.threads, Parallel.workers)) }

    /// Runs bench/peer_gen.py on this config's shapes (KV-cache decoding of one clip, same batch and prefix) and
    /// prints its tokens/s against ours, or a SKIPPED line (exit 3: torch is not installed).
    func pytorchPeer(_ c: GeneratorConfig, prefixRows: Int, ourTokensPerSecond ours: Double) {
        let layers = c.layers.map { "\($0.gridT)x\($0.gridH)x\($0.gridW):\($0.bits)" }.joined(separator: ",")
        let args = ["--width", "\(c.width)", "--depth", "\(c.depth)", "--heads", "\(c.heads)", "--ffn-hidden", "\(c.ffnHidden)",
                    "--text-length", "\(c.textLength)", "--text-dim", "\(c.textDim)", "--prefix-rows", "\(prefixRows)",
                    "--layers", layers, "--group-bits", "\(c.groupBits)", "--rope-base", "\(c.ropeBase)", "--eps", "\(c.normEps)",
                    "--cfg", "\(cfg)", "--threads", "\(threads)"]
        let obj: [String: Any]
        switch PeerScript.json("\(peers)/peer_gen.py", args) {
        case .failure(let skip): print("pytorch kv cache: SKIPPED — \(skip.reason)"); return
        case .success(let o): obj = o
        }
        guard let tps = obj["tokens_per_s"] as? Double else {
            print("pytorch kv cache: SKIPPED — the peer printed no tokens_per_s"); return
        }
        let start = obj["start_ms"] as? Double ?? .nan, end = obj["end_ms"] as? Double ?? .nan
        print(String(format: "pytorch kv cache: %.1f tokens/s; ours / pytorch = %.2f× (torch %@, threads %d; %.2f ms per token at the start, %.2f ms at the end)",
                     tps, ours / tps, obj["torch"] as? String ?? "?", obj["threads"] as? Int ?? 0, start, end))
    }
}

extension GeneratorConfig.Preset: ExpressibleByArgument {}
