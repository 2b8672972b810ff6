// Autoregressive decoding with a KV cache (paper section 3.3): the text prefix is prefilled in one pass, then
// each video token is one step over a single new row per sequence. With guidance the conditional and the
// unconditional (null text) sequences run as a batch of two sharing every GEMM; both receive the same sampled
// code. Cost per token is O(position) in attention instead of the O(position²) of recomputing the prefix.
import Foundation
import HVEngine

public final class Generator {
    public let model: GeneratorModel
    private let x = Tensor(shape: [0]), hidden = Tensor(shape: [0])
    /// The last head's output [B, outputs_m]: the head's own buffer, valid until that head runs again.
    private var logitRows = Tensor(shape: [0])
    private var caches: [KVCache] = []
    /// The half-precision copies of the projections the current `decode`'s steps multiply by (empty: float32).
    private var halfBlocks: [DecoderBlock.HalfWeights?] = [], halfHeads: [HalfWeight?] = []
    /// Copies made once for several decodes (`withSharedHalfCopies`); otherwise every `decode` makes its own, since
    /// the model may have trained since the last one.
    private var sharedHalf: (blocks: [DecoderBlock.HalfWeights?], heads: [HalfWeight?])?
    /// The most rows a step multiplies by the half copies (more: float32 SGEMM). Raised for a batch of drafts.
    private var halfRows = HalfWeight.maxRows

    /// Whether `sampleReranked` decodes its drafts side by side as one batch, each step reading the weights once for
    /// all of them, instead of one draft after another. Each draft's logits, codes and score are bit for bit those of
    /// decoding it alone (`decodeDrafts`); tests compare the two.
    public static var batchedDrafts = true

    /// Whether decoding multiplies by half-precision copies of the weights (where the CPU has the kernel): a
    /// decoding step reads every weight once per token, so it is bound by their bytes. Tests and `hv-bench gen`
    /// turn it off to compare with float32.
    public static var halfWeightsByDefault = true

    public init(model: GeneratorModel) { self.model = model }

    var config: GeneratorConfig { model.config }

    /// Runs rows x [B, n, C] at sequence positions `position`..<position+n through the stack with the caches;
    /// sets `logitRows` to head `m`'s logits of each batch item's last row [B, outputs_m].
    private func advance(position: Int, nextLayer m: Int) throws {
        var h = x
        for (i, (blk, cache)) in zip(model.blocks, caches).enumerated() {
            h = try blk.step(h, rope: model.rope, cache: cache, position: position, half: halfBlocks.isEmpty ? nil : halfBlocks[i],
                             halfRows: halfRows)
        }
        let b = h.shape[0], n = h.shape[1], c = config.width
        hidden.resize([b, c])
        for i in 0..<b { (hidden.data + i * c).update(from: h.data + (i * n + n - 1) * c, count: c) }
        let normed = model.finalNorm.forward(hidden)
        logitRows = model.headProj[m].forward(normed, half: halfHeads.isEmpty ? nil : halfHeads[m], maxRows: halfRows)
    }

    /// Decodes `count` video tokens (default all) for each of the batch's texts (nil = null text). After each
    /// token's logits are computed, `choose(n, layer, logits)` picks code n from the logits of every batch item
    /// ([B, outputs_layer]); the code is fed to all items. Returns the codes (sequence order).
    public func decode(texts: [Tensor?], count: Int? = nil, progress: ((Int) -> Void)? = nil,
                       choose: (Int, Int, Tensor) throws -> UInt32) throws -> [UInt32] {
        let total = min(count ?? config.videoTokens, config.videoTokens)
        let b = texts.count, c = config.width, tl = config.textLength
        defer { halfBlocks = []; halfHeads = [] }
        guard let condition = try prefill(texts: texts, total: total,
                                          half: Generator.halfWeightsByDefault && b <= HalfWeight.maxRows) else { return [] }
        var out: [UInt32] = []
        out.reserveCapacity(total)
        for n in 0..<total {
            let m = model.layout.layer(ofVideoToken: n).layer
            let code = try choose(n, m, logitRows)
            guard code >> UInt32(config.layers[m].bits) == 0 else {
                throw GenError.badTokens(reason: "code \(code) exceeds \(config.layers[m].bits) bits")
            }
            out.append(code)
            progress?(n + 1)
            if n + 1 == total { break }
            x.resize([b, 1, c])
            for i in 0..<b {
                model.embedCode(code, layer: m, into: x.data + i * c)
                if let v = condition[i] { model.addCondition(v, to: x.data + i * c, rows: 1) }
            }
            try advance(position: tl + n, nextLayer: model.layout.layer(ofVideoToken: n + 1).layer)
        }
        return out
    }

