// The .hvt header record (HVTH): tokenizer identity, layer table, frame geometry, masking strategy.
import Foundation

public struct HVTLayerInfo: Equatable, Sendable {
    public var name: String
    public var gridT: Int, gridH: Int, gridW: Int
    public var bits: Int
    /// Whether CLIP records carry this layer.
    public var present: Bool

    public init(name: String, gridT: Int, gridH: Int, gridW: Int, bits: Int, present: Bool = true) {
        self.name = name; self.gridT = gridT; self.gridH = gridH; self.gridW = gridW; self.bits = bits; self.present = present
    }

    public var tokenCount: Int { gridT * gridH * gridW }
}

/// How masked dense tokens are filled in at decode time (paper section 4.1, "Dynamic video encoding"); the
/// header's `mask_strategy` byte. One type for the file, hv-mask and the tokenizer's decoder.
public enum MaskStrategy: UInt8, Sendable, CustomStringConvertible {
    /// Nothing is masked: the file's clips carry no masks (the reader refuses one that does).
    case none = 0
    /// The token of the previous latent frame at the same place is reused.
    case repeatPrevious = 1
    /// The code vector is zero (no information) instead of ±1.
    case zero = 2
    /// A learned mask embedding (trained with `hv-train --mask-training`) replaces the code vector.
    case learned = 3

    /// hv-mask's and hv-info's name for it.
    public var description: String { ["none", "repeat", "zero", "learned"][Int(rawValue)] }
    /// The strategy of a name (`repeat`, `zero`, `learned` or `none`).
    public init?(name: String) {
        guard let i = ["none", "repeat", "zero", "learned"].firstIndex(of: name) else { return nil }
        self.init(rawValue: UInt8(i))
    }
}

/// What hv-mask did: the layers it masked and the seed of its random choice among candidates beyond the cap
/// (`masked_layers` and `mask_seed`, .hvt 1.1). With strategy and ratio they decide the masks, so a second
/// request can be told apart from the first.
public struct MaskRecord: Equatable, Sendable {
    /// Ascending layer numbers, each a present layer.
    public var layers: [Int]
    public var seed: UInt64

    public init(layers: [Int], seed: UInt64) { self.layers = layers.sorted(); self.seed = seed }
}

public struct HVTHeader: Equatable, Sendable {
    /// The tokenizer whose tokens these are (its hash: 64 lower-case hex digits).
    public var tokenizer: TokenizerIdentity
    public var fpsNumerator: Int, fpsDenominator: Int
    public var width: Int, height: Int
    public var framesPerClip: Int
    public var maskStrategy: MaskStrategy = .none
    public var maskRatio: Float = 0
    /// nil when nothing is masked, or when a 1.0 writer masked the file without recording it.
    public var maskRecord: MaskRecord? = nil
    public var source: String = ""
    public var layers: [HVTLayerInfo]

    public init(tokenizer: TokenizerIdentity, fpsNumerator: Int, fpsDenominator: Int, width: Int, height: Int,
                framesPerClip: Int, layers: [HVTLayerInfo], source: String = "") {
        self.tokenizer = tokenizer
        self.fpsNumerator = fpsNumerator; self.fpsDenominator = fpsDenominator
        self.width = width; self.height = height; self.framesPerClip = framesPerClip
        self.layers = layers; self.source = source
    }

    /// Throws unless the tokens were made by the tokenizer `id`.
    public func requireTokenizer(_ id: TokenizerIdentity) throws {
        guard id == tokenizer else {
            throw HVTError.tokenizerMismatch(expected: id.description, found: tokenizer.description)
        }
    }

    public var presentLayers: [Int] { layers.indices.filter { layers[$0].present } }

    func validate() throws {
        func limit(_ ok: Bool, _ what: String) throws { if !ok { throw HVTError.limitExceeded(detail: what) } }
        try limit(!layers.isEmpty && layers.count <= HVTLayout.maxLayers, "\(layers.count) layers (1...\(HVTLayout.maxLayers))")
        try limit(tokenizer.name.utf8.count <= HVTLayout.maxNameBytes, "tokenizer name longer than \(HVTLayout.maxNameBytes) bytes")
        try limit(source.utf8.count <= HVTLayout.maxSourceBytes, "source longer than \(HVTLayout.maxSourceBytes) bytes")
        guard tokenizer.hash.count == 64, tokenizer.hash.allSatisfy({ $0.isHexDigit }) else {
            throw HVTError.corrupt(detail: "tokenizer hash must be 64 hex digits")
        }
        guard fpsNumerator > 0, fpsDenominator > 0, fpsNumerator <= Int(UInt32.max), fpsDenominator <= Int(UInt32.max) else {
            throw HVTError.corrupt(detail: "frame rate \(fpsNumerator)/\(fpsDenominator) is not positive")
        }
        try limit((1...HVTLayout.maxFrameSide).contains(width) && (1...HVTLayout.maxFrameSide).contains(height),
                  "frame size \(width)x\(height) (1...\(HVTLayout.maxFrameSide))")
        try limit((1...4096).contains(framesPerClip), "frames per clip \(framesPerClip)")
        for l in layers {
            try limit(l.name.utf8.count <= HVTLayout.maxNameBytes, "layer name longer than \(HVTLayout.maxNameBytes) bytes")
            try limit((1...HVTLayout.maxBits).contains(l.bits), "layer \(l.name) has \(l.bits) bits (1...\(HVTLayout.maxBits))")
            let side = 1...HVTLayout.maxGridSide
            try limit(side.contains(l.gridT) && side.contains(l.gridH) && side.contains(l.gridW), "layer \(l.name) grid \(l.gridT)x\(l.gridH)x\(l.gridW)")
            try limit(l.tokenCount <= HVTLayout.maxTokensPerLayer, "layer \(l.name) has \(l.tokenCount) tokens per clip")
            guard l.gridT <= framesPerClip, l.gridH <= height, l.gridW <= width else {
                throw HVTError.corrupt(detail: "layer \(l.name) grid \(l.gridT)x\(l.gridH)x\(l.gridW) is finer than the "
                    + "\(framesPerClip)-frame \(width)x\(height) clips it stands for")
            }
        }
        if let rec = maskRecord {
            guard maskStrategy != .none, !rec.layers.isEmpty else {
                throw HVTError.corrupt(detail: "masked_layers must name the masked layers of a file with a mask strategy, and only then")
            }
            guard rec.layers == Array(Set(rec.layers)).sorted(), rec.layers.allSatisfy({ layers.indices.contains($0) && layers[$0].present }) else {
                throw HVTError.corrupt(detail: "masked_layers \(rec.layers) are not present layers of the file")
            }
        }
        let total = layers.reduce(0) { $0 + $1.tokenCount }
        try limit(total <= HVTLayout.maxTokensPerClip, "\(total) tokens per clip over all layers (\(HVTLayout.maxTokensPerClip))")
    }

