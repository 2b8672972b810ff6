// Errors of the tokenizer module: configuration, checkpoints, and input that does not fit the model.
import HVCore

public enum TokenizerError: ToolReportable {
    case badConfig(name: String, reason: String)
    case unknownPreset(String)
    case checkpointMissing(path: String)
    case checkpointUnreadable(path: String, reason: String)
    case inputMismatch(String)
    case tokenizerMismatch(expected: String, found: String)
    /// Storing a frozen-token checkpoint would round a weight that decides its tokens.
    case tokensWouldChange(String)

    public var description: String {
        switch self {
        case let .badConfig(name, reason): return "tokenizer config '\(name)' is invalid: \(reason)"
        case let .unknownPreset(p): return "unknown tokenizer preset '\(p)' (known: \(TokenizerConfig.presets.keys.sorted().joined(separator: ", ")))"
        case let .checkpointMissing(path): return "no tokenizer checkpoint at '\(path)' (expected config.json and model.safetensors there)"
        case let .checkpointUnreadable(path, reason): return "cannot load tokenizer checkpoint '\(path)': \(reason)"
        case let .inputMismatch(s): return s
        case let .tokenizerMismatch(expected, found): return "tokens were made by tokenizer \(found), but this model is \(expected)"
        case let .tokensWouldChange(s): return s
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .badConfig, .checkpointUnreadable, .inputMismatch, .tokenizerMismatch, .tokensWouldChange: return SysExit.dataError
        case .unknownPreset: return SysExit.usage
        case .checkpointMissing: return SysExit.noInput
        }
    }
}