    /// Starts a decode of `total` tokens for the batch `texts` (nil = null text): caches, the half copies where
    /// `half`, then the text prefix of every batch item through the stack, leaving layer 0's logits in `logitRows`.
    /// Returns each text's condition vector, or nil when there is no token to decode. The caller clears the half
    /// copies when its decode ends.
    private func prefill(texts: [Tensor?], total: Int, half: Bool) throws -> [[Float]?]? {
        let b = texts.count, c = config.width, tl = config.textLength
        caches = model.blocks.map { _ in KVCache(batch: b, capacity: max(tl + max(total - 1, 0), 1), heads: config.heads,
                                                 headDim: config.headDim, precision: KVCache.defaultPrecision) }
        let copies = half ? sharedHalf ?? halfCopies() : nil
        halfBlocks = copies?.blocks ?? []
        halfHeads = copies?.heads ?? []
        for t in texts {
            if let t, t.shape.count != 2 || t.shape[1] != config.textDim {
                throw GenError.badTokens(reason: "caption states must be [length, \(config.textDim)]")
            }
        }
        x.resize([b, tl, c])
        let condition = texts.map { model.conditionVector($0) }
        for (i, t) in texts.enumerated() {
            model.embedText(t, into: x.data + i * tl * c)
            if let v = condition[i] { model.addCondition(v, to: x.data + i * tl * c, rows: tl) }
        }
        guard total > 0 else { return nil }
        try advance(position: 0, nextLayer: 0)
        return condition
    }

    /// `drafts` continuations of the same texts decoded side by side: row d·T + i of the batch is draft d's text i
    /// (T = texts.count). The prompt is prefilled once for the T texts, exactly as `decode` prefills it, and its cache
    /// rows copied to every draft; the steps then multiply every row by the half-precision copies whatever the batch
    /// (each row's products, norms and attention are computed row by row), so each draft's logits are bit for bit
    /// those `decode` gives it alone, while the weights are read once a step for all of them. `choose(n, m, logits)`
    /// returns every draft's code n from the logits [drafts·T, outputs_m]. Needs the half copies
    /// (`canBatchDrafts`).
    func decodeDrafts(texts: [Tensor?], drafts n: Int, count total: Int,
                      choose: (Int, Int, Tensor) throws -> [UInt32]) throws -> [[UInt32]] {
        let T = texts.count, b = T * n, c = config.width, tl = config.textLength
        defer { halfBlocks = []; halfHeads = []; halfRows = HalfWeight.maxRows }
        guard n > 0, let condition = try prefill(texts: texts, total: total, half: true) else {
            return Array(repeating: [], count: max(n, 0))
        }
        caches = caches.map { KVCache(repeating: $0, times: n) }
        let outputs = logitRows.count / T
        var logits = Tensor(shape: [b, outputs])
        for d in 0..<n { (logits.data + d * T * outputs).update(from: logitRows.data, count: T * outputs) }
        halfRows = max(b, HalfWeight.maxRows)
        var out = [[UInt32]](repeating: [], count: n)
        for t in 0..<total {
            let m = model.layout.layer(ofVideoToken: t).layer
            let codes = try choose(t, m, logits)
            guard codes.count == n else { throw GenError.badOption(reason: "one code a draft") }
            for d in 0..<n {
                guard codes[d] >> UInt32(config.layers[m].bits) == 0 else {
                    throw GenError.badTokens(reason: "code \(codes[d]) exceeds \(config.layers[m].bits) bits")
                }
                out[d].append(codes[d])
            }
            if t + 1 == total { break }
            x.resize([b, 1, c])
            for d in 0..<n {
                for i in 0..<T {
                    let r = d * T + i
                    model.embedCode(codes[d], layer: m, into: x.data + r * c)
                    if let v = condition[i] { model.addCondition(v, to: x.data + r * c, rows: 1) }
                }
            }
            try advance(position: tl + t, nextLayer: model.layout.layer(ofVideoToken: t + 1).layer)
            logits = logitRows
        }
        return out
    }

    /// Whether `decodeDrafts` can stand in for `decode` on `texts` rows: every projection has a half copy, and
    /// `decode` itself would use them at that batch.
    func canBatchDrafts(rows: Int) -> Bool {
        let linears = model.blocks.flatMap { [$0.qkv, $0.attnOut, $0.gateUp, $0.down] } + model.headProj
        return Generator.halfWeightsByDefault && rows <= HalfWeight.maxRows && linears.allSatisfy(HalfWeight.accepts)
    }

    private func halfCopies() -> (blocks: [DecoderBlock.HalfWeights?], heads: [HalfWeight?]) {
        (model.blocks.map { $0.halfWeights() }, model.headProj.map { HalfWeight($0) })
    }

