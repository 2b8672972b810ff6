// safetensors (Hugging Face): [u64 LE header length N][N bytes JSON header][data]. The header maps
// each tensor name to {"dtype", "shape", "data_offsets": [begin, end]} (offsets relative to the data
// section) plus an optional "__metadata__" string map. We write F32, F16 or BF16 (names sorted, header
// padded with spaces to 8 bytes as HF does) and read the same three, converting to Float32.
// Parsing is defensive: header size limit, offsets inside the file, sizes matching dtype × shape, no
// overlapping ranges. Loading into a model is strict: missing, extra or mis-shaped tensors are errors.
// Files from Hugging Face can also hold integer buffers (BERT's I64 `embeddings.position_ids`); opened with
// `skippingOtherDTypes`, those are validated, listed in `skipped` and never read (the default rejects them).
import Foundation
import HVCore

public enum SafeTensorsDType: String, Sendable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16"
    var size: Int { self == .f32 ? 4 : 2 }
}

public struct SafeTensorsFile {
    public struct Entry { public let dtype: SafeTensorsDType; public let shape: [Int]; public let begin: Int; public let end: Int }
    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    /// Non-float tensors (name → dtype) passed over when opened with `skippingOtherDTypes`; empty otherwise.
    public let skipped: [String: String]
    private let data: Data
    private let dataStart: Int

    /// Header limit: 100 MB (a header that large is corrupt or hostile; real ones are kilobytes).
    public static let maxHeaderBytes = 100 << 20

