// Errors of the engine: checkpoint files and tensors that do not match what a model expects.
import HVCore

public enum EngineError: ToolReportable {
    case missingTensor(name: String)
    case unexpectedTensor(name: String)
    case shapeMismatch(name: String, expected: [Int], found: [Int])
    case dtypeMismatch(name: String, found: String)
    case malformedSafetensors(path: String, reason: String)
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(n): return "tensor '\(n)' is missing from the checkpoint"
        case let .unexpectedTensor(n): return "the checkpoint has a tensor '\(n)' that the model does not have"
        case let .shapeMismatch(n, e, f): return "tensor '\(n)' has shape \(f), the model expects \(e)"
        case let .dtypeMismatch(n, f): return "tensor '\(n)' has dtype \(f); F32, F16 and BF16 are supported"
        case let .malformedSafetensors(p, r): return "'\(p)' is not a valid safetensors file: \(r)"
        case let .io(p, r): return "cannot access '\(p)': \(r)"
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .io: return SysExit.ioError
        default: return SysExit.dataError
        }
    }
}