    /// Runs `body`'s decodes on one set of half-precision copies: a clip's drafts and the clip itself are decoded by
    /// the same weights, where converting their 3.4 M for each of a clip's 25 decodes cost about 1 ms each time.
    private func withSharedHalfCopies<T>(_ body: () throws -> T) rethrows -> T {
        guard Generator.halfWeightsByDefault, sharedHalf == nil else { return try body() }
        sharedHalf = halfCopies()
        defer { sharedHalf = nil }
        return try body()
    }

    /// Samples a clip: caption states (nil = unconditional), guidance, temperature, top-k/top-p, seed.
    /// `count` limits the number of video tokens (e.g. only the coarse layers).
    public func sample(text: Tensor?, options: SamplingOptions, count: Int? = nil,
                       progress: ((Int) -> Void)? = nil) throws -> [UInt32] {
        try options.validate()
        let guided = text != nil && options.guided
        let codes = CodeDraw(model: model, options: options)
        return try decode(texts: guided ? [text, nil] : [text], count: count, progress: progress) { _, m, logits in
            codes.next(layer: m, logits: logits, guided: guided)
        }
    }

    /// A clip whose leading `layers` layers (the coarse ones, which set the scene) are the best of `candidates`
    /// drafts, each sampled as `sample` would. Without `contrast`, a draft scores how much better the prompt explains
    /// its codes than the null text does, Σ log p(code | text) − log p(code | null) — the quantity `hv-train lm-rank`
    /// ranks sources by, but on drafts it favours the odd ones the null text finds unlikely. With `contrast` (other
    /// captions, e.g. the training captions), a draft scores the generator's posterior that the prompt rather than
    /// one of them wrote it: log p(d | text) − log Σ_c p(d | c) over the prompt and every contrast caption, equal
    /// priors. A draft of another caption's scene scores low because that caption explains it better, an odd draft
    /// because nothing explains it better than anything else. The rest of the clip is then sampled after the kept
    /// draft. Costs `candidates` drafts of the leading layers (16 + 128 tokens for L3 and L2) over a batch of
    /// 2 + contrast.count texts, on top of one clip. Returns the codes and every draft's score (nats).
    /// With `likelihood`, a draft scores log p(d | prompt) alone: the most probable of the drafts, a search for the
    /// mode of the coarse layers that neither favours odd drafts nor needs the null text (without guidance its rows
    /// are not decoded).
    ///
    /// `firstCandidates` > 1 searches in two stages: first that many drafts of the coarsest layer alone (16 tokens
    /// for L3), the best kept; then the `candidates` drafts redraw only layers 2...k after it. The scores returned
    /// are the second stage's (each over all k layers, the kept first layer included).
    public func sampleReranked(text: Tensor, options: SamplingOptions, candidates: Int, layers k: Int,
                               firstCandidates: Int = 1,
                               contrast: [Tensor] = [], likelihood: Bool = false, count: Int? = nil,
                               progress: ((Int) -> Void)? = nil) throws -> (codes: [UInt32], scores: [Double]) {
        try options.validate()
        guard candidates >= 1, firstCandidates >= 1, k >= 1, k <= config.layers.count else {
            throw GenError.badOption(reason: "--rerank needs at least one draft of 1...\(config.layers.count) leading layers")
        }
        let total = min(count ?? config.videoTokens, config.videoTokens)
        let lead = min(total, config.layers.prefix(k).reduce(0) { $0 + $1.tokenCount })
        let codes = CodeDraw(model: model, options: options)
        guard !(likelihood && !contrast.isEmpty) else {
            throw GenError.badOption(reason: "a draft is scored by its likelihood or against contrast captions, not both")
        }
        // Row 0 the prompt, row 1 the null text (guidance, and the score without contrast), then the contrast.
        let nullRow = !likelihood || options.guided
        let texts: [Tensor?] = (nullRow ? [text, nil] : [text]) + contrast.map { $0 }
        let batchable = canBatchDrafts(rows: texts.count)
        // The best of `n` drafts of the first `length` tokens, each continuing the kept `prefix`.
        func search(_ n: Int, length: Int, prefix: [UInt32]) throws -> (best: [UInt32], scores: [Double]) {
            // Each draft with its −log p(draft | text) under every text row.
            var drafts: [[UInt32]] = [], nll: [[Double]] = []
            if Generator.batchedDrafts && batchable {
                // Draft d draws from the stream where the one-after-another search would have it: after the uniforms
                // of drafts 0..<d, a fixed count each (one a head group of every sampled token).
                let each = (prefix.count..<length).reduce(0) { $0 + codes.draws(layer: model.layout.layer(ofVideoToken: $1).layer) }
                var streams: [SeededRandom] = []
                for _ in 0..<n { streams.append(codes.rng); codes.skip(each) }
                nll = [[Double]](repeating: [Double](repeating: 0, count: texts.count), count: n)
                let T = texts.count
                drafts = try decodeDrafts(texts: texts, drafts: n, count: length) { t, m, logits in
                    let head = model.heads[m]
                    return (0..<n).map { d in
                        let rows = UnsafePointer(logits.data + d * T * head.outputs)
                        let code = t < prefix.count ? prefix[t] : codes.next(layer: m, logits: rows, guided: nullRow, rng: &streams[d])
                        for i in 0..<T { nll[d][i] += head.nll(rows + i * head.outputs, code: code) }
                        return code
                    }
                }
            } else {
                for _ in 0..<n {
                    var lost = [Double](repeating: 0, count: texts.count)
                    drafts.append(try decode(texts: texts, count: length) { t, m, logits in
                        let head = model.heads[m]
                        let code = t < prefix.count ? prefix[t] : codes.next(layer: m, logits: logits, guided: nullRow)
                        for i in lost.indices { lost[i] += head.nll(logits.data + i * head.outputs, code: code) }
                        return code
                    })
                    nll.append(lost)
                }
            }
            let scores = nll.map { likelihood ? -$0[0] : contrast.isEmpty ? $0[1] - $0[0] : Generator.posterior(nll: $0) }
            // The first of the best, as drafts come.
            let best = scores.indices.reduce(0) { scores[$1] > scores[$0] ? $1 : $0 }
            return (drafts[best], scores)
        }
        return try withSharedHalfCopies {
            let first = firstCandidates > 1 && k > 1
                ? try search(firstCandidates, length: min(lead, config.layers[0].tokenCount), prefix: []).best : []
            let (best, scores) = try search(candidates, length: lead, prefix: first)
            // The clip itself runs the null row only where guidance uses it.
            let clip = try decode(texts: options.guided ? [text, nil] : [text], count: total, progress: progress) { n, m, logits in
                n < lead ? best[n] : codes.next(layer: m, logits: logits, guided: options.guided)
            }
            return (clip, scores)
        }
    }

