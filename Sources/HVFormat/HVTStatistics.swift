// Per-clip, per-layer statistics of .hvt content, as hv-info and hv-metrics report them.
// Bits per pixel divide by the clip's true pixels (frame_count × width × height).
import Foundation

public struct HVTLayerStatistics: Codable, Sendable {
    public var layer: String
    public var tokens: Int
    public var maskedTokens: Int
    public var distinctCodes: Int
    /// tokens × code bits.
    public var rawBits: Int
    /// unmasked tokens × code bits.
    public var storedBits: Int
    public var compressedBytes: Int
    public var rawBitsPerPixel: Double
    public var storedBitsPerPixel: Double

    public var maskedFraction: Double { tokens == 0 ? 0 : Double(maskedTokens) / Double(tokens) }
}

public struct HVTClipStatistics: Codable, Sendable {
    public var clip: Int
    public var frames: Int
    public var recordBytes: Int
    public var layers: [HVTLayerStatistics]
}

public enum HVTStatistics {
    /// Statistics of one clip; `sectionBytes` are the compressed section sizes of its present layers.
    public static func of(_ clip: HVTClip, index: Int, header: HVTHeader, sectionBytes: [Int], recordBytes: Int) -> HVTClipStatistics {
        let pixels = Double(clip.frameCount * header.width * header.height)
        var layers: [HVTLayerStatistics] = []
        var k = 0
        for (m, info) in header.layers.enumerated() {
            guard let idx = clip.layers[m] else { continue }
            let mask = clip.masks[m]
            let masked = mask?.filter { $0 }.count ?? 0
            let distinct = distinctCodes(idx, mask: mask, bits: info.bits)
            let raw = idx.count * info.bits, stored = (idx.count - masked) * info.bits
            layers.append(HVTLayerStatistics(layer: info.name, tokens: idx.count, maskedTokens: masked, distinctCodes: distinct,
                                             rawBits: raw, storedBits: stored,
                                             compressedBytes: k < sectionBytes.count ? sectionBytes[k] : 0,
                                             rawBitsPerPixel: Double(raw) / pixels, storedBitsPerPixel: Double(stored) / pixels))
            k += 1
        }
        return HVTClipStatistics(clip: index, frames: clip.frameCount, recordBytes: recordBytes, layers: layers)
    }

    /// Distinct unmasked codes, counted in a bit set of 2^bits bits (at most 128 KiB) instead of a set of up to
    /// 2^24 indices.
    static func distinctCodes(_ idx: [UInt32], mask: [Bool]?, bits: Int) -> Int {
        var seen = [UInt64](repeating: 0, count: ((1 << bits) + 63) / 64)
        for (i, v) in idx.enumerated() where mask?[i] != true { seen[Int(v) >> 6] |= 1 << UInt64(v & 63) }
        return seen.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}