    /// Element sizes of the non-float dtypes that `skippingOtherDTypes` accepts (safetensors' names).
    static let otherDTypeSizes: [String: Int] = ["F64": 8, "I64": 8, "U64": 8, "I32": 4, "U32": 4, "I16": 2, "U16": 2,
                                                 "I8": 1, "U8": 1, "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1]

    init(path: String, data: Data, skippingOtherDTypes: Bool = false) throws {
        func bad(_ r: String) -> EngineError { .malformedSafetensors(path: path, reason: r) }
        guard data.count >= 8 else { throw bad("the file is shorter than its 8-byte header length") }
        let n = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(SafeTensorsFile.maxHeaderBytes) else { throw bad("the header claims \(n) bytes (limit \(SafeTensorsFile.maxHeaderBytes))") }
        guard 8 + Int(n) <= data.count else { throw bad("the header claims \(n) bytes but the file has \(data.count - 8)") }
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + Int(n)))) }
        catch { throw bad("the header is not JSON") }
        guard let dict = json as? [String: Any] else { throw bad("the header is not a JSON object") }
        // JSONSerialization keeps the last of two equal keys; two entries of one name mean a damaged or forged file.
        if let twice = SafeTensorsFile.repeatedTopLevelKey(data.subdata(in: 8..<(8 + Int(n)))) {
            throw bad("the header names '\(twice.prefix(80))' twice")
        }
        var entries: [String: Entry] = [:]
        var meta: [String: String] = [:]
        var skipped: [String: String] = [:]
        var skippedRanges: [(begin: Int, end: Int)] = []
        let dataLength = data.count - 8 - Int(n)
        for (name, value) in dict {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw bad("__metadata__ value for '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any], let dt = e["dtype"] as? String,
                  let shape = e["shape"] as? [Int], let offs = e["data_offsets"] as? [Int], offs.count == 2 else {
                throw bad("entry '\(name)' lacks dtype, shape or data_offsets")
            }
            let dtype = SafeTensorsDType(rawValue: dt)
            let otherSize = skippingOtherDTypes ? SafeTensorsFile.otherDTypeSizes[dt] : nil
            guard let elementSize = dtype?.size ?? otherSize else { throw EngineError.dtypeMismatch(name: name, found: dt) }
            guard shape.allSatisfy({ $0 >= 0 }), offs[0] >= 0, offs[0] <= offs[1], offs[1] <= dataLength else {
                throw bad("entry '\(name)' has offsets \(offs) outside the \(dataLength)-byte data section")
            }
            let (count, overflow) = shape.reduce((1, false)) { acc, d in
                let (v, o) = acc.0.multipliedReportingOverflow(by: d); return (v, acc.1 || o)
            }
            let (bytes, overflow2) = count.multipliedReportingOverflow(by: elementSize)
            guard !overflow, !overflow2, bytes == offs[1] - offs[0] else {
                throw bad("entry '\(name)' has \(offs[1] - offs[0]) bytes for shape \(shape) of \(dt)")
            }
            guard let floatType = dtype else {
                skipped[name] = dt; skippedRanges.append((offs[0], offs[1])); continue
            }
            entries[name] = Entry(dtype: floatType, shape: shape, begin: offs[0], end: offs[1])
        }
        let ranges = (entries.values.map { (begin: $0.begin, end: $0.end) } + skippedRanges)
            .filter { $0.end > $0.begin }.sorted { $0.begin < $1.begin }
        for (x, y) in zip(ranges, ranges.dropFirst()) where y.begin < x.end {
            throw bad("two tensors overlap at byte \(y.begin)")
        }
        self.path = path; self.entries = entries; self.metadata = meta; self.skipped = skipped; self.data = data; self.dataStart = 8 + Int(n)
    }

    /// The tensor `name` as Float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw EngineError.missingTensor(name: name) }
        let t = Tensor(shape: e.shape)
        data.withUnsafeBytes { raw in
            let base = raw.baseAddress! + dataStart + e.begin
            let count = t.count
            switch e.dtype {
            case .f32: for i in 0..<count { t[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .bf16: for i in 0..<count { t[i] = Half.bf16ToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .f16: for i in 0..<count { t[i] = Half.f16ToFloat(UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            }
        }
        return t
    }

    /// Every tensor by name.
    public func allTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for name in entries.keys { out[name] = try tensor(name) }
        return out
    }

    /// Copies every parameter's tensor into it. Missing, extra or mis-shaped tensors are errors naming them, and so
    /// is a weight that is NaN or infinite (such a model encodes everything to one code without complaint).
    public func loadStrict(into parameters: [Parameter]) throws {
        let wanted = Set(parameters.map { $0.name })
        for name in entries.keys.sorted() where !wanted.contains(name) { throw EngineError.unexpectedTensor(name: name) }
        for p in parameters {
            guard let e = entries[p.name] else { throw EngineError.missingTensor(name: p.name) }
            guard e.shape == p.value.shape else { throw EngineError.shapeMismatch(name: p.name, expected: p.value.shape, found: e.shape) }
            p.value.copy(from: try tensor(p.name))
            var finite = true
            for i in 0..<p.value.count where !p.value[i].isFinite { finite = false; break }
            guard finite else { throw EngineError.malformedSafetensors(path: path, reason: "tensor '\(p.name)' holds NaN or infinite values") }
        }
    }

    /// The first key that the header's top-level object holds twice, or nil. A scan of the JSON text: strings
    /// (with their escapes) at depth 1 followed by ':' are keys; everything deeper is skipped.
    static func repeatedTopLevelKey(_ json: Data) -> String? {
        let b = [UInt8](json)
        var depth = 0, i = 0
        var seen = Set<[UInt8]>()
        while i < b.count {
            switch b[i] {
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1; i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1; i += 1
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < b.count && b[j] != UInt8(ascii: "\"") { j += b[j] == UInt8(ascii: "\\") ? 2 : 1 }
                let raw = Array(b[(i + 1)..<min(j, b.count)])
                var k = j + 1
                while k < b.count && [0x20, 0x09, 0x0A, 0x0D].contains(b[k]) { k += 1 }
                if depth == 1, k < b.count, b[k] == UInt8(ascii: ":"), !seen.insert(raw).inserted {
                    return String(decoding: raw, as: UTF8.self)
                }
                i = j + 1
            default: i += 1
            }
        }
        return nil
    }
}

public enum SafeTensors {
    /// Reads and validates a safetensors file.
    /// With `skippingOtherDTypes`, integer and F64/F8 tensors are validated and listed in `skipped` instead of
    /// failing the whole file (for Hugging Face files such as the text encoder's).
    public static func load(path: String, skippingOtherDTypes: Bool = false) throws -> SafeTensorsFile {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .mappedIfSafe) }
        catch { throw EngineError.io(path: path, reason: "\(error.localizedDescription)") }
        return try SafeTensorsFile(path: path, data: data, skippingOtherDTypes: skippingOtherDTypes)
    }

    /// Serialises tensors (sorted by name) with the given storage dtype.
    public static func encode(_ tensors: [(String, Tensor)], dtype: SafeTensorsDType, metadata: [String: String] = [:]) throws -> Data {
        let sorted = tensors.sorted { $0.0 < $1.0 }
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        for (name, t) in sorted {
            let bytes = t.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for (_, t) in sorted {
            var buf = [UInt8](repeating: 0, count: t.count * dtype.size)
            buf.withUnsafeMutableBytes { raw in
                for i in 0..<t.count {
                    switch dtype {
                    case .f32: raw.storeBytes(of: t[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self)
                    case .bf16: raw.storeBytes(of: Half.floatToBF16(t[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    case .f16: raw.storeBytes(of: Half.floatToF16(t[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
                    }
                }
            }
            out.append(contentsOf: buf)
        }
        return out
    }

    /// Writes a safetensors file atomically (temporary file, then rename).
    public static func save(_ tensors: [(String, Tensor)], dtype: SafeTensorsDType = .f32, metadata: [String: String] = [:], to path: String) throws {
        let data = try encode(tensors, dtype: dtype, metadata: metadata)
        let tmp = path + ".tmp.\(getpid())"
        do { try data.write(to: URL(fileURLWithPath: tmp)) }
        catch { throw EngineError.io(path: path, reason: error.localizedDescription) }
        guard rename(tmp, path) == 0 else {
            let reason = String(cString: strerror(errno)); unlink(tmp)
            throw EngineError.io(path: path, reason: reason)
        }
    }
}

/// IEEE 754 half and bfloat16 conversions (round to nearest even).
public enum Half {
    public static func floatToBF16(_ f: Float) -> UInt16 {
        let b = f.bitPattern
        if f.isNaN { return UInt16(b >> 16) | 0x40 }
        let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
        return UInt16((b &+ rounding) >> 16)
    }

    public static func bf16ToFloat(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    public static func floatToF16(_ f: Float) -> UInt16 { HalfFloat.bits(f) }
    public static func f16ToFloat(_ h: UInt16) -> Float { HalfFloat.float(h) }
}
