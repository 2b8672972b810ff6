// safetensors (Hugging Face) checkpoints: save and strictly load parameters, read any tensor by name.
// Layout (https://github.com/huggingface/safetensors): u64 little-endian header length N, N bytes of JSON
// `{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}}` padded with spaces
// to a multiple of 8, then the data buffer (offsets relative to its start, little-endian, row-major).
// Writing follows the HF writer: tensors ordered by dtype alignment (largest first) then name, so every
// tensor starts on a multiple of its element size. Parsing is defensive: header size limit, offsets in
// bounds and equal to dtype×shape, no overlapping ranges, JSON shape checked -> EngineError (exit 65).
import Foundation

public enum SafeTensors {
    /// Largest JSON header accepted (the HF reader's limit is also 100 MB).
    public static let headerLimit = 100_000_000

    /// Element types of the format. Float types convert to Float32 on load; the others are recognised
    /// (so errors can name them) but not loadable as floats.
    public enum DType: String, CaseIterable, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
        case u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"
        case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"

        public var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
            }
        }
        public var isFloatLoadable: Bool { self == .f32 || self == .f16 || self == .bf16 || self == .f64 }
    }

    /// One tensor to write.
    public struct Item {
        public var name: String
        public var tensor: Tensor
        public var dtype: DType
        public init(name: String, tensor: Tensor, dtype: DType = .f32) {
            self.name = name; self.tensor = tensor; self.dtype = dtype
        }
    }

    // MARK: Writing

    /// Serialises `items` into safetensors bytes. Storable dtypes: F32, F16, BF16 (round to nearest even).
    public static func encode(_ items: [Item], metadata: [String: String] = [:]) throws -> Data {
        var seen = Set<String>()
        for item in items {
            guard !item.name.isEmpty, item.name != "__metadata__" else { throw EngineError.invalidTensorName(name: item.name) }
            guard seen.insert(item.name).inserted else { throw EngineError.duplicateTensorName(name: item.name) }
            guard item.dtype == .f32 || item.dtype == .f16 || item.dtype == .bf16 else {
                throw EngineError.unsupportedDType(name: item.name, dtype: item.dtype.rawValue, source: "save request")
            }
        }
        let ordered = items.sorted { a, b in
            a.dtype.size != b.dtype.size ? a.dtype.size > b.dtype.size : a.name < b.name
        }
        var json = "{"
        var first = true
        if !metadata.isEmpty {
            json += "\"__metadata__\":{"
            json += metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0]!))" }.joined(separator: ",")
            json += "}"
            first = false
        }
        var offset = 0
        var offsets: [Int] = []
        for item in ordered {
            let bytes = item.tensor.count * item.dtype.size
            if !first { json += "," }
            first = false
            json += "\(jsonString(item.name)):{\"dtype\":\"\(item.dtype.rawValue)\",\"shape\":[\(item.tensor.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(offset + bytes)]}"
            offsets.append(offset)
            offset += bytes
        }
        json += "}"
        var header = Array(json.utf8)
        while header.count % 8 != 0 { header.append(0x20) }   // HF pads with spaces
        var out = Data(count: 8 + header.count + offset)
        out.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            var n = UInt64(header.count).littleEndian
            memcpy(base, &n, 8)
            header.withUnsafeBytes { _ = memcpy(base + 8, $0.baseAddress!, header.count) }
            let dataStart = base + 8 + header.count
            for (item, off) in zip(ordered, offsets) {
                let dst = dataStart + off
                let t = item.tensor
                switch item.dtype {
                case .f32:
                    memcpy(dst, t.data, t.count * 4)   // host is little-endian (x86-64, arm64)
                case .f16:
                    for i in 0..<t.count { dst.storeBytes(of: HalfFloat.halfBits(from: t.data[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                case .bf16:
                    for i in 0..<t.count { dst.storeBytes(of: HalfFloat.bfloat16Bits(from: t.data[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
                default: break
                }
            }
        }
        return out
    }

    /// Writes `items` to `url` atomically (temp file + rename).
    public static func write(_ items: [Item], to url: URL, metadata: [String: String] = [:]) throws {
        let data = try encode(items, metadata: metadata)
        do { try data.write(to: url, options: .atomic) } catch {
            throw EngineError.cannotWrite(path: url.path, reason: error.localizedDescription)
        }
    }

    /// Saves parameters under their names, all as `dtype`.
    public static func save(_ parameters: [Parameter], to url: URL, dtype: DType = .f32, metadata: [String: String] = [:]) throws {
        try write(parameters.map { Item(name: $0.name, tensor: $0.value, dtype: dtype) }, to: url, metadata: metadata)
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}

/// A parsed safetensors file: the validated header plus the raw bytes; tensors convert on request.
public struct SafeTensorsFile {
    public struct Entry: Equatable {
        public let name: String
        public let dtype: SafeTensors.DType
        public let shape: [Int]
        /// Byte range within the data buffer (after the header).
        public let range: Range<Int>
    }

    public let source: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let bytes: Data
    private let dataStart: Int

    /// Tensor names, sorted.
    public var names: [String] { entries.keys.sorted() }

    /// Reads and validates `url`.
    public init(contentsOf url: URL) throws {
        let data: Data
        do { data = try Data(contentsOf: url, options: .mappedIfSafe) } catch {
            throw EngineError.cannotRead(path: url.path, reason: (error as NSError).localizedDescription)
        }
        try self.init(data: data, source: url.path)
    }

    /// Validates `data` as a safetensors file; `source` names it in errors.
    public init(data: Data, source: String = "safetensors data") throws {
        self.source = source
        self.bytes = data
        guard data.count >= 8 else {
            throw EngineError.truncatedSafetensors(source: source, reason: "\(data.count) bytes, the header length alone needs 8")
        }
        var n: UInt64 = 0
        withUnsafeMutableBytes(of: &n) { dst in _ = data.copyBytes(to: dst, from: data.startIndex..<data.startIndex + 8) }
        n = UInt64(littleEndian: n)
        guard n <= UInt64(SafeTensors.headerLimit) else {
            throw EngineError.safetensorsHeaderTooLarge(source: source, size: n, limit: SafeTensors.headerLimit)
        }
        guard 8 + Int(n) <= data.count else {
            throw EngineError.truncatedSafetensors(source: source, reason: "header of \(n) bytes runs past the end of the \(data.count)-byte file")
        }
        dataStart = 8 + Int(n)
        let headerBytes = data.subdata(in: data.startIndex + 8..<data.startIndex + dataStart)
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw EngineError.malformedSafetensorsHeader(source: source, reason: "the header does not start with '{'")
        }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: headerBytes, options: []) } catch {
            throw EngineError.malformedSafetensorsHeader(source: source, reason: "the header is not valid JSON")
        }
        guard let top = parsed as? [String: Any] else {
            throw EngineError.malformedSafetensorsHeader(source: source, reason: "the header is not a JSON object")
        }
        var metadata: [String: String] = [:]
        if let meta = top["__metadata__"] {
            guard let m = meta as? [String: Any] else {
                throw EngineError.malformedSafetensorsHeader(source: source, reason: "__metadata__ is not an object of strings")
            }
            for (k, v) in m {
                guard let s = v as? String else {
                    throw EngineError.malformedSafetensorsHeader(source: source, reason: "__metadata__ value '\(k)' is not a string")
                }
                metadata[k] = s
            }
        }
        self.metadata = metadata
        let bufferSize = data.count - dataStart
        var entries: [String: Entry] = [:]
        for (name, value) in top where name != "__metadata__" {
            func bad(_ reason: String) -> EngineError { .malformedTensorEntry(source: source, name: name, reason: reason) }
            guard let obj = value as? [String: Any] else { throw bad("its entry is not a JSON object") }
            guard let dtypeName = obj["dtype"] as? String else { throw bad("it has no dtype string") }
            guard let dtype = SafeTensors.DType(rawValue: dtypeName) else { throw bad("unknown dtype '\(dtypeName)'") }
            guard let shapeAny = obj["shape"] as? [Any] else { throw bad("it has no shape array") }
            var shape: [Int] = []
            var count = 1
            for d in shapeAny {
                guard let v = SafeTensorsFile.jsonInt(d), v >= 0 else { throw bad("shape \(shapeAny) is not a list of non-negative integers") }
                shape.append(v)
                let (p, o) = count.multipliedReportingOverflow(by: v)
                guard !o else { throw bad("shape \(shape) has too many elements") }
                count = p
            }
            guard let offs = obj["data_offsets"] as? [Any], offs.count == 2,
                  let begin = SafeTensorsFile.jsonInt(offs[0]), let end = SafeTensorsFile.jsonInt(offs[1]) else {
                throw bad("data_offsets is not a pair of integers")
            }
            guard begin >= 0, begin <= end, end <= bufferSize else {
                throw bad("data_offsets [\(begin), \(end)] lie outside the \(bufferSize)-byte data buffer")
            }
            let (bytesNeeded, o) = count.multipliedReportingOverflow(by: dtype.size)
            guard !o, bytesNeeded == end - begin else {
                throw bad("data_offsets span \(end - begin) bytes but \(dtypeName) \(shape) needs \(count * dtype.size)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, range: begin..<end)
        }
        // No two tensors may share bytes (empty tensors take no bytes and cannot overlap).
        let sorted = entries.values.filter { !$0.range.isEmpty }.sorted { $0.range.lowerBound < $1.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.range.lowerBound < a.range.upperBound {
            throw EngineError.malformedTensorEntry(source: source, name: b.name, reason: "its data overlaps tensor '\(a.name)'")
        }
        self.entries = entries
    }

    static func jsonInt(_ v: Any) -> Int? {
        if let i = v as? Int { return i }
        if let d = v as? Double, d == d.rounded(), abs(d) < 9e15 { return Int(d) }
        return nil
    }

    /// The tensor `name` converted to Float32 (F32, F16, BF16, F64 storage).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw EngineError.missingTensor(name: name, source: source) }
        let t = Tensor(shape: e.shape)
        try read(e, into: t)
        return t
    }

    /// Fills `tensor` (whose shape must match) with the stored tensor `name`.
    public func read(_ name: String, into tensor: Tensor) throws {
        guard let e = entries[name] else { throw EngineError.missingTensor(name: name, source: source) }
        guard e.shape == tensor.shape else {
            throw EngineError.shapeMismatch(name: name, expected: tensor.shape, found: e.shape, source: source)
        }
        try read(e, into: tensor)
    }

    private func read(_ e: Entry, into t: Tensor) throws {
        guard e.dtype.isFloatLoadable else {
            throw EngineError.unsupportedDType(name: e.name, dtype: e.dtype.rawValue, source: source)
        }
        let n = t.count
        bytes.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + e.range.lowerBound
            switch e.dtype {
            case .f32: memcpy(t.data, src, n * 4)
            case .f16:
                for i in 0..<n { t.data[i] = HalfFloat.float(fromHalfBits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<n { t.data[i] = HalfFloat.float(fromBFloat16Bits: UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .f64:
                for i in 0..<n { t.data[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            default: break
            }
        }
    }

    /// Every float tensor (F32/F16/BF16/F64) converted to Float32, by name; integer/bool tensors (such as
    /// BERT's `embeddings.position_ids`, I64) are left out — read them with `rawBytes`.
    public func floatTensors() throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (name, e) in entries where e.dtype.isFloatLoadable { out[name] = try tensor(name) }
        return out
    }

    /// The raw little-endian bytes of tensor `name` (for integer tensors such as BERT's position_ids).
    public func rawBytes(_ name: String) throws -> Data {
        guard let e = entries[name] else { throw EngineError.missingTensor(name: name, source: source) }
        return bytes.subdata(in: bytes.startIndex + dataStart + e.range.lowerBound..<bytes.startIndex + dataStart + e.range.upperBound)
    }

    /// Strict load: every parameter must be present with its exact shape and a float dtype, and (when
    /// `allowExtra` is false) the file may hold no other tensors. Checks everything before writing anything,
    /// so a failed load leaves the parameters untouched.
    public func load(into parameters: [Parameter], allowExtra: Bool = false) throws {
        var wanted = Set<String>()
        for p in parameters {
            guard wanted.insert(p.name).inserted else { throw EngineError.duplicateTensorName(name: p.name) }
            guard let e = entries[p.name] else { throw EngineError.missingTensor(name: p.name, source: source) }
            guard e.shape == p.value.shape else {
                throw EngineError.shapeMismatch(name: p.name, expected: p.value.shape, found: e.shape, source: source)
            }
            guard e.dtype.isFloatLoadable else {
                throw EngineError.unsupportedDType(name: p.name, dtype: e.dtype.rawValue, source: source)
            }
        }
        if !allowExtra, let extra = names.first(where: { !wanted.contains($0) }) {
            throw EngineError.unexpectedTensor(name: extra, source: source)
        }
        for p in parameters { try read(entries[p.name]!, into: p.value) }
    }
}
