// The bridge between the tokenizer and .hvt files: headers that name this model, the check that a
// file's tokens were made by it, and clip-level encode/decode between RGB frames and token clips.
import HVFormat
import HVMedia
import HVEngine

extension HierarchicalTokenizer {
    /// The identity written into .hvt headers ("unsaved" models get an all-zero hash).
    public var identityOrUnsaved: TokenizerIdentity {
        identity ?? TokenizerIdentity(name: config.name, hash: String(repeating: "0", count: 64))
    }

    /// Whose tokens these are: the checkpoint this one kept its encoder from (`tokensOf`, after a frozen-token
    /// fine-tune of the decoder) or this one. Written into .hvt headers and checked against them.
    public var tokenIdentity: TokenizerIdentity { tokensOf ?? identityOrUnsaved }

    /// An .hvt header for tokens made by this model; `layers` limits which layers are present.
    public func hvtHeader(source: String, layers present: Set<Int>? = nil) -> HVTHeader {
        let id = tokenIdentity
        return HVTHeader(tokenizer: id, fpsNumerator: config.fps, fpsDenominator: 1,
                         width: config.frameSize, height: config.frameSize, framesPerClip: config.framesPerClip,
                         layers: config.layers.enumerated().map { i, l in
                             HVTLayerInfo(name: l.name, gridT: l.grid.t, gridH: l.grid.h, gridW: l.grid.w, bits: l.bits,
                                          present: present?.contains(i) ?? true)
                         }, source: source)
    }

    /// Throws unless `header` describes tokens made by this model (same name, hash and layer table).
    public func requireCompatible(_ header: HVTHeader) throws {
        let id = tokenIdentity
        try header.requireTokenizer(id)
        let mine = hvtHeader(source: "").layers
        guard header.layers.count == mine.count,
              zip(header.layers, mine).allSatisfy({ $0.name == $1.name && $0.gridT == $1.gridT && $0.gridH == $1.gridH && $0.gridW == $1.gridW && $0.bits == $1.bits }) else {
            func table(_ ls: [HVTLayerInfo]) -> String {
                ls.map { "\($0.name) \($0.gridT)x\($0.gridH)x\($0.gridW)@\($0.bits)" }.joined(separator: ", ")
            }
            throw HVTError.corrupt(detail: "the file names tokenizer \(header.tokenizer) but its layer table "
                + "(\(table(header.layers))) is not that model's (\(table(mine)))")
        }
    }

    /// Encodes up to `framesPerClip` frames (padded by repeating the last) into a token clip; with `refinement`,
    /// layer 0's codes are then refined against the real frames (CodeRefinement.swift); with `masking`, layer 0 is
    /// masked as `hv-mask` masks it, and the refinement tunes the kept tokens for the masked render.
    public func encodeClip(_ frames: [RGBFrame], scratch: Tensor, refinement: CodeRefinement? = nil,
                           masking: EncodeMasking? = nil) -> HVTClip {
        VideoTensor.fromFrames(frames, frames: config.framesPerClip, into: scratch)
        var idx = encode(scratch)
        var mask: [Bool]? = nil
        if let masking {
            // The mask is chosen from the encoder's codes, before refining: hv-mask's choice for the unrefined
            // stream. On the three log clips this cost 0.12–0.52 dB against the unmasked refined render, where
            // masking the refined codes afterwards cost 0.31–1.11 (docs/tokenizer-journal.md); choosing it after
            // four unmasked rounds and refining four more masked ones was level, at fewer masked tokens.
            let g = grid(ofLayer: 0, frames: scratch.shape[0], height: scratch.shape[1], width: scratch.shape[2])
            mask = masking.mask(idx[0], gridT: g.t, plane: g.h * g.w)
        }
        if let refinement, refinement.rounds > 0 {
            idx = refine(scratch, indices: idx, count: frames.count, options: refinement,
                         mask: mask.map { RefinementMask(masked: $0, strategy: masking!.strategy) }).0
        }
        var clip = HVTClip(frameCount: frames.count, layers: idx.map { Optional($0) })
        if let mask { clip.setMask(mask, layer: 0) }
        return clip
    }

    /// Decodes a token clip from the layers in `use` (and present in the clip) into its true frames.
    public func decodeClip(_ clip: HVTClip, use: Set<Int>, strategy: MaskStrategy) -> [RGBFrame] {
        let given: [[UInt32]?] = clip.layers.enumerated().map { use.contains($0.offset) ? $0.element : nil }
        let video = decode(indices: given, masks: clip.masks, strategy: strategy, frames: config.framesPerClip,
                           height: config.frameSize, width: config.frameSize)
        return VideoTensor.toFrames(video, count: clip.frameCount)
    }
}

/// Layer-0 masking done while encoding, exactly as `hv-mask --layers 0` would mask the same stream: its rule
/// (`TokenMasking`) and one seeded random stream over the clips in order, so `hv-mask` with the same ratio, strategy
/// and seed passes the file through.
public final class EncodeMasking {
    public let ratio: Double
    public let strategy: MaskStrategy
    public let seed: UInt64
    private var random: MaskRandom

    public init(ratio: Double, strategy: MaskStrategy, seed: UInt64) {
        self.ratio = ratio; self.strategy = strategy; self.seed = seed
        random = MaskRandom(seed: seed)
    }

    /// The next clip's mask of layer 0.
    func mask(_ indices: [UInt32], gridT: Int, plane: Int) -> [Bool] {
        TokenMasking.mask(indices, gridT: gridT, plane: plane, ratio: ratio, strategy: strategy, rng: &random)
    }

    /// Records the masking in a header, as `hv-mask` does.
    public func record(in header: inout HVTHeader) {
        header.maskStrategy = strategy
        header.maskRatio = Float(ratio)
        header.maskRecord = MaskRecord(layers: [0], seed: seed)
    }
}
