// Typed errors of the tensor engine (safetensors parsing, strict parameter loading, optimizer state).
// Each case prints one sentence a user can act on and maps to a sysexits code (HVCore.ToolReportable):
// malformed or mismatched data is 65, unreadable input 66, failed writes 74.
import HVCore

public enum EngineError: ToolReportable, Equatable {
    /// The file could not be read at all.
    case cannotRead(path: String, reason: String)
    /// The file could not be written.
    case cannotWrite(path: String, reason: String)
    /// Shorter than the 8-byte header length, or the header runs past the end of the file.
    case truncatedSafetensors(source: String, reason: String)
    /// Header length beyond the safety limit (a corrupt or hostile file).
    case safetensorsHeaderTooLarge(source: String, size: UInt64, limit: Int)
    /// The JSON header is not valid JSON or not shaped like a safetensors header.
    case malformedSafetensorsHeader(source: String, reason: String)
    /// One tensor entry is inconsistent (offsets out of bounds, size not dtype×shape, overlap, bad shape).
    case malformedTensorEntry(source: String, name: String, reason: String)
    /// A tensor the model needs is not in the file.
    case missingTensor(name: String, source: String)
    /// The file holds a tensor the model does not have (strict load).
    case unexpectedTensor(name: String, source: String)
    /// A tensor has a different shape than the parameter it should fill.
    case shapeMismatch(name: String, expected: [Int], found: [Int], source: String)
    /// A tensor is stored with a dtype that cannot be read as Float32 (e.g. I64 where F32 is expected).
    case unsupportedDType(name: String, dtype: String, source: String)
    /// Two parameters with the same name were given to save or load.
    case duplicateTensorName(name: String)
    /// A tensor name that cannot be stored (empty or reserved).
    case invalidTensorName(name: String)
    /// Optimizer state does not fit the parameters it is loaded for.
    case optimizerStateMismatch(reason: String)
    /// More rows appended to a KV cache than it can hold.
    case kvCacheFull(capacity: Int, requested: Int)
    /// Keys/values appended to a KV cache do not have its [B, n, heads, headDim] shape.
    case kvCacheShape(expected: [Int], found: [Int])
    /// A token or class id outside 0..<limit (e.g. an embedding lookup).
    case indexOutOfRange(what: String, index: Int, limit: Int)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason): return "cannot read \(path): \(reason)."
        case let .cannotWrite(path, reason): return "cannot write \(path): \(reason)."
        case let .truncatedSafetensors(source, reason):
            return "\(source) is not a complete safetensors file (\(reason)); re-create or re-download it."
        case let .safetensorsHeaderTooLarge(source, size, limit):
            return "\(source) declares a \(size)-byte safetensors header, over the \(limit)-byte limit; the file is corrupt or not safetensors."
        case let .malformedSafetensorsHeader(source, reason):
            return "\(source) has a malformed safetensors header: \(reason)."
        case let .malformedTensorEntry(source, name, reason):
            return "tensor '\(name)' in \(source) is malformed: \(reason)."
        case let .missingTensor(name, source):
            return "tensor '\(name)' is missing from \(source); the checkpoint does not match this model."
        case let .unexpectedTensor(name, source):
            return "\(source) holds tensor '\(name)', which this model does not have; the checkpoint does not match this model."
        case let .shapeMismatch(name, expected, found, source):
            return "tensor '\(name)' in \(source) has shape \(found) but the model expects \(expected)."
        case let .unsupportedDType(name, dtype, source):
            return "tensor '\(name)' in \(source) is stored as \(dtype); only F32, F16, BF16 and F64 can be read as floats."
        case let .duplicateTensorName(name): return "tensor name '\(name)' is used twice."
        case let .invalidTensorName(name): return "'\(name)' cannot be used as a tensor name."
        case let .optimizerStateMismatch(reason): return "optimizer state does not match the model: \(reason)."
        case let .kvCacheFull(capacity, requested):
            return "the KV cache holds \(capacity) positions but \(requested) were requested; use a shorter sequence or a larger cache."
        case let .kvCacheShape(expected, found):
            return "keys/values of shape \(found) do not fit the KV cache, which expects \(expected)."
        case let .indexOutOfRange(what, index, limit):
            return "\(what) \(index) is outside 0..<\(limit); the input does not match the model."
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .cannotRead: return SysExit.noInput
        case .cannotWrite: return SysExit.ioError
        case .duplicateTensorName, .invalidTensorName: return SysExit.software
        default: return SysExit.dataError
        }
    }
}