    func encode() throws -> [UInt8] {
        try validate()
        var w = ByteWriter()
        w.str16(tokenizer.name)
        var hashBytes: [UInt8] = []
        var it = tokenizer.hash.makeIterator()
        while let a = it.next(), let b = it.next() { hashBytes.append(UInt8(String([a, b]), radix: 16)!) }
        w.raw(hashBytes)
        w.u32(UInt32(fpsNumerator)); w.u32(UInt32(fpsDenominator))
        w.u16(UInt16(width)); w.u16(UInt16(height)); w.u16(UInt16(framesPerClip))
        w.u8(maskStrategy.rawValue); w.f32(maskRatio)
        w.str16(source)
        w.u8(UInt8(layers.count))
        for l in layers {
            w.str16(l.name); w.u16(UInt16(l.gridT)); w.u16(UInt16(l.gridH)); w.u16(UInt16(l.gridW))
            w.u8(UInt8(l.bits)); w.u8(l.present ? 1 : 0)
        }
        if let rec = maskRecord {   // .hvt 1.1 (see versionMinor)
            w.u16(UInt16(rec.layers.reduce(0) { $0 | 1 << $1 })); w.u64(rec.seed)
        }
        return w.bytes
    }

    static func decode(_ payload: [UInt8]) throws -> HVTHeader {
        var r = ByteReader(payload, context: "HVTH")
        let name = try r.str16("tokenizer_name", limit: HVTLayout.maxNameBytes)
        let hash = try r.take(32, "tokenizer_hash").map { String(format: "%02x", $0) }.joined()
        let fn = Int(try r.u32("fps_num")), fd = Int(try r.u32("fps_den"))
        let w = Int(try r.u16("width")), h = Int(try r.u16("height")), fpc = Int(try r.u16("frames_per_clip"))
        guard let ms = MaskStrategy(rawValue: try r.u8("mask_strategy")) else { throw HVTError.corrupt(detail: "unknown mask_strategy") }
        let ratio = try r.f32("mask_ratio")
        let source = try r.str16("source", limit: HVTLayout.maxSourceBytes)
        let n = Int(try r.u8("layer_count"))
        var layers: [HVTLayerInfo] = []
        for _ in 0..<n {
            let ln = try r.str16("layer_name", limit: HVTLayout.maxNameBytes)
            let t = Int(try r.u16("grid_t")), gh = Int(try r.u16("grid_h")), gw = Int(try r.u16("grid_w"))
            let bits = Int(try r.u8("code_bits"))
            let present = try r.u8("present")
            guard present <= 1 else { throw HVTError.corrupt(detail: "layer \(ln): present must be 0 or 1") }
            layers.append(HVTLayerInfo(name: ln, gridT: t, gridH: gh, gridW: gw, bits: bits, present: present == 1))
        }
        var header = HVTHeader(tokenizer: TokenizerIdentity(name: name, hash: hash), fpsNumerator: fn, fpsDenominator: fd,
                               width: w, height: h, framesPerClip: fpc, layers: layers, source: source)
        header.maskStrategy = ms; header.maskRatio = ratio
        // 1.1: the mask record. A 1.0 file ends here; any version may end here when nothing is recorded.
        if r.remaining > 0 {
            let bits = Int(try r.u16("masked_layers")), seed = try r.u64("mask_seed")
            header.maskRecord = MaskRecord(layers: (0..<16).filter { bits >> $0 & 1 == 1 }, seed: seed)
        }
        try header.validate()
        // Trailing bytes: fields of a newer minor version, ignored by rule.
        return header
    }
}

/// One clip: true frame count and, per layer of the header (nil for layers not present), indices and mask.
public struct HVTClip: Equatable, Sendable {
    public var frameCount: Int
    /// Indices per header layer (row-major over the layer grid); 0 at masked positions.
    public var layers: [[UInt32]?]
    /// Per header layer: mask (true = masked, not stored) or nil when nothing is masked.
    public var masks: [[Bool]?]

    public init(frameCount: Int, layers: [[UInt32]?], masks: [[Bool]?]? = nil) {
        self.frameCount = frameCount
        self.layers = layers
        self.masks = masks ?? layers.map { _ in nil }
    }

    /// Masks layer m: records `mask` and stores 0 at its masked positions (the masked codes are not kept).
    public mutating func setMask(_ mask: [Bool], layer m: Int) {
        masks[m] = mask
        for (i, masked) in mask.enumerated() where masked { layers[m]![i] = 0 }
    }
}
