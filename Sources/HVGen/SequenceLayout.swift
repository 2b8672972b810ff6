// The token sequence of the generator (paper section 3.3): [text prefix (textLength) | layer L_a tokens | ... ],
// video layers most compressed first, each layer's tokens in raster order (t, h, w). Positions for 3D RoPE:
// every layer's grid is mapped onto a common frame (the densest grid among the layers, e.g. 8×16×16), a token
// sitting at its cell centre, in half-units so that centres are integers:
//   coord = (2·idx + 1)·(ref/grid) − 1   (layer 0: 2·idx; layer 3 row i on 4 of 16 rows: 8i + 3, the centre 4i + 1.5).
// Text token i gets (2i, 2i, 2i) on all three axes (1D position, as in Qwen2-VL's M-RoPE), and video times
// start after the text: t += 2·textLength. A learned per-layer embedding tells the model which layer a token is in.
import Foundation

public struct SequenceLayout: Equatable, Sendable {
    public let config: GeneratorConfig
    /// Start of each layer's tokens within the video part (sequence position = textLength + offset + n).
    public let layerOffsets: [Int]
    /// [sequenceLength · 3] RoPE coordinates (t, h, w) in half-units.
    public let coordinates: [Int]

    public init(config: GeneratorConfig) {
        self.config = config
        var offs: [Int] = [], o = 0
        for l in config.layers { offs.append(o); o += l.tokenCount }
        layerOffsets = offs
        let refT = config.layers.map(\.gridT).max() ?? 1
        let refH = config.layers.map(\.gridH).max() ?? 1
        let refW = config.layers.map(\.gridW).max() ?? 1
        var c: [Int] = []
        c.reserveCapacity(config.sequenceLength * 3)
        for i in 0..<config.textLength { c += [2 * i, 2 * i, 2 * i] }
        let t0 = 2 * config.textLength
        for l in config.layers {
            for t in 0..<l.gridT { for h in 0..<l.gridH { for w in 0..<l.gridW {
                c += [t0 + SequenceLayout.halfUnitCentre(t, grid: l.gridT, reference: refT),
                      SequenceLayout.halfUnitCentre(h, grid: l.gridH, reference: refH),
                      SequenceLayout.halfUnitCentre(w, grid: l.gridW, reference: refW)]
            } } }
        }
        coordinates = c
    }

    /// 2 × the centre of cell `idx` of a `grid`-cell axis in units of a `reference`-cell axis, rounded.
    public static func halfUnitCentre(_ idx: Int, grid: Int, reference: Int) -> Int {
        Int(((Double(2 * idx + 1) * Double(reference) / Double(grid)) - 1).rounded())
    }

    public var textLength: Int { config.textLength }
    public var length: Int { config.sequenceLength }

    /// (t, h, w) of sequence position p.
    public func position(_ p: Int) -> (t: Int, h: Int, w: Int) { (coordinates[3 * p], coordinates[3 * p + 1], coordinates[3 * p + 2]) }

    /// Sequence-layer index (into config.layers) and index within the layer of video token `n`.
    public func layer(ofVideoToken n: Int) -> (layer: Int, index: Int) {
        var m = layerOffsets.count - 1
        while m > 0 && layerOffsets[m] > n { m -= 1 }
        return (m, n - layerOffsets[m])
    }

    /// Concatenates per-layer code lists (sequence order) into the video part of the sequence.
    public func flatten(_ perLayer: [[UInt32]]) throws -> [UInt32] {
        guard perLayer.count == config.layers.count else {
            throw GenError.badTokens(reason: "expected \(config.layers.count) layers, got \(perLayer.count)")
        }
        var out: [UInt32] = []
        out.reserveCapacity(config.videoTokens)
        for (m, codes) in perLayer.enumerated() {
            let l = config.layers[m]
            guard codes.count == l.tokenCount else {
                throw GenError.badTokens(reason: "layer \(l.name) has \(codes.count) tokens, expected \(l.tokenCount)")
            }
            if let bad = codes.first(where: { $0 >> UInt32(l.bits) != 0 }) {
                throw GenError.badTokens(reason: "layer \(l.name) has code \(bad), beyond \(l.bits) bits")
            }
            out += codes
        }
        return out
    }

    /// Splits the video part back into per-layer code lists (sequence order); a short list gives short layers.
    public func split(_ video: [UInt32]) -> [[UInt32]] {
        config.layers.indices.map { m in
            let lo = min(layerOffsets[m], video.count), hi = min(lo + config.layers[m].tokenCount, video.count)
            return Array(video[lo..<hi])
        }
    }
}

/// LFQ code ↔ bits: index = Σ bit_i·2^i, bit i = 1 iff code channel i is +1.
public enum LFQBits {
    /// Writes the ±1 vector of `code` (bits channels) into `out`.
    @inline(__always)
    public static func signs(of code: UInt32, bits: Int, into out: UnsafeMutablePointer<Float>) {
        for i in 0..<bits { out[i] = (code >> UInt32(i)) & 1 == 1 ? 1 : -1 }
    }

    /// Bits offset..<offset+count of `code` as a group index.
    @inline(__always)
    public static func group(of code: UInt32, offset: Int, count: Int) -> Int {
        Int((code >> UInt32(offset)) & ((1 << UInt32(count)) - 1))
    }
}
