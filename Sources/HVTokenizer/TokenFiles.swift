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
    /// layer 0's codes are then refined against the real frames (CodeRefinement.swift).
    public func encodeClip(_ frames: [RGBFrame], scratch: Tensor, refinement: CodeRefinement? = nil) -> HVTClip {
        VideoTensor.fromFrames(frames, frames: config.framesPerClip, into: scratch)
        var idx = encode(scratch)
        if let refinement, refinement.rounds > 0 {
            idx = refine(scratch, indices: idx, count: frames.count, options: refinement).0
        }
        return HVTClip(frameCount: frames.count, layers: idx.map { Optional($0) })
    }

    /// Decodes a token clip from the layers in `use` (and present in the clip) into its true frames.
    public func decodeClip(_ clip: HVTClip, use: Set<Int>, strategy: MaskStrategy) -> [RGBFrame] {
        let given: [[UInt32]?] = clip.layers.enumerated().map { use.contains($0.offset) ? $0.element : nil }
        let video = decode(indices: given, masks: clip.masks, strategy: strategy, frames: config.framesPerClip,
                           height: config.frameSize, width: config.frameSize)
        return VideoTensor.toFrames(video, count: clip.frameCount)
    }
}