    /// The captions of a contrast file's text: NAME<TAB>CAPTION lines, the first caption of each NAME (as
    /// pipelines/captions.tsv lists a source's phrasings, one source one class), or else one caption a line;
    /// blank lines and '#' comments skipped.
    public static func contrastCaptions(_ text: String) -> [String] {
        var seen = Set<String>(), captions: [String] = []
        for line in text.split(whereSeparator: \.isNewline) {
            let t = line.trimmingCharacters(in: .whitespaces)
            if t.isEmpty || t.hasPrefix("#") { continue }
            let parts = t.split(separator: "\t", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            let (name, caption) = parts.count == 2 ? (parts[0], parts[1]) : (t, t)
            if caption.isEmpty || !seen.insert(name).inserted { continue }
            captions.append(caption)
        }
        return captions
    }

    /// log p(prompt | draft) with equal priors over the prompt (nll[0]) and the contrast captions (nll[2...]):
    /// −nll[0] − log Σ exp(−nll[c]), computed from the largest term so that hundreds of nats do not underflow.
    static func posterior(nll: [Double]) -> Double {
        let others = [nll[0]] + nll.dropFirst(2)
        let m = others.min()!
        return -nll[0] - (-m + log(others.reduce(0) { $0 + exp(m - $1) }))
    }
}

/// The code picker of one sampled clip: each token's code from its head's conditional logits (row 0) and, where
/// the token's layer is guided, the unconditional row after it; one random stream across every call.
private final class CodeDraw {
    let heads: [FactorisedHead]
    let perLayer: [SamplingOptions]
    let scratch: Tensor
    var rng: SeededRandom

    init(model: GeneratorModel, options: SamplingOptions) {
        heads = model.heads
        perLayer = model.heads.indices.map { options.forLayer($0) }
        scratch = Tensor(shape: [model.heads.map(\.outputs).max() ?? 1])
        rng = SeededRandom(seed: options.seed)
    }

    /// `guided`: the logits hold the unconditional row too (a batch of two).
    func next(layer m: Int, logits: Tensor, guided: Bool) -> UInt32 {
        next(layer: m, logits: UnsafePointer(logits.data), guided: guided, rng: &rng)
    }

    /// The same from the rows at `logits`, drawing from `rng` (a draft's own stream).
    func next(layer m: Int, logits: UnsafePointer<Float>, guided: Bool, rng: inout SeededRandom) -> UInt32 {
        let o = perLayer[m]
        let uncond = guided && o.cfgScale != 1 ? logits + heads[m].outputs : nil
        return Sampler.sampleCode(head: heads[m], cond: logits, uncond: uncond, options: o, scratch: scratch.data, rng: &rng)
    }

    /// The uniforms one code of layer m takes from the stream: one a head group, none when drawn greedily.
    func draws(layer m: Int) -> Int { perLayer[m].temperature == 0 ? 0 : heads[m].groups.count }

    /// Moves the stream on by `k` uniforms (each one `next()`).
    func skip(_ k: Int) { for _ in 0..<k { _ = rng.next() } }
}
