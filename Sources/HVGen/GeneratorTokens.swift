// The bridge between the generator's sequence and .hvt token files (formats/hvt.md): which tokenizer layers a
// generator models (checked against a file's layer table), clips → sequences for training, and generated
// sequences → clips (absent layers marked not present, so renderers decode from the coarse layers).
import Foundation
import HVFormat

extension GeneratorConfig {
    /// Sequence layers for a tokenizer layer table: every listed tokenizer layer (default all), most compressed
    /// (highest index) first.
    public static func layers(from header: HVTHeader, keep: [Int]? = nil) throws -> [GenLayerSpec] {
        let want = keep ?? Array(header.layers.indices)
        for i in want where !header.layers.indices.contains(i) {
            throw GenError.layerMismatch(reason: "the tokenizer has no layer \(i) (it has \(header.layers.count))")
        }
        return want.sorted(by: >).map { i in
            let l = header.layers[i]
            return GenLayerSpec(tokenizerLayer: i, name: l.name, gridT: l.gridT, gridH: l.gridH, gridW: l.gridW, bits: l.bits)
        }
    }

    /// Throws unless every generator layer exists in `header`'s layer table with the same grid and bits.
    public func requireCompatible(with header: HVTHeader, what: String) throws {
        for l in layers {
            guard header.layers.indices.contains(l.tokenizerLayer) else {
                throw GenError.layerMismatch(reason: "\(what) has no tokenizer layer \(l.tokenizerLayer)")
            }
            let h = header.layers[l.tokenizerLayer]
            guard h.gridT == l.gridT, h.gridH == l.gridH, h.gridW == l.gridW, h.bits == l.bits else {
                throw GenError.layerMismatch(reason: "layer \(l.tokenizerLayer) is \(h.gridT)x\(h.gridH)x\(h.gridW) at \(h.bits) bits in \(what), \(l.gridT)x\(l.gridH)x\(l.gridW) at \(l.bits) bits in the generator")
            }
        }
    }

    /// The first `count` layers of the sequence whose tokenizer indices are `requested` (any order), or all.
    /// Generation runs in sequence order, so only a leading run of layers can be generated alone.
    public func leadingLayers(_ requested: [Int]?) throws -> Int {
        guard let requested else { return layers.count }
        let k = Set(requested).count
        guard k >= 1, k <= layers.count, Set(layers.prefix(k).map(\.tokenizerLayer)) == Set(requested) else {
            throw GenError.badOption(reason: "--layers must name the first layers of the generator's order (\(layers.map { String($0.tokenizerLayer) }.joined(separator: ",")))")
        }
        return k
    }
}

extension SequenceLayout {
    /// The video part of a clip's sequence; throws when a needed layer is absent or masked.
    public func video(of clip: HVTClip) throws -> [UInt32] {
        var perLayer: [[UInt32]] = []
        for l in config.layers {
            guard clip.layers.indices.contains(l.tokenizerLayer), let codes = clip.layers[l.tokenizerLayer] else {
                throw GenError.badTokens(reason: "a clip lacks layer \(l.name)")
            }
            if let mask = clip.masks.indices.contains(l.tokenizerLayer) ? clip.masks[l.tokenizerLayer] : nil, mask.contains(true) {
                throw GenError.badTokens(reason: "a clip has masked tokens in layer \(l.name); train on unmasked files")
            }
            perLayer.append(codes)
        }
        return try flatten(perLayer)
    }

    /// A clip of `tokenizerLayers` layers holding the generated sequence's layers (shorter layers are absent).
    public func clip(from video: [UInt32], tokenizerLayers: Int, frameCount: Int) -> HVTClip {
        var layers = [[UInt32]?](repeating: nil, count: tokenizerLayers)
        for (m, codes) in split(video).enumerated() where codes.count == config.layers[m].tokenCount {
            layers[config.layers[m].tokenizerLayer] = codes
        }
        return HVTClip(frameCount: frameCount, layers: layers)
    }
}
