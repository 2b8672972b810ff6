// One WebDataset sample of a token shard (formats/shards.md): the members that one manifest clip becomes —
// KEY.json (what the clip is), KEY.hvt (its token file, byte for byte), KEY.lN.npy (layer N's token indices) and
// KEY.txtemb.npy (its caption's sentence embedding, float16) — built from the clip's manifest row and .hvt bytes.
import Foundation
import HVFormat

/// What KEY.json holds. Field names are formats/shards.md's; ShardPackingTests keeps the two in step.
public struct ShardSampleInfo: Codable, Equatable {
    public struct Layer: Codable, Equatable {
        public var name: String
        /// [t, h, w] of one window's grid.
        public var grid: [Int]
        public var bits: Int
        /// The member holding the layer's indices, without the key: "l0.npy".
        public var member: String
    }
    public var clipID: Int64
    public var video: String
    public var clipIndex: Int
    public var start: Double
    public var duration: Double
    public var frames: Int
    public var split: String?
    public var caption: String?
    public var captionID: Int64?
    /// Every caption of the clip (its own, else its video's), `caption` first; nil in shards packed before the
    /// field existed, where `caption` is the only one.
    public var captions: [String]?
    /// The tokenizer's token identity, name@sha256 (the .hvt header's).
    public var tokenizer: String
    /// Encoder id of KEY.txtemb.npy, nil when the sample has none.
    public var txtemb: String?
    public var maskStrategy: String
    /// Frames of each tokenizer window of the clip (the first axis of every lN.npy).
    public var windows: [Int]
    /// Layers present in the .hvt, in header order.
    public var layers: [Layer]

    enum CodingKeys: String, CodingKey {
        case video, start, duration, frames, split, caption, captions, tokenizer, txtemb, windows, layers
        case clipID = "clip_id", clipIndex = "clip_idx", captionID = "caption_id", maskStrategy = "mask_strategy"
    }

    /// Every key is written, absent values as null, so a reader finds the same fields in every sample.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(clipID, forKey: .clipID); try c.encode(video, forKey: .video); try c.encode(clipIndex, forKey: .clipIndex)
        try c.encode(start, forKey: .start); try c.encode(duration, forKey: .duration); try c.encode(frames, forKey: .frames)
        try c.encode(split, forKey: .split); try c.encode(caption, forKey: .caption); try c.encode(captionID, forKey: .captionID)
        try c.encode(captions, forKey: .captions)
        try c.encode(tokenizer, forKey: .tokenizer); try c.encode(txtemb, forKey: .txtemb)
        try c.encode(maskStrategy, forKey: .maskStrategy); try c.encode(windows, forKey: .windows); try c.encode(layers, forKey: .layers)
    }
}

/// A clip's row as packing needs it.
struct PackRow {
    var clipID: Int64
    var split: String?
    var video: String
    var clipIndex: Int
    var start: Double
    var duration: Double
    var frames: Int
    var tokenPath: String
    var tokenBytes: Int64
    var captionID: Int64?
    var caption: String?
    var captions: [String] = []
}

enum ShardSample {
    /// The sample key of a clip: its manifest id, zero-padded to 9 digits so that keys sort like ids (no dots:
    /// webdataset splits a member name at the first dot of its base name into key and extension).
    static func key(clipID: Int64) -> String {
        let s = String(clipID)
        return String(repeating: "0", count: max(0, 9 - s.count)) + s
    }

    /// The members of one clip, in archive order: json, hvt, l0.npy, l1.npy, ..., txtemb.npy.
    /// Throws `badTokenFile` when the bytes are not a valid .hvt of `tokenizerHash` or not `row.tokenBytes` long.
    static func members(row: PackRow, hvt: [UInt8], tokenizerHash: String, embedding: (encoder: String, vector: [Float])?)
        throws -> [(name: String, data: [UInt8])] {
        func bad(_ reason: String) -> ManifestError { .badTokenFile(clip: row.clipID, path: row.tokenPath, reason: reason) }
        guard Int64(hvt.count) == row.tokenBytes else { throw bad("\(hvt.count) bytes, the manifest says \(row.tokenBytes)") }
        let reader: HVTReader
        var windows: [HVTClip] = []
        do {
            reader = try HVTReader(bytes: hvt, name: row.tokenPath)
            while let c = try reader.nextClip() { windows.append(c) }
        } catch let e as HVTError { throw bad(e.description) }
        let header = reader.header!
        guard header.tokenizer.hash == tokenizerHash else {
            throw bad("made by tokenizer \(header.tokenizer.hash.prefix(12)), the manifest says \(tokenizerHash.prefix(12))")
        }
        let key = ShardSample.key(clipID: row.clipID)
        var layers: [ShardSampleInfo.Layer] = []
        var arrays: [(name: String, data: [UInt8])] = []
        for li in header.presentLayers {
            let l = header.layers[li]
            let member = "l\(li).npy"
            layers.append(.init(name: l.name, grid: [l.gridT, l.gridH, l.gridW], bits: l.bits, member: member))
            // int32 with -1 where hv-mask dropped a token: codes have up to 20 bits (HVTLayout.maxBits).
            var values = [Int32](repeating: 0, count: windows.count * l.tokenCount)
            for (w, clip) in windows.enumerated() {
                guard let idx = clip.layers[li] else { continue }
                let mask = clip.masks[li]
                for i in 0..<l.tokenCount { values[w * l.tokenCount + i] = mask?[i] == true ? -1 : Int32(idx[i]) }
            }
            arrays.append((name: "\(key).\(member)", data: NumpyArray.int32(values, shape: [windows.count, l.gridT, l.gridH, l.gridW])))
        }
        let info = ShardSampleInfo(
            clipID: row.clipID, video: row.video, clipIndex: row.clipIndex, start: row.start, duration: row.duration,
            frames: row.frames, split: row.split, caption: row.caption, captionID: row.captionID,
            captions: row.caption == nil ? nil : row.captions,
            tokenizer: header.tokenizer.full, txtemb: embedding?.encoder, maskStrategy: header.maskStrategy.description,
            windows: windows.map(\.frameCount), layers: layers)
        var out: [(name: String, data: [UInt8])] = [(name: "\(key).json", data: try ShardSample.json(info)), (name: "\(key).hvt", data: hvt)]
        out += arrays
        if let embedding {
            out.append((name: "\(key).txtemb.npy", data: NumpyArray.float16(embedding.vector, shape: [embedding.vector.count])))
        }
        return out
    }

    /// Sorted keys and no whitespace, so that the same clip gives the same bytes on every run.
    static func json<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try e.encode(value))
    }
}
