// Errors of the engine: checkpoint files and tensors that do not match what a model expects, and inputs of
// the sequence ops (KV cache, token and class ids) that do not fit the layer they are given to.
import HVCore

public enum EngineError: ToolReportable, Equatable {
    case missingTensor(name: String)
    case unexpectedTensor(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case dtypeMismatch(name: String, found: String)
    case malformedSafetensors(path: String, reason: String)
    case io(path: String, reason: String)
    /// More rows appended to a KV cache than it can hold.
    case kvCacheFull(capacity: Int, requested: Int)
    /// Keys/values appended to a KV cache do not have its [B, n, heads, headDim] shape.
    case kvCacheShape(expected: [Int], found: [Int])
    /// A token or class id outside 0..<limit (e.g. an embedding lookup).
    case indexOutOfRange(what: String, index: Int, limit: Int)

    public var description: String {
        switch self {
        case let .missingTensor(n): return "tensor '\(n)' is missing from the checkpoint"
        case let .unexpectedTensor(n): return "the checkpoint has a tensor '\(n)' that the model does not have"
        case let .shapeMismatch(n, e, f): return "tensor '\(n)' has shape \(f), the model expects \(e)"
        case let .dtypeMismatch(n, f): return "tensor '\(n)' has dtype \(f); F32, F16 and BF16 are supported"
        case let .malformedSafetensors(p, r): return "'\(p)' is not a valid safetensors file: \(r)"
        case let .io(p, r): return "cannot access '\(p)': \(r)"
        case let .kvCacheFull(capacity, requested):
            return "the KV cache holds \(capacity) positions but \(requested) were requested; use a shorter sequence or a larger cache"
        case let .kvCacheShape(expected, found):
            return "keys/values of shape \(found) do not fit the KV cache, which expects \(expected)"
        case let .indexOutOfRange(what, index, limit):
            return "\(what) \(index) is outside 0..<\(limit); the input does not match the model"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .io: return SysExit.ioError
        default: return SysExit.dataError
        }
    }
}
